"""An optimizer that trains the same algorithm on every Keras backend.

Not imported by `mhlib/__init__.py`: only the notebooks that train with it depend on it.
"""

from __future__ import annotations

import keras


class SummedAdam(keras.optimizers.Adam):
    """Keras's Adam, with the rows of a sparse gradient summed before the update.

    An `Embedding` looked up on TensorFlow gets its gradient as `tf.IndexedSlices`, one
    slice per occurrence of a token in the batch. Keras's Adam (3.15) squares those
    slices one by one before adding them to its second moment, so a row seen k times
    in a batch gets sum(g²) where Adam has (sum g)²: on the first step it moves
    about √k times the learning rate instead of at most the learning rate, and later
    steps are inflated likewise. On JAX the gradient is dense and Adam is the
    textbook one. This optimizer makes every gradient dense first (summing the
    repeated rows), so that both backends train the same algorithm.

    Example: one step of learning rate 0.1 on a row looked up twice moves it 0.1.

    >>> import numpy as np
    >>> table = keras.layers.Embedding(3, 1, embeddings_initializer="zeros")
    >>> model = keras.Sequential([keras.Input((2,), dtype="int32"), table])
    >>> model.compile(SummedAdam(0.1), "mse")
    >>> _ = model.fit(np.array([[1, 1]]), np.ones((1, 2, 1)), epochs=1, verbose=0)
    >>> [round(float(row), 4) for row in keras.ops.convert_to_numpy(table.embeddings)[:, 0]]
    [0.0, 0.1, 0.0]
    """

    def apply(self, grads, trainable_variables=None):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # Dense: an IndexedSlices' repeated rows are summed.
            grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
        return super().apply(grads, trainable_variables)
