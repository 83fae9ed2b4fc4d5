"""Execute book notebooks from their MyST source and store the outputs in the paired .ipynb.

Usage: python tools/execute.py [--force] notebooks/.../NN-slug.md [...]

For each MyST Markdown source, the paired .ipynb is rebuilt from the source (jupytext),
executed top to bottom in a fresh kernel (nbclient) in the notebook's folder, and written
back with its outputs. The wall time and the device are printed and stored in the
notebook's metadata (`mhbook`); then the generated pages (status, claims ledger) are
rewritten (tools/pages.py).

Make calls this for every notebook whose .md or any mhlib/*.py is newer than its .ipynb.
Modification times lie after a fresh clone, so the notebook also records a hash of its
inputs (its source and the mhlib modules it imports, directly or through other mhlib
modules): when that hash is unchanged the notebook is only touched, not executed again.
`--force` executes regardless.

Re-executing an unchanged notebook rewrites nothing: cells keep the ids stored in the
.ipynb, no per-cell timing is recorded, and what changes from run to run (wall time,
device, versions) goes to `book/runs.json`, which the status page is generated from.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pages
from inputs import notebook_hash
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT_S = 600
# absl/glog lines ("I0000 00:00:1795900003.507422   21543 port.cc:153] ...") and their preamble
LIBRARY_LOG = re.compile(
    r"[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl"
)


def stored_hash(ipynb: Path) -> str | None:
    if not ipynb.exists():
        return None
    notebook = nbformat.read(ipynb, as_version=4)
    return notebook.metadata.get("mhbook", {}).get("inputs_sha256")


def reuse_cell_ids(notebook: nbformat.NotebookNode, ipynb: Path) -> None:
    """Gives each cell the id its unchanged twin has in the stored .ipynb, if any."""
    if not ipynb.exists():
        return
    stored: dict[tuple[str, str], list[str]] = {}
    for cell in nbformat.read(ipynb, as_version=4).cells:
        stored.setdefault((cell.cell_type, cell.source), []).append(cell.id)
    for cell in notebook.cells:
        ids = stored.get((cell.cell_type, cell.source))
        if ids:
            cell.id = ids.pop(0)


def drop_library_logs(notebook: nbformat.NotebookNode) -> None:
    """Removes TensorFlow's C++ start-up logs (time-stamped, so new at every run) from stderr.

    TensorFlow writes them at import whatever TF_CPP_MIN_LOG_LEVEL says; they would make
    every re-execution rewrite the notebook, and the site never shows stderr anyway.
    """
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                output["text"] = "".join(line for line in lines if not LIBRARY_LOG.match(line))
                if not output["text"]:
                    continue
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found




def execute(source: Path, force: bool) -> float | None:
    source = source.resolve()
    if source.suffix != ".md" or not source.exists():
        raise SystemExit(f"expected an existing MyST notebook source (.md), got {source}")
    ipynb = source.with_suffix(".ipynb")
    rel = source.relative_to(ROOT).with_suffix("").as_posix()
    digest = notebook_hash(source)
    if not force and stored_hash(ipynb) == digest:
        ipynb.touch()
        print(f"{rel}.ipynb: inputs unchanged, not executed", flush=True)
        return None

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    reuse_cell_ids(notebook, ipynb)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(source.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start

    drop_library_logs(notebook)
    notebook.metadata["mhbook"] = {"inputs_sha256": digest}
    jupytext.write(notebook, ipynb, fmt="ipynb")
    pages.save_run(
        rel,
        "tensorflow",
        {
            "execution_wall_s": round(wall, 1),
            "device": pages.device_from_outputs(notebook),
            "versions": versions(),
            "cpu_count": os.cpu_count(),
        },
    )
    print(f"{rel}.ipynb: executed in {wall:.1f} s", flush=True)
    return wall


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--force", action="store_true", help="execute even if inputs unchanged")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # as in the Makefile: TensorFlow 2.21 with oneDNN may corrupt its heap on two
    # inter-op threads (README, "Why the tests pass on every machine")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    for source in args.sources:
        execute(source, args.force)
    pages.write_pages()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
