"""The baselines ``tracer eval`` prints: naive forecasts on hand-computed series, the base rate and the
batch model on a small classification frame, and the rows a replay keeps for them."""

from __future__ import annotations

import doctest
import sys
from itertools import product

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.blueprints.recipes.price_movement import PriceMovement
from tracer.online_models import Deployment, baselines
from tracer.online_models.baselines import (
    INSTALL_HINT,
    batch_features,
    compare_binary,
    compare_forecast,
    model_season_length,
    season_length_of,
)

DAY = 86_400.0


# -- naive and seasonal naive ------------------------------------------------------------------------


def test_naive_and_seasonal_naive_on_a_hand_computed_series() -> None:
    # a season of 3: 10, 20, 30 then the same shape 2 higher each time round
    values = [10.0, 20.0, 30.0, 12.0, 22.0, 32.0, 14.0]
    result = compare_forecast([20.0] * 7, values, [None] * 7, season_length=3, season_source="given")
    # compared on the rows with 3 earlier values: 12, 22, 32, 14
    assert result.n_rows == 4 and result.min_history == 3
    # naive forecasts 30, 12, 22, 32: errors 18, 10, 10, 18
    assert result.naive.mae == pytest.approx(14.0)
    assert result.naive.mape == pytest.approx((18 / 12 + 10 / 22 + 10 / 32 + 18 / 14) / 4)
    # seasonal naive forecasts 10, 20, 30, 12: every error is 2
    assert result.seasonal_naive.mae == pytest.approx(2.0)
    assert result.seasonal_naive.mape == pytest.approx((2 / 12 + 2 / 22 + 2 / 32 + 2 / 14) / 4)
    # the blueprint said 20 every time: errors 8, 2, 12, 6 on the same rows
    assert result.blueprint.mae == pytest.approx(7.0)
    blueprint_mape = (8 / 12 + 2 / 22 + 12 / 32 + 6 / 14) / 4
    assert result.blueprint.mape == pytest.approx(blueprint_mape)
    assert result.best_baseline is result.seasonal_naive
    assert result.mape_ratio == pytest.approx(blueprint_mape / ((2 / 12 + 2 / 22 + 2 / 32 + 2 / 14) / 4))


def test_each_series_has_its_own_history_and_unlabelled_rows_are_skipped() -> None:
    # two interleaved series; the None label is neither compared nor remembered
    series = ["a", "b", "a", "b", "a", "b"]
    labels: list[float | None] = [1.0, 100.0, 2.0, None, 4.0, 110.0]
    result = compare_forecast([0.0] * 6, labels, series, season_length=1, season_source="given")
    # compared: a's 2 (naive 1), a's 4 (naive 2), b's 110 (naive 100, not b's unlabelled row)
    assert result.n_rows == 3
    assert result.naive.mae == pytest.approx((1 + 2 + 10) / 3)
    assert result.seasonal_naive.mae == result.naive.mae  # a season of 1 is the last value


def test_seasonal_naive_is_undefined_when_no_series_is_a_season_long() -> None:
    result = compare_forecast(
        [5.0, 5.0, 5.0], [4.0, 6.0, 8.0], [None] * 3, season_length=12, season_source="x"
    )
    assert result.min_history == 1 and result.n_rows == 2
    assert (
        result.seasonal_naive.mae is None and "no series has 12 earlier values" in result.seasonal_naive.note
    )
    assert result.naive.mae == pytest.approx(2.0)
    assert result.best_baseline is result.naive


def test_mape_leaves_out_zero_targets_and_is_undefined_without_any() -> None:
    result = compare_forecast(
        [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [None] * 3, season_length=1, season_source="x"
    )
    assert result.naive.mae == 0.0 and result.naive.mape is None and result.mape_ratio is None


@pytest.mark.parametrize(
    ("spacing_days", "expected"),
    [(1.0, (7, "daily spacing")), (7.0, (52, "weekly spacing")), (30.4, (12, "monthly spacing")),
     (91.0, (4, "quarterly spacing")), (3.0, (1, "irregular spacing (3 days)"))],
)  # fmt: skip
def test_season_length_from_the_spacing_within_each_series(
    spacing_days: float, expected: tuple[int, str]
) -> None:
    # two series at the same instants: pooled across series the spacing would look like 0
    times = [t * spacing_days * DAY for t in range(10) for _ in range(2)]
    assert season_length_of(times, ["north", "south"] * 10) == expected


def test_season_length_without_times_and_from_a_model() -> None:
    assert season_length_of([None, None], [None, None]) == (1, "no time spacing")

    class Stated:
        season_length = 5

    assert model_season_length(Stated()) == 5
    assert model_season_length(object()) is None


# -- classification ------------------------------------------------------------------------------------


def _classification_frame(n_rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=n_rows)
    return pd.DataFrame(
        {
            "order_id": [f"o-{i:05d}" for i in range(n_rows)],
            "day": pd.date_range("2024-01-01", periods=n_rows, freq="D").strftime("%Y-%m-%d"),
            "x": x,
            "segment": rng.choice(["retail", "wholesale", "online"], size=n_rows),
            "bought": x + 0.3 * rng.normal(size=n_rows) > 0.8,
        }
    )


def _pairwise_auc(y: list[float], scores: list[float]) -> float:
    """AUC counted pair by pair (ties half), independently of the module under test."""
    positives = [s for s, t in zip(scores, y, strict=True) if t]
    negatives = [s for s, t in zip(scores, y, strict=True) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def test_batch_features_drop_the_label_and_ids_and_type_the_rest() -> None:
    features = batch_features(_classification_frame(), exclude=("bought",))
    assert list(features.columns) == ["day", "x", "segment"]
    assert features["day"].iloc[1] - features["day"].iloc[0] == DAY  # a timestamp as epoch seconds
    assert isinstance(features["segment"].dtype, pd.CategoricalDtype)


def test_base_rate_batch_model_and_blueprint_on_the_same_last_rows() -> None:
    frame = _classification_frame()
    labels = frame["bought"].astype(float).tolist()
    scores = (1 / (1 + np.exp(-frame["x"].to_numpy()))).tolist()  # a blueprint that ranks by x
    labels_seen: list[float | None] = [*labels[:10], None, *labels[11:]]  # row 10 never got its label
    comparison = compare_binary(frame, list(range(400)), scores, labels_seen, label_column="bought")
    assert comparison is not None
    test_rows = [i for i in range(400) if i != 10][int(399 * 0.7) :]
    assert (comparison.n_train, comparison.n_test) == (279, 120) and len(test_rows) == 120
    y_test = [labels[i] for i in test_rows]
    blueprint_auc = _pairwise_auc(y_test, [scores[i] for i in test_rows])
    assert comparison.blueprint.auc == pytest.approx(blueprint_auc)
    majority_train = sum(labels[i] for i in range(400) if i != 10 and i not in test_rows) / 279 >= 0.5
    assert comparison.base_rate.auc == 0.5
    assert comparison.base_rate.accuracy == pytest.approx(sum(y == majority_train for y in y_test) / 120)
    assert comparison.batch.auc is not None and comparison.batch.auc > 0.9  # x decides the label
    assert comparison.columns == ("day", "x", "segment")
    assert comparison.auc_ratio == pytest.approx(blueprint_auc / comparison.batch.auc)


def test_without_scikit_learn_the_batch_row_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)  # import fails as if not installed
    frame = _classification_frame(100)
    labels = frame["bought"].astype(float).tolist()
    comparison = compare_binary(frame, list(range(100)), [0.5] * 100, labels, label_column="bought")
    assert comparison is not None
    assert comparison.batch.auc is None and comparison.batch.note == INSTALL_HINT
    assert comparison.base_rate.accuracy is not None and comparison.auc_ratio is None


def test_too_few_labelled_rows_give_no_comparison() -> None:
    frame = _classification_frame(5)
    assert compare_binary(frame, [0, 1], [0.5, 0.5], [None, 1.0], label_column="bought") is None


# -- the rows a replay keeps -------------------------------------------------------------------------


def test_replay_keeps_each_scored_row_with_its_learned_label_in_time_order() -> None:
    frame = CustomerChurn().sample(600, seed=4).sample(frac=1.0, random_state=1)  # shuffled
    report = Deployment(CustomerChurn).replay(frame)
    rows = report.rows
    assert len(rows) == report.n_scored == 600
    assert sorted(rows.positions) == list(range(600))
    snapshots = pd.to_datetime(frame["snapshot_date"].iloc[list(rows.positions)]).tolist()
    assert snapshots == sorted(snapshots)  # replay order is time order
    expected = frame["churned"].iloc[list(rows.positions)].astype(float).tolist()
    assert list(rows.labels) == expected
    assert rows.series[0] == frame["cust_id"].iloc[rows.positions[0]]


def test_self_labelled_rows_get_the_label_a_later_row_settled() -> None:
    report = Deployment(PriceMovement).replay(PriceMovement().sample(600, seed=2))
    settled = [label for label in report.rows.labels if label is not None]
    assert len(settled) == report.n_learned > 0
    assert set(settled) <= {0.0, 1.0}


def test_docstring_examples_run() -> None:
    assert doctest.testmod(baselines).failed == 0
