"""Reading the per-head scores out of a built `keras.layers.MultiHeadAttention`."""

from __future__ import annotations

import math

import keras
from keras import ops

from mhlib._checks import check_rank


def head_logits(mha: keras.layers.MultiHeadAttention, query, key):
    """Pre-softmax, scaled attention logits of every head of a built layer.

    The layer computes, for head `h`, query position `t` and key position `s`,

        logits[b, h, t, s] = (q[b, t, h, :] . k[b, s, h, :]) / sqrt(key_dim)

    where `q` and `k` are the projected queries and keys. This function returns
    exactly those numbers, so that `softmax(head_logits(...), axis=-1)` equals
    the scores that `mha(query, value, key, return_attention_scores=True)`
    returns when no mask is given.

    Args:
        mha: a `keras.layers.MultiHeadAttention` (or an
            `mhlib.RotaryMultiHeadAttention`, whose logits include the rotation)
            that has already been called (built) on inputs of the same feature
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
            is another subclass that computes its scores its own way, or
            `query` / `key` is not of rank 3.

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
    q = mha.query_dense(query)  # (B, T, H, Dk)
    k = mha.key_dense(key)  # (B, S, H, Dk)
    if type(mha)._compute_attention is not keras.layers.MultiHeadAttention._compute_attention:
        from mhlib.rope import RotaryMultiHeadAttention

        if not isinstance(mha, RotaryMultiHeadAttention):
            raise ValueError(
                f"`mha` is a {type(mha).__name__}, which overrides how attention scores are "
                "computed; head_logits knows only keras.layers.MultiHeadAttention's scores "
                "and mhlib.RotaryMultiHeadAttention's"
            )
        q, k = mha.rotary(q), mha.rotary(k)  # rotate by position, as the layer does
    q = q * ops.cast(1.0 / math.sqrt(float(mha.key_dim)), q.dtype)
    return ops.einsum("bthd,bshd->bhts", q, k)  # (B, H, T, S)
