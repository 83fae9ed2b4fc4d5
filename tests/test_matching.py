import keras
import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment

from mhlib.autodiff import input_gradient, weight_gradients
from mhlib.matching import SoftMatching, sinkhorn


def _logits(*shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


@pytest.mark.parametrize("shape", [(5, 5), (3, 7, 7), (2, 2, 4, 4), (1, 1)])
def test_square_result_is_doubly_stochastic(shape):
    p = keras.ops.convert_to_numpy(sinkhorn(_logits(*shape), temperature=0.5, num_iters=50))
    assert p.shape == shape
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(p.sum(axis=-2), 1.0, atol=1e-4)


@pytest.mark.parametrize("n,m", [(3, 7), (7, 3)])
def test_rectangular_rows_sum_to_one_and_columns_to_n_over_m(n, m):
    p = keras.ops.convert_to_numpy(sinkhorn(_logits(4, n, m), num_iters=100))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(p.sum(axis=-2), n / m, atol=1e-4)


@pytest.mark.parametrize("n,m,temperature", [(6, 6, 1.0), (6, 9, 0.5), (8, 5, 0.3)])
def test_agrees_with_pot_entropic_transport(n, m, temperature):
    logits = _logits(3, n, m, seed=1)
    ours = keras.ops.convert_to_numpy(sinkhorn(logits, temperature, num_iters=1000))
    for b in range(3):
        plan = ot.sinkhorn(
            np.full(n, 1.0 / n),
            np.full(m, 1.0 / m),
            -logits[b].astype("float64"),
            reg=temperature,
            numItermax=100_000,
            stopThr=1e-13,
        )
        np.testing.assert_allclose(ours[b], n * plan, atol=1e-5, rtol=0)


def test_low_temperature_recovers_the_hungarian_assignment():
    logits = _logits(200, 16, 16, seed=2)
    p = keras.ops.convert_to_numpy(sinkhorn(logits, temperature=3e-3, num_iters=1000))
    hungarian = np.stack([linear_sum_assignment(x, maximize=True)[1] for x in logits])
    agreement = np.mean((p.argmax(axis=-1) == hungarian).all(axis=-1))
    assert agreement >= 0.99, f"row argmax equals the Hungarian solution on {agreement:.1%}"


def test_high_temperature_tends_to_uniform():
    p = keras.ops.convert_to_numpy(sinkhorn(_logits(4, 4), temperature=1e4))
    np.testing.assert_allclose(p, 0.25, atol=1e-3)


def test_huge_logits_and_tiny_temperature_stay_finite():
    logits = _logits(4, 12, 12, seed=3, scale=1e3)
    p = keras.ops.convert_to_numpy(sinkhorn(logits, temperature=1e-3, num_iters=50))
    assert np.isfinite(p).all()
    assert p.max() > 0.5, "an extreme, sharp problem must still put mass on its best pairs"


def test_invariant_to_row_and_column_offsets():
    logits = _logits(2, 5, 6, seed=4)
    offsets = _logits(2, 5, 1, seed=5) + _logits(2, 1, 6, seed=6)
    p = sinkhorn(logits, num_iters=200)
    q = sinkhorn(logits + 10.0 * offsets, num_iters=200)
    np.testing.assert_allclose(p, q, atol=1e-5)


def test_permuting_columns_permutes_the_result():
    logits = _logits(6, 6, seed=7)
    perm = np.random.default_rng(8).permutation(6)
    p = keras.ops.convert_to_numpy(sinkhorn(logits))
    q = keras.ops.convert_to_numpy(sinkhorn(logits[:, perm]))
    np.testing.assert_allclose(q, p[:, perm], atol=1e-6)


def test_gradients_are_finite_and_non_zero():
    logits = _logits(2, 5, 5, seed=9)
    weights = _logits(2, 5, 5, seed=10)
    grad = input_gradient(lambda x: sinkhorn(x, temperature=0.5, num_iters=20) * weights, logits)
    assert np.isfinite(grad).all()
    assert np.abs(grad).max() > 1e-3


@pytest.mark.tensorflow_only
def test_traced_call_equals_eager_call():
    import tensorflow as tf

    logits = _logits(3, 4, 5, seed=11)
    traced = tf.function(lambda x: sinkhorn(x, 0.7, 30))(logits)
    np.testing.assert_allclose(traced, sinkhorn(logits, 0.7, 30), atol=1e-6)


def test_integer_logits_are_accepted():
    p = keras.ops.convert_to_numpy(sinkhorn(np.eye(3, dtype="int32")))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_temperature(temperature):
    with pytest.raises(ValueError, match="`temperature`"):
        sinkhorn(_logits(3, 3), temperature=temperature)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_logits(bad):
    logits = _logits(2, 3, 3)
    logits[1, 2, 0] = bad
    with pytest.raises(ValueError, match="`logits` must be finite"):
        sinkhorn(logits)


@pytest.mark.parametrize("shape", [(), (4,), (3, 0)])
def test_bad_logits_shape(shape):
    with pytest.raises(ValueError, match="`logits`"):
        sinkhorn(np.zeros(shape, "float32"))


@pytest.mark.parametrize("num_iters", [0, -3, 2.5, True])
def test_bad_num_iters(num_iters):
    with pytest.raises(ValueError, match="`num_iters`"):
        sinkhorn(_logits(3, 3), num_iters=num_iters)


def _sets(batch=2, n=5, m=5, da=6, db=7, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(batch, n, da)).astype("float32")
    b = rng.normal(size=(batch, m, db)).astype("float32")
    return a, b


def test_layer_output_is_a_soft_assignment_and_heads_sum_to_the_scores():
    keras.utils.set_random_seed(0)
    a, b = _sets(n=6, m=6)
    layer = SoftMatching(num_heads=3, key_dim=4, num_iters=50)
    assignment, head_logits = layer(a, b, return_head_logits=True)
    assignment = keras.ops.convert_to_numpy(assignment)
    assert assignment.shape == (2, 6, 6) and tuple(head_logits.shape) == (2, 3, 6, 6)
    np.testing.assert_allclose(assignment.sum(axis=-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(assignment.sum(axis=-2), 1.0, atol=1e-4)
    combined = sinkhorn(keras.ops.sum(head_logits, axis=1), layer.temperature, layer.num_iters)
    np.testing.assert_allclose(combined, assignment, atol=1e-6)
    np.testing.assert_allclose(layer(a, b), assignment, atol=1e-6)


def test_layer_heads_are_scaled_dot_products():
    a, b = _sets(n=4, m=3)
    layer = SoftMatching(num_heads=2, key_dim=4)
    _, head_logits = layer(a, b, return_head_logits=True)
    q = np.einsum("bnd,dhk->bnhk", a, keras.ops.convert_to_numpy(layer.query_dense.kernel))
    k = np.einsum("bmd,dhk->bmhk", b, keras.ops.convert_to_numpy(layer.key_dense.kernel))
    expected = np.einsum("bnhk,bmhk->bhnm", q, k) / 2.0
    np.testing.assert_allclose(head_logits, expected, rtol=1e-5, atol=1e-5)


def _assert_every_weight_gets_a_gradient(layer, a, b, num_weights, floor):
    """The matching loss towards the identity pairing reaches each trainable weight."""
    target = np.stack([np.eye(5, dtype="float32")] * 2)
    grads = weight_gradients(
        layer, lambda p: -keras.ops.mean(keras.ops.log(p + 1e-9) * target), a, b
    )
    assert len(grads) == num_weights
    for weight, grad in zip(layer.trainable_weights, grads, strict=True):
        assert np.isfinite(grad).all(), weight.path
        assert np.abs(grad).max() > floor, weight.path


def test_layer_gradients_reach_both_projections():
    a, b = _sets()
    layer = SoftMatching(num_heads=2, key_dim=3)
    layer(a, b)
    _assert_every_weight_gets_a_gradient(layer, a, b, num_weights=2, floor=1e-4)


def test_layer_config_round_trip_and_saving(tmp_path):
    a, b = _sets()
    in_a, in_b = keras.Input((5, 6)), keras.Input((5, 7))
    layer = SoftMatching(num_heads=2, key_dim=3, temperature=0.5, num_iters=7, name="match")
    model = keras.Model([in_a, in_b], layer(in_a, in_b))
    clone = SoftMatching.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    path = tmp_path / "matching.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded([a, b]), model([a, b]), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"num_heads": 0, "key_dim": 2}, "num_heads"),
        ({"num_heads": 2, "key_dim": 0}, "key_dim"),
        ({"num_heads": 2, "key_dim": 2, "temperature": 0.0}, "temperature"),
        ({"num_heads": 2, "key_dim": 2, "num_iters": 0}, "num_iters"),
    ],
)
def test_layer_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        SoftMatching(**kwargs)


@pytest.mark.parametrize("which", ["set_a", "set_b"])
def test_layer_wrong_rank_names_the_argument(which):
    a, b = _sets()
    args = {"set_a": a, "set_b": b}
    args[which] = args[which][0]
    with pytest.raises(ValueError, match=f"`{which}`.*rank 3"):
        SoftMatching(num_heads=2, key_dim=2)(**args)


def test_layer_accepts_sets_of_unknown_size():
    a, b = _sets(n=4, m=6)
    in_a, in_b = keras.Input((None, 6)), keras.Input((None, 7))
    layer = SoftMatching(num_heads=2, key_dim=3, num_iters=100)
    model = keras.Model([in_a, in_b], layer(in_a, in_b))
    assignment = keras.ops.convert_to_numpy(model.predict([a, b], verbose=0))
    np.testing.assert_allclose(assignment, layer(a, b), atol=1e-6)
    np.testing.assert_allclose(assignment.sum(axis=-2), 4 / 6, atol=1e-4)


def test_per_head_mode_is_a_convex_combination_of_head_assignments():
    keras.utils.set_random_seed(0)
    a, b = _sets(n=6, m=6)
    layer = SoftMatching(num_heads=3, key_dim=4, num_iters=50, combine="per_head")
    assignment, head_logits = layer(a, b, return_head_logits=True)
    layer.mixing_logits.assign(np.array([1.0, -0.5, 0.2], "float32"))
    assignment = keras.ops.convert_to_numpy(layer(a, b))
    weights = keras.ops.convert_to_numpy(layer.mixing_weights)
    np.testing.assert_allclose(weights.sum(), 1.0, atol=1e-6)
    per_head = keras.ops.convert_to_numpy(sinkhorn(head_logits, layer.temperature, 50))
    np.testing.assert_allclose(assignment, np.einsum("h,bhnm->bnm", weights, per_head), atol=1e-6)
    np.testing.assert_allclose(assignment.sum(axis=-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(assignment.sum(axis=-2), 1.0, atol=1e-4)


def test_per_head_mode_starts_with_uniform_weights_and_sum_mode_has_none():
    a, b = _sets()
    mixture = SoftMatching(num_heads=4, key_dim=2, combine="per_head")
    mixture(a, b)
    np.testing.assert_allclose(mixture.mixing_weights, 0.25, atol=1e-7)
    summed = SoftMatching(num_heads=4, key_dim=2)
    summed(a, b)
    assert summed.mixing_weights is None and len(summed.trainable_weights) == 2


def test_one_head_per_head_mode_equals_sum_mode():
    a, b = _sets()
    summed = SoftMatching(num_heads=1, key_dim=3)
    mixture = SoftMatching(num_heads=1, key_dim=3, combine="per_head")
    summed(a, b), mixture(a, b)
    mixture.query_dense.kernel.assign(summed.query_dense.kernel)
    mixture.key_dense.kernel.assign(summed.key_dense.kernel)
    np.testing.assert_allclose(mixture(a, b), summed(a, b), atol=1e-6)


def test_per_head_heads_are_distinct_functions():
    """Two heads of size 1 are not one head of size 2 once each has its own Sinkhorn."""
    a, b = _sets(n=5, m=5)
    summed = SoftMatching(num_heads=2, key_dim=1, num_iters=50)
    mixture = SoftMatching(num_heads=2, key_dim=1, num_iters=50, combine="per_head")
    summed(a, b), mixture(a, b)
    mixture.query_dense.kernel.assign(summed.query_dense.kernel)
    mixture.key_dense.kernel.assign(summed.key_dense.kernel)
    assert np.abs(keras.ops.convert_to_numpy(mixture(a, b) - summed(a, b))).max() > 1e-2


def test_per_head_gradients_reach_the_mixing_weights():
    a, b = _sets()
    layer = SoftMatching(num_heads=2, key_dim=3, combine="per_head")
    layer(a, b)
    layer.mixing_logits.assign(np.array([0.3, -0.3], "float32"))
    _assert_every_weight_gets_a_gradient(layer, a, b, num_weights=3, floor=1e-6)


def test_per_head_config_round_trip_and_saving(tmp_path):
    a, b = _sets()
    in_a, in_b = keras.Input((5, 6)), keras.Input((5, 7))
    layer = SoftMatching(num_heads=2, key_dim=3, num_iters=7, combine="per_head", name="mix")
    model = keras.Model([in_a, in_b], layer(in_a, in_b))
    layer.mixing_logits.assign(np.array([0.7, -0.2], "float32"))
    assert SoftMatching.from_config(layer.get_config()).combine == "per_head"
    path = tmp_path / "mixture.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded([a, b]), model([a, b]), atol=1e-6)


@pytest.mark.parametrize("combine", ["mean", "", None, 1, "SUM"])
def test_bad_combine(combine):
    with pytest.raises(ValueError, match="`combine`"):
        SoftMatching(num_heads=2, key_dim=2, combine=combine)


def test_per_head_mode_rejects_non_finite_sets():
    a, b = _sets()
    a[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="`logits` must be finite"):
        SoftMatching(num_heads=2, key_dim=2, combine="per_head")(a, b)


def test_symbolic_logits_are_traced_on_every_backend():
    # A functional model, or plot_model_blocks tracing a model, calls sinkhorn on
    # KerasTensors; on JAX, bool() of one raises ValueError, not TypeError.
    logits = keras.Input((3, 4))
    assert tuple(sinkhorn(logits, 0.5, 3).shape) == (None, 3, 4)
