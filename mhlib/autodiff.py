"""Gradients on any Keras backend: the one place where the book branches per backend.

Keras 3 has no public, backend-independent API for the gradient of a function with
respect to its *input* (or to a layer's weights outside `fit`). The book needs both: the
long-range section measures how strongly an output depends on a distant input, and the unit
tests check that gradients reach every weight. These two functions hide the three
mechanisms (TensorFlow's `GradientTape`, `jax.grad` over a stateless call) behind one call;
the book runs on those two backends.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np


def input_gradient(fn: Callable, x) -> np.ndarray:
    """Gradient of `sum(fn(x))` with respect to the input `x`.

    Args:
        fn: a function of one tensor, built from Keras layers and `keras.ops`,
            returning a tensor (its entries are summed) or a scalar.
        x: the input, an array or tensor of floats.

    Returns:
        A NumPy array of the shape of `x`.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> input_gradient(lambda x: ops.sum(x**2), np.array([1.0, 2.0], "float32"))
    array([2., 4.], dtype=float32)
    """
    backend = keras.backend.backend()
    x = keras.ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        raise ValueError(f"`x` must hold floats to be differentiated, got dtype {x.dtype}")
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(fn(x))
        return tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: keras.ops.sum(fn(v)))(x))
    raise NotImplementedError(f"input_gradient does not support the {backend!r} backend")


def weight_gradients(layer: keras.layers.Layer, loss: Callable, *inputs) -> list[np.ndarray]:
    """Gradients of `loss(layer(*inputs))` with respect to each trainable weight of `layer`.

    Args:
        layer: a built Keras layer or model.
        loss: a function of the layer's output returning a scalar tensor.
        *inputs: the positional inputs of the layer's call.

    Returns:
        A list of NumPy arrays, one per entry of `layer.trainable_weights`, in that order.

    Example:

    >>> import numpy as np, keras
    >>> dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    >>> x = np.array([[1.0, 2.0]], "float32")
    >>> [g.tolist() for g in weight_gradients(dense, keras.ops.sum, x)]
    [[[1.0], [2.0]]]
    """
    if not layer.built:
        layer(*inputs)
    backend = keras.backend.backend()
    weights = layer.trainable_weights
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss(layer(*inputs))
        return [g.numpy() for g in tape.gradient(value, weights)]
    if backend == "jax":
        import jax

        fixed = [w.value for w in layer.non_trainable_weights]

        def stateless_loss(trainable):
            outputs, _ = layer.stateless_call(trainable, fixed, *inputs)
            return loss(outputs)

        return [np.asarray(g) for g in jax.grad(stateless_loss)([w.value for w in weights])]
    raise NotImplementedError(f"weight_gradients does not support the {backend!r} backend")
