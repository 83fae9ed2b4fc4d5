"""tools/nbval_watch.py: a kernel that dies during an nbval pass fails its cell at once."""

import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbval_watch import exit_description

ROOT = Path(__file__).resolve().parents[1]


def test_exit_description():
    assert exit_description(-11) == "signal 11 (SIGSEGV)"
    assert exit_description(-6) == "signal 6 (SIGABRT)"
    assert exit_description(-200) == "signal 200 (unknown signal)"
    assert exit_description(3) == "exit status 3"
    assert exit_description(None) == "an unknown exit status"


def run_nbval(tmp_path, cells, timeout):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells]
    )
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    command = [
        sys.executable, "-m", "pytest", "-p", "tools.nbval_watch", "-p", "no:cacheprovider",
        "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={timeout}",
        "--rootdir", str(tmp_path), str(path),
    ]
    # `python -m pytest` in the repository root finds tools/ as the Makefile's passes do
    start = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return result, time.monotonic() - start


@pytest.mark.parametrize("how, expected", [
    ("os.kill(os.getpid(), signal.SIGSEGV)", "signal 11 (SIGSEGV)"),
    ("os._exit(3)", "exit status 3"),
])
def test_a_dead_kernel_fails_its_cell_at_once(tmp_path, how, expected):
    result, seconds = run_nbval(
        tmp_path, ["import os, signal", how, "print('after')"], timeout=240
    )
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert f"The kernel died with {expected} while executing this cell" in report
    assert "1 failed, 1 passed, 1 xfailed" in report, report
    # nbval alone waits for its cell timeout (240 s here)
    assert seconds < 60, report


def test_a_live_kernel_is_left_alone(tmp_path):
    # a cell longer than one poll (2 s) passes, and so does a notebook with no death
    result, _ = run_nbval(
        tmp_path, ["import time", "time.sleep(5)", "print('after')"], timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_a_cell_timeout_is_still_reported(tmp_path):
    result, seconds = run_nbval(tmp_path, ["import time", "time.sleep(30)"], timeout=3)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "Timeout of 3 seconds exceeded" in report, report
    assert seconds < 25, report
