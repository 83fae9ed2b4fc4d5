"""tools/tf_race.py: counts the fresh TensorFlow processes that die in their first fit."""

import subprocess
import sys
from pathlib import Path

import pytest
import tf_race

ROOT = Path(__file__).resolve().parents[1]


def test_summary():
    assert tf_race.summary([0, -11, 0, -6, -11]) == (
        "3 of 5 runs died (60.0 %): signal 11 (SIGSEGV) ×2, signal 6 (SIGABRT) ×1"
    )
    assert tf_race.summary([0]) == "0 of 1 runs died (0.0 %)"
    assert tf_race.summary([1]) == "1 of 1 runs died (100.0 %): exit status 1 ×1"


@pytest.mark.parametrize("flag", ["--runs=0", "--jobs=0", "--epochs=0", "--interop=0"])
def test_bad_counts_are_refused(flag, capsys):
    with pytest.raises(SystemExit) as stop:
        tf_race.main([flag])
    assert stop.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_a_dying_run_is_counted(monkeypatch, capsys):
    codes = iter([0, -11, 0])
    monkeypatch.setattr(tf_race, "run_once", lambda epochs, env: next(codes))
    assert tf_race.main(["--runs=3", "--jobs=1"]) == 1
    assert "1 of 3 runs died (33.3 %): signal 11 (SIGSEGV) ×1" in capsys.readouterr().out


def test_the_interop_setting_reaches_the_runs(monkeypatch):
    seen = []
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "1")
    monkeypatch.setattr(tf_race, "run_once", lambda epochs, env: seen.append(env) or 0)
    assert tf_race.main(["--runs=1", "--jobs=1"]) == 0
    assert "TF_NUM_INTEROP_THREADS" not in seen[-1]  # the Makefile's setting is not inherited
    assert tf_race.main(["--runs=1", "--jobs=1", "--interop=2"]) == 0
    assert seen[-1]["TF_NUM_INTEROP_THREADS"] == "2"
    assert seen[-1]["KERAS_BACKEND"] == "tensorflow"


@pytest.mark.tensorflow_only
def test_one_real_run_fits(tmp_path):
    # the probe itself runs: a fresh TensorFlow process fits the model for one epoch
    result = subprocess.run(
        [sys.executable, "tools/tf_race.py", "--runs=1", "--jobs=1", "--epochs=1", "--interop=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 of 1 runs died" in result.stdout
