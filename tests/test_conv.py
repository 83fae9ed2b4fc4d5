import keras
import numpy as np
import pytest

from mhlib.conv import LOGIT_GAP, PixelTokens, attention_conv2d, attention_inception, head_shifts


def _conv2d(kernel, bias, images):
    """Keras's own Conv2D(padding="same") with the given weights."""
    conv = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[0], padding="same")
    conv.build(images.shape)
    conv.set_weights([kernel, np.zeros(kernel.shape[-1], "float32") if bias is None else bias])
    return keras.ops.convert_to_numpy(conv(images))


def _random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize(
    "size,in_channels,out_channels,height,width",
    [
        (1, 1, 1, 5, 4),
        (1, 3, 5, 6, 6),
        (3, 1, 2, 7, 5),
        (3, 3, 8, 8, 9),
        (5, 2, 3, 6, 7),
        (5, 4, 1, 9, 9),
        (3, 6, 4, 2, 3),
        (5, 1, 2, 3, 2),
    ],
)
def test_equals_conv2d_everywhere(size, in_channels, out_channels, height, width):
    seed = size * 100 + in_channels * 10 + out_channels
    kernel = _random((size, size, in_channels, out_channels), seed)
    bias = _random((out_channels,), seed + 1)
    images = _random((2, height, width, in_channels), seed + 2)
    outputs = keras.ops.convert_to_numpy(attention_conv2d(kernel, bias)(images))
    expected = _conv2d(kernel, bias, images)
    assert outputs.shape == expected.shape == (2, height, width, out_channels)
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=1e-4)


def test_borders_see_zero_padding():
    """An all-ones kernel on an all-ones image counts each pixel's in-image neighbours."""
    outputs = attention_conv2d(np.ones((3, 3, 1, 1), "float32"))(np.ones((1, 4, 5, 1), "float32"))
    expected = np.full((4, 5), 9.0)
    expected[[0, -1], :] = 6.0
    expected[:, [0, -1]] = 6.0
    expected[[0, 0, -1, -1], [0, -1, 0, -1]] = 4.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs)[0, ..., 0], expected, atol=1e-5)


def test_one_model_works_for_every_image_size():
    kernel, bias = _random((3, 3, 2, 3), 7), _random((3,), 8)
    model = attention_conv2d(kernel, bias)
    for height, width in [(4, 4), (7, 3), (1, 1)]:
        images = _random((1, height, width, 2), height * width)
        np.testing.assert_allclose(model(images), _conv2d(kernel, bias, images), atol=1e-4)


def test_each_head_is_one_hot_at_its_shift():
    model = attention_conv2d(_random((3, 3, 2, 2), 3))
    images = _random((1, 5, 6, 2), 4)
    queries, keys = model.get_layer("tokens")(images)
    _, scores = model.get_layer("attention")(queries, keys, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)[0]  # (heads, T, S)
    assert scores.shape == (9, 5 * 6, 7 * 8)
    rows, cols = np.divmod(np.arange(5 * 6), 6)
    for h, (dy, dx) in enumerate(head_shifts(3)):
        # query pixel (r, c) sits at (r + 1, c + 1) of the padded 7 x 8 grid
        target = (rows + 1 + dy) * 8 + (cols + 1 + dx)
        np.testing.assert_array_equal(scores[h].argmax(axis=-1), target)
        np.testing.assert_allclose(scores[h].max(axis=-1), 1.0, atol=1e-6)
    assert np.exp(-LOGIT_GAP) < 1e-12


def test_branches_concatenate_like_inception():
    kernels = [_random((k, k, 3, c), k) for k, c in [(1, 2), (3, 4), (5, 3)]]
    biases = [_random((2,), 1), None, _random((3,), 2)]
    images = _random((2, 6, 7, 3), 9)
    model = attention_inception(kernels, biases)
    assert model.get_layer("attention").num_heads == 1 + 9 + 25
    expected = np.concatenate(
        [_conv2d(k, b, images) for k, b in zip(kernels, biases, strict=True)], axis=-1
    )
    np.testing.assert_allclose(model(images), expected, rtol=0, atol=1e-4)


def test_pixel_tokens_hold_content_then_position():
    images = _random((1, 2, 3, 2), 5)
    queries, keys = PixelTokens(1, 2)(images)
    queries, keys = (keras.ops.convert_to_numpy(t)[0] for t in (queries, keys))
    assert queries.shape == (6, 5) and keys.shape == (4 * 5, 5)
    np.testing.assert_allclose(queries[:, :2], images[0].reshape(6, 2))
    np.testing.assert_allclose(queries[4, 2:], [2.0, 2.0, 8.0])  # pixel (1, 1) -> grid (2, 2)
    np.testing.assert_allclose(keys[0], [0.0, 0.0, 0.0, 0.0, 0.0])  # padded corner
    np.testing.assert_allclose(keys[-1, 2:], [3.0, 4.0, 25.0])


def test_saved_model_loads_and_agrees(tmp_path):
    kernels = [_random((1, 1, 2, 2), 1), _random((3, 3, 2, 1), 2)]
    model = attention_inception(kernels)
    images = _random((1, 4, 5, 2), 3)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(images), model(images), atol=1e-6)


@pytest.mark.parametrize(
    "shape",
    [(2, 2, 1, 1), (4, 4, 3, 2), (3, 5, 1, 1), (3, 3, 1), (3, 3, 0, 2), (1, 3, 3, 1, 1)],
    ids=["even-2", "even-4", "not-square", "rank-3", "no-channels", "rank-5"],
)
def test_bad_kernel_shape_names_the_argument(shape):
    with pytest.raises(ValueError, match="`kernel`"):
        attention_conv2d(np.ones(shape, "float32"))


def test_non_finite_kernel_is_rejected():
    kernel = np.ones((3, 3, 1, 1), "float32")
    kernel[1, 1] = np.nan
    with pytest.raises(ValueError, match="`kernel`.*finite"):
        attention_conv2d(kernel)


def test_bias_of_wrong_length_names_the_argument():
    with pytest.raises(ValueError, match=r"`bias` must have shape \(4,\)"):
        attention_conv2d(np.ones((3, 3, 2, 4), "float32"), np.zeros(3))


def test_branches_must_share_input_channels():
    kernels = [np.ones((1, 1, 3, 2), "float32"), np.ones((3, 3, 4, 2), "float32")]
    with pytest.raises(ValueError, match=r"`kernels\[1\]` has 4 input channels"):
        attention_inception(kernels)


def test_branch_errors_name_the_entry():
    with pytest.raises(ValueError, match=r"`kernels\[1\]`.*odd K"):
        attention_inception([np.ones((1, 1, 2, 2)), np.ones((2, 2, 2, 2))])


def test_one_kernel_and_several_are_two_functions():
    kernel = np.ones((3, 3, 1, 1), "float32")
    with pytest.raises(ValueError, match="attention_inception"):
        attention_conv2d([kernel])
    with pytest.raises(ValueError, match="attention_conv2d"):
        attention_inception(kernel)
    with pytest.raises(ValueError, match="non-empty"):
        attention_inception([])
    with pytest.raises(ValueError, match="one entry per kernel"):
        attention_inception([kernel], biases=[None, None])
    with pytest.raises(ValueError, match="one entry per kernel"):
        attention_inception([np.ones((1, 1, 2, 2)), np.ones((3, 3, 2, 2))], [None])
    with pytest.raises(ValueError, match=r"`biases\[0\]`"):
        attention_inception([np.ones((1, 1, 2, 2)), np.ones((3, 3, 2, 2))], [np.ones(3), None])


def test_images_with_other_channel_count_are_rejected():
    model = attention_conv2d(np.ones((3, 3, 3, 2), "float32"))
    with pytest.raises(ValueError, match="images"):
        model(np.ones((1, 4, 4, 2), "float32"))


@pytest.mark.parametrize("size", [0, 2, -1, 1.0, True])
def test_head_shifts_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="`kernel_size`"):
        head_shifts(size)


def test_head_shifts_are_row_major_offsets():
    assert head_shifts(1) == [(0, 0)]
    assert head_shifts(3)[0] == (-1, -1) and head_shifts(3)[5] == (0, 1)
