"""Execute every notebook with a learned claim for seeds 0..9 and record every glued value.

Usage: python tools/robustness.py [--seeds 10] [--jobs 2] [notebooks/.../NN-slug.md ...]

Each run is papermill executing the notebook's MyST source with `SEED` injected into its
`parameters` cell, in a fresh kernel, with `MHBOOK_RECORD_FAILURES=1` so that a claim that
misses its target is recorded instead of stopping the run (an error elsewhere stops that
run; the values glued before it are kept and the error is recorded). Runs go `--jobs` at a
time, each kernel on one thread. The values, per notebook and seed, go to
`book/robustness.json` with the hash of the inputs they came from; `tests/test_book.py`
fails when that hash is stale. The claims ledger is then regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import pages
import papermill
from inputs import inputs_hash

ROOT = pages.ROOT
ONE_THREAD = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    pages.CLAIMS.RECORD_FAILURES: "1",
}


def learned_notebooks() -> list[str]:
    """Notebooks (paths without suffix) that decide at least one learned claim, in toc order."""
    learned = {row["notebook"] for row in pages.claims() if row["evidence"] == "learned"}
    return [entry for entry in pages.toc_files() if entry in learned]


def run_papermill(notebook: str, seed: int, env: dict[str, str]) -> tuple[dict, float]:
    """Executes a notebook's source with `SEED = seed` in a fresh kernel under `env`.

    Returns {"values": every value it glued (when a cell failed: those glued before it),
    "error": what stopped it or None, "device": the device its setup() reported}, and the
    wall time.
    """
    source = ROOT / f"{notebook}.md"
    os.environ.update(env)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        given, executed = Path(scratch) / "in.ipynb", Path(scratch) / "out.ipynb"
        jupytext.write(jupytext.read(source), given, fmt="ipynb")
        error = None
        try:
            papermill.execute_notebook(
                given,
                executed,
                parameters={"SEED": seed},
                kernel_name="python3",
                cwd=str(source.parent),
                progress_bar=False,
            )
        except papermill.PapermillExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}"[:500]
        done = nbformat.read(executed, as_version=4) if executed.exists() else None
    found = {
        "values": pages.glued_values(done) if done else {},
        "error": error,
        "device": pages.device_from_outputs(done) if done else "unknown",
    }
    return found, time.perf_counter() - start


def run_one(notebook: str, seed: int) -> tuple[str, int, dict, float]:
    """One robustness run: one thread, failed claims recorded; keeps the glued numbers."""
    result, wall = run_papermill(notebook, seed, ONE_THREAD)
    del result["device"]
    result["values"] = {
        key: value
        for key, value in result["values"].items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return notebook, seed, result, wall


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path, help="default: every learned notebook")
    parser.add_argument("--seeds", type=int, default=pages.NUM_SEEDS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    notebooks = [
        source.resolve().relative_to(ROOT).with_suffix("").as_posix() for source in args.sources
    ] or learned_notebooks()
    results = json.loads(pages.ROBUSTNESS.read_text()) if pages.ROBUSTNESS.exists() else {}
    for notebook in notebooks:
        results[notebook] = {
            "inputs_sha256": inputs_hash(ROOT / f"{notebook}.md"),
            "seeds": {},
            "wall_s": 0.0,
        }
    start = time.perf_counter()
    jobs = [(notebook, seed) for notebook in notebooks for seed in range(args.seeds)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for notebook, seed, result, wall in pool.map(run_one, *zip(*jobs, strict=True)):
            results[notebook]["seeds"][str(seed)] = result
            results[notebook]["wall_s"] = round(results[notebook]["wall_s"] + wall, 1)
            status = f"error: {result['error']}" if result["error"] else "ok"
            print(f"{notebook} seed {seed}: {wall:.0f} s, {status}", flush=True)
    pages.ROBUSTNESS.write_text(json.dumps(dict(sorted(results.items())), indent=1) + "\n")
    pages.write_pages()
    print(f"robustness: {len(jobs)} runs in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
