"""Execute every notebook with a learned claim for seeds 0..9 and record every glued value.

Usage: python tools/robustness.py [--all] [--verify-with-seed S] [--jobs 2] [--backend jax]
                                  [NN-slug.md ...]

Without arguments it runs the notebooks with a learned claim whose stored results are stale
(their source or the mhlib modules they import changed); `--all` runs every one of them.

Each run is papermill executing the notebook's MyST source with `SEED` injected into its
`parameters` cell, in a fresh kernel, with `MHBOOK_RECORD_FAILURES=1` so that a claim that
misses its target is recorded instead of stopping the run (an error elsewhere stops that
run; the values glued before it are kept and the error is recorded). Runs go `--jobs` at a
time, each kernel on one thread. The values, per notebook and seed, go to
`book/robustness.json` with the hash of the inputs they came from; `tests/test_book.py`
fails when that hash is stale. The claims ledger is then regenerated.

With `--backend jax` the same runs go to `book/robustness-jax.json` instead: they decide
the learned claims on that backend the way the book decides them on TensorFlow, and the
status page compares the two verdicts claim by claim. Nothing is tested against that file
(it costs about as much again as the TensorFlow runs); the page says when a notebook has
changed since it was written.
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


def run_one(notebook: str, seed: int, backend: str = "tensorflow") -> tuple[str, int, dict, float]:
    """One robustness run: one thread, failed claims recorded; keeps the glued numbers."""
    result, wall = run_papermill(notebook, seed, ONE_THREAD | {"KERAS_BACKEND": backend})
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
    parser.add_argument("--all", action="store_true", help="also notebooks whose file is fresh")
    parser.add_argument(
        "--verify-with-seed",
        type=int,
        metavar="SEED",
        help="for a change that should alter no number (a refactor, prose): re-run this seed "
        "only, and keep the stored seeds if every number it glues is unchanged",
    )
    parser.add_argument(
        "--backend",
        default="tensorflow",
        help="Keras backend; other than tensorflow, results go to book/robustness-BACKEND.json",
    )
    args = parser.parse_args(argv)
    path = pages.robustness_path(args.backend)
    if args.backend != "tensorflow" and args.verify_with_seed is not None:
        parser.error("--verify-with-seed checks the TensorFlow results only")
    results = json.loads(path.read_text()) if path.exists() else {}
    notebooks = [
        source.resolve().relative_to(ROOT).with_suffix("").as_posix() for source in args.sources
    ] or [
        notebook
        for notebook in learned_notebooks()
        if args.all
        or results.get(notebook, {}).get("inputs_sha256") != inputs_hash(ROOT / f"{notebook}.md")
    ]
    start = time.perf_counter()
    if args.verify_with_seed is not None:
        notebooks = verify(notebooks, args.verify_with_seed, results, args.jobs)
    for notebook in notebooks:
        # The hash is stamped only once every seed is in, so an interrupted run stays stale.
        results[notebook] = {
            "inputs_sha256": "",
            "seeds": {},
            "wall_s": 0.0,
        }
    # hashed now, before any run starts: an edit made while they run leaves the results stale
    hashes = {notebook: inputs_hash(ROOT / f"{notebook}.md") for notebook in notebooks}
    jobs = [(notebook, seed) for notebook in notebooks for seed in range(args.seeds)]
    backends = [args.backend] * len(jobs)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for notebook, seed, result, wall in pool.map(run_one, *zip(*jobs, strict=True), backends):
            results[notebook]["seeds"][str(seed)] = result
            results[notebook]["wall_s"] = round(results[notebook]["wall_s"] + wall, 1)
            status = f"error: {result['error']}" if result["error"] else "ok"
            print(f"{notebook} seed {seed}: {wall:.0f} s, {status}", flush=True)
            if len(results[notebook]["seeds"]) == args.seeds:
                results[notebook]["inputs_sha256"] = hashes[notebook]
            save(results, path)
    pages.write_pages()
    print(f"robustness: {len(jobs)} runs in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def save(results: dict, path: Path = pages.ROBUSTNESS) -> None:
    """Writes the results (after every run, so an interrupted run keeps its work)."""
    path.write_text(json.dumps(dict(sorted(results.items())), indent=1) + "\n")


def verify(notebooks: list[str], seed: int, results: dict, jobs: int) -> list[str]:
    """Re-runs one seed of each notebook; re-stamps those whose numbers are all unchanged.

    Returns the notebooks that must be run over every seed again: those with no stored
    results, and those where the number of any claim, or the error, differs from the
    stored run (other glued numbers, such as timings, may differ).
    """
    stored = {n: results.get(n, {}).get("seeds", {}).get(str(seed)) for n in notebooks}
    hashes = {n: inputs_hash(ROOT / f"{n}.md") for n in notebooks}
    to_check = [n for n in notebooks if stored[n] is not None]
    rerun = [n for n in notebooks if stored[n] is None]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        checked = pool.map(run_one, to_check, [seed] * len(to_check))
        for notebook, _, result, wall in checked:
            # Only the claims' numbers must match: other glued numbers may be timings.
            keys = {row["key"] for row in pages.claims() if row["notebook"] == notebook}
            old, new = (
                ({k: v for k, v in run["values"].items() if k in keys}, run["error"])
                for run in (stored[notebook], result)
            )
            # An error that the stored runs met after every claim was decided, and that
            # is gone now, leaves their numbers valid: the runs are kept, without it.
            late_error_fixed = new[1] is None and old[0].keys() == keys
            if old[0] == new[0] and (old[1] == new[1] or late_error_fixed):
                for run in results[notebook]["seeds"].values():
                    if keys <= run["values"].keys():
                        run["error"] = None
                results[notebook]["inputs_sha256"] = hashes[notebook]
                save(results)
                print(f"{notebook}: seed {seed} unchanged ({wall:.0f} s), results kept")
            else:
                was, now = old[0], new[0]
                changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
                print(f"{notebook}: seed {seed} changed {changed or result['error']}: re-run")
                rerun.append(notebook)
    return rerun


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
