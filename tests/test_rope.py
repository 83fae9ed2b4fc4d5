import keras
import numpy as np
import pytest

from mhlib.autodiff import weight_gradients
from mhlib.rope import RotaryEmbedding, RotaryMultiHeadAttention, geometric_frequencies


def _keras_hub_formula(x, max_wavelength=10000.0, positions=None):
    """keras-hub's RotaryEmbedding written out in NumPy: pairs (x_j, x_{j+D/2})."""
    dim = x.shape[-1]
    inverse_freq = 1.0 / max_wavelength ** (np.arange(0, dim, 2) / dim)
    positions = np.arange(x.shape[1]) if positions is None else np.asarray(positions)
    angles = np.einsum("i,j->ij", positions, inverse_freq)
    angles = np.concatenate([angles, angles], axis=-1)
    angles = angles.reshape((1, x.shape[1]) + (1,) * (x.ndim - 3) + (dim,))
    first, second = np.split(x, 2, axis=-1)
    return x * np.cos(angles) + np.concatenate([-second, first], axis=-1) * np.sin(angles)


def _score(layer, q, k, m, n):
    """Dot product of q rotated to position m and k rotated to position n (one head)."""
    rq = layer(q[None, None], positions=[m])
    rk = layer(k[None, None], positions=[n])
    return float(np.sum(keras.ops.convert_to_numpy(rq) * keras.ops.convert_to_numpy(rk)))


@pytest.mark.parametrize("shape", [(2, 7, 8), (2, 7, 3, 8), (1, 4, 2)])
@pytest.mark.parametrize("max_wavelength", [10000.0, 50.0])
def test_matches_keras_hub_half_split_formula(shape, max_wavelength):
    x = np.random.default_rng(0).normal(size=shape)
    out = RotaryEmbedding(max_wavelength=max_wavelength)(x.astype("float32"))
    np.testing.assert_allclose(out, _keras_hub_formula(x, max_wavelength), atol=2e-5)


def test_default_frequencies_are_geometric():
    np.testing.assert_allclose(geometric_frequencies(8, 10000.0), [1, 0.1, 0.01, 0.001], rtol=1e-6)


def test_preserves_norms():
    x = np.random.default_rng(1).normal(size=(3, 50, 4, 16)).astype("float32")
    out = keras.ops.convert_to_numpy(RotaryEmbedding()(x))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)


def test_score_depends_only_on_relative_position():
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(2, 16)).astype("float32")
    layer = RotaryEmbedding(max_wavelength=100.0)
    for m, n, shift in [(3, 9, 5), (0, 0, 17), (20, 2, 11)]:
        assert _score(layer, q, k, m, n) == pytest.approx(
            _score(layer, q, k, m + shift, n + shift), abs=1e-5
        )


@pytest.mark.parametrize("frequency", [0.05, 0.7, 2.9])
def test_two_dimensional_score_is_a_cosine_of_the_distance(frequency):
    layer = RotaryEmbedding(frequencies=[frequency])
    q = np.array([0.6, 0.8], "float32")
    k = 2.5 * q  # aligned with q
    for m, n in [(0, 0), (4, 1), (2, 9), (30, 7)]:
        expected = np.linalg.norm(q) * np.linalg.norm(k) * np.cos(frequency * (m - n))
        assert _score(layer, q, k, m, n) == pytest.approx(expected, abs=1e-5)


def test_per_head_frequencies_rotate_each_head_by_its_own_angle():
    frequencies = np.array([[0.1], [1.0], [2.5]], "float32")
    x = np.tile(np.array([1.0, 0.0], "float32"), (1, 6, 3, 1))  # (B, T, H, 2)
    out = keras.ops.convert_to_numpy(RotaryEmbedding(frequencies=frequencies)(x))
    angles = np.arctan2(out[0, :, :, 1], out[0, :, :, 0])  # (T, H)
    expected = np.angle(np.exp(1j * np.arange(6)[:, None] * frequencies[:, 0]))
    np.testing.assert_allclose(angles, expected, atol=1e-5)
    assert not np.allclose(out[0, :, 0], out[0, :, 1])


def test_positions_argument():
    x = np.random.default_rng(3).normal(size=(2, 4, 6)).astype("float32")
    layer = RotaryEmbedding()
    positions = [5, 2, 9, 0]
    np.testing.assert_allclose(
        layer(x, positions=positions), _keras_hub_formula(x, positions=positions), atol=2e-5
    )
    batched = layer(x, positions=np.array([positions, [0, 1, 2, 3]]))
    np.testing.assert_allclose(batched[1], layer(x)[1], atol=1e-6)


def test_trainable_frequencies_receive_gradients():
    layer = RotaryEmbedding(frequencies=[[0.3], [0.3]], trainable_frequencies=True)
    x = np.random.default_rng(4).normal(size=(1, 5, 2, 2)).astype("float32")
    layer.build(x.shape)
    assert [w.name for w in layer.trainable_weights] == ["frequencies"]
    position = np.arange(5.0, dtype="float32")[None, :, None]
    (grad,) = weight_gradients(layer, lambda y: keras.ops.sum(y[..., 0] * position), x)
    assert np.all(np.abs(grad) > 1e-4)
    assert abs(grad[0, 0] - grad[1, 0]) > 1e-4  # each head its own gradient


@pytest.mark.parametrize("trainable", [False, True])
def test_frequencies_are_always_a_weight(trainable):
    layer = RotaryEmbedding(max_wavelength=100.0, trainable_frequencies=trainable)
    layer.build((None, None, 3, 8))
    assert [w.name for w in layer.weights] == ["frequencies"]
    assert layer.frequencies.trainable is trainable
    assert len(layer.trainable_weights) == int(trainable)
    np.testing.assert_array_equal(layer.frequencies, geometric_frequencies(8, 100.0))


def test_frequencies_weight_is_what_the_layer_uses():
    layer = RotaryEmbedding(frequencies=[0.5])
    x = np.tile(np.array([1.0, 0.0], "float32"), (1, 4, 1))  # (B, T, 2)
    layer(x)
    layer.frequencies.assign([0.25])
    angles = np.arctan2(*keras.ops.convert_to_numpy(layer(x))[0].T[::-1])
    np.testing.assert_allclose(angles, 0.25 * np.arange(4), atol=1e-6)


def test_config_round_trip():
    layer = RotaryEmbedding(frequencies=[0.5, 0.25], trainable_frequencies=True, name="r")
    clone = RotaryEmbedding.from_config(layer.get_config())
    x = np.random.default_rng(5).normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(clone(x), layer(x))
    assert clone.trainable_frequencies


@pytest.mark.parametrize(
    "kwargs, shape, match",
    [
        ({}, (2, 5, 7), "even feature size"),
        ({}, (2, 5), r"\(B, T, D\)"),
        ({"frequencies": [0.1, 0.2, 0.3]}, (2, 5, 4), "`frequencies`.*D/2 = 2"),
        ({"frequencies": [[0.1], [0.2]]}, (2, 5, 2), "per-head `frequencies`"),
        ({"frequencies": [[0.1], [0.2]]}, (2, 5, 3, 2), "per-head `frequencies`"),
    ],
)
def test_bad_shapes_name_the_argument(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        RotaryEmbedding(**kwargs)(np.zeros(shape, "float32"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"frequencies": [0.1, np.nan]}, "`frequencies` must contain only finite values"),
        ({"frequencies": [[0.1, np.inf]]}, "`frequencies` must contain only finite values"),
        ({"frequencies": np.zeros((2, 2, 2))}, r"`frequencies` must have shape"),
        ({"max_wavelength": 0.0}, "`max_wavelength`"),
        ({"max_wavelength": float("inf")}, "`max_wavelength`"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RotaryEmbedding(**kwargs)


def test_bad_positions():
    with pytest.raises(ValueError, match="`positions`"):
        RotaryEmbedding()(np.zeros((1, 4, 2), "float32"), positions=[0, 1, 2])


# --- RotaryMultiHeadAttention -------------------------------------------------------


def _inputs(batch=2, length=6, features=8, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, features)).astype("float32")


def test_attention_rotates_projected_queries_and_keys():
    x = _inputs()
    layer = RotaryMultiHeadAttention(num_heads=2, key_dim=4, max_wavelength=100.0)
    _, scores = layer(x, x, return_attention_scores=True)
    rope = RotaryEmbedding(max_wavelength=100.0)
    q = rope(layer.query_dense(x)) / np.sqrt(4.0)
    k = rope(layer.key_dense(x))
    expected = keras.ops.softmax(np.einsum("bthd,bshd->bhts", q, k), axis=-1)
    np.testing.assert_allclose(scores, expected, atol=1e-6)


def test_attention_logits_are_translation_invariant():
    """Same content at every position: logit(m, m - d) - logit(m, m) is the same for every m."""
    x = np.tile(_inputs(batch=1, length=1), (1, 9, 1))
    layer = RotaryMultiHeadAttention(num_heads=3, key_dim=2, frequencies=[[0.2], [0.9], [2.0]])
    _, scores = layer(x, x, return_attention_scores=True)
    log_scores = np.log(keras.ops.convert_to_numpy(scores)[0])  # (H, T, S)
    for d in (1, 3, 5):
        rows = np.arange(d, 9)
        relative = log_scores[:, rows, rows - d] - log_scores[:, rows, rows]  # (H, T - d)
        np.testing.assert_allclose(relative, relative[:, :1] * np.ones_like(relative), atol=1e-4)
    assert np.ptp(log_scores[1, 4]) > 1e-3  # and the logits do change with the distance


def test_attention_masks_and_causal_masking_are_respected():
    x = _inputs()
    layer = RotaryMultiHeadAttention(num_heads=2, key_dim=2)
    _, scores = layer(x, x, return_attention_scores=True, use_causal_mask=True)
    assert np.all(np.triu(keras.ops.convert_to_numpy(scores), k=1) == 0)
    mask = np.ones((2, 6, 6), bool)
    mask[:, :, 3:] = False
    _, scores = layer(x, x, attention_mask=mask, return_attention_scores=True)
    assert np.all(keras.ops.convert_to_numpy(scores)[..., 3:] == 0)


def test_attention_output_without_scores_matches_explicit_path():
    x = _inputs()
    layer = RotaryMultiHeadAttention(num_heads=2, key_dim=4)
    fused = layer(x, x)
    explicit, _ = layer(x, x, return_attention_scores=True)
    np.testing.assert_allclose(fused, explicit, atol=1e-5)


def test_per_head_frequencies_differ_per_head():
    x = np.tile(_inputs(batch=1, length=1), (1, 8, 1))
    layer = RotaryMultiHeadAttention(num_heads=2, key_dim=2, frequencies=[[0.0], [1.5]])
    _, scores = layer(x, x, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)[0]  # (H, T, S)
    np.testing.assert_allclose(scores[0], np.full((8, 8), 1 / 8), atol=1e-6)  # no rotation
    assert np.ptp(scores[1], axis=-1).min() > 1e-3  # the turning head is not uniform


def test_save_and_load_round_trip(tmp_path):
    x = _inputs()
    inputs = keras.Input((6, 8))
    layer = RotaryMultiHeadAttention(
        num_heads=3, key_dim=2, frequencies=[[0.1], [0.5], [2.0]], trainable_frequencies=True
    )
    model = keras.Model(inputs, layer(inputs, inputs))
    layer.frequencies.assign([[0.3], [1.1], [-0.4]])  # not the initial values
    path = tmp_path / "rope.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(x), model(x))
    restored = loaded.layers[-1]
    assert isinstance(restored, RotaryMultiHeadAttention)
    np.testing.assert_array_equal(restored.frequencies, layer.frequencies)


def test_save_and_load_keeps_fixed_default_frequencies(tmp_path):
    x = _inputs()
    inputs = keras.Input((6, 8))
    layer = RotaryMultiHeadAttention(num_heads=2, key_dim=4, max_wavelength=50.0)
    model = keras.Model(inputs, layer(inputs, inputs))
    path = tmp_path / "rope.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(x), model(x))
    restored = loaded.layers[-1].frequencies
    assert not restored.trainable
    np.testing.assert_array_equal(restored, geometric_frequencies(4, 50.0))


def test_trainable_attention_frequencies_get_gradients():
    x = _inputs()
    layer = RotaryMultiHeadAttention(
        num_heads=2, key_dim=2, frequencies=[[0.2], [0.2]], trainable_frequencies=True
    )
    layer(x, x)
    grads = weight_gradients(layer, lambda y: keras.ops.sum(y**2), x, x)
    weights = layer.trainable_weights
    (grad,) = [g for w, g in zip(weights, grads, strict=True) if "frequencies" in w.path]
    assert np.all(np.abs(grad) > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"key_dim": 3}, "`key_dim` must be an even integer"),
        ({"frequencies": [[0.1], [0.2]]}, r"per-head `frequencies` must have shape \(3, 1\)"),
        ({"frequencies": [0.1, 0.2]}, "key_dim/2 = 1"),
        ({"frequencies": [np.nan]}, "finite"),
        ({"attention_axes": (1, 2)}, "`attention_axes`"),
        ({"max_wavelength": -1.0}, "`max_wavelength`"),
    ],
)
def test_attention_bad_arguments(kwargs, match):
    arguments = {"num_heads": 3, "key_dim": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        RotaryMultiHeadAttention(**arguments)
