"""tools/backend.py: its arguments, the order it runs notebooks in and what fails it.

The notebooks themselves are not executed here (`make test-jax` does that): `run_papermill`
is replaced by a stand-in that returns what a run would.
"""

from __future__ import annotations

import backend
import pages
import pytest


def test_jobs_must_be_positive():
    with pytest.raises(SystemExit):
        backend.main(["--jobs", "0", "--no-record"])


def test_parallel_runs_are_never_recorded(capsys):
    """Wall times of notebooks run side by side are not each notebook's own."""
    with pytest.raises(SystemExit):
        backend.main(["--jobs", "2"])
    assert "--no-record" in capsys.readouterr().err


def test_slowest_notebook_runs_first_and_an_error_fails(monkeypatch, capsys):
    notebooks = [
        p.relative_to(pages.ROOT).with_suffix("").as_posix() for p in pages.book_notebooks()
    ]
    slow, never_run, broken = notebooks[3], notebooks[5], notebooks[0]
    times = {n: {"jax": {"execution_wall_s": 10.0}} for n in notebooks if n != never_run}
    times[slow]["jax"]["execution_wall_s"] = 99.0
    monkeypatch.setattr(backend.pages, "runs", lambda: times)
    ran = []

    def fake_run(notebook, seed, env):
        assert seed == 0 and env["KERAS_BACKEND"] == "jax"
        ran.append(notebook)
        error = "ValueError: boom" if notebook == broken else None
        return {"values": {}, "error": error, "device": "CPU"}, 1.0

    monkeypatch.setattr(backend, "run_papermill", fake_run)
    assert backend.main(["--no-record"]) == 1
    assert ran[:2] == [never_run, slow]  # never run on JAX counts as slowest
    assert sorted(ran) == sorted(notebooks)
    out = capsys.readouterr().out
    assert f"failed on jax: {broken}" in out
    assert f"{len(notebooks) - 1} passed, 1 failed" in out


def test_a_learned_miss_is_reported_and_any_other_miss_fails():
    rule = {"op": ">=", "target": 0.9, "fmt": ".3f", "expect": "holds"}
    values = {
        "trained": 0.5,
        "trained__claim": {**rule, "learned": True},
        "built": 0.5,
        "built__claim": rule,
        "fine": 0.95,
        "fine__claim": rule,
        "coin": 0.1,
        "coin__claim": {**rule, "expect": "fragile", "learned": True},
    }
    assert backend.outcomes(values) == (2, 4, ["trained 0.5"], ["built 0.5"])
