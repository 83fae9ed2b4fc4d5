"""What a notebook's outputs depend on: its source and the mhlib modules it imports.

`tools/robustness.py` stores `inputs_hash` beside each notebook's seed results;
`tools/execute.py` stores `notebook_hash` (the same inputs plus the notebook's seed results,
which its ten-seed summary quotes) in each executed .ipynb and skips notebooks whose hash is
unchanged. `tests/test_book.py` fails when either is stale. A change to `mhlib/conv.py`
therefore re-executes the vision notebook and no other.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
MHLIB = ROOT / "mhlib"
ROBUSTNESS = ROOT / "book" / "robustness.json"


def _module_imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every `mhlib` import in a parsed file."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mhlib"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("mhlib")]
    return found


def _exports() -> dict[str, str]:
    """Top-level name of the package -> the module (file stem) that defines it."""
    exports = {}
    for module, names in _module_imports(ast.parse((MHLIB / "__init__.py").read_text())):
        for name in names:
            is_submodule = module == "mhlib" and (MHLIB / f"{name}.py").exists()
            exports[name] = name if is_submodule else module.removeprefix("mhlib.")
    return exports


def _resolve(module: str, names: list[str], exports: dict[str, str]) -> set[str]:
    """The module stems that `from <module> import <names>` (or `import module`) reaches."""
    if module != "mhlib":
        return {module.removeprefix("mhlib.").split(".")[0]}
    if not names:  # `import mhlib`: everything the package exports
        return set(exports.values())
    return {exports.get(name, name) for name in names if name in exports}


def _notebook_imports(source: Path) -> list[tuple[str, list[str]]]:
    """The mhlib imports of a notebook's code cells (IPython magics left out)."""
    found = []
    for cell in jupytext.read(source).cells:
        if cell.cell_type == "code":
            lines = cell.source.splitlines()
            magic = re.compile(r"^(\s*)[%!].*$")  # IPython magics are not Python
            code = "\n".join(magic.sub(r"\1pass", line) for line in lines)
            found += _module_imports(ast.parse(code))
    return found


def mhlib_modules(source: Path) -> list[Path]:
    """The mhlib files a notebook depends on: those it imports and those they import."""
    exports = _exports()
    pending = set()
    for module, names in _notebook_imports(source):
        pending |= _resolve(module, names, exports)
    seen: set[str] = set()
    while pending:
        stem = pending.pop()
        path = MHLIB / f"{stem}.py"
        if stem in seen or not path.exists():
            continue
        seen.add(stem)
        for module, names in _module_imports(ast.parse(path.read_text())):
            pending |= _resolve(module, names, exports) - seen
    return sorted(MHLIB / f"{stem}.py" for stem in seen)


def inputs_hash(source: Path) -> str:
    """Hash of what determines a notebook's outputs: its source and the mhlib it uses."""
    digest = hashlib.sha256()
    for path in [source, *mhlib_modules(source)]:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def notebook_hash(source: Path) -> str:
    """`inputs_hash` plus the notebook's entry in book/robustness.json, if it has one."""
    notebook = source.resolve().relative_to(ROOT).with_suffix("").as_posix()
    results = json.loads(ROBUSTNESS.read_text()) if ROBUSTNESS.exists() else {}
    seeds = results.get(notebook, {}).get("seeds")
    if seeds is None:
        return inputs_hash(source)
    digest = hashlib.sha256(inputs_hash(source).encode())
    digest.update(json.dumps(seeds, sort_keys=True).encode())
    return digest.hexdigest()
