"""Seeding, determinism and the one-line device report every notebook starts with."""

from __future__ import annotations

import platform

import keras

from mhlib._checks import check_integer


def _device_name() -> str:
    """Names the accelerator the active Keras backend will use, or "CPU"."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU {details.get('device_name', gpus[0].name)}"
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            return f"GPU {device.device_kind}"
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)}"
    return "CPU"


def setup(seed: int = 0) -> str:
    """Seeds every random generator and makes TensorFlow ops deterministic.

    Seeds Python's `random`, NumPy and the Keras backend through
    `keras.utils.set_random_seed`, and, on the TensorFlow backend, turns on
    `tf.config.experimental.enable_op_determinism()` so that executing a
    notebook twice gives the same numbers. It also turns off TensorFloat-32
    matrix products (TensorFlow) and asks for full-precision ones (JAX): on
    recent NVIDIA GPUs they would otherwise round products to about three
    decimal digits, and the book's exactness checks (1e-4 and tighter) would
    measure the hardware's rounding instead of the mathematics. On JAX it
    enables float64 (`jax_enable_x64`), which layers built with
    `dtype="float64"` need there as on TensorFlow.

    Args:
        seed: a non-negative integer.

    Returns:
        A one-line report of the seed, the device ("CPU" or "GPU <name>"), the
        Keras backend and the library versions.

    Example:

    >>> from mhlib import setup
    >>> setup(seed=0)  # doctest: +ELLIPSIS
    'seed 0 | CPU | keras ... (...) | python ...'
    """
    seed = check_integer("seed", seed, minimum=0)
    keras.utils.set_random_seed(seed)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
        # float64 where a layer asks for it, as on TensorFlow (JAX otherwise rounds to float32)
        jax.config.update("jax_enable_x64", True)
    versions = f"keras {keras.__version__} ({backend}"
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        versions += f" {tf.__version__}"
    return f"seed {seed} | {_device_name()} | {versions}) | python {platform.python_version()}"
