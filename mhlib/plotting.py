"""The book's figure style, per-head attention maps and block diagrams of Keras models."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

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
    columns: int = 3,
) -> plt.Figure:
    """Draws one attention map per head, at most `columns` to a row, with labelled axes.

    Args:
        scores: array of shape `(H, T, S)` (one example) or `(1, H, T, S)`: the
            attention weights of `H` heads from `T` queries to `S` keys.
        query_labels: `T` tick labels for the query axis (rows).
        key_labels: `S` tick labels for the key axis (columns).
        head_names: `H` panel titles; default "head 0", "head 1", ...
        title: a title over all panels.
        vmax: the top of the shared colour scale; default the largest weight.
        panel_size: width and height of one panel, in inches.
        columns: panels per row; more heads wrap onto further rows, so that
            each panel stays legible on a page.

    Returns:
        The `matplotlib.figure.Figure`, one panel per head (the first `H` of
        `fig.axes`, row by row) and one colour bar.

    Raises:
        ValueError: if `scores` is not of shape `(H, T, S)` or `(1, H, T, S)`,
            or a label list has the wrong length, or `columns` is below 1.
    """
    if columns < 1:
        raise ValueError(f"`columns` must be at least 1; got {columns}")
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
        num_columns = min(columns, num_heads)
        num_rows = -(-num_heads // num_columns)
        fig, axes = plt.subplots(
            num_rows,
            num_columns,
            figsize=(panel_size * num_columns + 0.8, (panel_size + 0.4) * num_rows),
            squeeze=False,
            constrained_layout=True,
        )
        for unused in axes.ravel()[num_heads:]:
            unused.remove()
        panels = axes.ravel()[:num_heads]
        for h, ax in enumerate(panels):
            first_column = h % num_columns == 0
            image = ax.imshow(scores[h], vmin=0.0, vmax=vmax, aspect="auto")
            ax.set_title(head_names[h])
            ax.set_xlabel("key position")
            if first_column:
                ax.set_ylabel("query position")
            if key_labels is not None:
                ax.set_xticks(range(num_keys), key_labels, rotation=90, fontsize=8)
            if query_labels is not None:
                labels = query_labels if first_column else []
                ax.set_yticks(range(num_queries), labels, fontsize=8)
        fig.colorbar(image, ax=panels.tolist(), label="attention weight", shrink=0.9)
        if title:
            fig.suptitle(title)
    return fig


BLOCK_COLOURS = {"input": "#E8E8E8", "attention": "#CFE3F2", "other": "#FFFFFF"}
"""Fill colours of the diagram's boxes: model inputs, attention layers, other layers."""


@dataclass
class _Block:
    """One layer of a model's diagram: its box's text and kind, and the arrows into it."""

    name: str
    text: str
    kind: str  # a key of BLOCK_COLOURS
    parents: list[tuple[str, str]]  # (parent layer, the call argument it feeds)


def _keras_tensor_sources(node) -> list[str]:
    """Names of the layers that produced the Keras tensors found anywhere in `node`."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [node["config"]["keras_history"][0]]
        return [name for value in node.values() for name in _keras_tensor_sources(value)]
    if isinstance(node, list | tuple):
        return [name for value in node for name in _keras_tensor_sources(value)]
    return []


def _input_names(node) -> list[str]:
    """Layer names in a functional config's `input_layers` (a list, dict or one [name, i, j])."""
    if isinstance(node, list | tuple) and node and isinstance(node[0], str):
        return [node[0]]
    values = node.values() if isinstance(node, dict) else node
    return [name for value in values for name in _input_names(value)]


def _block_text(model: keras.Model, layer_config: dict) -> tuple[str, str]:
    """The lines printed in a layer's box, and the kind of box."""
    name = layer_config["config"]["name"]
    if layer_config["class_name"] == "InputLayer":
        return f"{name}\nInput\n{tuple(layer_config['config']['batch_shape'])}", "input"
    layer = model.get_layer(name)
    shapes = ", ".join(str(tuple(t.shape)) for t in keras.tree.flatten(layer.output))
    lines, kind = [name, type(layer).__name__, shapes], "other"
    details = layer.get_config()
    if "num_heads" in details and "key_dim" in details:
        heads = details["num_heads"]
        lines.append(f"{heads} head{'s' if heads != 1 else ''} × {details['key_dim']}")
        kind = "attention"
    if layer.count_params():
        lines.append(f"{layer.count_params():,} parameters")
    return "\n".join(lines), kind


def _blocks(model: keras.Model) -> list[_Block]:
    """The layers of a built model, inputs first, every layer after the layers it reads."""
    config = model.get_config()
    layers = config.get("layers", [])
    if isinstance(model, keras.Sequential):
        names = [layer["config"]["name"] for layer in layers]
        parents = [[]] + [[(parent, "")] for parent in names[:-1]]
        return [
            _Block(name, *_block_text(model, layer), edges)
            for name, layer, edges in zip(names, layers, parents, strict=True)
        ]
    if not layers or not all("inbound_nodes" in layer for layer in layers):
        raise ValueError(
            "`model` must be a functional or Sequential Keras model (a subclassed model "
            f"has no layer graph to draw); got {type(model).__name__}"
        )
    # Inputs first, in the order the model takes them.
    order = {name: i for i, name in enumerate(_input_names(config["input_layers"]))}
    blocks = []
    for layer in sorted(layers, key=lambda c: order.get(c["name"], len(order))):
        arguments = list(inspect.signature(model.get_layer(layer["name"]).call).parameters)
        edges = []
        for node in layer["inbound_nodes"]:
            for position, value in enumerate(node.get("args", [])):
                role = arguments[position] if position < len(arguments) else ""
                edges += [(source, role) for source in _keras_tensor_sources(value)]
            for role, value in node.get("kwargs", {}).items():
                edges += [(source, role) for source in _keras_tensor_sources(value)]
        blocks.append(_Block(layer["name"], *_block_text(model, layer), list(dict.fromkeys(edges))))
    return blocks


def _layout(blocks: list[_Block], pitch: float) -> tuple[dict, dict, tuple[float, float]]:
    """Box centres and heights (inches) in rows by depth, and the diagram's width and height."""
    height = {b.name: 0.19 * (b.text.count("\n") + 1) + 0.2 for b in blocks}
    depth: dict[str, int] = {}
    for block in blocks:
        depth[block.name] = 1 + max((depth[p] for p, _ in block.parents), default=-1)
    rows: list[list[_Block]] = [[] for _ in range(max(depth.values()) + 1)]
    for block in blocks:
        rows[depth[block.name]].append(block)
    column: dict[str, float] = {}
    top, centre = 0.0, {}
    for row in rows:
        # A box sits under the mean position of the boxes it reads, which keeps arrows short.
        row.sort(key=lambda b: np.mean([column[p] for p, _ in b.parents] or [0.0]))
        for i, block in enumerate(row):
            column[block.name] = i - (len(row) - 1) / 2
            centre[block.name] = (column[block.name] * pitch, -top - height[block.name] / 2)
        top += max(height[b.name] for b in row) + 0.55
    return centre, height, (max(len(row) for row in rows) * pitch, top - 0.45)


def plot_model_blocks(
    model: keras.Model,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    box_width: float = 1.9,
) -> plt.Figure:
    """Draws the layer graph of a Keras model: one labelled box per layer, arrows between.

    The diagram is read from the model itself (its layers, their output shapes and
    parameter counts, and the call graph its config records), so it cannot drift
    from the code. Data flow top to bottom; an arrow into a layer that takes
    several inputs is labelled with the call argument it feeds (for
    `MultiHeadAttention`: query, key, value). Attention layers (any layer whose
    config has `num_heads` and `key_dim`) also show "heads × key size" and are
    shaded blue; inputs are shaded grey.

    Args:
        model: a built functional or Sequential `keras.Model`.
        ax: the axes to draw into; by default a new figure of the diagram's size.
            The diagram is drawn in inches of data units, so a given axes should
            be about `box_width + 0.35` inches wide per box of the widest row.
        title: a title over the diagram.
        box_width: the width of one box, in inches.

    Returns:
        The figure. Each box is a `FancyBboxPatch` whose gid is the layer's name,
        each arrow a `FancyArrowPatch` whose gid is `"parent->child"`.

    Raises:
        ValueError: if `model` is not a built functional or Sequential model.

    Example:

    >>> import keras
    >>> tokens = keras.Input((5, 8), name="tokens")
    >>> mixed = keras.layers.MultiHeadAttention(2, 4, name="attention")(tokens, tokens)
    >>> fig = plot_model_blocks(keras.Model(tokens, mixed))
    >>> [text.get_text().splitlines()[0] for text in fig.axes[0].texts]
    ['tokens', 'attention', 'query', 'value']
    >>> fig.axes[0].texts[1].get_text().splitlines()[1:]
    ['MultiHeadAttention', '(None, 5, 8)', '2 heads × 4', '288 parameters']
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model; got {type(model).__name__}")
    if not model.built:
        raise ValueError("`model` must be built (call it once, or give it an Input) to be drawn")
    blocks = _blocks(model)
    pitch = box_width + 0.35
    centre, height, (width, depth) = _layout(blocks, pitch)
    children = {b.name: [c.name for c in blocks if b.name in dict(c.parents)] for b in blocks}

    def spread(count: int, index: int) -> float:
        """Horizontal offset of the `index`-th of `count` arrow ends on one edge of a box."""
        return (index - (count - 1) / 2) * min(0.3, box_width / (count + 1))

    with mpl.rc_context(STYLE | {"axes.grid": False}):
        if ax is None:
            title_space = 0.4 if title else 0.0
            fig = plt.figure(figsize=(width, depth + 0.2 + title_space))
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - title_space / fig.get_figheight()))
        for block in blocks:
            x, y = centre[block.name]
            ax.add_patch(
                FancyBboxPatch(
                    (x - box_width / 2, y - height[block.name] / 2),
                    box_width,
                    height[block.name],
                    boxstyle="round,pad=0,rounding_size=0.08",
                    facecolor=BLOCK_COLOURS[block.kind],
                    edgecolor="#555555",
                    gid=block.name,
                )
            )
            ax.text(x, y, block.text, ha="center", va="center", linespacing=1.25)
        for block in blocks:
            incoming = sorted(block.parents, key=lambda edge: centre[edge[0]][0])
            label_roles = len({role for _, role in incoming}) > 1
            for index, (parent, role) in enumerate(incoming):
                siblings = sorted(children[parent], key=lambda name: centre[name][0])
                (px, py), (cx, cy) = centre[parent], centre[block.name]
                start = (px + spread(len(siblings), siblings.index(block.name)),
                         py - height[parent] / 2)
                end = (cx + spread(len(incoming), index), cy + height[block.name] / 2)
                ax.add_patch(
                    FancyArrowPatch(
                        start, end, arrowstyle="-|>", mutation_scale=12, color="#555555",
                        shrinkA=0, shrinkB=0, gid=f"{parent}->{block.name}",
                    )
                )
                if label_roles:
                    ax.text(
                        (start[0] + end[0]) / 2, (start[1] + end[1]) / 2, role,
                        ha="center", va="center", style="italic",
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
                    )
        ax.set_xlim(-width / 2, width / 2)
        ax.set_ylim(-depth - 0.1, 0.1)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title)
    return ax.figure
