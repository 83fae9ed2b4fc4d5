"""Formats the code cells of the book's MyST notebooks with ruff, at the width of the page.

Usage: python tools/format_code.py [notebooks/.../NN-slug.md ...]   (default: every notebook)

Each code cell has its imports sorted and is passed through `ruff format`, with the
settings of notebooks/ruff.toml (84 columns, what fits a page); cells with IPython magics
are left alone. Only the code changes: the markdown is written back by jupytext, which
keeps it as it was.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "notebooks" / "ruff.toml"


def format_cell(source: str) -> str:
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    for command in (
        ["check", "--select", "I", "--fix", "--exit-zero", "--quiet"],  # sort imports
        ["format"],
    ):
        source = subprocess.run(
            ["ruff", *command, "--config", str(CONFIG), "--stdin-filename", "cell.py", "-"],
            input=source,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return source.rstrip("\n")


def main(paths: list[str]) -> int:
    sources = [Path(p) for p in paths] or sorted((ROOT / "notebooks").rglob("*.md"))
    for path in sources:
        notebook = jupytext.read(path)
        changed = 0
        for cell in notebook.cells:
            if cell.cell_type == "code":
                new = format_cell(cell.source)
                changed += new != cell.source
                cell.source = new
        if changed:
            jupytext.write(notebook, path, fmt="md:myst")
        print(f"{path}: {changed} cells reformatted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
