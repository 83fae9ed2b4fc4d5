"""Convolution as multi-head self-attention over pixels.

After Cordonnier, Loukas and Jaggi (2020), "On the Relationship between
Self-Attention and Convolutional Layers": a `keras.layers.MultiHeadAttention`
with one head per kernel offset, whose query/key projections read only a
quadratic encoding of pixel positions, computes exactly a `Conv2D` with
`padding="same"`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from mhlib._checks import check_finite_array, check_integer

LOGIT_GAP = 30.0
"""Logit margin between a head's target pixel and the next-nearest one.

The softmax weight that leaks to the nearest wrong pixel is `exp(-LOGIT_GAP)`
(about 1e-13), far below float32 resolution, so every head is one-hot to
float32 precision."""

POSITION_FEATURES = 3
"""Features appended to every pixel token: row `i`, column `j` and `i**2 + j**2`."""


@keras.saving.register_keras_serializable(package="mhlib")
class PixelTokens(keras.layers.Layer):
    """Turns images into query and key tokens made of content and position.

    The image is zero-padded by `padding` pixels on every side. Every pixel of
    the padded grid becomes a key token: its `channels` colour/feature values
    (zero in the padding) followed by its position encoding `(i, j, i**2 + j**2)`,
    with `(i, j)` its row and column in the padded grid. The query tokens are the
    tokens of the image's own pixels (the grid without its padding frame).

    Args:
        padding: non-negative int, the width of the zero frame.
        channels: positive int, the number of channels the images must have.

    Call arguments:
        images: tensor of shape `(B, H, W, channels)`.

    Returns:
        A tuple `(queries, keys)` of shapes `(B, H * W, channels + 3)` and
        `(B, (H + 2 * padding) * (W + 2 * padding), channels + 3)`, pixels in
        row-major order.
    """

    def __init__(self, padding: int, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.padding = check_integer("padding", padding, minimum=0)
        self.channels = check_integer("channels", channels, minimum=1)

    def call(self, images):
        if len(images.shape) != 4 or images.shape[-1] != self.channels:
            raise ValueError(
                f"`images` must have shape (batch, height, width, {self.channels}); "
                f"got shape {tuple(images.shape)}"
            )
        p = self.padding
        padded = ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]])  # (B, H+2p, W+2p, C)
        shape = ops.shape(padded)
        rows, cols = ops.meshgrid(
            ops.cast(ops.arange(shape[1]), images.dtype),
            ops.cast(ops.arange(shape[2]), images.dtype),
            indexing="ij",
        )  # (H+2p, W+2p) each
        positions = ops.stack([rows, cols, rows**2 + cols**2], axis=-1)  # (H+2p, W+2p, 3)
        positions = ops.broadcast_to(positions[None], (shape[0], shape[1], shape[2], 3))
        grid = ops.concatenate([padded, positions], axis=-1)  # (B, H+2p, W+2p, C+3)
        inner = grid[:, p : -p or None, p : -p or None, :]  # (B, H, W, C+3)
        features = self.channels + POSITION_FEATURES
        queries = ops.reshape(inner, (shape[0], -1, features))  # (B, T, C+3)
        keys = ops.reshape(grid, (shape[0], -1, features))  # (B, S, C+3)
        return queries, keys

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        features = self.channels + POSITION_FEATURES
        inner = None if height is None or width is None else height * width
        outer = (
            None
            if height is None or width is None
            else (height + 2 * self.padding) * (width + 2 * self.padding)
        )
        return (batch, inner, features), (batch, outer, features)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "channels": self.channels}


@keras.saving.register_keras_serializable(package="mhlib")
class TokensToImage(keras.layers.Layer):
    """Folds one token per pixel back into an image of the reference's size.

    Call arguments:
        tokens: tensor of shape `(B, H * W, F)`, pixels in row-major order.
        reference: tensor of shape `(B, H, W, C)`; only its shape is used.

    Returns:
        Tensor of shape `(B, H, W, F)`.
    """

    def call(self, tokens, reference):
        shape = ops.shape(reference)
        return ops.reshape(tokens, (shape[0], shape[1], shape[2], tokens.shape[-1]))

    def compute_output_shape(self, tokens_shape, reference_shape):
        return (*reference_shape[:3], tokens_shape[-1])


def _check_kernel(name: str, kernel) -> np.ndarray:
    kernel = check_finite_array(name, kernel)
    if kernel.ndim != 4 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(
            f"`{name}` must have shape (K, K, in_channels, out_channels) with odd K; "
            f"got shape {kernel.shape}"
        )
    if 0 in kernel.shape[2:]:
        raise ValueError(f"`{name}` must have at least one input and output channel")
    return kernel


def _check_bias(name: str, bias, out_channels: int) -> np.ndarray:
    if bias is None:
        return np.zeros(out_channels, "float32")
    bias = check_finite_array(name, bias)
    if bias.shape != (out_channels,):
        raise ValueError(
            f"`{name}` must have shape ({out_channels},), one value per output channel "
            f"of its kernel; got shape {bias.shape}"
        )
    return bias


def head_shifts(kernel_size: int) -> list[tuple[int, int]]:
    """The pixel offsets `(dy, dx)` of a `kernel_size` x `kernel_size` kernel's heads.

    Head `a * kernel_size + b` of a branch handles kernel entry `kernel[a, b]`,
    which `Conv2D(padding="same")` applies to the pixel at offset
    `(a - p, b - p)` from the output pixel, with `p = kernel_size // 2`.

    Args:
        kernel_size: a positive odd int.

    Returns:
        A list of `kernel_size ** 2` offsets in row-major kernel order.
    """
    kernel_size = check_integer("kernel_size", kernel_size, minimum=1, parity="odd")
    p = kernel_size // 2
    return [(a - p, b - p) for a in range(kernel_size) for b in range(kernel_size)]


def attention_conv2d(kernel, bias=None) -> keras.Model:
    """A multi-head self-attention model that computes `Conv2D(padding="same")`.

    Every pixel is a token made of its channels and its position encoding
    `(i, j, i**2 + j**2)` (see `PixelTokens`); the image is zero-padded so that
    the border pixels see the same zeros as `padding="same"`. One
    `keras.layers.MultiHeadAttention` has one head per kernel entry
    `kernel[a, b]`, i.e. per offset `(dy, dx) = (a - K // 2, b - K // 2)`:

    - its query and key projections ignore the content and read the positions
      only; head `h` scores key pixel `k` from query pixel `q` as
      `-LOGIT_GAP * |k - q - (dy, dx)|**2` plus a term that depends on `q` only
      (which softmax cancels), so its attention is one-hot, to float32
      precision, on the pixel at offset `(dy, dx)`;
    - its value projection ignores the position and applies `kernel[a, b]`, a
      `(in_channels, out_channels)` matrix (keys and values have
      `max(3, out_channels)` dimensions per head; the unused ones are zero);
    - the output projection is the identity per head, so the layer sums the
      heads, and its bias is the convolution's bias.

    For several kernels side by side (an Inception block) use
    `attention_inception`.

    Attention runs over all pixels, so memory grows as `(H * W) ** 2` times the
    number of heads: use small images.

    Args:
        kernel: array of shape `(K, K, in_channels, out_channels)` with odd `K`,
            laid out as `keras.layers.Conv2D`'s kernel.
        bias: `None` (no bias) or an array of shape `(out_channels,)`.

    Returns:
        A `keras.Model` from images `(B, H, W, in_channels)` to outputs
        `(B, H, W, out_channels)`. Its attention layer is
        `model.get_layer("attention")`, its tokeniser `model.get_layer("tokens")`.

    Raises:
        ValueError: if `kernel` is not one array of shape
            `(K, K, in_channels, out_channels)` with odd `K`, `bias` does not
            have one value per output channel, or a value is not finite.

    Example:

    >>> import numpy as np, keras
    >>> kernel = np.random.rand(3, 3, 2, 4).astype("float32")
    >>> images = np.random.rand(1, 6, 5, 2).astype("float32")
    >>> conv = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)
    >>> conv.build(images.shape)
    >>> conv.set_weights([kernel])
    >>> model = attention_conv2d(kernel)
    >>> bool(np.allclose(model(images), conv(images), atol=1e-5))
    True
    """
    if isinstance(kernel, Sequence) and not isinstance(kernel, np.ndarray):
        raise ValueError(
            "`kernel` must be one array (K, K, in_channels, out_channels); "
            "for several kernels side by side use attention_inception"
        )
    return _attention_model([_check_kernel("kernel", kernel)], [bias], ["bias"])


def attention_inception(kernels, biases=None) -> keras.Model:
    """One multi-head self-attention layer that computes parallel `Conv2D` branches.

    Like `attention_conv2d`, with one group of heads per kernel: the group of
    kernel `n` writes only to its own output channels, so the outputs of the
    branches come out concatenated along the channels, like the parallel
    branches of an Inception block (1 x 1, 3 x 3, 5 x 5 convolutions of the
    same input).

    Args:
        kernels: a non-empty sequence of arrays of shape
            `(K, K, in_channels, out_channels)`, odd `K` that may differ, the
            same `in_channels`.
        biases: `None` (no bias), or a sequence with one entry per kernel, each
            `None` or an array of shape `(out_channels,)` of its kernel.

    Returns:
        A `keras.Model` from images `(B, H, W, in_channels)` to outputs
        `(B, H, W, sum of out_channels)`.

    Raises:
        ValueError: if `kernels` is not a non-empty sequence of valid kernels
            with the same `in_channels`, or `biases` does not match them.

    Example:

    >>> import numpy as np
    >>> kernels = [np.ones((1, 1, 2, 3), "float32"), np.ones((3, 3, 2, 1), "float32")]
    >>> model = attention_inception(kernels)
    >>> tuple(model(np.ones((1, 4, 4, 2), "float32")).shape)
    (1, 4, 4, 4)
    """
    if isinstance(kernels, np.ndarray) or not isinstance(kernels, Sequence) or not kernels:
        raise ValueError(
            "`kernels` must be a non-empty sequence of arrays; for one kernel use attention_conv2d"
        )
    names = [f"kernels[{n}]" for n in range(len(kernels))]
    kernels = [_check_kernel(name, k) for name, k in zip(names, kernels, strict=True)]
    for name, k in zip(names, kernels, strict=True):
        if k.shape[2] != kernels[0].shape[2]:
            raise ValueError(
                f"`{name}` has {k.shape[2]} input channels but `{names[0]}` has "
                f"{kernels[0].shape[2]}: every kernel must read the same channels"
            )
    biases = [None] * len(kernels) if biases is None else list(biases)
    if len(biases) != len(kernels):
        raise ValueError(
            f"`biases` must have one entry per kernel ({len(kernels)}); got {len(biases)}"
        )
    return _attention_model(kernels, biases, [f"biases[{n}]" for n in range(len(kernels))])


def _attention_model(kernels: list[np.ndarray], biases: list, bias_names: list[str]):
    """The attention model with one group of heads per (checked) kernel."""
    in_channels = kernels[0].shape[2]
    biases = [
        _check_bias(name, b, k.shape[3])
        for name, b, k in zip(bias_names, biases, kernels, strict=True)
    ]

    padding = max(k.shape[0] // 2 for k in kernels)
    out_channels = sum(k.shape[3] for k in kernels)
    heads = []  # (dy, dx, value matrix (in_channels, out_channels))
    first = 0
    for k in kernels:
        size, _, _, width = k.shape
        entries = k.reshape(size * size, in_channels, width)  # row-major (a, b)
        for (dy, dx), entry in zip(head_shifts(size), entries, strict=True):
            value = np.zeros((in_channels, out_channels), "float32")
            value[:, first : first + width] = entry
            heads.append((dy, dx, value))
        first += width

    images = keras.Input((None, None, in_channels), name="images")
    queries, keys = PixelTokens(padding, in_channels, name="tokens")(images)
    # One size for keys and values: the JAX backend's fused attention kernel needs them equal.
    head_dim = max(POSITION_FEATURES, out_channels)
    attention = keras.layers.MultiHeadAttention(
        num_heads=len(heads),
        key_dim=head_dim,
        value_dim=head_dim,
        output_shape=out_channels,
        name="attention",
    )
    tokens = attention(queries, keys)  # (B, H*W, out_channels)
    outputs = TokensToImage(name="image")(tokens, images)
    _set_weights(attention, heads, np.concatenate(biases), in_channels, head_dim)
    return keras.Model(images, outputs, name="attention_conv2d")


def _set_weights(attention, heads, bias: np.ndarray, in_channels: int, head_dim: int) -> None:
    """Writes the position-only query/key, content-only value and summing output weights.

    Query and key use the first POSITION_FEATURES of the `head_dim` dimensions of a
    head, the value the first `out_channels`; the other dimensions stay zero.
    """
    features = in_channels + POSITION_FEATURES
    row, col, norm = in_channels, in_channels + 1, in_channels + 2
    num_heads, out_channels = len(heads), bias.shape[0]
    # The logit is (q . k) / sqrt(key_dim); the scale puts LOGIT_GAP between
    # the target pixel (distance 0) and its nearest neighbour (distance 1).
    scale = LOGIT_GAP * math.sqrt(head_dim)
    query_kernel = np.zeros((features, num_heads, head_dim), "float32")
    query_bias = np.zeros((num_heads, head_dim), "float32")
    key_kernel = np.zeros((features, num_heads, head_dim), "float32")
    value_kernel = np.zeros((features, num_heads, head_dim), "float32")
    for h, (dy, dx, value) in enumerate(heads):
        # query = scale * (1, i + dy, j + dx); key = (-(i**2 + j**2), 2 i, 2 j)
        query_kernel[row, h, 1] = query_kernel[col, h, 2] = scale
        query_bias[h, :POSITION_FEATURES] = scale * np.array([1.0, dy, dx])
        key_kernel[norm, h, 0] = -1.0
        key_kernel[row, h, 1] = key_kernel[col, h, 2] = 2.0
        value_kernel[:in_channels, h, :out_channels] = value
    output_kernel = np.zeros((num_heads, head_dim, out_channels), "float32")
    output_kernel[:, :out_channels, :] = np.eye(out_channels, dtype="float32")
    zeros = np.zeros((num_heads, head_dim), "float32")
    for dense, weights in (
        (attention.query_dense, (query_kernel, query_bias)),
        (attention.key_dense, (key_kernel, zeros)),
        (attention.value_dense, (value_kernel, zeros)),
        (attention.output_dense, (output_kernel, bias)),
    ):
        dense.kernel.assign(weights[0])
        dense.bias.assign(weights[1])
