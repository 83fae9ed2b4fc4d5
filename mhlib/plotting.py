"""The book's figure style, per-head attention maps and block diagrams of Keras models."""

from __future__ import annotations

import base64
import inspect
import re
import struct
import textwrap
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

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


SMALLEST_TEXT_KEY = "mhbook:smallest-text-pt"
"""PNG text chunk of a notebook figure: the size (points) of the smallest text drawn."""

DPI_KEY = "mhbook:dpi"
"""PNG text chunk of a notebook figure: the pixels per figure inch it was rendered at."""


def use_book_style() -> None:
    """Applies `STYLE` to matplotlib's global rc settings, and in an IPython kernel
    renders figures with `figure_png` (so that each PNG records its smallest text)."""
    mpl.rcParams.update(STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing is displayed
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        # Let the inline backend set itself up first: it installs its own PNG
        # formatter when the first figure is made, which would replace this one.
        plt.close(plt.figure())
        formatter = shell.display_formatter.formatters["image/png"]
        formatter.for_type(plt.Figure, figure_png)


def _png_with_text(png: bytes, entries: dict[str, str]) -> bytes:
    """`png` with a tEXt chunk per entry, inserted before its first IDAT chunk (where
    readers look for text without decoding the image)."""
    chunks = b""
    for key, value in entries.items():
        body = b"tEXt" + key.encode("latin-1") + b"\0" + value.encode("latin-1")
        chunks += struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    start = png.index(b"IDAT") - 4  # a chunk starts with its length
    return png[:start] + chunks + png[start:]


def figure_png(fig: plt.Figure) -> str | None:
    """A figure as IPython's inline backend renders it (PNG, tight box, base64), plus two
    text chunks: the size of the smallest text that was drawn, in points
    (`SMALLEST_TEXT_KEY`), and the pixels per inch (`DPI_KEY`).

    With both, the website's test computes the size at which a figure's smallest text
    is seen on the page: points × dpi / 96 × shown width / natural width, in CSS
    points.

    >>> import base64, io, PIL.Image
    >>> fig, ax = plt.subplots(figsize=(2, 1), dpi=100)
    >>> _ = ax.set_title("big", fontsize=14); _ = ax.set_xlabel("small", fontsize=7)
    >>> info = PIL.Image.open(io.BytesIO(base64.b64decode(figure_png(fig)))).info
    >>> info[SMALLEST_TEXT_KEY], info[DPI_KEY]
    ('7', '100')
    >>> plt.close(fig)
    """
    from IPython.core.pylabtools import print_figure

    sizes: list[float] = []
    draw = mpl.text.Text.draw

    def recording_draw(text, renderer):
        if text.get_visible() and text.get_text().strip():
            sizes.append(text.get_fontsize())
        return draw(text, renderer)

    mpl.text.Text.draw = recording_draw
    try:
        png = print_figure(fig, "png")
    finally:
        mpl.text.Text.draw = draw
    if png is None:  # an empty figure shows nothing
        return None
    entries = {DPI_KEY: f"{fig.dpi:g}"}
    if sizes:
        entries[SMALLEST_TEXT_KEY] = f"{min(sizes):g}"
    return base64.b64encode(_png_with_text(png, entries)).decode("ascii")


def plot_attention_heads(
    scores,
    *,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    head_names: Sequence[str] | None = None,
    title: str | None = None,
    vmax: float | None = None,
    panel_size: float = 2.2,
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
                ax.set_xticks(range(num_keys), key_labels, rotation=90)
            if query_labels is not None:
                labels = query_labels if first_column else []
                ax.set_yticks(range(num_queries), labels)
        fig.colorbar(image, ax=panels.tolist(), label="attention weight", shrink=0.9)
        if title:
            fig.suptitle(title)
    return fig


BLOCK_COLOURS = {"input": "#E8E8E8", "attention": "#CFE3F2", "other": "#FFFFFF", "op": "#FFFFFF"}
"""Fill colours of the diagram's boxes: model inputs, attention layers, other layers and
raw operations (`keras.ops` calls between layers, drawn with a dashed edge)."""

GAP = 0.3
"""Inches between two boxes of a row."""

MAX_OPS = 6
"""A connected group of more raw operations than this (an unrolled loop of `keras.ops`
calls, such as Sinkhorn's iterations) is drawn as one box that counts them."""

MIN_CHAIN = 3
"""A chain of at least this many layers of one class, each feeding only the next, is
drawn as one box ("DecoderBlock × 30")."""


@dataclass
class _Block:
    """One box of a model's diagram: its text and kind, and the arrows into it."""

    name: str
    text: str
    kind: str  # a key of BLOCK_COLOURS
    parents: list[tuple[str, str]]  # (parent box, the call argument it feeds)


def _symbolic_inputs(inputs) -> object:
    """`keras.Input`s to trace a model with: those given, or ones shaped like the data."""
    names = iter(f"input_{i}" for i in range(10**6))

    def symbolic(x):
        if isinstance(x, keras.KerasTensor):
            return x
        x = np.asarray(x)
        return keras.Input(batch_shape=(None, *x.shape[1:]), dtype=x.dtype, name=next(names))

    return keras.tree.map_structure(symbolic, inputs)


def _own_graph(model: keras.Model) -> tuple[list, list] | None:
    """The inputs and outputs of a functional model's graph (a Sequential model's too)."""
    graph = getattr(model, "_functional", None) or model
    try:
        return (graph.inputs, graph.outputs) if graph.inputs else None
    except AttributeError:  # a subclassed model
        return None


def _producer(tensor) -> tuple[object, object]:
    """The operation that made a traced tensor, and the node (call) that made it."""
    operation, node_index, _ = tensor._keras_history
    return operation, operation._inbound_nodes[node_index]


def _trace(model: keras.Model, inputs) -> tuple[list, dict]:
    """The graph of one symbolic call of `model`: its operations and their nodes.

    A functional (or Sequential) model's own graph is read as it is. A subclassed
    model's `call` is run directly on `inputs` (not `model(...)`), so that each
    layer and each `keras.ops` call inside it records its own node instead of the
    whole model recording one.

    Returns:
        The operations, input layers first (in the order the model takes them),
        then every operation after those it reads; and each operation's nodes.
    """
    own = _own_graph(model)
    if own is not None and inputs is not None:
        raise ValueError("`model` has a graph of its own: leave `inputs` out")
    if own is None and inputs is None:
        raise ValueError(
            f"a subclassed model ({type(model).__name__}) has no graph of its own: "
            "give `inputs` (a batch of data or `keras.Input`s) to trace its call"
        )
    if own is not None:
        symbolic, outputs = own
    else:
        symbolic = _symbolic_inputs(inputs)
        outputs = model.call(symbolic)
    order, nodes = [_producer(x)[0] for x in keras.tree.flatten(symbolic)], {}
    for operation in order:
        nodes[id(operation)] = []

    def visit(tensor) -> None:
        operation, node = _producer(tensor)
        seen = nodes.setdefault(id(operation), [])
        if any(n is node for n in seen):
            return
        seen.append(node)
        for parent in node.arguments.keras_tensors:
            visit(parent)
        if operation not in order:
            order.append(operation)

    for output in keras.tree.flatten(outputs):
        if isinstance(output, keras.KerasTensor):
            visit(output)
    return order, nodes


def _short(shape: tuple) -> str:
    return str(tuple(shape))


def _attention_size(layer: keras.layers.Layer) -> tuple[int, int] | None:
    """(heads, key size) of the first attention layer in `layer` (itself or inside)."""
    for sublayer in [layer, *layer._flatten_layers(include_self=False, recursive=True)]:
        try:
            config = sublayer.get_config()
        except (NotImplementedError, TypeError):
            config = {}
        heads = config.get("num_heads", getattr(sublayer, "num_heads", None))
        size = config.get("key_dim", getattr(sublayer, "key_dim", None))
        size = size if size is not None else getattr(sublayer, "head_dim", None)
        if isinstance(heads, int) and isinstance(size, int):
            return heads, size
    return None


def _layer_text(layer: keras.layers.Layer, node, count: int = 1, last=None) -> tuple[str, str]:
    """The lines printed in a layer's box (a chain of `count` layers ending in `last`)."""
    if isinstance(layer, keras.layers.InputLayer):
        return f"{layer.name}\nInput\n{_short(node.outputs[0].shape)}", "input"
    kind = type(layer).__name__
    lines = [layer.name, kind]
    if count > 1:
        lines = [f"{layer.name} … {last.name}", f"{kind} × {count}"]
    outputs = (node if count == 1 else last._inbound_nodes[-1]).outputs
    shape = _short(outputs[0].shape)
    lines.append(shape if len(outputs) == 1 else f"{shape} + {len(outputs) - 1} more")
    inner = [
        sub
        for sub in layer._flatten_layers(include_self=False, recursive=False)
        if not isinstance(sub, keras.layers.InputLayer)
    ]
    if isinstance(layer, keras.Sequential):
        lines.append(" → ".join(type(sub).__name__ for sub in inner))
    elif (
        inner
        and not type(layer).__module__.startswith("keras.")
        and {keras.layers.Layer, keras.Model} & set(type(layer).__bases__)
    ):  # a layer of the book's own making, not a variant of a Keras layer
        inside = ", ".join(dict.fromkeys(type(s).__name__ for s in inner))
        lines += textwrap.wrap("inside: " + inside, width=34)
    size, block_kind = _attention_size(layer), "other"
    if size is not None:
        heads, key_size = size
        lines.append(f"{heads} head{'s' if heads != 1 else ''} × {key_size}")
        block_kind = "attention"
    params = layer.count_params() * count
    if params:
        lines.append(f"{params:,} parameters" + (" in all" if count > 1 else ""))
    return "\n".join(lines), block_kind


def _label(operation) -> str:
    """A raw operation's box text: its name without the numbering Keras adds."""
    return re.sub(r"_\d+$", "", operation.name)


def _blocks(model: keras.Model, inputs=None) -> list[_Block]:
    """The boxes of a built model's diagram, inputs first, every box after those it reads."""
    operations, nodes = _trace(model, inputs)
    name = {id(op): op.name for op in operations}
    edges, children = {}, {id(op): [] for op in operations}
    for op in operations:
        arguments = [
            p for p in inspect.signature(op.call).parameters if p not in ("self", "args")
        ]
        found = []
        for node in nodes[id(op)]:
            for position, value in enumerate(node.arguments.args):
                role = arguments[position] if position < len(arguments) else ""
                found += [(id(_producer(t)[0]), role) for t in _tensors(value)]
            for role, value in node.arguments.kwargs.items():
                found += [(id(_producer(t)[0]), role) for t in _tensors(value)]
        edges[id(op)] = list(dict.fromkeys(found))
        for parent, _ in edges[id(op)]:
            if id(op) not in children[parent]:
                children[parent].append(id(op))
    by_id = {id(op): op for op in operations}

    def single_parent(op) -> int | None:
        parents = {p for p, _ in edges[id(op)]}
        return next(iter(parents)) if len(parents) == 1 else None

    # Fold each connected group of more than MAX_OPS raw operations (an unrolled loop
    # of keras.ops calls between two layers) into one box.
    merged_into, chain, group_of = {}, {}, {}
    raw = [op for op in operations if not isinstance(op, keras.layers.Layer)]

    def root(key: int) -> int:
        while group_of[key] != key:
            key = group_of[key]
        return key

    for op in raw:
        group_of[id(op)] = id(op)
        for parent, _ in edges[id(op)]:
            if parent in group_of:
                group_of[root(parent)] = root(id(op))
    groups: dict[int, list] = {}
    for op in raw:
        groups.setdefault(root(id(op)), []).append(op)
    folded = {}
    for members in groups.values():
        if len(members) > MAX_OPS:
            folded[id(members[0])] = members
            merged_into.update({id(member): id(members[0]) for member in members[1:]})

    # Merge chains: raw operations into the raw operation they follow, and runs of
    # MIN_CHAIN or more layers of one class into one box.
    for op in operations:
        if id(op) in merged_into or id(op) in folded:
            continue
        parent = single_parent(op)
        if parent is None or len(children[parent]) != 1:
            continue
        head = merged_into.get(parent, parent)
        if not isinstance(op, keras.layers.Layer) and not isinstance(
            by_id[parent], keras.layers.Layer
        ):
            merged_into[id(op)] = head
        elif (
            isinstance(op, keras.layers.Layer)
            and type(by_id[parent]) is type(op)
            and not isinstance(op, keras.layers.InputLayer)
        ):
            chain.setdefault(head, [by_id[head]]).append(op)
            merged_into[id(op)] = head
    for head, members in list(chain.items()):
        if len(members) < MIN_CHAIN:  # too short to fold: undo
            for member in members[1:]:
                merged_into.pop(id(member))
            del chain[head]

    blocks = []
    for op in operations:
        if id(op) in merged_into:
            continue
        members = [o for o in operations if merged_into.get(id(o), id(o)) == id(op)]
        if isinstance(op, keras.layers.Layer):
            node = nodes[id(op)][0] if nodes[id(op)] else None
            text, kind = _layer_text(op, node, len(members), members[-1])
        elif id(op) in folded:
            counts = Counter(_label(member) for member in members)
            kinds = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in counts.most_common())
            lines = textwrap.wrap(kinds, width=34)
            text = "\n".join([f"{len(members)} keras.ops calls", *lines[:2]])
            text += " …" if len(lines) > 2 else ""
            kind = "op"
        else:
            text, kind = " → ".join(_label(member) for member in members), "op"
        outside = [  # the arrows into the box from other boxes
            (merged_into.get(parent, parent), role)
            for member in members
            for parent, role in edges[id(member)]
            if merged_into.get(parent, parent) != id(op)
        ]
        label_roles = isinstance(op, keras.layers.Layer) and len({r for _, r in outside}) > 1
        roles_by_parent: dict[int, list[str]] = {}
        for parent, role in outside:  # one arrow per parent, naming every argument it feeds
            roles_by_parent.setdefault(parent, []).append(role)
        parents = [
            (name[parent], ", ".join(dict.fromkeys(roles)) if label_roles else "")
            for parent, roles in roles_by_parent.items()
        ]
        blocks.append(_Block(op.name, text, kind, parents))
    return blocks


def _tensors(value) -> list:
    """The Keras tensors found anywhere in a call argument."""
    return [x for x in keras.tree.flatten(value) if isinstance(x, keras.KerasTensor)]


def _layout(
    blocks: list[_Block], widths: dict[str, float]
) -> tuple[dict, dict, dict, tuple[float, float]]:
    """Box centres and heights (inches) in rows by depth, the bends of long arrows, and
    the diagram's width and height.

    An arrow that skips rows passes through a narrow empty slot in each row it
    crosses (the "dummy nodes" of layered graph drawing), so it never runs through
    a box.
    """
    height = {b.name: 0.19 * (b.text.count("\n") + 1) + 0.2 for b in blocks}
    depth: dict[str, int] = {}
    for block in blocks:
        depth[block.name] = 1 + max((depth[p] for p, _ in block.parents), default=-1)
    rows: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    feeds: dict[str, list[str]] = {b.name: [p for p, _ in b.parents] for b in blocks}
    bends: dict[tuple[str, str], list[str]] = {}
    for block in blocks:
        rows[depth[block.name]].append(block.name)
        for parent, _ in block.parents:
            if (parent, block.name) in bends:  # one tensor fed to two arguments
                continue
            previous, slots = parent, []
            for row in range(depth[parent] + 1, depth[block.name]):
                slot = f"{parent}->{block.name}#{row}"
                rows[row].append(slot)
                feeds[slot], previous = [previous], slot
                slots.append(slot)
            feeds[block.name] = [previous if p == parent else p for p in feeds[block.name]]
            bends[(parent, block.name)] = slots
    slot_width = {  # a box and the gap beside it; a bend is a narrow slot
        name: widths[name] + GAP if name in height else 0.6 for row in rows for name in row
    }
    x: dict[str, float] = {}
    top, centre = 0.0, {}
    for row in rows:
        # A box sits under the mean position of the boxes it reads, which keeps arrows short.
        row.sort(key=lambda name: np.mean([x[p] for p in feeds[name]] or [0.0]))
        left = -sum(slot_width[name] for name in row) / 2
        row_height = max((height[name] for name in row if name in height), default=0.0)
        for name in row:
            x[name] = left + slot_width[name] / 2
            left += slot_width[name]
            centre[name] = (x[name], -top - height.get(name, row_height) / 2)
        top += row_height + 0.55
    width = max(sum(slot_width[name] for name in row) for row in rows)
    points = {
        edge: [centre[slot] for slot in slots] for edge, slots in bends.items()
    }
    return centre, height, points, (width, top - 0.45)


def plot_model_blocks(
    model: keras.Model,
    inputs=None,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    box_width: float = 1.5,
) -> plt.Figure:
    """Draws the layer graph of a Keras model: one labelled box per layer, arrows between.

    The diagram is read from the model itself: `model.call` is traced once on
    symbolic inputs, and every layer and every `keras.ops` call it makes becomes a
    box, with its output shape and parameter count. So it cannot drift from the
    code, and it works for functional, Sequential and subclassed models alike. Data
    flow top to bottom; an arrow into a layer that takes several inputs is labelled
    with the call argument it feeds (for `MultiHeadAttention`: query, key, value).
    Attention layers (any layer, or layer holding one, whose config or attributes
    give `num_heads` and `key_dim` or `head_dim`) also show "heads × key size" and
    are shaded blue; inputs are shaded grey; raw operations (a sum, a cast, ...)
    have a dashed edge, and a run of them is one box. A layer of the model's own
    making shows the classes inside it; a run of `MIN_CHAIN` or more layers of
    one class, each feeding only the next, is one box.

    Args:
        model: a built `keras.Model`.
        inputs: what `model` is called on: `keras.Input`s (their names label the
            input boxes) or a batch of data (only shapes and dtypes are read), in
            the structure `model.call` takes. Needed for a subclassed model; by
            default a functional or Sequential model's own inputs.
        ax: the axes to draw into; by default a new figure of the diagram's size.
            The diagram is drawn in inches of data units, so a given axes should
            be about `box_width + 0.3` inches wide per box of the widest row.
        title: a title over the diagram.
        box_width: the least width of a box, in inches; each box widens to fit
            their longest line.

    Returns:
        The figure. Each box is a `FancyBboxPatch` whose gid is the layer's name,
        each arrow a `FancyArrowPatch` whose gid is `"parent->child"`.

    Raises:
        ValueError: if `model` is not a built Keras model, or is a subclassed one
            and `inputs` is not given.

    Example:

    >>> import keras
    >>> tokens = keras.Input((5, 8), name="tokens")
    >>> mixed = keras.layers.MultiHeadAttention(2, 4, name="attention")(tokens, tokens)
    >>> fig = plot_model_blocks(keras.Model(tokens, mixed))
    >>> [text.get_text().splitlines()[0] for text in fig.axes[0].texts]
    ['tokens', 'attention', 'query, value']
    >>> fig.axes[0].texts[1].get_text().splitlines()[1:]
    ['MultiHeadAttention', '(None, 5, 8)', '2 heads × 4', '288 parameters']
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model; got {type(model).__name__}")
    if not model.built:
        raise ValueError("`model` must be built (call it once, or give it an Input) to be drawn")
    blocks = _blocks(model, inputs)
    widths = {  # about 0.075 in a character of 10 pt
        b.name: max(box_width, 0.075 * max(map(len, b.text.splitlines())) + 0.25)
        for b in blocks
    }
    centre, height, bends, (width, depth) = _layout(blocks, widths)
    children = {b.name: [c.name for c in blocks if b.name in dict(c.parents)] for b in blocks}

    def spread(count: int, index: int) -> float:
        """Horizontal offset of the `index`-th of `count` arrow ends on one edge of a box."""
        return (index - (count - 1) / 2) * min(0.3, 1.5 / (count + 1))

    with mpl.rc_context(STYLE | {"axes.grid": False}):
        if ax is None:
            title_space = 0.4 if title else 0.0
            fig = plt.figure(figsize=(width, depth + 0.2 + title_space))
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - title_space / fig.get_figheight()))
        for block in blocks:
            x, y = centre[block.name]
            ax.add_patch(
                FancyBboxPatch(
                    (x - widths[block.name] / 2, y - height[block.name] / 2),
                    widths[block.name],
                    height[block.name],
                    boxstyle="round,pad=0,rounding_size=0.08",
                    facecolor=BLOCK_COLOURS[block.kind],
                    edgecolor="#555555",
                    linestyle="--" if block.kind == "op" else "-",
                    gid=block.name,
                )
            )
            ax.text(x, y, block.text, ha="center", va="center", linespacing=1.25)
        for block in blocks:

            def towards(parent: str, child: str, end: int) -> float:
                """x where the arrow parent -> child leaves the parent (end 0) or
                enters the child (end -1)."""
                points = bends[(parent, child)]
                return points[end][0] if points else centre[child if end == 0 else parent][0]

            incoming = sorted(block.parents, key=lambda edge: towards(edge[0], block.name, -1))
            for index, (parent, role) in enumerate(incoming):
                siblings = sorted(children[parent], key=lambda name: towards(parent, name, 0))
                (px, py), (cx, cy) = centre[parent], centre[block.name]
                start = (
                    px + spread(len(siblings), siblings.index(block.name)),
                    py - height[parent] / 2,
                )
                end = (cx + spread(len(incoming), index), cy + height[block.name] / 2)
                vertices = [start, *bends[(parent, block.name)], end]
                ax.add_patch(
                    FancyArrowPatch(
                        path=Path(vertices, [Path.MOVETO] + [Path.LINETO] * (len(vertices) - 1)),
                        arrowstyle="-|>",
                        mutation_scale=12,
                        color="#555555",
                        shrinkA=0,
                        shrinkB=0,
                        gid=f"{parent}->{block.name}",
                    )
                )
                if role:  # the call arguments it feeds, when the layer takes several
                    # On the last segment, nearer the box the more arrows come in
                    # from its left, so that neighbouring labels sit at other heights.
                    (x0, y0), (x1, y1) = vertices[-2], vertices[-1]
                    t = 0.45 + 0.3 * index / max(len(incoming) - 1, 1)
                    ax.text(
                        x0 + t * (x1 - x0),
                        y0 + t * (y1 - y0),
                        role,
                        ha="center",
                        va="center",
                        style="italic",
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
                    )
        ax.set_xlim(-width / 2, width / 2)
        ax.set_ylim(-depth - 0.1, 0.1)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title)
    return ax.figure
