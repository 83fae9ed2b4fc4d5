"""Execute every notebook of the book on another Keras backend and record how it went.

Usage: python tools/backend.py [--backend jax] [--no-record] [--without-tensorflow]
                               [notebooks/.../NN-slug.md ...]

Each notebook's source runs in a fresh kernel with `KERAS_BACKEND` set (papermill, seed 0),
with every assert in force; nothing is compared with the stored outputs, which are
TensorFlow's: the numbers differ between backends, the claims must not. A claim of any
kind but "learned" must come out as the book expects; a learned claim that misses is
reported, because one run on another backend is one fresh draw of a claim that the book
decides over ten seeds (see `outcomes`). The wall time, the device, how many claims came
out as the book expects and which learned ones missed go to `book/runs.json` under the
backend's name (unless --no-record), and the status page is regenerated. Exits 1 if a
notebook stopped with an error or missed a claim that is not learned.

With --without-tensorflow the kernels run as on a machine that has no TensorFlow, like the
lent GPU machine: `import tensorflow` fails in them (`tools/without_tensorflow` comes first
on their PYTHONPATH), so a notebook that still needs TensorFlow fails here. Keras imports
TensorFlow whenever it can (its `set_random_seed` does), which costs each kernel about
2.7 s of CPU and 470 MB (measured); on JAX nothing uses it.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pages
from robustness import run_papermill

RECORD_FAILURES = pages.CLAIMS.RECORD_FAILURES

ROOT = pages.ROOT
WITHOUT_TENSORFLOW = ROOT / "tools" / "without_tensorflow"


def outcomes(values: dict[str, object]) -> tuple[int, int, list[str], list[str]]:
    """What one executed run decided: (claims whose outcome matches their `expect`, claims
    decided, learned claims that missed, other claims that missed).

    A learned claim is decided over ten seeds (`make robustness`); one run on another
    backend is one more draw of it, with another random stream, so a claim that holds in
    nine seeds of ten misses in about one run of ten, and such a miss is reported, not
    failed. Every other claim (a construction, a measurement, an identity) is
    deterministic up to float round-off and must come out as on TensorFlow.
    """
    matched, learned_missed, other_missed = 0, [], []
    records = pages.claim_records(values)
    for key, record in records.items():
        held = pages.holds(values.get(key), record)
        if record["expect"] == "fragile" or held == (record["expect"] == "holds"):
            matched += 1
        elif record.get("learned"):  # glued by claim(..., learned=True)
            learned_missed.append(f"{key} {values.get(key)}")
        else:
            other_missed.append(f"{key} {values.get(key)}")
    return matched, len(records), learned_missed, other_missed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--backend", default="jax")
    parser.add_argument("--label", help="name of the runs in book/runs.json (default: backend)")
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="check only: leave book/runs.json and the status page as they are (CI, where "
        "the TensorFlow tests read them at the same time)",
    )
    parser.add_argument(
        "--without-tensorflow",
        action="store_true",
        help="run the kernels as on a machine without TensorFlow: importing it fails there",
    )
    args = parser.parse_args(argv)
    if args.without_tensorflow and args.backend == "tensorflow":
        parser.error("--without-tensorflow needs another backend than tensorflow")
    notebooks = [
        source.resolve().relative_to(ROOT).with_suffix("").as_posix() for source in args.sources
    ] or [p.relative_to(ROOT).with_suffix("").as_posix() for p in pages.book_notebooks()]
    # A missed claim is recorded, not raised, so that one learned claim's draw does not
    # hide the claims after it; `outcomes` decides what fails.
    env = {"KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "3", RECORD_FAILURES: "1"}
    if args.without_tensorflow:
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join([str(WITHOUT_TENSORFLOW), *filter(None, paths)])
    try:
        backend_version = version(args.backend)
    except PackageNotFoundError:
        backend_version = "not installed"
    failed = []
    for notebook in notebooks:
        result, wall = run_papermill(notebook, 0, env)
        matched, decided, learned_missed, other_missed = outcomes(result["values"])
        status = "ok" if result["error"] is None else f"error: {result['error']}"
        print(f"{notebook} on {args.backend}: {wall:.1f} s, claims {matched}/{decided}, {status}")
        if learned_missed:
            print(f"  learned claims that missed in this one draw: {', '.join(learned_missed)}")
        if other_missed:
            print(f"  FAILED, not learned: {', '.join(other_missed)}")
        if result["error"] or other_missed:
            failed.append(notebook)
        if args.no_record:
            continue
        pages.save_run(
            notebook,
            args.label or args.backend,
            {
                "execution_wall_s": round(wall, 1),
                "device": result["device"],
                "claims": f"{matched}/{decided}" if result["error"] is None else "error",
                "learned_missed": learned_missed,
                "versions": {"keras": version("keras"), args.backend: backend_version},
            },
        )
    if not args.no_record:
        pages.write_pages()
    if failed:
        print(f"failed on {args.backend}: {', '.join(failed)}")
    print(f"{len(notebooks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
