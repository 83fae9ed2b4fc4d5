import keras
import numpy as np
import pytest

from mhlib.attention import head_logits, scaled_dot_logits
from mhlib.rope import RotaryMultiHeadAttention


def _layer_and_inputs(num_heads=3, key_dim=4, t=5, s=6, features=8):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, t, features)).astype("float32")
    value = rng.normal(size=(2, s, features)).astype("float32")
    mha = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim)
    _, scores = mha(query, value, return_attention_scores=True)
    return mha, query, value, keras.ops.convert_to_numpy(scores)


@pytest.mark.parametrize("num_heads,key_dim,t,s", [(1, 1, 4, 4), (3, 4, 5, 6), (8, 2, 1, 9)])
def test_softmax_of_logits_equals_layer_scores(num_heads, key_dim, t, s):
    mha, query, value, scores = _layer_and_inputs(num_heads, key_dim, t, s)
    logits = keras.ops.convert_to_numpy(head_logits(mha, query, value))
    assert logits.shape == (2, num_heads, t, s)
    np.testing.assert_allclose(keras.ops.softmax(logits, axis=-1), scores, atol=1e-6)


def test_logits_are_scaled_dot_products():
    mha, query, value, _ = _layer_and_inputs(num_heads=2, key_dim=4)
    q = keras.ops.convert_to_numpy(mha.query_dense(query))
    k = keras.ops.convert_to_numpy(mha.key_dense(value))
    expected = np.einsum("bthd,bshd->bhts", q, k) / 2.0
    np.testing.assert_allclose(head_logits(mha, query, value), expected, rtol=1e-5, atol=1e-6)


def test_unbuilt_layer_is_a_clear_error():
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    x = np.zeros((1, 3, 8), "float32")
    with pytest.raises(ValueError, match="not built"):
        head_logits(mha, x, x)


@pytest.mark.parametrize("name", ["query", "key"])
def test_wrong_rank_names_the_argument(name):
    mha, query, value, _ = _layer_and_inputs()
    args = {"query": query, "key": value}
    args[name] = args[name][0]
    with pytest.raises(ValueError, match=f"`{name}`.*rank 3"):
        head_logits(mha, **args)


def test_not_an_attention_layer():
    with pytest.raises(TypeError, match="mha"):
        head_logits(keras.layers.Dense(3), np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))


def test_multi_axis_attention_is_rejected():
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, attention_axes=(1, 2))
    x = np.zeros((1, 3, 3, 8), "float32")
    mha(x, x)
    with pytest.raises(ValueError, match="attention_axes"):
        head_logits(mha, x[:, 0], x[:, 0])


def test_rotary_layer_logits_include_the_rotation():
    x = np.random.default_rng(1).normal(size=(2, 6, 8)).astype("float32")
    mha = RotaryMultiHeadAttention(num_heads=2, key_dim=4)
    _, scores = mha(x, x, return_attention_scores=True)
    logits = head_logits(mha, x, x)
    np.testing.assert_allclose(keras.ops.softmax(logits, axis=-1), scores, atol=1e-6)


def test_subclass_with_its_own_scores_is_rejected():
    class Doubled(keras.layers.MultiHeadAttention):
        def _compute_attention(self, query, key, value, *args, **kwargs):
            return super()._compute_attention(2 * query, key, value, *args, **kwargs)

    mha = Doubled(num_heads=2, key_dim=4)
    x = np.zeros((1, 3, 8), "float32")
    mha(x, x)
    with pytest.raises(ValueError, match="Doubled"):
        head_logits(mha, x, x)


class _Shifted(keras.layers.MultiHeadAttention):
    """Adds 1 to every logit of head 0, and says so through the hook."""

    def _shift(self, logits):
        return logits + np.array([1.0] + [0.0] * (self.num_heads - 1), "float32")[:, None, None]

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        logits = self._shift(scaled_dot_logits(query, key))  # (B, H, T, S)
        scores = keras.ops.softmax(logits, axis=-1)
        return keras.ops.einsum("bhts,bshd->bthd", scores, value), scores

    def head_logits(self, query, key):
        return self._shift(scaled_dot_logits(self.query_dense(query), self.key_dense(key)))


def test_a_subclass_gives_its_logits_through_the_hook():
    mha = _Shifted(num_heads=2, key_dim=4)
    x = np.random.default_rng(2).normal(size=(1, 5, 8)).astype("float32")
    _, scores = mha(x, x, return_attention_scores=True)
    np.testing.assert_allclose(keras.ops.softmax(head_logits(mha, x, x), axis=-1), scores,
                               atol=1e-6)


def test_a_hook_above_the_override_is_not_trusted():
    class RotaryDoubled(RotaryMultiHeadAttention):
        def _compute_attention(self, query, key, value, *args, **kwargs):
            return super()._compute_attention(2 * query, key, value, *args, **kwargs)

    mha = RotaryDoubled(num_heads=2, key_dim=4)
    x = np.zeros((1, 3, 8), "float32")
    mha(x, x)
    with pytest.raises(ValueError, match=r"RotaryDoubled.*no `head_logits\(query, key\)`"):
        head_logits(mha, x, x)


def test_scaled_dot_logits_divides_by_the_root_of_the_head_size():
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(2, 1, 4, 3, 9)).astype("float32")
    expected = np.einsum("bthd,bshd->bhts", q, k) / 3.0
    np.testing.assert_allclose(scaled_dot_logits(q, k), expected, rtol=1e-5, atol=1e-6)
