"""Reading the per-head scores out of a built `keras.layers.MultiHeadAttention`."""

from __future__ import annotations

import math

import keras
from keras import ops

from mhlib._checks import check_rank

# The public method through which a layer that computes its scores its own way gives its logits.
_HOOK = "head_logits"


def scaled_dot_logits(query, key):
    """Scaled dot products of projected per-head queries and keys, as Keras computes them.

    Args:
        query: tensor of shape `(B, T, H, D)`, the projected queries of `H` heads.
        key: tensor of shape `(B, S, H, D)`, the projected keys.

    Returns:
        Tensor of shape `(B, H, T, S)`: `query[b, t, h] . key[b, s, h] / sqrt(D)`.

    Example:

    >>> import numpy as np
    >>> q = np.ones((1, 2, 3, 4), "float32")
    >>> logits = scaled_dot_logits(q, 2 * q)
    >>> tuple(logits.shape), float(logits[0, 0, 0, 0])
    ((1, 3, 2, 2), 4.0)
    """
    query = ops.convert_to_tensor(query)
    query = query * ops.cast(1.0 / math.sqrt(float(query.shape[-1])), query.dtype)
    return ops.einsum("bthd,bshd->bhts", query, key)  # (B, H, T, S)


def _defining_class(cls: type, name: str) -> type | None:
    return next((base for base in cls.__mro__ if name in vars(base)), None)


def head_logits(mha: keras.layers.MultiHeadAttention, query, key):
    """Pre-softmax, scaled attention logits of every head of a built layer.

    `keras.layers.MultiHeadAttention` computes, for head `h`, query position `t`
    and key position `s`::

        logits[b, h, t, s] = (q[b, t, h, :] . k[b, s, h, :]) / sqrt(key_dim)

    where `q` and `k` are the projected queries and keys. This function returns
    exactly those numbers, so that `softmax(head_logits(...), axis=-1)` equals
    the scores that `mha(query, value, key, return_attention_scores=True)`
    returns when no mask is given.

    A subclass that changes how the scores are computed (it overrides
    `_compute_attention`) says what its logits are through a public method
    `head_logits(query, key)` with the same shapes and meaning, defined in the
    same class as its `_compute_attention` or below it; this function then
    returns what that method returns. `mhlib.RotaryMultiHeadAttention` is one.

    Args:
        mha: a `keras.layers.MultiHeadAttention`, or a subclass as above, that
            has already been called (built) on inputs of the same feature
            sizes, with the default `attention_axes` (attention over the
            sequence axis).
        query: tensor of shape `(B, T, query_features)`.
        key: tensor of shape `(B, S, key_features)`; for self-attention pass
            the same tensor as `query`.

    Returns:
        Tensor of shape `(B, H, T, S)`: the logits of each of the `H` heads.

    Raises:
        TypeError: if `mha` is not a `keras.layers.MultiHeadAttention`.
        ValueError: if `mha` is not built, uses non-default `attention_axes`,
            is a subclass that computes its scores its own way without a
            `head_logits` method, or `query` / `key` is not of rank 3.

    Example:

    >>> import numpy as np, keras
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(1, 5, 8).astype("float32")
    >>> _, scores = mha(x, x, return_attention_scores=True)
    >>> logits = head_logits(mha, x, x)
    >>> tuple(logits.shape)
    (1, 2, 5, 5)
    >>> bool(np.allclose(keras.ops.softmax(logits, axis=-1), scores, atol=1e-6))
    True
    """
    if not isinstance(mha, keras.layers.MultiHeadAttention):
        raise TypeError(
            f"`mha` must be a keras.layers.MultiHeadAttention, got {type(mha).__name__}"
        )
    if not mha.built:
        raise ValueError(
            "`mha` is not built yet: call it once on inputs (e.g. mha(x, x)) "
            "so that its query/key projections have weights"
        )
    if mha.attention_axes not in (None, (1,)):
        raise ValueError(
            "`mha` must attend over the sequence axis only (attention_axes=None); "
            f"got attention_axes={mha.attention_axes}"
        )
    query = ops.convert_to_tensor(query)
    key = ops.convert_to_tensor(key)
    check_rank("query", query.shape, ("batch", "length", "features"))
    check_rank("key", key.shape, ("batch", "length", "features"))
    scores_owner = _defining_class(type(mha), "_compute_attention")
    if scores_owner is keras.layers.MultiHeadAttention:
        return scaled_dot_logits(mha.query_dense(query), mha.key_dense(key))
    hook_owner = _defining_class(type(mha), _HOOK)
    if hook_owner is None or not issubclass(hook_owner, scores_owner):
        raise ValueError(
            f"`mha` is a {type(mha).__name__}, which computes its attention scores its own way "
            f"({scores_owner.__name__}._compute_attention) but has no `{_HOOK}(query, key)` "
            f"method in that class or below it that returns its logits"
        )
    return getattr(mha, _HOOK)(query, key)
