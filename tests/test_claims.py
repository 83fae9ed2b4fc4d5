"""mhlib/claims.py: rounding, gluing, verdicts and the robustness mode of `claim`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mhlib import claims


@pytest.fixture
def glued(monkeypatch):
    store: dict[str, object] = {}
    monkeypatch.setattr(claims, "_glue", store.__setitem__)
    monkeypatch.delenv(claims.RECORD_FAILURES, raising=False)
    return store


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (0.98765, ".3f", 0.988),
        (np.float32(0.25046555291779904), ".3f", 0.25),
        (82.7142069246073, ".0f", 83.0),
        (4.83e-7, ".1e", 4.8e-07),
        (np.int64(12), "d", 12),
        (0.4567, ".1%", 0.457),
    ],
)
def test_rounded_is_what_is_printed(value, fmt, expected):
    shown = claims.rounded(value, fmt)
    assert shown == expected and type(shown) is type(expected)


def test_rounding_hides_float_noise_below_the_printed_digits():
    assert claims.rounded(0.25046555291779904, ".4f") == claims.rounded(0.25046555291779915, ".4f")


@pytest.mark.parametrize(
    ("value", "fmt", "message"),
    [(1.5, "d", "whole number"), (float("nan"), ".3f", "finite"), (1.0, ".3s", "fmt")],
)
def test_rounded_rejects_bad_input(value, fmt, message):
    with pytest.raises(ValueError, match=message):
        claims.rounded(value, fmt)


def test_record_glues_the_rounded_value(glued, capsys):
    assert claims.record("test_accuracy", 0.98765) == 0.988
    assert glued == {"test_accuracy": 0.988}
    assert capsys.readouterr().out == "test_accuracy = 0.988\n"


def test_claim_glues_number_and_comparison(glued, capsys):
    assert claims.claim("acc", 0.9935, ">=", 0.97) is True
    assert glued == {
        "acc": 0.994,
        "acc__claim": {"op": ">=", "target": 0.97, "fmt": ".3f", "expect": "holds"},
    }
    assert capsys.readouterr().out == "acc = 0.994 (target >= 0.97): holds\n"


def test_the_verdict_is_taken_on_the_printed_number(glued):
    assert claims.claim("acc", 0.96951, ">=", 0.97)  # printed as 0.970, which meets 0.97


def test_a_missed_target_fails_the_notebook(glued):
    with pytest.raises(AssertionError, match="'acc': 0.900 >= 0.97 does not hold"):
        claims.claim("acc", 0.9, ">=", 0.97)


def test_a_refuted_claim_asserts_that_it_fails(glued):
    assert claims.claim("heads", 2, "==", 0, fmt="d", expect="fails") is False
    with pytest.raises(AssertionError, match="expects it to fail"):
        claims.claim("heads", 0, "==", 0, fmt="d", expect="fails")


def test_a_fragile_claim_asserts_nothing(glued):
    assert claims.claim("ratio", 3.0, ">=", 5, fmt=".1f", expect="fragile") is False
    assert claims.claim("ratio", 7.0, ">=", 5, fmt=".1f", expect="fragile") is True


def test_a_learned_claim_reports_a_seed_against_the_verdict_and_does_not_raise(glued, capsys):
    # a claim that fails in most seeds but holds in this one (a learner changed SEED)
    assert claims.claim("heads", 0.75, ">=", 0.5, fmt=".2f", expect="fails", learned=True)
    assert capsys.readouterr().out == (
        "heads = 0.75 (target >= 0.5): holds in this seed; over ten seeds the book finds it "
        "fails\n"
    )
    assert glued["heads__claim"]["learned"] is True
    assert claims.claim("acc", 0.9, ">=", 0.97, learned=True) is False
    assert capsys.readouterr().out.endswith("does not hold in this seed; over ten seeds the "
                                            "book finds it holds\n")
    # as the book expects: the same line as any claim
    claims.claim("acc", 0.99, ">=", 0.97, learned=True)
    assert capsys.readouterr().out == "acc = 0.990 (target >= 0.97): holds\n"


def test_robustness_runs_record_failures_instead_of_raising(glued, monkeypatch, capsys):
    monkeypatch.setenv(claims.RECORD_FAILURES, "1")
    assert claims.claim("acc", 0.5, ">=", 0.97) is False
    assert "does not hold" in capsys.readouterr().out
    assert glued["acc"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "not a key"}, "`key`"),
        ({"op": "=>"}, "`op`"),
        ({"target": "0.9"}, "`target`"),
        ({"target": True}, "`target`"),
        ({"expect": "maybe"}, "`expect`"),
        ({"learned": "yes"}, "`learned`"),
    ],
)
def test_claim_rejects_bad_arguments(glued, kwargs, message):
    arguments = {"key": "acc", "value": 0.99, "op": ">=", "target": 0.97} | kwargs
    with pytest.raises(ValueError, match=message):
        claims.claim(**arguments)
    assert glued == {}


def test_mean_and_se():
    assert claims.mean_and_se([1.0, 2.0, 3.0]) == pytest.approx((2.0, 0.57735), rel=1e-5)
    mean, se = claims.mean_and_se([4.0])
    assert mean == 4.0 and se != se  # NaN: one seed has no spread
    with pytest.raises(ValueError, match="empty"):
        claims.mean_and_se([])


def test_over_seeds_counts_the_seeds_that_meet_the_target(glued, tmp_path, capsys):
    claims.claim("acc", 0.99, ">=", 0.97)
    results = {"nb": {"seeds": {str(s): {"values": {"acc": 0.9 + 0.01 * s}} for s in range(10)}}}
    path = tmp_path / "robustness.json"
    path.write_text(json.dumps(results))
    summary = claims.over_seeds("nb", ["acc"], path=path)
    assert summary["acc"]["held"] == 3  # 0.97, 0.98, 0.99
    assert glued["acc_seeds_held"] == 3 and glued["acc_seeds"] == 10
    assert glued["acc_seeds_mean"] == 0.945
    assert "target met in 3/10 seeds" in capsys.readouterr().out


def test_over_seeds_needs_claims_decided_in_the_notebook(glued, tmp_path):
    path = tmp_path / "robustness.json"
    path.write_text('{"nb": {"seeds": {"0": {"values": {}}}}}')
    with pytest.raises(ValueError, match="not decided"):
        claims.over_seeds("nb", ["never_claimed"], path=path)
    with pytest.raises(ValueError, match="no seeds"):
        claims.over_seeds("other", ["never_claimed"], path=path)


def test_over_seeds_outside_the_book_glues_nothing(glued, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert claims.over_seeds("nb", ["acc"]) == {}
    assert glued == {}


def test_over_seeds_of_a_count_glues_a_fractional_mean(glued, tmp_path):
    claims.claim("heads", 3, ">=", 2, fmt="d")
    results = {"nb": {"seeds": {str(s): {"values": {"heads": s % 4}} for s in range(10)}}}
    path = tmp_path / "robustness.json"
    path.write_text(json.dumps(results))
    summary = claims.over_seeds("nb", ["heads"], path=path)
    assert summary["heads"]["held"] == 4  # seeds 2, 3, 6, 7
    assert glued["heads_seeds_mean"] == 1.3  # 13 / 10, printed with one decimal


def test_over_seeds_needs_the_key_in_some_seed(glued, tmp_path):
    claims.claim("acc", 0.99, ">=", 0.97)
    path = tmp_path / "robustness.json"
    path.write_text('{"nb": {"seeds": {"0": {"values": {}}}}}')
    with pytest.raises(ValueError, match="no seed"):
        claims.over_seeds("nb", ["acc"], path=path)


def test_inside_a_robustness_run_summaries_are_empty_and_not_recorded(glued, monkeypatch, capsys):
    monkeypatch.setenv(claims.RECORD_FAILURES, "1")
    claims.claim("acc", 0.99, ">=", 0.97)
    summary = claims.over_seeds("nb", ["acc"])
    assert summary["acc"]["seeds"] == 0 and summary["acc"]["mean"] != summary["acc"]["mean"]
    claims.record("acc_in_se", summary["acc"]["mean"] / summary["acc"]["se"])
    assert "acc_in_se" not in glued and "not recorded" in capsys.readouterr().out
    monkeypatch.delenv(claims.RECORD_FAILURES)
    with pytest.raises(ValueError, match="finite"):
        claims.record("acc_in_se", float("nan"))
