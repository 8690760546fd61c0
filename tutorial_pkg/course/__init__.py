"""The course tier: book tooling that is not part of the library.

* :mod:`.exercise_notebooks` — generates the student notebooks in ``exercises/`` from ``solutions/``
  (``python -m tutorial_pkg.course.exercise_notebooks``);
* :mod:`.plotting` — the book's matplotlib style and figure helpers (each takes an ``ax``);
* :mod:`.api_page` — writes the book's API reference page from the package's ``__all__`` lists
  (``python -m tutorial_pkg.course.api_page``);
* :mod:`.sphinx_api` — the Sphinx extension that reads the docstrings as written (escapes, bare references).

The course tier is the top of the house: it may read every other tier; nothing imports it but the book.
"""
