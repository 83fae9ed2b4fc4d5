"""The built website, in a real browser: headless Debian Chromium driven by Playwright.

Run after `make site` (`make browser` does both); needs /usr/bin/chromium (Debian's
`chromium` package). Every page under _build/html is served from 127.0.0.1, with every
request that leaves 127.0.0.1 blocked (the site must work offline), and checked for console
errors, typeset math with no TeX left in the text, Chinese text marked as such, loaded
images (figures with alt text, numbered captions, 1.5 image pixels per CSS pixel and their
smallest text seen at 10 pt or more), a favicon, working internal links and, on notebook
pages, a Colab link to the page's own .ipynb. Each page is also opened at phone width
(390 px), where the menu button must open the table of contents and the "on this page"
button the page's own contents. The home page and the chapter openers must link every
section. On every page with exercises, each
exercise shows and has a solution that stays hidden until its title is clicked.
Screenshots go to _build/screenshots/.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_CAPTIONS = [part["caption"] for part in TOC["parts"]]
CHAPTER_SECTIONS = {
    chapter["file"]: [section["file"] for section in chapter.get("sections", [])]
    for part in TOC["parts"]
    for chapter in part["chapters"]
}
PAGES = sorted(
    p.relative_to(SITE).as_posix()
    for p in SITE.rglob("*.html")
    if not p.relative_to(SITE).parts[0].startswith("_")
)

EXERCISE_PAGES = [
    page for page in PAGES if 'class="exercise' in (SITE / page).read_text(encoding="utf-8")
]

pytestmark = pytest.mark.skipif(not SITE.exists(), reason="no built site: run `make site`")


# Text that MathJax should have typeset but did not: a TeX command, a math delimiter or a
# dollar sign, anywhere outside code and typeset math.
LEFTOVER_TEX = r"""() => {
  const skip = "pre, code, script, style, textarea, mjx-container";
  const pattern = /\\[A-Za-z]+|\\[()[\]]|\$/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(skip) && pattern.test(node.data)) {
      found.push(node.data.trim().slice(0, 80));
    }
  }
  return found;
}"""

# Chinese text outside an element marked lang="zh": browsers and screen readers would
# treat it as English, the language of the page.
UNMARKED_CHINESE = r"""() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const marked = node.parentElement.closest("[lang]")?.lang.startsWith("zh");
    if (!marked && /\p{Script=Han}/u.test(node.data)) {
      found.push(node.data.trim().slice(0, 40));
    }
  }
  return found;
}"""


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


class Tab:
    """One page in a fresh browser context, offline: requests that leave 127.0.0.1 are
    aborted and listed in `outside`; console errors are listed in `errors`."""

    def __init__(self, browser, url: str, **context_options) -> None:
        self.context = browser.new_context(**context_options)
        self.outside: list[str] = []
        self.context.route("**/*", self._local_only)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url, wait_until="networkidle")

    def _local_only(self, route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.fixture
def tab(browser, base_url):
    tabs: list[Tab] = []

    def open_tab(page: str, **context_options) -> Tab:
        tabs.append(Tab(browser, urljoin(base_url, page), **context_options))
        return tabs[-1]

    yield open_tab
    for opened in tabs:
        opened.context.close()


def _site_file(url: str, base_url: str) -> Path:
    target = SITE / unquote(urlparse(url).path.removeprefix(urlparse(base_url).path))
    return target / "index.html" if target.is_dir() else target


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


OVERFLOWING_TABLES = """
[...document.querySelectorAll('article table')]
  .filter(t => t.getBoundingClientRect().width > 0)
  .filter(t => t.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(t => {
    for (let e = t.parentElement; e && e.tagName !== 'ARTICLE'; e = e.parentElement) {
      const x = getComputedStyle(e).overflowX;
      if ((x === 'auto' || x === 'scroll') && e.clientWidth <= window.innerWidth) return false;
    }
    return true;
  })
  .map(t => (t.querySelector('th')?.textContent || '').trim().slice(0, 40))
"""


FIGURES = """
[...document.querySelectorAll('article img')]
  .filter(i => i.getBoundingClientRect().width > 0)
  .map(i => ({
    src: i.src,
    alt: i.getAttribute('alt') || '',
    natural: i.naturalWidth,
    shown: i.getBoundingClientRect().width,
    numbered: !!i.closest('figure')?.querySelector('.caption-number'),
    output: !!i.closest('.cell_output'),
  }))
"""


MIN_TEXT_PT = 10
"""The smallest text of a figure, as seen on a 1366 px page, in CSS points."""


def _smallest_text_seen(png: Path, figure: dict) -> float:
    """The size (CSS points) at which a notebook figure's smallest text is seen.

    The figure records, in its PNG, the size of its smallest text in figure points and
    the pixels per figure inch it was drawn at (`mhlib.plotting.figure_png`): that text
    is points × dpi / 72 pixels high in the PNG, shown at shown / natural of that in CSS
    pixels, and a CSS pixel is 0.75 CSS points.
    """
    from PIL import Image

    from mhlib.plotting import DPI_KEY, SMALLEST_TEXT_KEY

    with Image.open(png) as image:
        info = image.info
    assert SMALLEST_TEXT_KEY in info and DPI_KEY in info, (
        f"{png.name} records no text size: not drawn through mhlib.plotting.figure_png"
    )
    pixels = float(info[SMALLEST_TEXT_KEY]) * float(info[DPI_KEY]) / 72
    return pixels * figure["shown"] / figure["natural"] * 0.75


@pytest.mark.parametrize("page", PAGES)
def test_page(page, base_url, tab):
    opened = tab(page, viewport=DESKTOP)
    view = opened.page
    assert not opened.outside, f"{page} requested resources outside the site: {opened.outside}"

    if view.locator("script[src*='tex-mml-chtml']").count():
        view.wait_for_function("() => window.MathJax?.startup?.promise", timeout=15_000)
        view.evaluate("() => MathJax.startup.promise")
    if view.locator(".math").count():
        assert view.locator("mjx-container").count() > 0, "math is not typeset"
        assert view.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    leftover = view.evaluate(LEFTOVER_TEX)
    assert not leftover, f"{page} shows TeX or a stray $ as text: {leftover}"
    unmarked = view.evaluate(UNMARKED_CHINESE)
    assert not unmarked, f"{page} has Chinese text without lang='zh': {unmarked}"

    broken_images = view.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken_images, f"images that did not load: {broken_images}"

    # Figures: alt text that describes (not a file name), pixels for high-density screens
    # (natural width at least 1.5 times the displayed width), and, on a section page, a
    # numbered caption. Images inside closed solutions are not displayed and not checked.
    figures = view.evaluate(FIGURES)
    for figure in figures:
        name = figure["src"].rsplit("/", 1)[-1]
        alt = figure["alt"].strip()
        assert len(alt) >= 20 and not alt.endswith((".png", ".svg")), (
            f"{page}: {name} has no alt text that describes it: {alt!r}"
        )
        assert figure["natural"] >= 1.5 * figure["shown"], (
            f"{page}: {name} is {figure['natural']} px wide, shown at {figure['shown']:.0f}"
        )
        if page.startswith("notebooks/"):
            assert figure["numbered"], f"{page}: {name} has no numbered caption"
        if figure["output"]:
            seen = _smallest_text_seen(_site_file(figure["src"], base_url), figure)
            assert seen >= MIN_TEXT_PT, (
                f"{page}: {name}'s smallest text is seen at {seen:.1f} pt at {DESKTOP['width']}"
                f" px (shown {figure['shown']:.0f} px wide); at least {MIN_TEXT_PT} pt needed"
            )

    icons = view.evaluate("[...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icons, f"{page} has no favicon"
    for icon in icons:
        assert _site_file(icon, base_url).is_file(), f"{page}: favicon {icon} is missing"

    if page.startswith("notebooks/"):
        colab = view.evaluate(
            "[...document.querySelectorAll('a')].map(a => a.href)"
            ".filter(h => h.startsWith('https://colab.research.google.com/'))"
        )
        expected = page.removesuffix(".html") + ".ipynb"
        assert colab and all(link.endswith("/blob/main/" + expected) for link in colab), colab

    hrefs = view.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    for href in hrefs:
        if not href.startswith(base_url):
            continue
        target = _site_file(href, base_url)
        assert target.exists(), f"{page} links to missing {href}"
        fragment = urlparse(href).fragment
        if fragment and target.suffix == ".html":
            assert unquote(fragment) in _ids(target), f"{page} links to missing anchor {href}"

    opened.screenshot(page.replace("/", "__"))
    assert not opened.errors, f"console errors on {page}: {opened.errors}"


def _visible_toggle(view, kind: str):
    toggle = view.locator(f".{kind}-toggle:visible")
    assert toggle.count() == 1, f"expected one visible {kind} toggle, found {toggle.count()}"
    return toggle


@pytest.mark.parametrize("page", [p for p in PAGES if p != "index.html"])
def test_phone_menus_open(page, tab):
    expect = pytest.importorskip("playwright.sync_api").expect
    opened = tab(page, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    view = opened.page
    name = page.replace("/", "__") + ".390"
    opened.screenshot(name)

    # No table runs off the screen unless it sits in a container the reader can scroll
    # (the ledger shows cards instead of its table on a phone).
    overflowing = view.evaluate(OVERFLOWING_TABLES)
    assert not overflowing, f"{page}: tables wider than a 390 px screen: {overflowing}"
    if page == "book/claims.html":
        rows = view.evaluate(
            "[...document.querySelectorAll('.ledger tbody tr')].map(r => "
            "[getComputedStyle(r).display, r.getBoundingClientRect().right])"
        )
        assert rows, "the ledger has no rows"
        assert all(display == "block" and right <= 391 for display, right in rows), (
            "on a phone the ledger must show one card per claim, within the screen"
        )

    _visible_toggle(view, "primary").tap()
    drawer = view.locator("#pst-primary-sidebar-modal")
    expect(drawer).to_have_attribute("open", "")
    contents = drawer.locator("nav.bd-docs-nav")
    for caption in TOC_CAPTIONS:
        expect(contents.get_by_role("heading", name=caption, exact=True)).to_be_visible()
    expect(contents.get_by_role("link", name="Glossary", exact=True)).to_be_visible()
    opened.screenshot(name + "-menu")
    view.keyboard.press("Escape")
    expect(drawer).not_to_have_attribute("open", "")

    if view.locator("#pst-secondary-sidebar nav.page-toc").count():
        _visible_toggle(view, "secondary").tap()
        on_this_page = view.locator("#pst-secondary-sidebar-modal")
        expect(on_this_page).to_have_attribute("open", "")
        expect(on_this_page.locator("nav.page-toc a").first).to_be_visible()
        opened.screenshot(name + "-contents")
    assert not opened.errors, f"console errors on {page}: {opened.errors}"


def test_desktop_menu_button_hides_and_shows_the_sidebar(tab):
    expect = pytest.importorskip("playwright.sync_api").expect
    view = tab("notebooks/01-applications/05-vision.html", viewport=DESKTOP).page
    sidebar = view.locator("#pst-primary-sidebar")
    expect(sidebar).to_be_visible()
    _visible_toggle(view, "primary").click()
    expect(sidebar).to_be_hidden()
    expect(view.locator("#pst-primary-sidebar-modal")).not_to_have_attribute("open", "")
    _visible_toggle(view, "primary").click()
    expect(sidebar).to_be_visible()


def _linked_pages(locator, base_url: str) -> list[str]:
    hrefs = locator.evaluate_all("links => links.map(a => a.href)")
    return [_site_file(href, base_url).relative_to(SITE).as_posix() for href in hrefs]


def test_home_page_has_a_card_for_every_application_section(base_url, tab):
    expect = pytest.importorskip("playwright.sync_api").expect
    view = tab("book/intro.html", viewport=DESKTOP).page
    cards = view.locator(".sd-card")
    sections = [f"{page}.html" for page in CHAPTER_SECTIONS["book/applications"]]
    assert _linked_pages(cards.locator("a.sd-stretched-link"), base_url) == sections
    for card in cards.all():
        expect(card).to_be_visible()
    cards.last.click()
    expect(view).to_have_url(urljoin(base_url, sections[-1]))


@pytest.mark.parametrize("opener", ["book/foundations", "book/applications"])
def test_chapter_opener_links_every_row_to_its_section(opener, base_url, tab):
    view = tab(f"{opener}.html", viewport=DESKTOP).page
    rows = view.locator("article table tbody tr")
    links = view.locator("article table tbody tr td:first-child a")
    sections = [f"{page}.html" for page in CHAPTER_SECTIONS[opener]]
    assert rows.count() == len(sections), f"{opener}.html: one row per section"
    assert _linked_pages(links, base_url) == sections, f"{opener}.html: a row links elsewhere"


def test_the_primer_has_exercises():
    assert "notebooks/00-foundations/01-mha-from-scratch.html" in EXERCISE_PAGES


@pytest.mark.parametrize("page", EXERCISE_PAGES)
def test_exercises_show_and_their_solutions_stay_hidden_until_opened(page, tab):
    expect = pytest.importorskip("playwright.sync_api").expect
    opened = tab(page, viewport=DESKTOP)
    view = opened.page
    exercises = view.locator("div.exercise.admonition")
    solutions = view.locator("div.solution.admonition")
    assert exercises.count() == solutions.count(), f"{page}: one solution per exercise"
    for exercise in exercises.all():
        expect(exercise.locator(".admonition-title")).to_be_visible()
        expect(exercise.locator(":scope > section")).to_be_visible()
    exercise_ids = set(exercises.evaluate_all("nodes => nodes.map(n => n.id)"))
    for solution in solutions.all():
        title = solution.locator(":scope > .admonition-title")
        body = solution.locator(":scope > section")
        target = title.locator("a").get_attribute("href").removeprefix("#")
        assert target in exercise_ids, f"{page}: a solution points to {target!r}, not here"
        button = title.locator(".toggle-button")
        expect(title).to_be_visible()
        expect(body).to_be_hidden()
        expect(button).to_have_attribute("aria-expanded", "false")
        button.click()
        expect(body).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "true")
        for cell in body.locator(".cell").all():
            expect(cell).to_be_visible()
    opened.screenshot(page.replace("/", "__") + "-solutions")
    assert not opened.errors, f"console errors on {page}: {opened.errors}"
