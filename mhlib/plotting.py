"""The book's figure style and the per-head attention-map figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

STYLE: dict[str, object] = {
    "figure.dpi": 200,
    "savefig.dpi": 200,
    "figure.figsize": (6.4, 4.0),
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "axes.prop_cycle": mpl.cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    ),
}
"""Matplotlib rc settings every figure of the book uses (a colour-blind-safe cycle)."""


def use_book_style() -> None:
    """Applies `STYLE` to matplotlib's global rc settings."""
    mpl.rcParams.update(STYLE)


def plot_attention_heads(
    scores,
    *,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    head_names: Sequence[str] | None = None,
    title: str | None = None,
    vmax: float | None = None,
    panel_size: float = 2.6,
) -> plt.Figure:
    """Draws one attention map per head, side by side, with labelled axes.

    Args:
        scores: array of shape `(H, T, S)` (one example) or `(1, H, T, S)`: the
            attention weights of `H` heads from `T` queries to `S` keys.
        query_labels: `T` tick labels for the query axis (rows).
        key_labels: `S` tick labels for the key axis (columns).
        head_names: `H` panel titles; default "head 0", "head 1", ...
        title: a title over all panels.
        vmax: the top of the shared colour scale; default the largest weight.
        panel_size: width and height of one panel, in inches.

    Returns:
        The `matplotlib.figure.Figure`, one panel per head and one colour bar.

    Raises:
        ValueError: if `scores` is not of shape `(H, T, S)` or `(1, H, T, S)`,
            or a label list has the wrong length.
    """
    scores = np.asarray(scores)
    if scores.ndim == 4 and scores.shape[0] == 1:
        scores = scores[0]
    if scores.ndim != 3:
        raise ValueError(
            f"`scores` must have shape (H, T, S) or (1, H, T, S); got {scores.shape}"
        )
    num_heads, num_queries, num_keys = scores.shape
    for name, labels, expected in (
        ("query_labels", query_labels, num_queries),
        ("key_labels", key_labels, num_keys),
        ("head_names", head_names, num_heads),
    ):
        if labels is not None and len(labels) != expected:
            raise ValueError(f"`{name}` must have {expected} entries; got {len(labels)}")
    head_names = head_names or [f"head {h}" for h in range(num_heads)]
    vmax = float(scores.max()) if vmax is None else vmax

    with mpl.rc_context(STYLE | {"axes.grid": False}):
        fig, axes = plt.subplots(
            1,
            num_heads,
            figsize=(panel_size * num_heads + 0.8, panel_size + 0.4),
            squeeze=False,
            constrained_layout=True,
        )
        for h, ax in enumerate(axes[0]):
            image = ax.imshow(scores[h], vmin=0.0, vmax=vmax, aspect="auto")
            ax.set_title(head_names[h])
            ax.set_xlabel("key position")
            if h == 0:
                ax.set_ylabel("query position")
            if key_labels is not None:
                ax.set_xticks(range(num_keys), key_labels, rotation=90, fontsize=7)
            if query_labels is not None:
                ax.set_yticks(range(num_queries), query_labels if h == 0 else [], fontsize=7)
        fig.colorbar(image, ax=axes[0].tolist(), label="attention weight", shrink=0.9)
        if title:
            fig.suptitle(title)
    return fig
