"""A pytest plugin for the nbval passes: a kernel that dies fails its cell at once.

nbval waits for a cell's reply until its cell timeout (600 s in the Makefile), even when
the kernel process is gone: a kernel killed by a signal cost CI ten minutes and a report
that said only "Timeout ... Failed to interrupt kernel". With this plugin the wait polls
the kernel process every few seconds; when it has exited, the cell fails with its exit
status or signal (for example "signal 11 (SIGSEGV)"), and the notebook's later cells are
marked as expected failures, as nbval does after a timeout.

Loaded by the Makefile's nbval passes: `python -m pytest -p tools.nbval_watch --nbval ...`.
"""

from __future__ import annotations

import signal
import time
from queue import Empty

POLL_S = 2.0


class KernelDied(Exception):
    """The kernel process exited while a cell was running."""


def exit_description(returncode: int | None) -> str:
    """Says how a process ended, from its Popen return code.

    >>> exit_description(-11)
    'signal 11 (SIGSEGV)'
    >>> exit_description(1)
    'exit status 1'
    >>> exit_description(None)
    'an unknown exit status'
    """
    if returncode is None:
        return "an unknown exit status"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-returncode} ({name})"
    return f"exit status {returncode}"


def _returncode(running_kernel) -> int | None:
    process = getattr(getattr(running_kernel.km, "provisioner", None), "process", None)
    return None if process is None else process.poll()


def pytest_configure(config):
    """Wraps nbval's wait for a reply and its cell test; importing this module changes nothing."""
    from nbval import kernel as nbval_kernel
    from nbval import plugin as nbval_plugin

    original_await_reply = nbval_kernel.RunningKernel.await_reply
    original_runtest = nbval_plugin.IPyNbCell.runtest
    if getattr(original_runtest, "watched", False):
        return

    def await_reply(self, msg_id, timeout=None):
        """nbval's `await_reply`, in slices of POLL_S seconds with a liveness check between."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Empty
            step = POLL_S if left is None else min(POLL_S, left)
            try:
                return original_await_reply(self, msg_id, timeout=step)
            except Empty:
                if not self.is_alive():
                    raise KernelDied(exit_description(_returncode(self))) from None

    def runtest(self):
        try:
            return original_runtest(self)
        except KernelDied as died:
            # as after a timeout: the notebook's later cells are expected to fail
            self.parent.timed_out = True
            self.raise_cell_error(
                f"The kernel died with {died} while executing this cell "
                "(detected by tools/nbval_watch.py, instead of waiting for the cell timeout)."
            )

    runtest.watched = True
    nbval_kernel.RunningKernel.await_reply = await_reply
    nbval_plugin.IPyNbCell.runtest = runtest
