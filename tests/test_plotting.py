import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from mhlib.plotting import (  # noqa: E402
    BLOCK_COLOURS,
    STYLE,
    plot_attention_heads,
    plot_model_blocks,
    use_book_style,
)


def test_one_labelled_panel_per_head():
    scores = np.random.default_rng(0).dirichlet(np.ones(5), size=(3, 4))
    fig = plot_attention_heads(
        scores, key_labels=list("abcde"), head_names=["x", "y", "z"], title="t"
    )
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == ["x", "y", "z"]
    assert all(ax.get_xlabel() == "key position" for ax in panels)
    assert panels[0].get_ylabel() == "query position"
    assert [t.get_text() for t in panels[1].get_xticklabels()] == list("abcde")
    assert len(fig.axes) == 4  # three heads and the colour bar
    plt.close(fig)


def test_more_heads_than_columns_wrap_onto_rows():
    fig = plot_attention_heads(np.full((5, 3, 3), 1 / 3), columns=3)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 5  # the sixth cell of the 2 x 3 grid is removed
    rows = sorted({round(ax.get_position().y0, 3) for ax in panels})
    assert len(rows) == 2
    assert [ax.get_ylabel() for ax in panels] == ["query position", "", "", "query position", ""]
    with pytest.raises(ValueError, match="`columns`"):
        plot_attention_heads(np.full((2, 3, 3), 1 / 3), columns=0)
    plt.close(fig)


def test_batch_of_one_is_accepted():
    fig = plot_attention_heads(np.full((1, 2, 3, 3), 1 / 3))
    assert len(fig.axes) == 3
    plt.close(fig)


@pytest.mark.parametrize("shape", [(4, 4), (2, 2, 4, 4), (1, 1, 1, 1, 1)])
def test_bad_shape_names_the_argument(shape):
    with pytest.raises(ValueError, match="`scores`"):
        plot_attention_heads(np.zeros(shape))


def test_bad_labels_name_the_argument():
    with pytest.raises(ValueError, match="`key_labels`"):
        plot_attention_heads(np.zeros((1, 2, 3)), key_labels=["a"])


def test_style_is_applied():
    use_book_style()
    assert matplotlib.rcParams["axes.spines.top"] is STYLE["axes.spines.top"]


def _diagram(fig) -> tuple[dict, dict, list[str]]:
    """Boxes by layer name, arrows by "parent->child", and every text of a diagram."""
    (ax,) = fig.axes
    boxes = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyBboxPatch)}
    arrows = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyArrowPatch)}
    return boxes, arrows, [t.get_text() for t in ax.texts]


def _lookup_model(num_heads: int, key_dim: int) -> keras.Model:
    query = keras.Input((1, 6), name="query")
    keys = keras.Input((4, 6), name="keys")
    values = keras.Input((4, 1), name="values")
    attention = keras.layers.MultiHeadAttention(
        num_heads, key_dim, output_shape=2, name="attention"
    )
    return keras.Model([query, keys, values], attention(query, values, key=keys))


def test_cross_attention_model_is_drawn_box_by_box_with_labelled_arguments():
    fig = plot_model_blocks(_lookup_model(num_heads=2, key_dim=3), title="lookup")
    boxes, arrows, texts = _diagram(fig)
    assert list(boxes) == ["query", "keys", "values", "attention"]
    assert set(arrows) == {"query->attention", "keys->attention", "values->attention"}
    assert texts[:3] == ["query\nInput\n(None, 1, 6)", "keys\nInput\n(None, 4, 6)",
                         "values\nInput\n(None, 4, 1)"]
    params = _lookup_model(2, 3).get_layer("attention").count_params()
    assert texts[3].splitlines() == [
        "attention", "MultiHeadAttention", "(None, 1, 2)", "2 heads × 3", f"{params} parameters"
    ]
    assert texts[4:] == ["query", "key", "value"]  # arrows labelled with call arguments
    assert boxes["attention"].get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(BLOCK_COLOURS["attention"])
    )
    assert fig.axes[0].get_title() == "lookup"
    plt.close(fig)


def test_inputs_sit_above_the_layer_they_feed_in_the_order_the_model_takes_them():
    boxes, _, _ = _diagram(plot_model_blocks(_lookup_model(1, 6)))
    top_of_attention = boxes["attention"].get_y() + boxes["attention"].get_height()
    inputs = [boxes[name] for name in ("query", "keys", "values")]
    assert all(box.get_y() > top_of_attention for box in inputs)
    assert [box.get_x() for box in inputs] == sorted(box.get_x() for box in inputs)
    plt.close("all")


def test_a_model_taking_a_dict_of_inputs_is_drawn_in_the_dict_order():
    tokens, memory = keras.Input((3, 4), name="tokens"), keras.Input((5, 4), name="memory")
    attention = keras.layers.MultiHeadAttention(1, 2, name="attention")
    model = keras.Model({"memory": memory, "tokens": tokens}, attention(tokens, memory))
    boxes, arrows, texts = _diagram(plot_model_blocks(model))
    assert list(boxes) == ["memory", "tokens", "attention"]
    assert set(arrows) == {"memory->attention", "tokens->attention"}
    assert texts[3:] == ["value", "query"]  # from left to right: memory, then tokens
    plt.close("all")


def test_one_head_is_singular_and_branches_get_their_own_row():
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    added = keras.layers.Add(name="add")([a, b])
    hidden = keras.layers.Dense(4, name="hidden")(added)
    model = keras.Model([a, b], [keras.layers.Dense(2, name="out")(hidden), added])
    boxes, arrows, texts = _diagram(plot_model_blocks(model))
    assert set(arrows) == {"a->add", "b->add", "add->hidden", "hidden->out"}
    assert "16 parameters" in texts[3] and "parameters" not in texts[2]
    assert "inputs" not in texts, "one call argument: arrows need no label"
    rows = sorted({round(box.get_y(), 3) for box in boxes.values()}, reverse=True)
    assert len(rows) == 4
    one_head = _diagram(plot_model_blocks(_lookup_model(1, 6)))[2][3]
    assert "1 head × 6" in one_head.splitlines()
    plt.close("all")


def test_sequential_model_is_a_chain():
    layers = [keras.layers.Dense(3, name="h"), keras.layers.Dense(2, name="y")]
    model = keras.Sequential([keras.Input((4,), name="x"), *layers])
    boxes, arrows, _ = _diagram(plot_model_blocks(model))
    assert list(boxes) == ["x", "h", "y"]
    assert set(arrows) == {"x->h", "h->y"}
    plt.close("all")


def test_given_axes_is_drawn_into():
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_model_blocks(_lookup_model(2, 3), ax=right) is fig
    assert not left.patches and right.patches
    plt.close(fig)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_models_without_a_graph_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="`model` must be a keras.Model"):
        plot_model_blocks(keras.layers.Dense(2))
    with pytest.raises(ValueError, match="`model` must be built"):
        plot_model_blocks(keras.Sequential([keras.layers.Dense(2)]))
    subclassed = _Subclassed()
    subclassed(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="subclassed model .* give `inputs`"):
        plot_model_blocks(subclassed)
    with pytest.raises(ValueError, match="graph of its own: leave `inputs` out"):
        plot_model_blocks(_lookup_model(1, 6), np.zeros((1, 1, 6)))


class _Residual(keras.layers.Layer):
    """A layer of our own holding an attention layer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = keras.layers.MultiHeadAttention(2, 4)

    def call(self, h):
        return h + self.attention(h, h)


class _Tagger(keras.Model):
    """Embedding, three residual attention layers, a masked sum, a Sequential head."""

    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(10, 8, name="embedding")
        self.blocks = [_Residual(name=f"block_{i}") for i in range(3)]
        self.head = keras.Sequential(
            [keras.layers.Dense(4), keras.layers.Dense(1)], name="head"
        )

    def call(self, inputs):
        tokens, flags = inputs
        h = self.embedding(tokens)
        for block in self.blocks:
            h = block(h)
        at_flag = keras.ops.cast(keras.ops.equal(flags, 1), h.dtype)[..., None]
        return self.head(keras.ops.sum(h * at_flag, axis=1))


def test_subclassed_model_is_traced_through_its_call():
    model = _Tagger()
    data = [np.zeros((2, 5), "int32"), np.zeros((2, 5), "int32")]
    model(data)
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    flags = keras.Input((5,), dtype="int32", name="flags")
    boxes, arrows, texts = _diagram(plot_model_blocks(model, [tokens, flags]))
    # Three blocks of one class feeding one another fold into one box; raw
    # operations in a row fold into one dashed box.
    assert list(boxes) == [
        "tokens", "flags", "embedding", "block_0", "equal", "multiply", "head"
    ]
    assert {"tokens->embedding", "embedding->block_0", "flags->equal",
            "block_0->multiply", "equal->multiply", "multiply->head"} == set(arrows)
    by_name = dict(zip(boxes, texts, strict=False))
    assert by_name["block_0"].splitlines() == [
        "block_0 … block_2", "_Residual × 3", "(None, 5, 8)",
        "inside: MultiHeadAttention", "2 heads × 4",
        f"{3 * model.blocks[0].count_params():,} parameters in all",
    ]
    assert by_name["equal"] == "equal → cast → get_item"
    assert by_name["multiply"] == "multiply → sum"
    assert "Dense → Dense" in by_name["head"].splitlines()
    assert boxes["equal"].get_linestyle() == "--"
    assert boxes["block_0"].get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(BLOCK_COLOURS["attention"])
    )
    # A batch of data does as well as Inputs: only shapes and dtypes are read.
    boxes, _, texts = _diagram(plot_model_blocks(model, data))
    assert list(boxes)[:2] == ["input_0", "input_1"]
    assert texts[0] == "input_0\nInput\n(None, 5)"
    plt.close("all")


def test_two_layers_of_one_class_stay_two_boxes():
    inputs = keras.Input((3,), name="x")
    hidden = keras.layers.Dense(4, name="h1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="h2")(hidden))
    boxes, arrows, _ = _diagram(plot_model_blocks(model))
    assert list(boxes) == ["x", "h1", "h2"] and set(arrows) == {"x->h1", "h1->h2"}
    plt.close("all")


def test_in_ipython_the_book_style_records_each_figures_smallest_text():
    import base64
    import io

    from IPython.core.interactiveshell import InteractiveShell
    from PIL import Image

    from mhlib.plotting import DPI_KEY, SMALLEST_TEXT_KEY

    shell = InteractiveShell.instance()
    try:
        use_book_style()
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.set_title("a title", fontsize=14)
        ax.set_xlabel("a label", fontsize=12)
        png = shell.display_formatter.formatters["image/png"](fig)
        info = Image.open(io.BytesIO(base64.b64decode(png))).info
        # The tick labels, at the style's 10 pt, are the smallest text drawn.
        assert info[SMALLEST_TEXT_KEY] == "10" and info[DPI_KEY] == "200"
        ax.set_xticks([]), ax.set_yticks([])
        png = shell.display_formatter.formatters["image/png"](fig)
        info = Image.open(io.BytesIO(base64.b64decode(png))).info
        assert info[SMALLEST_TEXT_KEY] == "12"
        plt.close(fig)
    finally:
        InteractiveShell.clear_instance()


def test_the_site_shows_each_figure_at_its_true_size(tmp_path):
    import base64
    import importlib.util
    import math
    import types
    from pathlib import Path

    from docutils import nodes

    from mhlib.plotting import DPI_KEY, figure_png

    path = Path(__file__).resolve().parents[1] / "book" / "_ext" / "figure_size.py"
    spec = importlib.util.spec_from_file_location("figure_size", path)
    figure_size = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figure_size)
    assert figure_size.DPI_KEY == DPI_KEY  # the build does not import mhlib

    fig, ax = plt.subplots(figsize=(3, 2), dpi=200)
    ax.plot([0, 1])
    (tmp_path / "figure.png").write_bytes(base64.b64decode(figure_png(fig)))
    plt.close(fig)
    fig, _ = plt.subplots(figsize=(3, 2), dpi=200)
    fig.savefig(tmp_path / "plain.png")  # no recorded dpi: left alone
    plt.close(fig)
    doctree = nodes.document(None, None)
    drawn, plain, sized = (
        nodes.image(uri="figure.png"),
        nodes.image(uri="plain.png"),
        nodes.image(uri="figure.png", width="50%"),
    )
    doctree += [drawn, plain, sized]
    figure_size._true_size(types.SimpleNamespace(srcdir=str(tmp_path)), doctree, "page")
    from PIL import Image

    with Image.open(tmp_path / "figure.png") as png:  # about 3 in at 200 dpi
        assert drawn["width"] == f"{math.ceil(png.width / 200 * 96)}px"
    assert "width" not in plain and sized["width"] == "50%"


class _Looped(keras.Model):
    """Two Dense layers with an unrolled loop of keras.ops calls between them."""

    def __init__(self):
        super().__init__()
        self.first = keras.layers.Dense(3, name="first")
        self.last = keras.layers.Dense(2, name="last")

    def call(self, x):
        h = self.first(x)
        for _ in range(5):
            h = keras.ops.exp(h) - keras.ops.logsumexp(h, axis=-1, keepdims=True)
        return self.last(h)


def test_an_unrolled_loop_of_operations_is_one_box_that_counts_them():
    model = _Looped()
    model(np.zeros((1, 4), "float32"))
    boxes, arrows, texts = _diagram(plot_model_blocks(model, np.zeros((1, 4))))
    assert len(boxes) == 4 and list(boxes)[1] == "first" and list(boxes)[3] == "last"
    folded = list(boxes)[2]
    assert set(arrows) == {"input_0->first", f"first->{folded}", f"{folded}->last"}
    assert texts[2].splitlines() == [
        "15 keras.ops calls", "exp ×5, logsumexp ×5, subtract ×5"
    ]
    assert boxes[folded].get_linestyle() == "--"
    plt.close("all")
