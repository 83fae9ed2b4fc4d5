"""The built website, in a real browser: headless Debian Chromium driven by Playwright.

Run after `make site` (`make browser` does both); needs /usr/bin/chromium (Debian's
`chromium` package). Every page under _build/html is served from 127.0.0.1 and checked for
console errors, typeset math, loaded images, working internal links and, on notebook pages,
a Colab link to the page's own .ipynb. A screenshot of each page goes to _build/screenshots/.
MathJax normally comes from a CDN; with no network the test serves the same MathJax 3 from
the `django-static-mathjax` package instead.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import importlib.util
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = sorted(
    p.relative_to(SITE).as_posix()
    for p in SITE.rglob("*.html")
    if not p.relative_to(SITE).parts[0].startswith("_")
)

pytestmark = pytest.mark.skipif(not SITE.exists(), reason="no built site: run `make site`")


def mathjax_dir() -> Path:
    spec = importlib.util.find_spec("mathjax")
    assert spec and spec.submodule_search_locations, "pip install django-static-mathjax"
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def base_url():
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is needed: apt-get install chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _serve_mathjax(route) -> None:
    relative = urlparse(route.request.url).path.split("/es5/", 1)[1]
    path = mathjax_dir() / relative
    if path.is_file():
        route.fulfill(path=str(path))
    else:
        route.fulfill(status=404)


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@functools.cache
def _ids(page: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(page.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def test_site_has_pages():
    assert "book/intro.html" in PAGES
    assert any(p.startswith("notebooks/") for p in PAGES)


def test_each_notebook_is_built_once_from_its_ipynb():
    sources = sorted(
        p.relative_to(SITE / "_sources").as_posix()
        for p in (SITE / "_sources" / "notebooks").rglob("*")
        if p.is_file()
    )
    notebooks = sorted(
        p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").rglob("*.ipynb")
    )
    assert sources == notebooks, "a notebook page was built from its .md twin, or twice"


@pytest.mark.parametrize("page", PAGES)
def test_page(page, base_url, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
    context.route(re.compile("^" + re.escape(MATHJAX_CDN)), _serve_mathjax)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(urljoin(base_url, page), wait_until="networkidle")

    if tab.locator(".math").count():
        tab.wait_for_selector("mjx-container", timeout=15_000)
        assert tab.locator("mjx-container").count() > 0, "math is not typeset"
        assert tab.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"

    broken_images = tab.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken_images, f"images that did not load: {broken_images}"

    if page.startswith("notebooks/"):
        colab = tab.evaluate(
            "[...document.querySelectorAll('a')].map(a => a.href)"
            ".filter(h => h.startsWith('https://colab.research.google.com/'))"
        )
        expected = page.removesuffix(".html") + ".ipynb"
        assert colab and all(link.endswith("/blob/main/" + expected) for link in colab), colab

    hrefs = tab.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    for href in hrefs:
        url = urlparse(href)
        if not href.startswith(base_url):
            continue
        target = SITE / unquote(url.path.removeprefix(urlparse(base_url).path))
        if target.is_dir():
            target = target / "index.html"
        assert target.exists(), f"{page} links to missing {href}"
        if url.fragment and target.suffix == ".html":
            assert unquote(url.fragment) in _ids(target), f"{page} links to missing anchor {href}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / (page.replace("/", "__") + ".png")), full_page=False)
    context.close()
    assert not errors, f"console errors on {page}: {errors}"
