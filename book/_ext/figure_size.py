"""Sphinx extension: show each notebook figure at its true size.

A figure drawn at 200 dpi is twice as many pixels wide as the page would show it at 96
CSS pixels per inch, so the browser would stretch it to the width of the column (or show
it at its pixel width, scaled down), and its text would come out at whatever size that
gives. This sets the width of every PNG that `mhlib.plotting.figure_png` rendered (it
records its dpi in the file) to its width in inches at 96 CSS pixels per inch: text set
at 10 pt in the figure is seen at 10 pt, and each CSS pixel has about two image pixels,
sharp on high-density screens. A figure wider than the column is still scaled down to
fit (the theme's `max-width: 100%`), which the browser test reports as text below 10 pt.
Images with a width or scale of their own keep it.
"""

from __future__ import annotations

import math
from pathlib import Path

from docutils import nodes

DPI_KEY = "mhbook:dpi"  # as mhlib.plotting.DPI_KEY; the site build does not import mhlib
CSS_PIXELS_PER_INCH = 96


def _true_size(app, doctree, docname) -> None:
    from PIL import Image

    for image in doctree.findall(nodes.image):
        uri = image.get("uri", "")
        if "width" in image or "scale" in image or not uri.endswith(".png"):
            continue
        path = Path(uri) if Path(uri).is_absolute() else Path(app.srcdir) / uri
        if not path.is_file():
            continue
        with Image.open(path) as png:
            dpi, width = png.info.get(DPI_KEY), png.width
        if dpi:
            # Whole pixels, rounded up: text never comes out below its size.
            image["width"] = f"{math.ceil(width / float(dpi) * CSS_PIXELS_PER_INCH)}px"


def setup(app):
    app.connect("doctree-resolved", _true_size)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
