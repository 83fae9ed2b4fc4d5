import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mhlib.plotting import STYLE, plot_attention_heads, use_book_style  # noqa: E402


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
