"""The course tier: book tooling that is not part of the library.

* :mod:`.exercise_notebooks` — generates the student notebooks in ``exercises/`` from ``solutions/``
  (``python -m tutorial_pkg.course.exercise_notebooks``);
* :mod:`.plotting` — the book's matplotlib style and figure helpers (each takes an ``ax``).
"""
