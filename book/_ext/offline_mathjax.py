"""Sphinx extension: serve MathJax from the site itself, so formulas render offline.

Sphinx loads MathJax 3 from a CDN by default, the site's only outside resource. This points
`mathjax_path` at `_static/mathjax/` and, after each HTML build, copies there the MathJax 3
build that the `django-static-mathjax` package ships (MathJax's own es5 files, no Django
code): the combined TeX component the pages load, and what it fetches on demand (TeX
extensions, fonts, the menu's accessibility tools).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ENTRY = "tex-mml-chtml.js"
ON_DEMAND = ("input/tex", "output/chtml", "ui", "a11y", "sre")
TARGET = "mathjax"


def mathjax_source() -> Path:
    """The es5 folder of the installed `django-static-mathjax` package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError("MathJax is missing: pip install django-static-mathjax")
    source = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (source / ENTRY).is_file():
        raise ExtensionError(f"no {ENTRY} under {source}: reinstall django-static-mathjax")
    return source


def _use_local_mathjax(app, config) -> None:
    config.mathjax_path = f"{TARGET}/{ENTRY}"


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    target = Path(app.outdir) / "_static" / TARGET
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / ENTRY, target / ENTRY)
    for folder in ON_DEMAND:
        shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)
    licence = importlib.metadata.distribution("django-static-mathjax").read_text("LICENSE")
    if licence:
        (target / "LICENSE").write_text(licence, encoding="utf-8")


def setup(app):
    mathjax_source()
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
