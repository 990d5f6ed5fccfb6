"""Tests of linked_neurons.stats (paired comparisons)."""

import doctest
import math

import numpy as np
import pytest

from linked_neurons import stats

A = [0.90, 0.92, 0.95, 0.91, 0.93]
B = [0.89, 0.90, 0.92, 0.91, 0.90]


def test_paired_comparison_matches_a_hand_computed_case():
    # d = a - b = (.01, .02, .03, 0, .03): mean .018, sum of squared deviations 680e-6,
    # s = sqrt(680e-6 / 4) = .0130384, se = s / sqrt(5) = .0058310, t(.975, 4) = 2.7764451
    # (tables), half width = .0161893, t = .018 / .0058310 = 3.08697
    result = stats.paired_comparison(A, B)
    assert result.n == 5
    assert result.mean == pytest.approx(0.018, abs=1e-12)
    assert result.std == pytest.approx(math.sqrt(680e-6 / 4), rel=1e-9)
    half = 2.7764451 * math.sqrt(680e-6 / 4) / math.sqrt(5)
    assert result.low == pytest.approx(0.018 - half, rel=1e-6)
    assert result.high == pytest.approx(0.018 + half, rel=1e-6)
    assert result.t == pytest.approx(0.018 / (math.sqrt(680e-6 / 4) / math.sqrt(5)), rel=1e-9)
    assert 0.03 < result.p_value < 0.04  # two-sided, 4 degrees of freedom
    assert result.verdict("LEAF", "tanh") == "LEAF better"
    assert stats.paired_comparison(B, A).verdict("LEAF", "tanh") == "tanh better"
    # a wider interval (99 %) contains 0 here
    assert stats.paired_comparison(A, B, confidence=0.99).verdict() == "not resolved"


def test_equal_differences_give_a_degenerate_interval():
    result = stats.paired_comparison([1.0, 2.0, 3.0], [0.5, 1.5, 2.5])
    assert (result.mean, result.low, result.high, result.std) == (0.5, 0.5, 0.5, 0.0)
    assert math.isnan(result.p_value)


@pytest.mark.parametrize("a, b, confidence", [([1.0], [2.0], 0.95), ([1.0, 2.0], [1.0], 0.95),
                                              (A, B, 1.0), (A, B, 0.0)])
def test_paired_comparison_rejects_bad_input(a, b, confidence):
    with pytest.raises(ValueError, match="paired_comparison"):
        stats.paired_comparison(a, b, confidence)


def test_paired_table_pairs_by_seed_within_groups():
    rng = np.random.default_rng(0)
    rows = []
    for init, base in (("relu", "ReLU"), ("tanh", "tanh")):
        for seed in (42, 100, 128):
            for config, shift in ((base, 0.0), ("LEAF", 0.01)):
                rows.append({"init": init, "label": config, "seed": seed,
                             "acc": 0.9 + 0.01 * seed / 100 + shift + rng.normal(0, 1e-3)})
    rows.append({"init": "tanh", "label": "LEAF", "seed": 7, "acc": 0.0})  # no partner
    table = stats.paired_table(rows, lambda key: "ReLU" if key[0] == "relu" else "tanh", "acc",
                               config_key="label", group_keys=("init",))
    assert [(r["init"], r["config"], r["baseline"], r["seeds"]) for r in table] == [
        ("relu", "LEAF", "ReLU", 3), ("tanh", "LEAF", "tanh", 3)]
    for row in table:
        mine = [r["acc"] for r in rows if r["init"] == row["init"] and r["label"] == "LEAF"
                and r["seed"] != 7]
        base = [r["acc"] for r in rows
                if r["init"] == row["init"] and r["label"] == row["baseline"]]
        expected = stats.paired_comparison(mine, base)
        assert row["mean_difference"] == pytest.approx(expected.mean)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.low, expected.high))
        assert row["verdict"] == "LEAF better"


def test_summarize_medians_ranges_and_shared_columns():
    pd = pytest.importorskip("pandas")
    rows = [{"variant": v, "label": v.upper(), "seed": s, "score": score, "epochs": 3,
             "shape": [2, 3], "kind": "k", "note": f"seed {s}"}
            for v, scores in (("b", (0.5, math.inf, 0.7)), ("a", (1.0, 4.0, 2.0)))
            for s, score in enumerate(scores)]
    table = stats.summarize(pd.DataFrame(rows), ("score", "epochs", "missing"))
    assert list(table["variant"]) == ["b", "a"]  # first-seen order
    assert list(table["score"]) == [0.6, 2.0]  # the infinite score is left out
    assert list(table["score_min"]) == [0.5, 1.0] and list(table["score_max"]) == [0.7, 4.0]
    assert list(table["runs"]) == [3, 3] and table["epochs"].dtype == "int64"
    assert "kind" in table and "shape" not in table and "note" not in table


def test_docstring():
    result = doctest.testmod(stats)
    assert result.attempted > 0 and result.failed == 0
