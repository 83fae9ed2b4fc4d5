"""Soft, differentiable matching of two sets: Sinkhorn normalisation and a multi-head layer."""

from __future__ import annotations

import math

import keras
from keras import ops

from mhlib._checks import check_integer, check_positive_number, check_rank
from mhlib.attention import scaled_dot_logits

_SET_AXES = ("batch", "elements", "features")


def _all_finite(x) -> bool | None:
    """Whether every entry of `x` is finite; None when `x` is symbolic (traced in a graph)."""
    if isinstance(x, keras.KerasTensor):  # a functional model or a diagram's trace
        return None
    try:
        return bool(ops.all(ops.isfinite(x)))
    except TypeError:
        # Inside tf.function, jax.jit or a functional-model trace the values are unknown.
        return None


def sinkhorn(logits, temperature: float = 1.0, num_iters: int = 50):
    """Log-domain Sinkhorn normalisation of score matrices over their last two axes.

    Turns a matrix of scores `L` of shape `(N, M)` into the soft assignment::

        P = diag(exp(u)) exp(L / temperature) diag(exp(v))

    whose rows sum to 1 and whose columns sum to `N / M`, by alternately
    normalising columns and rows (Sinkhorn, 1967). For `N == M` the result is
    doubly stochastic. It equals `N` times the entropic optimal-transport plan
    between uniform marginals for the cost `-L` with regularisation
    `reg = temperature` (what `ot.sinkhorn` computes), and as the temperature
    goes to 0 it approaches the best permutation (the Hungarian solution) when
    that solution is unique.

    The iterations update the log-potentials `u` and `v` with `logsumexp`, so
    huge logits and tiny temperatures give finite results (no overflow of
    `exp`). Each iteration normalises the columns and then the rows: after a
    finite number of iterations the rows sum to 1 exactly (up to round-off) and
    the columns only approximately; more iterations, or a higher temperature,
    give closer column sums.

    For `N != M` both sets are spread uniformly: every row still sums to 1 and
    every column receives `N / M`, so with `N < M` every element of the larger
    set is used by a fraction `N / M` of a partner. This is balanced transport;
    a partial matching in which some elements stay unmatched needs an extra
    "dustbin" row or column added to `logits` beforehand (as in SuperGlue).

    Args:
        logits: tensor of shape `(..., N, M)` with `N, M >= 1`: the score of
            pairing element `n` of the first set with element `m` of the
            second (higher is better). Any number of leading batch axes.
        temperature: a finite float > 0. Divides the logits; lower values give
            sharper, more permutation-like assignments and need more
            iterations to converge.
        num_iters: integer >= 1, the number of column-then-row normalisation
            rounds.

    Returns:
        Tensor of the same shape as `logits`, non-negative, rows summing to 1
        and columns to `N / M`.

    Raises:
        ValueError: if `logits` has rank < 2 or an empty last axis, contains
            NaN or infinite values (checked when its values are concrete,
            i.e. in eager execution, not while a graph is being traced), if
            `temperature` is not a finite number > 0, or if `num_iters` is
            not an integer >= 1.

    Example:

    >>> import numpy as np
    >>> p = sinkhorn(np.random.default_rng(0).normal(size=(2, 4, 4)), num_iters=100)
    >>> tuple(p.shape)
    (2, 4, 4)
    >>> bool(np.allclose(np.sum(p, axis=-1), 1.0) and np.allclose(np.sum(p, axis=-2), 1.0))
    True
    """
    temperature = check_positive_number("temperature", temperature)
    num_iters = check_integer("num_iters", num_iters, minimum=1)
    logits = ops.convert_to_tensor(logits)
    if not keras.backend.is_float_dtype(logits.dtype):
        logits = ops.cast(logits, keras.config.floatx())
    if len(logits.shape) < 2:
        raise ValueError(
            "`logits` must have shape (..., N, M), i.e. rank >= 2; "
            f"got shape {tuple(logits.shape)}"
        )
    num_rows, num_cols = logits.shape[-2], logits.shape[-1]
    if num_rows == 0 or num_cols == 0:
        raise ValueError(f"`logits` must have N, M >= 1; got shape {tuple(logits.shape)}")
    if _all_finite(logits) is False:
        raise ValueError("`logits` must be finite; it contains NaN or infinite values")

    scaled = logits / ops.cast(temperature, logits.dtype)  # (..., N, M)
    # Columns receive N / M each, so that the potentials do not drift by a constant per round.
    if num_rows is None or num_cols is None:
        rows, cols = (ops.cast(ops.shape(scaled)[axis], scaled.dtype) for axis in (-2, -1))
        log_col_mass = ops.log(rows / cols)
    else:
        log_col_mass = ops.cast(math.log(num_rows / num_cols), scaled.dtype)
    u = ops.zeros_like(scaled[..., :, :1])  # (..., N, 1) row log-potentials
    v = ops.zeros_like(scaled[..., :1, :])  # (..., 1, M) column log-potentials
    for _ in range(num_iters):
        # ops.subtract, not `-`: a JAX array minus a KerasTensor fails in a trace.
        v = ops.subtract(log_col_mass, ops.logsumexp(scaled + u, axis=-2, keepdims=True))
        u = -ops.logsumexp(scaled + v, axis=-1, keepdims=True)
    return ops.exp(scaled + u + v)


@keras.saving.register_keras_serializable(package="mhlib")
class SoftMatching(keras.layers.Layer):
    """Multi-head soft matching of set A to set B, made doubly stochastic by Sinkhorn.

    Each head `h` projects the elements of set A to queries and those of set B
    to keys, and scores every pair with a scaled dot product, exactly as an
    attention head does::

        logits_h[b, n, m] = q_h(a_n) . k_h(b_m) / sqrt(key_dim)

    How the heads are combined is set by `combine`:

    - `"sum"` (default): the heads' logits are **summed** into one score matrix,
      which `sinkhorn` turns into a soft assignment. A sum of logits is a
      product of the heads' (unnormalised) match probabilities: a pair scores
      high only if it is plausible under every head. The heads are then not
      distinct functions: `H` heads of size `k` compute exactly the scores of
      one head of size `H * k`.
    - `"per_head"`: every head's logits go through their own `sinkhorn`, and the
      layer returns a learned convex combination of the heads' assignments,
      `sum_h w_h P_h` with `w = softmax(mixing_logits)` (initially uniform), a
      mixture of experts. A convex combination of doubly stochastic matrices is
      doubly stochastic, and each head must be a matching on its own.

    The projections have no biases: a bias adds to the logits a term that
    depends on one element only, i.e. a constant per row or per column, and
    Sinkhorn normalisation removes exactly such terms.

    Args:
        num_heads: number of heads, an integer >= 1.
        key_dim: size of each head's query and key projections, an integer >= 1.
        temperature: Sinkhorn temperature, a finite float > 0.
        num_iters: Sinkhorn iterations, an integer >= 1.
        combine: `"sum"` (one Sinkhorn of the summed logits) or `"per_head"`
            (one Sinkhorn per head, then a learned convex combination).
        kernel_initializer: initializer of the projection kernels.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        set_a: tensor of shape `(B, N, Da)`, the N elements of the first set.
        set_b: tensor of shape `(B, M, Db)`, the M elements of the second set.
            `Da` and `Db` may differ (two different views of objects).
        return_head_logits: if True, also return the per-head logits.

    Returns:
        The soft assignment, a tensor of shape `(B, N, M)` whose rows sum to 1
        and columns to `N / M` (see `sinkhorn`); with `return_head_logits=True`,
        the tuple `(assignment, head_logits)` where `head_logits` has shape
        `(B, H, N, M)`; with `combine="sum"` it sums over its head axis to the
        combined scores.

    Example:

    >>> import numpy as np
    >>> layer = SoftMatching(num_heads=2, key_dim=4)
    >>> a = np.random.rand(3, 5, 6).astype("float32")
    >>> b = np.random.rand(3, 5, 7).astype("float32")
    >>> assignment, head_logits = layer(a, b, return_head_logits=True)
    >>> tuple(assignment.shape), tuple(head_logits.shape)
    ((3, 5, 5), (3, 2, 5, 5))
    >>> mixture = SoftMatching(num_heads=2, key_dim=4, combine="per_head")
    >>> p = mixture(a, b)
    >>> bool(np.allclose(np.sum(p, axis=-1), 1.0, atol=1e-4))
    True
    >>> [round(float(w), 2) for w in mixture.mixing_weights]
    [0.5, 0.5]
    """

    COMBINATIONS = ("sum", "per_head")

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        temperature: float = 1.0,
        num_iters: int = 20,
        kernel_initializer="glorot_uniform",
        combine: str = "sum",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_integer("num_heads", num_heads, minimum=1)
        self.key_dim = check_integer("key_dim", key_dim, minimum=1)
        self.temperature = check_positive_number("temperature", temperature)
        self.num_iters = check_integer("num_iters", num_iters, minimum=1)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if combine not in self.COMBINATIONS:
            raise ValueError(f"`combine` must be one of {self.COMBINATIONS}; got {combine!r}")
        self.combine = combine
        self.mixing_logits = None

    def _projection(self, name: str) -> keras.layers.EinsumDense:
        return keras.layers.EinsumDense(
            "bnd,dhk->bnhk",
            output_shape=(None, self.num_heads, self.key_dim),
            kernel_initializer=self.kernel_initializer,
            name=name,
        )

    def build(self, set_a_shape, set_b_shape) -> None:
        check_rank("set_a", set_a_shape, _SET_AXES)
        check_rank("set_b", set_b_shape, _SET_AXES)
        self.query_dense = self._projection("query")
        self.query_dense.build(set_a_shape)
        self.key_dense = self._projection("key")
        self.key_dense.build(set_b_shape)
        if self.combine == "per_head":
            self.mixing_logits = self.add_weight(
                name="mixing_logits", shape=(self.num_heads,), initializer="zeros"
            )

    @property
    def mixing_weights(self):
        """The heads' weights `(H,)` in the convex combination (`combine="per_head"`), else None."""
        if self.mixing_logits is None:
            return None
        # softmax written out: keras.ops.softmax warns on an axis of size 1 (one head)
        weights = ops.exp(self.mixing_logits - ops.max(self.mixing_logits))
        return weights / ops.sum(weights)

    def call(self, set_a, set_b, return_head_logits: bool = False):
        check_rank("set_a", set_a.shape, _SET_AXES)
        check_rank("set_b", set_b.shape, _SET_AXES)
        q = self.query_dense(set_a)  # (B, N, H, K)
        k = self.key_dense(set_b)  # (B, M, H, K)
        head_logits = scaled_dot_logits(q, k)  # (B, H, N, M)
        if self.combine == "sum":
            logits = ops.sum(head_logits, axis=1)  # (B, N, M)
            assignment = sinkhorn(logits, self.temperature, self.num_iters)
        else:
            per_head = sinkhorn(head_logits, self.temperature, self.num_iters)  # (B, H, N, M)
            weights = ops.cast(self.mixing_weights, per_head.dtype)  # (H,)
            assignment = ops.einsum("h,bhnm->bnm", weights, per_head)  # (B, N, M)
        if return_head_logits:
            return assignment, head_logits
        return assignment

    def compute_output_spec(self, set_a, set_b, return_head_logits: bool = False):
        # Given, not traced: on JAX, tracing Sinkhorn with sets of unknown size fails.
        batch, num_a, num_b = set_a.shape[0], set_a.shape[1], set_b.shape[1]
        assignment = keras.KerasTensor((batch, num_a, num_b), dtype=self.compute_dtype)
        if return_head_logits:
            logits_shape = (batch, self.num_heads, num_a, num_b)
            return assignment, keras.KerasTensor(logits_shape, dtype=self.compute_dtype)
        return assignment

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "temperature": self.temperature,
                "num_iters": self.num_iters,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "combine": self.combine,
            }
        )
        return config
