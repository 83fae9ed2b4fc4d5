"""Rotary position embedding (RoPE) as a Keras layer, and multi-head attention that uses it."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from mhlib._checks import check_finite_array, check_integer, check_positive_number
from mhlib.attention import scaled_dot_logits


def geometric_frequencies(dim: int, max_wavelength: float = 10000.0) -> np.ndarray:
    """The default RoPE angular frequencies `1 / max_wavelength ** (2 j / dim)`.

    Args:
        dim: the (even) feature size `D` that is rotated.
        max_wavelength: the base of the geometric progression; the slowest pair
            turns once every `2 * pi * max_wavelength ** ((D - 2) / D)` positions.

    Returns:
        A float32 NumPy array of shape `(D/2,)`, from 1 down to nearly
        `1 / max_wavelength`.

    Raises:
        ValueError: if `dim` is not a positive even integer or `max_wavelength`
            is not a finite number > 0.
    """
    dim = check_integer("dim", dim, minimum=2, parity="even")
    max_wavelength = check_positive_number("max_wavelength", max_wavelength)
    exponents = np.arange(0, dim, 2, dtype="float64") / dim
    return (1.0 / max_wavelength**exponents).astype("float32")


def _check_frequencies(frequencies) -> np.ndarray | None:
    if frequencies is None:
        return None
    array = check_finite_array("frequencies", frequencies)
    if array.ndim not in (1, 2) or array.size == 0:
        raise ValueError(
            "`frequencies` must have shape (D/2,) or (num_heads, D/2) with D/2 >= 1; "
            f"got shape {array.shape}"
        )
    return array


def _check_frequency_shape(
    frequencies: np.ndarray, half: int, num_heads: int | None, *, half_name: str, context: str
) -> None:
    """Checks `(half,)` or `(num_heads, half)`; `context` says where `half` and `num_heads` come
    from, and `num_heads` is None when the inputs have no heads axis."""
    if frequencies.shape[-1] != half:
        raise ValueError(
            f"`frequencies` must have {half_name} = {half} entries on its last axis for "
            f"{context}; got shape {frequencies.shape}"
        )
    if frequencies.ndim == 2 and frequencies.shape[0] != num_heads:
        if num_heads is None:
            raise ValueError(
                f"per-head `frequencies` of shape {frequencies.shape} need inputs of shape "
                f"(B, T, {frequencies.shape[0]}, D); got {context}"
            )
        raise ValueError(
            f"per-head `frequencies` must have shape ({num_heads}, {half}) for {context}; "
            f"got shape {frequencies.shape}"
        )


@keras.saving.register_keras_serializable(package="mhlib")
class RotaryEmbedding(keras.layers.Layer):
    """Rotary position embedding (RoPE) with the half-split pair layout.

    Feature `j` is paired with feature `j + D/2` (`j < D/2`), and the pair at
    position `p` is turned by the angle `p * w_j`::

        out[j]       = x[j] * cos(p w_j) - x[j + D/2] * sin(p w_j)
        out[j + D/2] = x[j + D/2] * cos(p w_j) + x[j] * sin(p w_j)

    so that the dot product of a rotated query at position `m` and a rotated key
    at position `n` depends on the positions only through `m - n`
    (Su et al., 2021). By default `w_j = 1 / max_wavelength ** (2 j / D)`,
    the layout and frequencies of `keras_hub.layers.RotaryEmbedding`: with the
    same `max_wavelength` both layers return the same numbers. Explicit angular
    frequencies can be given instead, one set for all heads, shape `(D/2,)`, or
    one set per head, shape `(H, D/2)`. Either way they are held in a weight of
    the layer, `frequencies`, built with the layer (from `frequencies`, or from
    the geometric default), that training updates only if
    `trainable_frequencies` is True and that a saved model keeps.

    Args:
        max_wavelength: base of the default geometric frequencies; a finite
            number > 0. Ignored when `frequencies` is given.
        frequencies: optional angular frequencies (radians per position) of
            shape `(D/2,)` or `(H, D/2)`; all finite. `None` uses the geometric
            default computed from `D` at build time.
        trainable_frequencies: whether the `frequencies` weight is trained.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(B, T, D)` or `(B, T, H, D)` with `D` even;
            per-head frequencies need the `(B, T, H, D)` form.
        positions: optional positions of shape `(T,)` or `(B, T)` (integers or
            floats); default `0, 1, ..., T - 1`.

    Returns:
        A tensor of the same shape and dtype as `inputs`.

    Raises:
        ValueError: for an odd feature size `D`, inputs of rank other than 3
            or 4, frequencies whose shape does not match `(D/2,)` or `(H, D/2)`,
            non-finite frequencies, a bad `max_wavelength` or `positions` of the
            wrong shape; the message names the argument.

    Example:

    >>> import numpy as np
    >>> x = np.ones((2, 5, 4, 8), "float32")  # (B, T, H, D)
    >>> y = RotaryEmbedding()(x)
    >>> tuple(y.shape)
    (2, 5, 4, 8)
    >>> bool(np.allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1)))
    True
    >>> per_head = RotaryEmbedding(frequencies=[[0.1], [1.0]])  # 2 heads, D = 2
    >>> tuple(per_head(np.ones((1, 3, 2, 2), "float32")).shape)
    (1, 3, 2, 2)
    """

    def __init__(
        self,
        max_wavelength: float = 10000.0,
        frequencies: Sequence[float] | Sequence[Sequence[float]] | np.ndarray | None = None,
        trainable_frequencies: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_wavelength = check_positive_number("max_wavelength", max_wavelength)
        self._initial_frequencies = _check_frequencies(frequencies)
        self.trainable_frequencies = bool(trainable_frequencies)
        self.frequencies = None

    def build(self, input_shape) -> None:
        if len(input_shape) not in (3, 4):
            raise ValueError(
                "`inputs` must have shape (B, T, D) or (B, T, H, D); "
                f"got shape {tuple(input_shape)}"
            )
        dim = input_shape[-1]
        if dim is None or dim % 2:
            raise ValueError(f"`inputs` must have an even feature size D (last axis); got D={dim}")
        values = self._initial_frequencies
        if values is None:
            values = geometric_frequencies(dim, self.max_wavelength)
        _check_frequency_shape(
            values,
            dim // 2,
            input_shape[2] if len(input_shape) == 4 else None,
            half_name="D/2",
            context=f"inputs of shape {tuple(input_shape)}",
        )
        self.frequencies = self.add_weight(
            name="frequencies",
            shape=values.shape,
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(values, "float32"),
            dtype="float32",
            trainable=self.trainable_frequencies,
        )

    def _angles(self, positions, rank: int):
        """Rotation angles, broadcastable against the (B, T, [H,] D/2) halves."""
        frequencies = ops.convert_to_tensor(self.frequencies)
        if len(frequencies.shape) == 2:
            angles = positions[..., None, None] * frequencies  # ([B,] T, H, D/2)
        else:
            angles = positions[..., None] * frequencies  # ([B,] T, D/2)
            if rank == 4:
                angles = ops.expand_dims(angles, -2)  # ([B,] T, 1, D/2)
        return angles

    def call(self, inputs, positions=None):
        inputs = ops.convert_to_tensor(inputs)
        length = inputs.shape[1]
        if positions is None:
            positions = ops.arange(ops.shape(inputs)[1], dtype="float32")  # (T,)
        else:
            positions = ops.cast(ops.convert_to_tensor(positions), "float32")
            if len(positions.shape) not in (1, 2) or (
                length is not None and positions.shape[-1] not in (None, length)
            ):
                raise ValueError(
                    f"`positions` must have shape (T,) or (B, T) with T={length}; "
                    f"got shape {tuple(positions.shape)}"
                )
        angles = self._angles(positions, len(inputs.shape))
        if len(positions.shape) == 1:
            angles = angles[None]  # (1, T, [H or 1,] D/2)
        cos = ops.cast(ops.cos(angles), inputs.dtype)
        sin = ops.cast(ops.sin(angles), inputs.dtype)
        first, second = ops.split(inputs, 2, axis=-1)  # x_j and x_{j + D/2}
        return ops.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        initial = self._initial_frequencies
        config.update(
            {
                "max_wavelength": self.max_wavelength,
                "frequencies": None if initial is None else initial.tolist(),
                "trainable_frequencies": self.trainable_frequencies,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="mhlib")
class RotaryMultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` whose projected queries and keys are rotated by RoPE.

    Everything is as in the Keras layer (projections, masks, dropout,
    `return_attention_scores`, the output projection), except that after the
    query and key projections, shape `(B, T, H, key_dim)` and `(B, S, H, key_dim)`,
    both are rotated by a `RotaryEmbedding` with positions `0, 1, ...`. The
    logit of head `h` between query `m` and key `n` then depends on the two
    positions only through `m - n`. With per-head frequencies of shape
    `(H, key_dim / 2)` (for `key_dim = 2`, a single frequency `w_h` per head)
    each head becomes a filter tuned to its own frequency.

    Args:
        num_heads: number of attention heads `H`.
        key_dim: size of each query/key head; must be even.
        max_wavelength: base of the default geometric frequencies (as in
            `RotaryEmbedding`).
        frequencies: optional angular frequencies of shape `(key_dim / 2,)`
            (shared by all heads) or `(num_heads, key_dim / 2)` (one set per head).
        trainable_frequencies: whether the frequencies are learned.
        **kwargs: every other `keras.layers.MultiHeadAttention` argument
            (`value_dim`, `dropout`, `use_bias`, `output_shape`, ...), except
            `attention_axes`, which must stay `None` (attention over the
            sequence axis).

    Call arguments:
        query: tensor of shape `(B, T, dim)`.
        value: tensor of shape `(B, S, dim)`.
        key: optional tensor of shape `(B, S, dim)`; default `value`.
        attention_mask: optional boolean mask of shape `(B, T, S)`.
        return_attention_scores: whether to return the scores too.
        training: whether dropout is applied.
        use_causal_mask: whether each query sees only the keys up to its position.

    Returns:
        The attention output `(B, T, dim)` and, with `return_attention_scores=True`,
        the scores `(B, H, T, S)`.

    Raises:
        ValueError: for an odd `key_dim`, per-head `frequencies` whose first
            axis is not `num_heads`, a `frequencies` last axis other than
            `key_dim / 2`, or `attention_axes` other than `None`.

    Example:

    >>> import numpy as np
    >>> layer = RotaryMultiHeadAttention(num_heads=3, key_dim=2, frequencies=[[0.1], [0.5], [2.0]])
    >>> x = np.random.rand(2, 6, 8).astype("float32")
    >>> out, scores = layer(x, x, return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((2, 6, 8), (2, 3, 6, 6))
    >>> from mhlib import head_logits
    >>> logits = head_logits(layer, x, x)  # (B, H, T, S), the rotation included
    >>> bool(np.allclose(keras.ops.softmax(logits, axis=-1), scores, atol=1e-6))
    True
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        max_wavelength: float = 10000.0,
        frequencies: Sequence[float] | Sequence[Sequence[float]] | np.ndarray | None = None,
        trainable_frequencies: bool = False,
        **kwargs,
    ):
        if kwargs.get("attention_axes") not in (None, 1, (1,), [1]):
            raise ValueError(
                "`attention_axes` must be None (attention over the sequence axis) for "
                f"RotaryMultiHeadAttention; got {kwargs['attention_axes']!r}"
            )
        key_dim = check_integer("key_dim", key_dim, minimum=2, parity="even")
        super().__init__(num_heads=num_heads, key_dim=key_dim, **kwargs)
        checked = _check_frequencies(frequencies)
        if checked is not None:
            _check_frequency_shape(
                checked,
                key_dim // 2,
                num_heads,
                half_name="key_dim/2",
                context=f"num_heads={num_heads}, key_dim={key_dim}",
            )
        self.rotary = RotaryEmbedding(
            max_wavelength=max_wavelength,
            frequencies=checked,
            trainable_frequencies=trainable_frequencies,
            dtype=self.dtype_policy,
            name="rotary",
        )

    def build(self, query_shape, value_shape, key_shape=None) -> None:
        super().build(query_shape, value_shape, key_shape)
        self.rotary.build((None, None, self.num_heads, self.key_dim))

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        query = self.rotary(query)  # (B, T, H, key_dim)
        key = self.rotary(key)  # (B, S, H, key_dim)
        return super()._compute_attention(
            query,
            key,
            value,
            attention_mask=attention_mask,
            training=training,
            return_attention_scores=return_attention_scores,
            use_causal_mask=use_causal_mask,
        )

    def head_logits(self, query, key):
        """The pre-softmax, scaled logits of every head, rotation included.

        What `mhlib.head_logits` returns for this layer (call that function, which
        first checks that the layer is built and the shapes): the softmax of these
        logits over the last axis is the attention that the layer returns with
        `return_attention_scores=True` when no mask is given.

        Args:
            query: tensor of shape `(B, T, query_features)`.
            key: tensor of shape `(B, S, key_features)`.

        Returns:
            Tensor of shape `(B, H, T, S)`.
        """
        query = self.rotary(self.query_dense(query))  # (B, T, H, key_dim)
        key = self.rotary(self.key_dense(key))  # (B, S, H, key_dim)
        return scaled_dot_logits(query, key)

    @property
    def frequencies(self):
        """The weight holding the angular frequencies, shape `(key_dim/2,)` or `(H, key_dim/2)`."""
        return self.rotary.frequencies

    def get_config(self) -> dict:
        config = super().get_config()
        rotary = self.rotary.get_config()
        for name in ("max_wavelength", "frequencies", "trainable_frequencies"):
            config[name] = rotary[name]
        config.pop("attention_axes", None)
        return config
