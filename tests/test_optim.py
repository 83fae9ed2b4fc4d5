import keras
import numpy as np

from mhlib.optim import SummedAdam


def _train(optimizer, lookup: bool) -> np.ndarray:
    """Three steps on a table of 4 rows, by lookup or by a one-hot product (dense)."""
    ids = np.array([[1, 1, 2], [3, 1, 0]])
    targets = np.arange(6, dtype="float32").reshape(2, 3, 1) / 6
    if lookup:
        table = keras.layers.Embedding(4, 1, embeddings_initializer="ones")
        model = keras.Sequential([keras.Input((3,), dtype="int32"), table])
        inputs = ids
    else:
        table = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
        model = keras.Sequential([keras.Input((3, 4)), table])
        inputs = np.eye(4, dtype="float32")[ids]
    model.compile(optimizer, "mse")
    model.fit(inputs, targets, batch_size=2, epochs=3, shuffle=False, verbose=0)
    return keras.ops.convert_to_numpy(table.weights[0]).ravel()


def test_summed_adam_on_lookups_is_adam_on_the_same_dense_gradient():
    dense = _train(keras.optimizers.Adam(0.1), lookup=False)
    np.testing.assert_allclose(_train(SummedAdam(0.1), lookup=True), dense, atol=1e-6)


def test_summed_adam_is_keras_adam_on_a_dense_gradient():
    summed = _train(SummedAdam(0.1), lookup=False)
    np.testing.assert_allclose(summed, _train(keras.optimizers.Adam(0.1), lookup=False))
