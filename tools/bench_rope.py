"""Benchmark: forward + backward time of RotaryMultiHeadAttention over MultiHeadAttention.

Usage: python tools/bench_rope.py [--repeats N]

Both layers get the same shapes (B=32, T=256, H=8, key_dim=64, model width H * key_dim),
are compiled with tf.function, warmed up, and then timed in alternation in one process,
so that the ratio compares like with like on the machine at hand. Each repeat times the
two layers back to back, in alternating order; the ratio reported is the median of
the per-repeat ratios, which a change in the machine's load between repeats does not
bias. Prints the median time of each layer and that ratio (goal: at most 1.3 on a CPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mhlib import RotaryMultiHeadAttention, setup  # noqa: E402

BATCH, LENGTH, HEADS, KEY_DIM = 32, 256, 8, 64


def forward_backward(layer: keras.layers.Layer, x: tf.Tensor):
    """A compiled step: the layer's output, a scalar loss, gradients for every weight."""

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, x)))
        return loss, tape.gradient(loss, layer.trainable_weights)

    return step


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(setup(seed=0))
    x = tf.constant(
        np.random.default_rng(0).normal(size=(BATCH, LENGTH, HEADS * KEY_DIM)), tf.float32
    )
    steps = {
        "MultiHeadAttention": forward_backward(
            keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM), x
        ),
        "RotaryMultiHeadAttention": forward_backward(
            RotaryMultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM), x
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        for _ in range(2):  # trace, then one warm run
            step()
    for repeat in range(args.repeats):
        order = list(steps) if repeat % 2 == 0 else list(steps)[::-1]  # neither always first
        for name in order:
            step = steps[name]
            start = time.perf_counter()
            loss, _ = step()
            loss.numpy()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"forward+backward, B={BATCH} T={LENGTH} H={HEADS} key_dim={KEY_DIM}, "
        f"median of {args.repeats}:"
    )
    for name, seconds in medians.items():
        print(f"  {name:26s} {1e3 * seconds:8.1f} ms")
    ratio = statistics.median(
        rotary / plain
        for plain, rotary in zip(
            times["MultiHeadAttention"], times["RotaryMultiHeadAttention"], strict=True
        )
    )
    print(f"  ratio rotary / plain       {ratio:8.2f}  (median of per-repeat ratios; goal <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
