import keras
import numpy as np
import pytest

from mhlib import setup


def test_report_names_seed_device_and_backend():
    report = setup(seed=3)
    assert report.startswith("seed 3 | ")
    device = report.split(" | ")[1]
    assert device == "CPU" or device.startswith("GPU ")
    assert keras.backend.backend() in report


def test_same_seed_same_numbers():
    def draw():
        return (
            np.random.rand(3),
            keras.ops.convert_to_numpy(keras.random.normal((3,))),
            keras.ops.convert_to_numpy(keras.layers.Dense(2)(np.ones((1, 4), "float32"))),
        )

    setup(seed=7)
    first = draw()
    setup(seed=7)
    second = draw()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    setup(seed=8)
    assert not np.array_equal(np.random.rand(3), first[0])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed"):
        setup(seed=seed)


@pytest.mark.tensorflow_only
def test_full_precision_matmuls_on_tensorflow():
    import tensorflow as tf

    setup(seed=0)
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
