"""A small Sphinx extension for the API reference page: the package's docstrings, read as written.

The docstrings are plain text with inline formulas (``|s|^2``, ``(B, *D)``), double-backtick code and Sphinx
roles.  Read as reStructuredText, ``|...|`` would be a substitution and a lone ``*`` the start of emphasis, so
before autodoc renders a docstring this extension escapes ``|`` and ``*`` outside code spans and roles (a ``*``
that starts a bullet stays a bullet).  A cross-reference written as a bare name (``:func:`sample```, as a module
docstring names its own functions) is resolved to the one documented object with that name; a reference to a
module that the page does not document, but that exists, is shown as code.  Anything else stays a warning.

Enabled in ``_config.yml`` as ``tutorial_pkg.course.sphinx_api``.
"""

from __future__ import annotations

import importlib
import re

__all__ = ["escape_docstring_line", "setup"]

# a double-backtick span, or a role with its target
_PROTECTED = re.compile(r"(``.+?``|:[a-z:]+:`[^`]+`)")
_BULLET = re.compile(r"^(\s*)\* ")


def escape_docstring_line(line: str) -> str:
    """``line`` with ``|`` and ``*`` escaped outside code spans and roles (a leading bullet ``* `` is kept)."""
    prefix = ""
    bullet = _BULLET.match(line)
    if bullet:
        prefix, line = line[: bullet.end()], line[bullet.end() :]
    parts = _PROTECTED.split(line)
    for i in range(0, len(parts), 2):  # the even parts lie outside the protected spans
        parts[i] = parts[i].replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
    return prefix + "".join(parts)


def _escape(app, what, name, obj, options, lines) -> None:
    lines[:] = [escape_docstring_line(line) for line in lines]


def _resolve(app, env, node, contnode):
    """Resolve a bare or relative Python reference: first as a name of the flat library or of a tier, then as
    the unique documented object (not a method) whose name ends with it."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    objects = env.get_domain("py").objects
    candidates = [f"{prefix}{target}" for prefix in ("tutorial_pkg.", "tutorial_pkg.exact.", "tutorial_pkg.study.")]
    matches = [name for name in candidates if name in objects]
    if not matches:
        matches = [
            name
            for name, obj in objects.items()
            if name.endswith("." + target) and obj.objtype in ("function", "class", "data", "exception")
        ]
    if len(matches) == 1:
        from sphinx.util.nodes import make_refnode

        obj = objects[matches[0]]
        return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, matches[0])
    if node.get("reftype") == "mod":
        modname = node.get("py:module") or ""
        for candidate in (target, f"{modname}.{target}", f"tutorial_pkg.{target}"):
            try:
                importlib.import_module(candidate)
            except ImportError:
                continue
            return contnode  # an existing module the page does not document: shown as code, not a link
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _escape)
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
