"""Consistency of the book: table of contents, notebook pairs, Colab cells, glue values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import inputs
import jupytext
import nbformat
import pages
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


PAGES = pages  # tools/pages.py: reads glued values and generates the book's pages


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in notebook.cells
    ]


def test_there_are_notebooks():
    assert SOURCES, "no notebook sources under notebooks/"


def test_every_notebook_is_a_pair():
    stems = {p.with_suffix("") for p in SOURCES}
    assert stems == {p.with_suffix("") for p in IPYNBS}


def test_toc_lists_every_notebook_and_every_entry_exists():
    entries = PAGES.toc_files()
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
    colab, parameters, seeding = code[0], code[1], code[2]
    assert "remove-cell" in colab.metadata.get("tags", [])
    assert 'if "google.colab" in sys.modules' in colab.source
    urls = re.findall(r'REPOSITORY = "([^"]+)"', colab.source)
    assert urls == [CONFIG["repository"]["url"]], "Colab cell must install from _config.yml's url"
    assert "parameters" in parameters.metadata.get("tags", []), "papermill needs a parameters cell"
    assert re.fullmatch(r"SEED = \d+", parameters.source.strip()), "the parameters cell sets SEED"
    assert "print(setup(seed=SEED))" in seeding.source


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_randomness_comes_from_the_seed(source):
    """Every generator is seeded from SEED, so `make robustness` varies the data too."""
    text = source.read_text()
    fixed = re.findall(r"default_rng\((?!SEED\b)[^)]*\)|RandomState\(|np\.random\.seed\(", text)
    assert not fixed, f"{source.name}: generators not seeded from SEED: {fixed}"
    assert not re.search(r"setup\(seed=\d", text), f"{source.name}: setup must take SEED"


def _is_rounded(value: object) -> bool:
    """A glued number is rounded when it has at most 6 significant digits."""
    if not isinstance(value, float):
        return True
    mantissa = f"{value!r}".lower().split("e")[0].replace("-", "").replace(".", "").strip("0")
    return len(mantissa) <= 6


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.stem)
def test_checked_cells_hold_nothing_below_the_printed_digits(ipynb):
    """nbval compares checked cells exactly: a full-precision float there differs on other CPUs."""
    for index, cell in enumerate(nbformat.read(ipynb, as_version=4).cells):
        if "nbval-check-output" not in cell.metadata.get("tags", []):
            continue
        values = PAGES.glued_values(nbformat.v4.new_notebook(cells=[cell]))
        unrounded = {k: v for k, v in values.items() if not _is_rounded(v)}
        assert not unrounded, (
            f"{ipynb.name} cell {index} glues unrounded floats {unrounded}: "
            "glue through mhlib.claim / mhlib.record"
        )


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
        if key.endswith(PAGES.CLAIM_SUFFIX):
            assert isinstance(value, dict), f"{key} glues {value!r}"
        else:
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


@pytest.mark.parametrize("row", PAGES.claims(), ids=lambda row: row["key"])
def test_claim_is_decided_in_its_notebook_as_the_ledger_expects(row):
    values = PAGES.glued_values(ROOT / f"{row['notebook']}.ipynb")
    records = PAGES.claim_records(values)
    assert row["key"] in records, f"{row['notebook']} decides no {row['key']!r} with mhlib.claim"
    assert records[row["key"]]["expect"] == row["expected"], (
        f"{row['key']}: the notebook expects {records[row['key']]['expect']!r}, "
        f"book/claims.yml {row['expected']!r}"
    )
    assert records[row["key"]].get("learned", False) == (row["evidence"] == "learned"), (
        f"{row['key']}: pass learned=True to mhlib.claim exactly when book/claims.yml's "
        f"evidence is 'learned' (it is {row['evidence']!r})"
    )
    found = PAGES.evaluate(row)
    assert found["verdict"] == row["expected"], (
        f"{row['key']} ({row['evidence']}): the book finds {found['verdict']!r}"
        + (f" ({found['held']}/{found['seeds']} seeds)" if row["evidence"] == "learned" else "")
        + f", book/claims.yml expects {row['expected']!r}"
    )


def test_every_claim_call_has_a_ledger_row():
    rows = {(row["notebook"], row["key"]) for row in PAGES.claims()}
    for ipynb in IPYNBS:
        notebook = ipynb.relative_to(ROOT).with_suffix("").as_posix()
        for key in PAGES.claim_records(PAGES.glued_values(ipynb)):
            assert (notebook, key) in rows, f"{notebook} claims {key!r}: add it to book/claims.yml"


def _write_claims(tmp_path, monkeypatch, rows):
    claims_file = tmp_path / "book" / "claims.yml"
    claims_file.parent.mkdir()
    claims_file.write_text(yaml.safe_dump({"claims": rows}))
    (tmp_path / "_toc.yml").write_text((ROOT / "_toc.yml").read_text())
    monkeypatch.setattr(PAGES, "ROOT", tmp_path)


def test_a_claim_of_a_notebook_missing_from_the_toc_is_an_error(tmp_path, monkeypatch):
    row = dict(PAGES.claims()[0], notebook="notebooks/01-applications/99-missing")
    _write_claims(tmp_path, monkeypatch, [row])
    with pytest.raises(ValueError, match="not in _toc.yml"):
        PAGES.claims()


def test_a_claim_whose_key_the_notebook_does_not_glue_is_an_error(monkeypatch):
    row = dict(PAGES.claims()[0], key="no_such_key")
    with pytest.raises(KeyError, match="no_such_key"):
        PAGES.evaluate(row)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_stored_outputs_come_from_the_current_inputs(source):
    stored = nbformat.read(source.with_suffix(".ipynb"), as_version=4).metadata.get("mhbook", {})
    assert stored.get("inputs_sha256") == inputs.notebook_hash(source), (
        f"{source.name} or the mhlib it imports changed since it was executed: run `make execute`"
    )


def test_robustness_file_is_fresh():
    """Every notebook with a learned claim was run over its seeds on its current inputs."""
    results = PAGES.robustness()
    for row in PAGES.claims():
        if row["evidence"] != "learned":
            continue
        notebook = row["notebook"]
        entry = results.get(notebook, {})
        assert entry.get("inputs_sha256") == inputs.inputs_hash(ROOT / f"{notebook}.md"), (
            f"book/robustness.json is stale for {notebook}: run `make robustness`"
        )
        assert len(entry["seeds"]) == PAGES.NUM_SEEDS, f"{notebook}: not every seed was run"


def test_ten_seeds_on_another_backend_are_judged_by_the_same_rule(tmp_path, monkeypatch):
    row = next(r for r in PAGES.claims() if r["evidence"] == "learned")
    record = PAGES.claim_records(PAGES.glued_values(ROOT / f"{row['notebook']}.ipynb"))[row["key"]]
    met, missed = record["target"], None  # None: a seed that never glued the number
    if record["op"] in ("<", ">"):
        met += 1 if record["op"] == ">" else -1
    values = [met] * 4 + [missed] * 6  # 4 of 10: fails there
    there = tmp_path / "robustness-jax.json"
    there.write_text(json.dumps({row["notebook"]: {"inputs_sha256": "old", "seeds": {
        str(seed): {"values": {row["key"]: v} if v is not None else {}, "error": None}
        for seed, v in enumerate(values)}}}))
    tensorflow = PAGES.robustness_path()

    def path(backend="tensorflow"):
        return there if backend == "jax" else tensorflow

    monkeypatch.setattr(PAGES, "robustness_path", path)
    [found] = [f for f in PAGES.backend_verdicts("jax") if f["key"] == row["key"]]
    assert (found["held"], found["seeds"], found["verdict"], found["current"]) == (
        4, 10, "fails", False
    )
    lines = PAGES._backend_seed_section("jax")
    [line] = [line for line in lines if f"`{row['key']}` |" in line]
    agree = "yes" if found["tensorflow"]["verdict"] == "fails" else "**no**"
    assert f"| 4/10 (fails) | {agree} | {found['p']:.2f} |" in line
    assert any("changed after their JAX runs" in line for line in lines)


@pytest.mark.parametrize(("a", "n", "b", "m"), [(9, 10, 8, 10), (2, 10, 5, 10), (10, 10, 0, 10),
                                              (3, 10, 10, 10), (0, 10, 0, 10)])
def test_fisher_exact_agrees_with_scipy(a, n, b, m):
    stats = pytest.importorskip("scipy.stats")
    expected = stats.fisher_exact([[a, n - a], [b, m - b]]).pvalue
    assert PAGES.fisher_exact(a, n, b, m) == pytest.approx(expected, rel=1e-9)


# The seven sections of the source chapter and the primer: each teaches with at least three
# exercises (over its pages, real-data pages included), whose solutions run in the notebook
# (so nbval tests them) and assert.
SECTIONS = {
    "primer": "notebooks/00-foundations/01-mha-from-scratch",
    **{f"1.{n}": f"notebooks/01-applications/0{n}" for n in range(1, 8)},
}


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_has_three_exercises_with_asserting_solutions(section):
    prefix = SECTIONS[section]
    pages_of_section = [
        path for path in SOURCES if path.relative_to(ROOT).as_posix().startswith(prefix)
    ]
    exercises, solutions = 0, 0
    for path in pages_of_section:
        text = path.read_text()
        exercises += len(re.findall(r"^```\{exercise\}", text, re.M))
        for body in re.findall(r"^```\{solution-start\}.*?^```\{solution-end\}", text, re.M | re.S):
            cells = re.findall(r"^```\{code-cell\}.*?^```$", body, re.M | re.S)
            assert any("assert " in cell for cell in cells), (
                f"{path.name}: a solution has no code cell that asserts its answer"
            )
            solutions += 1
    assert exercises >= 3, f"section {section} has {exercises} exercises, not 3"
    assert solutions == exercises, f"section {section}: one solution per exercise"


def test_bibliography_parses_and_has_every_cited_key():
    database = pytest.importorskip("pybtex.database")
    entries = database.parse_file(ROOT / "book" / "references.bib").entries  # raises on a bad entry
    pages_text = [p.read_text() for p in (*SOURCES, *(ROOT / "book").glob("*.md"))]
    cited = {
        key.strip()
        for text in pages_text
        for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text)
        for key in keys.split(",")
    }
    assert cited, "no citation found: the pattern is out of date"
    missing = cited - set(entries)
    assert not missing, f"cited but not in book/references.bib: {sorted(missing)}"
