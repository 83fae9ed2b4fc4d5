"""Consistency of the book: table of contents, notebook pairs, Colab cells, glue values."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SOURCES = sorted(
    p for p in (ROOT / "notebooks").rglob("*.md") if ".ipynb_checkpoints" not in p.parts
)
IPYNBS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


def _load_pages():
    spec = importlib.util.spec_from_file_location("pages", ROOT / "tools" / "pages.py")
    pages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pages)
    return pages


PAGES = _load_pages()  # tools/pages.py: reads glued values and generates the book's pages


def toc_files() -> list[str]:
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *walk(toc.get("parts", toc.get("chapters", [])))]


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ())))
        for c in notebook.cells
    ]


def test_there_are_notebooks():
    assert SOURCES, "no notebook sources under notebooks/"


def test_every_notebook_is_a_pair():
    stems = {p.with_suffix("") for p in SOURCES}
    assert stems == {p.with_suffix("") for p in IPYNBS}


def test_toc_lists_every_notebook_and_every_entry_exists():
    entries = toc_files()
    assert len(entries) == len(set(entries)), "a page is listed twice in _toc.yml"
    for entry in entries:
        candidates = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(c.exists() for c in candidates), f"_toc.yml entry {entry} does not exist"
    for source in SOURCES:
        stem = source.relative_to(ROOT).with_suffix("").as_posix()
        assert stem in entries, f"{stem} is not in _toc.yml"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_md_and_ipynb_have_identical_cells(source):
    paired = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert cells(jupytext.read(source)) == cells(paired), (
        f"{source.name} and its .ipynb have drifted: run `make execute`"
    )


def test_repository_is_configured_for_colab_links():
    repository = CONFIG["repository"]
    assert repository["branch"] == "main"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository["url"])
    assert "path_to_book" not in repository, "the book root is the repository root"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert "notebooks/**/*.md" in CONFIG["exclude_patterns"]


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_setup_cells_come_first(ipynb):
    code = [c for c in nbformat.read(ipynb, as_version=4).cells if c.cell_type == "code"]
    colab, seeding = code[0], code[1]
    assert "remove-cell" in colab.metadata.get("tags", [])
    assert 'if "google.colab" in sys.modules' in colab.source
    urls = re.findall(r'REPOSITORY = "([^"]+)"', colab.source)
    assert urls == [CONFIG["repository"]["url"]], "Colab cell must install from _config.yml's url"
    assert re.search(r"print\(setup\(seed=\d+\)\)", seeding.source)


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_notebook_was_executed_and_glues_plain_numbers(ipynb):
    notebook = nbformat.read(ipynb, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{ipynb.name} is not fully executed"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    try:
        glued = PAGES.glued_values(ipynb)
    except ValueError as exc:  # a NumPy scalar prints as np.float64(...), not a literal
        pytest.fail(f"{ipynb.name} glues a value that is not a plain Python literal: {exc}")
    for key, value in glued.items():
        assert isinstance(value, int | float | str | bool), f"{key} glues {value!r}"
    source = jupytext.read(ipynb.with_suffix(".md"))
    used = set()
    for cell in source.cells:
        if cell.cell_type == "markdown":
            used |= set(re.findall(r"\{glue:(?:text)?\}`([\w]+)", cell.source))
    assert used <= set(glued), f"prose quotes unglued keys: {sorted(used - set(glued))}"


@pytest.mark.parametrize("page", ["status", "claims"])
def test_generated_pages_are_up_to_date(page):
    generated = getattr(PAGES, f"{page}_markdown")()
    assert (ROOT / "book" / f"{page}.md").read_text() == generated, (
        f"book/{page}.md is out of date: run `make execute`"
    )


def test_every_landed_claim_has_its_number():
    for claim in PAGES.claims():
        ipynb = ROOT / f"{claim['notebook']}.ipynb"
        if ipynb.exists():
            assert claim["key"] in PAGES.glued_values(ipynb), (
                f"{claim['notebook']} glues no {claim['key']!r}"
            )
            assert claim["comparator"] in PAGES.COMPARATORS
