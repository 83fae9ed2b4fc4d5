"""The synthetic "protein" contact task of section 1.4 and the small models it compares.

Sequences of `CONTACT_LENGTH` random residues carry one planted pair, flagged in a
second input channel (1 at the first residue, 2 at the second). The label says
whether the pair interacts under toy rules given by a table of pair kinds such as
`PAIR_KINDS`: name -> (letters of one residue, letters of the other, interacts?,
probability). The tables are built so that no single residue predicts the label.

A `PairClassifier` embeds residues and flags, transforms the sequence with one
encoder layer (an `LSTM`, or a `ResidualAttention` block with optional rotary
positions and window) and answers from the vector at the residue flagged 2.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from mhlib.optim import SummedAdam
from mhlib.rope import RotaryMultiHeadAttention

AMINO_ACIDS = "KRDEILVFMACGHNPQSTWY"
CONTACT_LENGTH = 128
PAIR_KINDS = {
    "+/-": ("KR", "DE", True, 2 / 6),
    "+/+": ("KR", "KR", False, 1 / 12),
    "-/-": ("DE", "DE", False, 1 / 12),
    "h/h": ("ILVFM", "ILVFM", True, 1 / 6),
    "h/charged": ("ILVFM", "KRDE", False, 2 / 6),
}
SHORT_SEPARATIONS = np.arange(2, 9)
LONG_SEPARATIONS = np.arange(96, 121)


def interaction_rate(letter: str, table: dict = PAIR_KINDS) -> float:
    """P(interacts | the first planted residue is `letter`), exactly, from a table of kinds.

    The two residues of a pair are planted in random order, so each letter of a
    kind's two groups is the first residue half of the time.

    >>> round(interaction_rate("K"), 3)
    0.5
    """
    if len(letter) != 1 or letter not in AMINO_ACIDS:
        raise ValueError(f"`letter` must be one of {AMINO_ACIDS!r}, got {letter!r}")
    weights = [
        p * (0.5 * (letter in a) / len(a) + 0.5 * (letter in b) / len(b))
        for a, b, _, p in table.values()
    ]
    if sum(weights) == 0:
        raise ValueError(f"{letter!r} is never planted by this table")
    interacts = [w for w, (_, _, y, _) in zip(weights, table.values(), strict=True) if y]
    return sum(interacts) / sum(weights)


def make_pair_dataset(n, separations, rng, table=PAIR_KINDS, length=CONTACT_LENGTH):
    """Draws `n` sequences with one flagged pair each.

    Args:
        n: number of sequences.
        separations: the separations j - i to draw from, uniformly.
        rng: a `numpy.random.Generator`.
        table: the kinds of pair (see the module docstring); probabilities sum to 1.
        length: residues per sequence; every separation must be below it.

    Returns:
        `(residues, flags), labels, kinds, positions`: int32 arrays (n, length),
        float32 labels (n,), the index of each pair's kind in `table` (n,) and the
        positions (i, j) of the pair (n, 2).
    """
    separations = np.asarray(separations)
    if separations.min() < 1 or separations.max() >= length:
        raise ValueError(f"separations must lie in 1 .. {length - 1}")
    if abs(sum(k[3] for k in table.values()) - 1) > 1e-9:
        raise ValueError("the probabilities of the table must sum to 1")
    names = list(table)
    kinds = rng.choice(len(names), size=n, p=[k[3] for k in table.values()])
    pairs = [[rng.choice(list(table[names[k]][s])) for s in (0, 1)] for k in kinds]
    pairs = np.array([[AMINO_ACIDS.index(c) for c in pair] for pair in pairs])
    pairs = np.where(rng.random((n, 1)) < 0.5, pairs, pairs[:, ::-1])  # random order
    gap = rng.choice(separations, size=n)
    first = rng.integers(0, length - gap)
    positions = np.stack([first, first + gap], axis=1)  # (n, 2)
    residues = rng.integers(0, 20, size=(n, length))
    flags = np.zeros((n, length), dtype="int32")
    rows = np.arange(n)[:, None]
    residues[rows, positions] = pairs
    flags[rows, positions] = [1, 2]
    labels = np.array([table[names[k]][2] for k in kinds], dtype="float32")
    return (residues.astype("int32"), flags), labels, kinds, positions


def sinusoidal_encoding(length: int, width: int) -> np.ndarray:
    """(length, width) sine and cosine position encoding of Vaswani et al. (2017)."""
    if width % 2:
        raise ValueError(f"`width` must be even, got {width}")
    rates = 1.0 / 10000 ** (np.arange(0, width, 2) / width)  # (width / 2,)
    angles = np.arange(length)[:, None] * rates  # (length, width / 2)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1).astype("float32")


class ResidualAttention(layers.Layer):
    """One multi-head self-attention layer (4 heads of size 8) with a residual connection.

    Args:
        rotary: rotate queries and keys by position (`RotaryMultiHeadAttention`).
        window: if given, each position attends only to positions at most this far away.
    """

    def __init__(self, rotary=False, window=None, **kwargs):
        super().__init__(**kwargs)
        kind = RotaryMultiHeadAttention if rotary else layers.MultiHeadAttention
        self.attention = kind(num_heads=4, key_dim=8)
        self.window = window

    def call(self, h):  # (B, T, width)
        mask = None
        if self.window is not None:
            steps = ops.arange(ops.shape(h)[1])
            near = ops.abs(steps[:, None] - steps[None, :]) <= self.window  # (T, T)
            mask = ops.broadcast_to(near[None], (ops.shape(h)[0], *ops.shape(near)))
        return h + self.attention(h, h, attention_mask=mask)


class PairClassifier(keras.Model):
    """Embeds residues and flags, encodes the sequence, answers at the residue flagged 2.

    Args:
        encoder: a layer mapping (B, T, width) to (B, T, width).
        sinusoidal: add the sinusoidal position encoding to the embeddings.
        width: embedding size. Embeddings start with unit variance, so that attention
            logits are not negligibly small at initialisation.
    """

    def __init__(self, encoder, sinusoidal=False, width=16, length=CONTACT_LENGTH, **kwargs):
        super().__init__(**kwargs)
        init = keras.initializers.RandomNormal(stddev=1.0)
        self.residue_embedding = layers.Embedding(20, width, embeddings_initializer=init)
        self.flag_embedding = layers.Embedding(3, width, embeddings_initializer=init)
        self.position = sinusoidal_encoding(length, width) if sinusoidal else 0.0
        self.encoder = encoder
        self.classify = keras.Sequential(
            [layers.Dense(32, activation="relu"), layers.Dense(1, activation="sigmoid")]
        )

    def embed(self, inputs):
        residues, flags = inputs
        return self.residue_embedding(residues) + self.flag_embedding(flags) + self.position

    def call(self, inputs):
        h = self.encoder(self.embed(inputs))  # (B, T, width)
        at_second = ops.cast(ops.equal(inputs[1], 2), h.dtype)[..., None]  # (B, T, 1)
        return self.classify(ops.sum(h * at_second, axis=1))  # (B, 1)


def train_pair_classifier(encoder, data, sinusoidal=False, epochs=10):
    """A `PairClassifier` around `encoder`, trained on `data = (inputs, labels)`.

    The budget every model of section 1.4 shares: Adam (learning rate 3e-3), binary
    cross-entropy, batches of 64, `epochs` epochs. Adam is `SummedAdam`, so that the
    embeddings take the same steps on every backend (see `mhlib.optim`).
    """
    model = PairClassifier(encoder, sinusoidal=sinusoidal)
    model.compile(optimizer=SummedAdam(3e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(*data, epochs=epochs, batch_size=64, verbose=0)
    return model


def pair_accuracy(model, inputs, labels) -> float:
    """Share of sequences whose label `model` predicts (threshold 0.5)."""
    predictions = model.predict(inputs, batch_size=500, verbose=0)[:, 0] > 0.5
    return float(np.mean(predictions == np.asarray(labels).astype(bool)))


def partner_attention(model, inputs, positions) -> np.ndarray:
    """(B, H): each head's attention from the residue flagged 2 to its partner.

    `model` is a `PairClassifier` whose encoder is a `ResidualAttention`; only the
    query row of the second residue is computed.
    """
    embedded = model.embed(inputs)  # (B, T, width)
    at_j = ops.take_along_axis(embedded, positions[:, 1, None, None], axis=1)  # (B, 1, width)
    if isinstance(model.encoder.attention, RotaryMultiHeadAttention):
        raise ValueError("partner_attention reads layers without rotary positions only")
    _, scores = model.encoder.attention(at_j, embedded, return_attention_scores=True)
    return ops.convert_to_numpy(scores)[np.arange(len(positions)), :, 0, positions[:, 0]]
