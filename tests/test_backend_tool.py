"""tools/backend.py: what fails a run on another backend.

The notebooks themselves are not executed here (`make test-jax` does that): `run_papermill`
is replaced by a stand-in that returns what a run would.
"""

from __future__ import annotations

import os
import subprocess
import sys

import backend
import pages
import pytest


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


def test_without_tensorflow_the_kernels_cannot_import_it(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    seen = []

    def fake_run(notebook, seed, env):
        seen.append(env["PYTHONPATH"])
        return {"values": {}, "error": None, "device": "CPU"}, 1.0

    monkeypatch.setattr(backend, "run_papermill", fake_run)
    first = pages.book_notebooks()[0].with_suffix(".md")
    assert backend.main(["--no-record", "--without-tensorflow", str(first)]) == 0
    assert seen == [f"{backend.WITHOUT_TENSORFLOW}{os.pathsep}/somewhere"]
    # In a fresh interpreter with that path, TensorFlow is missing, and Keras knows it.
    probe = (
        "import sys\n"
        "try:\n    import tensorflow\nexcept ModuleNotFoundError as exc:\n"
        "    assert exc.name == 'tensorflow', exc\nelse:\n    sys.exit('imported')\n"
        "from keras.src.utils.module_utils import tensorflow as lazy\n"
        "assert not lazy.available and 'tensorflow' not in sys.modules\n"
    )
    # Keras's numpy backend needs no other package; the lazy module is the same on every one.
    env = {**os.environ, "PYTHONPATH": seen[0], "KERAS_BACKEND": "numpy"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_without_tensorflow_needs_another_backend():
    with pytest.raises(SystemExit):
        backend.main(["--backend", "tensorflow", "--without-tensorflow"])
