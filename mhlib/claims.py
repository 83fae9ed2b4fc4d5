"""Deciding numbers: glue a rounded value, print it, and hold it to its target.

Every claim of the book is decided by one number. `claim` does in one line what a
result cell would otherwise repeat for each claim: it rounds the number to the
precision the page prints, glues it (MyST-NB's `glue`, so that the prose quotes it),
records the target beside it (so that the claims ledger reads the target from the
notebook instead of repeating it), prints a verdict, and fails the notebook when the
outcome contradicts the book's verdict. A learned claim is decided over ten seeds, so
its one run is reported, not asserted. `record` does the same for a number that
decides nothing.

Rounding happens *before* gluing and judging: the value the text quotes, the value
the ledger shows and the value the verdict is taken on are one and the same, and a
regression test that compares stored outputs sees no digit below the printed ones,
so float round-off from another CPU or thread count cannot change it.

In a robustness run (`make robustness`, which sets the environment variable
`MHBOOK_RECORD_FAILURES=1`), a missed target is printed and recorded instead of
raised, so that one failing claim does not hide the claims after it.
"""

from __future__ import annotations

import json
import math
import operator
import os
from pathlib import Path

COMPARATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
"""The comparisons a claim may make between its number and its target."""

CLAIM_SUFFIX = "__claim"
"""A claim's comparison is glued under its key plus this suffix, as a dict
`{"op": ..., "target": ..., "fmt": ..., "expect": ...}`."""

EXPECTATIONS = ("holds", "fails", "fragile")
"""What the book finds of a claim: it holds, it fails, or it depends on the seed."""

RECORD_FAILURES = "MHBOOK_RECORD_FAILURES"
"""Environment variable: when "1", a missed target is recorded instead of raised."""

ROBUSTNESS_FILE = Path("book") / "robustness.json"
"""Where `make robustness` stores every glued value per notebook and seed (book root)."""

_decided: dict[str, dict] = {}  # key -> the comparison of each claim decided in this kernel


def rounded(value: float | int, fmt: str) -> float | int:
    """`value` rounded exactly as `format(value, fmt)` prints it.

    Args:
        value: a finite real number (Python or NumPy scalar).
        fmt: a format spec of type `f`, `e`, `g` or `%` (e.g. ".3f", ".1e"), or
            "d" for an integer count.

    Returns:
        A Python `int` for "d", else a Python `float` whose `repr` is the printed
        digits (a percentage is returned as a fraction).

    Example:

    >>> rounded(0.98765, ".3f"), rounded(4.8e-7, ".1e"), rounded(12, "d")
    (0.988, 4.8e-07, 12)
    """
    if fmt == "d":
        if isinstance(value, bool) or int(value) != value:
            raise ValueError(f"format 'd' needs a whole number, got {value!r}")
        return int(value)
    if not fmt or fmt[-1] not in "fEeGg%":
        raise ValueError(f"`fmt` must be 'd' or a float format such as '.3f', got {fmt!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"a deciding number must be finite, got {value!r}")
    if fmt.endswith("%"):
        return float(format(value, fmt)[:-1]) / 100
    return float(format(value, fmt))


def _glue(key: str, value: object) -> None:
    from myst_nb import glue  # the book extra; on Colab the set-up cell installs myst-nb

    glue(key, value, display=False)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"`key` must be a Python identifier (a glue key), got {key!r}")


def record(key: str, value: float | int, fmt: str = ".3f") -> float | int:
    """Glues and prints a number the prose quotes, rounded as it is printed.

    Args:
        key: the glue key (a Python identifier), as the prose quotes it.
        value: the number.
        fmt: the format it is printed and rounded with (see `rounded`).

    Returns:
        The rounded value that was glued.

    Example:

    >>> record("test_accuracy", 0.98765)  # doctest: +SKIP
    test_accuracy = 0.988
    0.988
    """
    _check_key(key)
    if os.environ.get(RECORD_FAILURES) == "1" and not math.isfinite(value):
        # a summary of the ten seeds (see `over_seeds`) inside the run that makes them
        print(f"{key}: not recorded in a robustness run")
        return value
    shown = rounded(value, fmt)
    _glue(key, shown)
    print(f"{key} = {format(shown, fmt)}")
    return shown


def claim(
    key: str,
    value: float | int,
    op: str,
    target: float,
    fmt: str = ".3f",
    expect: str = "holds",
    learned: bool = False,
) -> bool:
    """Decides a claim: glues the rounded number and its target, prints, asserts.

    The claim is what the source says (or what the book adds); `expect` is what
    the book finds. A claim the book refutes is written as the source states it,
    with `expect="fails"`: the notebook then asserts that it fails. A claim that
    holds for some seeds and not for others is `expect="fragile"` and asserts
    nothing; its section quotes the count over ten seeds.

    A learned claim (`learned=True`: a model trained from data) is decided over ten
    seeds, so one run is one draw: it is printed and glued like any claim, but an
    outcome that differs from `expect` is reported, not raised. A claim that holds in
    9 seeds of 10 misses in one, and a learner who changes `SEED` must be able to
    land on that one. The ten-seed verdict is checked where the seeds are
    (`over_seeds`, `make robustness`, the book's tests); the stored run's outcome
    is checked by nbval against its printed line.

    Args:
        key: the glue key of the deciding number (a Python identifier); the
            claims ledger (`book/claims.yml`) names the same key.
        value: the deciding number.
        op: one of ">=", "<=", ">", "<", "==": what the claim requires of it.
        target: the number it is compared with.
        fmt: the format it is printed and rounded with (see `rounded`); the
            verdict is taken on the rounded number, the one the text shows.
        expect: "holds", "fails" or "fragile": the book's verdict, the same as
            the claim's `expected` in `book/claims.yml`.
        learned: the claim's evidence is "learned" in `book/claims.yml`; the
            verdict is then the ten-seed one and this run is not asserted.

    Returns:
        Whether the claim holds for this run.

    Raises:
        AssertionError: when the outcome contradicts `expect` ("holds" but the
            target is missed, or "fails" but it is met), unless the claim is
            learned or the environment variable `MHBOOK_RECORD_FAILURES` is "1".

    Example:

    >>> claim("two_head_accuracy", 0.9935, ">=", 0.97)  # doctest: +SKIP
    two_head_accuracy = 0.994 (target >= 0.97): holds
    True
    """
    _check_key(key)
    if op not in COMPARATORS:
        raise ValueError(f"`op` must be one of {sorted(COMPARATORS)}, got {op!r}")
    if isinstance(target, bool) or not isinstance(target, int | float):
        raise ValueError(f"`target` must be a number, got {target!r}")
    if expect not in EXPECTATIONS:
        raise ValueError(f"`expect` must be one of {EXPECTATIONS}, got {expect!r}")
    if not isinstance(learned, bool):
        raise ValueError(f"`learned` must be True or False, got {learned!r}")
    shown = rounded(value, fmt)
    holds = bool(COMPARATORS[op](shown, target))
    _glue(key, shown)
    _decided[key] = {"op": op, "target": target, "fmt": fmt, "expect": expect}
    if learned:
        _decided[key]["learned"] = True
    _glue(key + CLAIM_SUFFIX, _decided[key])
    outcome = "holds" if holds else "does not hold"
    contradicted = (expect == "holds" and not holds) or (expect == "fails" and holds)
    note = f" in this seed; over ten seeds the book finds it {expect}" if contradicted else ""
    note = note if learned else ""
    print(f"{key} = {format(shown, fmt)} (target {op} {target:g}): {outcome}{note}")
    if contradicted and not learned and os.environ.get(RECORD_FAILURES) != "1":
        raise AssertionError(
            f"claim {key!r}: {format(shown, fmt)} {op} {target:g} {outcome}, "
            f"but the book expects it to {expect.removesuffix('s')}"
        )
    return holds


def mean_and_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (NaN for fewer than two values).

    >>> mean_and_se([1.0, 2.0, 3.0])
    (2.0, 0.5773502691896257)
    """
    if not values:
        raise ValueError("`values` is empty")
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def find_robustness_file(start: Path | None = None) -> Path | None:
    """`book/robustness.json` of the book this notebook runs in, searched upwards."""
    start = (start or Path.cwd()).resolve()
    for folder in [start, *start.parents]:
        if (folder / ROBUSTNESS_FILE).is_file():
            return folder / ROBUSTNESS_FILE
    return None


def over_seeds(notebook: str, keys: list[str], path: Path | None = None) -> dict[str, dict]:
    """Glues and prints how each claim fared over the seeds of `make robustness`.

    For every key, decided earlier in this notebook with `claim`, glues
    `<key>_seeds_held` (in how many seeds the target was met),
    `<key>_seeds_mean` and `<key>_seeds_se` (mean and standard error over the
    seeds, rounded like the claim), and `<key>_seeds` (the number of seeds).

    Args:
        notebook: the notebook's path from the book root, without suffix.
        keys: glue keys of claims this notebook decided with `claim`.
        path: the robustness file; by default `book/robustness.json` found
            upwards from the working directory.

    Returns:
        key -> {"held", "seeds", "mean", "se"}; empty, with nothing glued, when
        no robustness file is found (a notebook opened outside the book's
        repository). In a robustness run itself, which is what fills the file,
        every summary is {"held": 0, "seeds": 0, "mean": nan, "se": nan}, nothing
        is glued, and `record` skips the non-finite numbers computed from them.
    """
    if os.environ.get(RECORD_FAILURES) == "1":
        nothing = {"held": 0, "seeds": 0, "mean": math.nan, "se": math.nan}
        return {key: dict(nothing) for key in keys}
    path = path or find_robustness_file()
    if path is None:
        print("no book/robustness.json here: the ten-seed results are in the book's ledger")
        return {}
    seeds = json.loads(Path(path).read_text()).get(notebook, {}).get("seeds", {})
    if not seeds:
        raise ValueError(f"{path} has no seeds for {notebook!r}: run `make robustness`")
    summary = {}
    for key in keys:
        if key not in _decided:
            raise ValueError(f"`{key}` was not decided with claim() earlier in this notebook")
        rule = _decided[key]
        values = [run["values"].get(key) for run in seeds.values()]
        numbers = [v for v in values if v is not None]
        held = sum(v is not None and COMPARATORS[rule["op"]](v, rule["target"]) for v in values)
        if not numbers:
            raise ValueError(f"no seed in {path} glued `{key}`: run `make robustness`")
        mean, se = mean_and_se(numbers)
        summary[key] = {"held": held, "seeds": len(values), "mean": mean, "se": se}
        fmt = ".1f" if rule["fmt"] == "d" else rule["fmt"]  # the mean of counts is not a count
        _glue(f"{key}_seeds_held", held)
        _glue(f"{key}_seeds", len(values))
        _glue(f"{key}_seeds_mean", rounded(mean, fmt))
        _glue(f"{key}_seeds_se", rounded(se, fmt))
        print(
            f"{key}: target met in {held}/{len(values)} seeds, "
            f"mean {format(mean, fmt)} ± {format(se, fmt)} (SE)"
        )
    return summary
