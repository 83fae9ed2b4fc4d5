"""Sphinx extension: emit each page script once.

sphinx-thebe registers its inline configuration script after the HTML builder exists, and
Sphinx 7 then lists it twice on every page; the second copy re-declares `THEBE_JS_URL` and
the browser reports a SyntaxError. This keeps the first script of each file name and body.
"""

from __future__ import annotations


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", attributes.get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
