"""Benchmark mhlib.sinkhorn against POT's batched log-domain Sinkhorn on the CPU.

Usage: python tools/bench_sinkhorn.py [--batch 64] [--size 128] [--iters 100] [--repeats 5]

Both solvers run the same number of log-domain iterations (no early stopping) on the same
float32 batch of random score matrices, in this one process, one after the other. The
printed ratio is time(mhlib.sinkhorn) / time(POT): below 1 means mhlib is faster. mhlib
is timed as a plain eager call and inside a `tf.function` (the way it runs in training).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the comparison is CPU against CPU
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import ot  # noqa: E402
import tensorflow as tf  # noqa: E402

from mhlib import sinkhorn  # noqa: E402


def median_seconds(run, repeats: int) -> float:
    run()  # warm up (and trace, for tf.function)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(args.batch, args.size, args.size)).astype("float32")
    cost = -logits
    temperature, iters = args.temperature, args.iters

    def run_mhlib():
        return sinkhorn(logits, temperature, iters).numpy()

    compiled = tf.function(lambda x: sinkhorn(x, temperature, iters))

    def run_mhlib_compiled():
        return compiled(logits).numpy()

    def run_pot():
        # tol=0 disables POT's early stop, so it runs exactly `iters` iterations.
        result = ot.batch.solve_batch(
            cost, reg=temperature, method="log_sinkhorn", max_iter=iters, tol=0.0, grad="detach"
        )
        return args.size * result.plan

    gap = float(np.max(np.abs(run_mhlib() - run_pot())))
    t_eager = median_seconds(run_mhlib, args.repeats)
    t_compiled = median_seconds(run_mhlib_compiled, args.repeats)
    t_pot = median_seconds(run_pot, args.repeats)

    print(
        f"Sinkhorn on CPU ({os.cpu_count()} cores): batch {args.batch}, "
        f"{args.size} x {args.size}, {iters} iterations, temperature {temperature}, float32"
    )
    print(f"  largest difference between the two results: {gap:.1e}")
    print(f"  POT ot.batch.solve_batch(method='log_sinkhorn'): {1e3 * t_pot:8.1f} ms")
    print(f"  mhlib.sinkhorn, eager:                         {1e3 * t_eager:8.1f} ms")
    print(f"  mhlib.sinkhorn, in tf.function:                {1e3 * t_compiled:8.1f} ms")
    print(f"  ratio mhlib / POT: eager {t_eager / t_pot:.2f}, tf.function {t_compiled / t_pot:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
