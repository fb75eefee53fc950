"""Progressive metrics: exact ranking metrics, River's running ones, nothing undefined returned."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracer.online_models.metrics as metrics_module
from tracer.online_models.metrics import BinaryMetrics, RegressionMetrics, exact_auc, top_fraction


def test_doctests() -> None:
    assert doctest.testmod(metrics_module).failed == 0


def brute_force_auc(y: list[int], s: list[float]) -> float:
    pairs = [(p, n) for p, n in itertools.product(range(len(y)), repeat=2) if y[p] == 1 and y[n] == 0]
    wins = sum(1.0 if s[p] > s[n] else 0.5 if s[p] == s[n] else 0.0 for p, n in pairs)
    return wins / len(pairs)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 1.0])),
        min_size=1,
        max_size=40,
    )
)
def test_auc_is_exact_with_ties(pairs: list[tuple[int, float]]) -> None:
    y = [label for label, _ in pairs]
    s = [score for _, score in pairs]
    auc = exact_auc(np.array(y, dtype=float), np.array(s))
    if len(set(y)) < 2:
        assert auc is None
    else:
        assert auc == pytest.approx(brute_force_auc(y, s))


def test_top_fraction_precision_and_recall() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2])
    assert top_fraction(y, s, 0.2) == (0.5, 1 / 3)
    assert top_fraction(y, s, 0.3) == (2 / 3, 2 / 3)
    assert top_fraction(np.zeros(3), s[:3], 0.2) is None


def test_binary_metrics_leave_out_what_is_undefined() -> None:
    metrics = BinaryMetrics()
    assert metrics.get() == {"n_labels": 0.0}
    metrics.update(0.0, 0.3)
    metrics.update(0.0, 0.6)
    values = metrics.get()
    assert "auc" not in values and "precision_at_20pct" not in values
    assert values["accuracy"] == 0.5
    assert all(math.isfinite(v) for v in values.values())
    metrics.update(1.0, 1.0)  # a certain, correct prediction: log loss stays finite
    assert metrics.get()["auc"] == 1.0


def test_ranking_metrics_use_only_the_most_recent_pairs() -> None:
    metrics = BinaryMetrics(max_pairs=4, top_pct=50)
    for y, s in [(1, 0.1), (0, 0.9), (1, 0.8), (0, 0.2), (1, 0.7), (0, 0.3)]:
        metrics.update(y, s)
    values = metrics.get()
    assert values["n_labels"] == 6
    assert values["auc"] == 1.0  # the first two (badly ranked) pairs are out of the window
    assert values["precision_at_50pct"] == 1.0


def test_regression_metrics_skip_zero_targets_in_mape() -> None:
    metrics = RegressionMetrics()
    assert metrics.get() == {"n_labels": 0.0}
    metrics.update(0.0, 5.0)
    assert "mape" not in metrics.get()
    metrics.update(100.0, 90.0)
    metrics.update(50.0, 60.0)
    values = metrics.get()
    assert values["mape"] == pytest.approx(0.15)
    assert values["mae"] == pytest.approx((5 + 10 + 10) / 3)
    assert values["rmse"] == pytest.approx(math.sqrt((25 + 100 + 100) / 3))
