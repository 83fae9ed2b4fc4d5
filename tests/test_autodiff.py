"""mhlib/autodiff.py: the same gradients on every backend the book runs on."""

import keras
import numpy as np
import pytest
from keras import ops

from mhlib.autodiff import input_gradient, weight_gradients


def test_input_gradient_of_a_quadratic():
    x = np.array([[1.0, -2.0, 3.0]], "float32")
    np.testing.assert_allclose(input_gradient(lambda v: v**2, x), 2 * x, rtol=1e-6)


def test_input_gradient_through_a_layer_equals_its_kernel():
    dense = keras.layers.Dense(1, use_bias=False)
    x = np.ones((1, 4), "float32")
    grad = input_gradient(dense, x)
    np.testing.assert_allclose(grad[0], ops.convert_to_numpy(dense.kernel)[:, 0], rtol=1e-6)


def test_input_gradient_rejects_integers():
    with pytest.raises(ValueError, match="floats"):
        input_gradient(lambda v: v, np.arange(3))


def test_weight_gradients_of_a_dense_layer():
    dense = keras.layers.Dense(2)
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    kernel_grad, bias_grad = weight_gradients(dense, ops.sum, x)
    np.testing.assert_allclose(kernel_grad, np.repeat(x.T, 2, axis=1), rtol=1e-6)
    np.testing.assert_allclose(bias_grad, np.ones(2), rtol=1e-6)


def test_weight_gradients_follow_the_trainable_weights_order():
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = np.random.default_rng(0).normal(size=(1, 4, 5)).astype("float32")
    grads = weight_gradients(mha, lambda y: ops.sum(y**2), x, x)
    assert [g.shape for g in grads] == [tuple(w.shape) for w in mha.trainable_weights]
    assert all(np.isfinite(g).all() for g in grads)
