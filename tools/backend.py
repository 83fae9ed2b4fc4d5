"""Execute every notebook of the book on another Keras backend and record how it went.

Usage: python tools/backend.py [--backend jax] [--no-record] [notebooks/.../NN-slug.md ...]

Each notebook's source runs in a fresh kernel with `KERAS_BACKEND` set (papermill, seed 0),
with every assert in force; nothing is compared with the stored outputs, which are
TensorFlow's: the numbers differ between backends, the claims must not. The wall time,
the device and how many claims came out as the book expects go to `book/runs.json` under
the backend's name, and the status page is regenerated. Exits 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pages
from robustness import run_papermill

ROOT = pages.ROOT


def claims_as_expected(values: dict[str, object]) -> tuple[int, int]:
    """(claims whose outcome matches their `expect`, claims decided) in one executed run."""
    records = pages.claim_records(values)
    matched = 0
    for key, record in records.items():
        held = pages.holds(values.get(key), record)
        matched += record["expect"] == "fragile" or held == (record["expect"] == "holds")
    return matched, len(records)


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
    args = parser.parse_args(argv)
    notebooks = [
        source.resolve().relative_to(ROOT).with_suffix("").as_posix() for source in args.sources
    ] or [p.relative_to(ROOT).with_suffix("").as_posix() for p in pages.book_notebooks()]
    env = {"KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        backend_version = version(args.backend)
    except PackageNotFoundError:
        backend_version = "not installed"
    failed = []
    for notebook in notebooks:
        result, wall = run_papermill(notebook, 0, env)
        matched, decided = claims_as_expected(result["values"])
        status = "ok" if result["error"] is None else f"error: {result['error']}"
        print(f"{notebook} on {args.backend}: {wall:.1f} s, claims {matched}/{decided}, {status}")
        if result["error"] or matched < decided:
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
