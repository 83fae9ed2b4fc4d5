"""Counts how often a fresh TensorFlow process dies in its first fit of an attention model.

Usage: python tools/tf_race.py [--runs 200] [--jobs 4] [--epochs 3] [--interop N]

Why: on TensorFlow 2.21 with oneDNN (the default on x86) and more than one inter-op thread,
the heap is sometimes corrupted in the first steps of a fit, and the process dies with
SIGSEGV or SIGABRT ("corrupted size vs. prev_size"). The core dumps point at oneDNN's einsum
(`MklEinsum`, in its matmul primitive's scratchpad query), or show the damage later (a `Mul`
reading a freed input, `malloc`). A `MultiHeadAttention` layer computes its query, key and
value projections with einsums that do not depend on each other, so two inter-op threads
can run them at once. Only fresh processes died (none of 120 fits repeated in one process),
in about 1 run in 100 on 2 cores with four runs at once (an idle machine was not measured).

Each run is a fresh process that builds the primer's lookup model (one `MultiHeadAttention`
layer on three inputs) and fits it for a few epochs; `--jobs` processes run at once, which
also loads the machine. `--interop` sets `TF_NUM_INTEROP_THREADS` for the runs; the default
leaves TensorFlow's own choice (one inter-op thread per core). The Makefile sets it to 1 for
everything it runs. The exit status is 1 when any run died, so that this can check a new
TensorFlow release: `python tools/tf_race.py --runs 300` (about 20 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from nbval_watch import exit_description

PROBE = """
import sys
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
n, items, width = 2048, 8, 16
query = keras.Input((1, width), name="query")
keys = keras.Input((items, width), name="keys")
prices = keras.Input((items, 1), name="prices")
attention = keras.layers.MultiHeadAttention(1, 8, output_shape=2)
model = keras.Model([query, keys, prices], attention(query, prices, key=keys))
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
inputs = [
    rng.random((n, 1, width), dtype="float32"),
    rng.random((n, items, width), dtype="float32"),
    rng.normal(size=(n, items, 1)).astype("float32"),
]
model.fit(inputs, rng.normal(size=(n, 1, 2)), batch_size=64, epochs=int(sys.argv[1]), verbose=0)
"""


def run_once(epochs: int, env: dict[str, str]) -> int:
    """One fresh process; returns its Popen return code (negative: killed by that signal)."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(epochs)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ).returncode


def summary(returncodes: list[int]) -> str:
    """One line: how many runs died, and how.

    >>> summary([0, 0, -11, 0, -6, -11])
    '3 of 6 runs died (50.0 %): signal 11 (SIGSEGV) ×2, signal 6 (SIGABRT) ×1'
    >>> summary([0, 0])
    '0 of 2 runs died (0.0 %)'
    """
    died = Counter(code for code in returncodes if code != 0)
    line = (
        f"{sum(died.values())} of {len(returncodes)} runs died "
        f"({100 * sum(died.values()) / len(returncodes):.1f} %)"
    )
    if died:
        line += ": " + ", ".join(f"{exit_description(code)} ×{k}" for code, k in died.most_common())
    return line


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--interop", type=int, default=None,
                        help="TF_NUM_INTEROP_THREADS for the runs (default: TensorFlow's own)")
    args = parser.parse_args(argv)
    for name in ("runs", "jobs", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.interop is not None and args.interop < 1:
        parser.error("--interop must be at least 1")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_NUM_INTEROP_THREADS", None)
    if args.interop is not None:
        env["TF_NUM_INTEROP_THREADS"] = str(args.interop)
    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        returncodes = list(pool.map(lambda _: run_once(args.epochs, env), range(args.runs)))
    interop = "TensorFlow's default" if args.interop is None else args.interop
    print(f"inter-op threads {interop}, {args.jobs} at once: {summary(returncodes)}; "
          f"{time.perf_counter() - start:.0f} s")
    return 1 if any(returncodes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
