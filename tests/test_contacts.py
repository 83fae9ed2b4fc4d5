"""mhlib.contacts: the synthetic protein-contact task of section 1.4."""

import numpy as np
import pytest

from mhlib.contacts import (
    AMINO_ACIDS,
    PAIR_KINDS,
    PairClassifier,
    ResidualAttention,
    interaction_rate,
    make_pair_dataset,
    partner_attention,
)


def test_no_single_planted_residue_predicts_the_label():
    planted = set("".join(a + b for a, b, _, _ in PAIR_KINDS.values()))
    assert all(abs(interaction_rate(c) - 0.5) < 1e-12 for c in planted)
    with pytest.raises(ValueError, match="never planted"):
        interaction_rate("W")
    with pytest.raises(ValueError, match="one of"):
        interaction_rate("KR")


def test_make_pair_dataset_plants_and_flags_one_pair():
    (residues, flags), labels, kinds, positions = make_pair_dataset(
        200, [5, 100], np.random.default_rng(0)
    )
    assert residues.shape == flags.shape == (200, 128)
    assert set(np.unique(positions[:, 1] - positions[:, 0])) <= {5, 100}
    rows = np.arange(200)
    assert (flags[rows, positions[:, 0]] == 1).all() and (flags[rows, positions[:, 1]] == 2).all()
    assert (flags > 0).sum() == 400
    names = list(PAIR_KINDS)
    for n in range(200):
        first, second, interacts, _ = PAIR_KINDS[names[kinds[n]]]
        pair = {AMINO_ACIDS[residues[n, p]] for p in positions[n]}
        assert labels[n] == interacts
        assert pair <= set(first + second)
    with pytest.raises(ValueError, match="separations"):
        make_pair_dataset(3, [128], np.random.default_rng(0))


def test_partner_attention_reads_the_row_of_the_second_residue():
    model = PairClassifier(ResidualAttention())
    inputs, _, _, positions = make_pair_dataset(4, [10], np.random.default_rng(1))
    assert model(inputs).shape == (4, 1)
    to_partner = partner_attention(model, inputs, positions)
    assert to_partner.shape == (4, 4)
    assert ((to_partner > 0) & (to_partner < 1)).all()
    with pytest.raises(ValueError, match="rotary"):
        partner_attention(PairClassifier(ResidualAttention(rotary=True)), inputs, positions)
