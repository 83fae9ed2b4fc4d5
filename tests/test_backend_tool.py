"""tools/backend.py: what fails a run on another backend.

The notebooks themselves are not executed here (`make test-jax` does that): `run_papermill`
is replaced by a stand-in that returns what a run would.
"""

from __future__ import annotations

import backend
import pages


def test_every_notebook_runs_and_an_error_fails(monkeypatch, capsys):
    notebooks = [
        p.relative_to(pages.ROOT).with_suffix("").as_posix() for p in pages.book_notebooks()
    ]
    broken = notebooks[0]
    ran = []

    def fake_run(notebook, seed, env):
        assert seed == 0 and env["KERAS_BACKEND"] == "jax"
        ran.append(notebook)
        error = "ValueError: boom" if notebook == broken else None
        return {"values": {}, "error": error, "device": "CPU"}, 1.0

    monkeypatch.setattr(backend, "run_papermill", fake_run)
    assert backend.main(["--no-record"]) == 1
    assert ran == notebooks
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
