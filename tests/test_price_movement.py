"""price_movement: self-labelling, features on odd input, determinism, pickling, progressive AUC.

The verbs are driven directly with canonical records (``ts`` in float seconds), the way a
deployment drives them, so nothing here depends on the runtime.
"""

from __future__ import annotations

import doctest
import math
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.blueprints.base import OnlineModel
from tracer.blueprints.errors import ParameterError
from tracer.blueprints.inputs import canonical_frame, resolve_columns
from tracer.blueprints.recipes import price_movement
from tracer.blueprints.recipes.price_movement import FEATURE_NAMES, PriceMovement, PriceMovementOutput
from tracer.schemas import MarketSnapshot

BP = PriceMovement()
PARAMS = BP.resolve_params()


def snap(ts: float, mid: float, symbol: str = "BTC", **extra: Any) -> dict[str, Any]:
    """A canonical snapshot record; optional inputs default to None as the input layer leaves them."""
    record: dict[str, Any] = {"ts": ts, "symbol": symbol, "mid": mid, "spreadBp": 2.0, "vol1m": 10.0}
    record.update({"rsi14": 50.0, "bid": None, "ask": None, "volume": None})
    record.update(extra)
    return record


def canonical(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The sample's wire rows as canonical records: ts ms -> float seconds, absent optionals None."""
    return [{**row, "ts": row["ts"] / 1000, "bid": None, "ask": None} for row in frame.to_dict("records")]


def rank_auc(labels: list[float], scores: list[float]) -> float:
    """Exact ROC AUC (Mann-Whitney U with average ranks for ties)."""
    positive = np.asarray(labels) == 1.0
    ranks = pd.Series(scores).rank().to_numpy()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def drive(records: list[dict[str, Any]], params: dict[str, Any] | None = None) -> Iterator[tuple[str, Any]]:
    """Featurize -> predict -> postprocess each record; learn captured features when labels arrive.

    Yields ("prediction", output) per record and ("settled", (label, up_probability)) per label.
    """
    resolved = BP.resolve_params(params)
    state, model = BP.new_state(resolved), BP.make_model(resolved, seed=7)
    captured: dict[str, tuple[dict[str, float | str], float]] = {}
    for record in records:
        for key, label in BP.self_labels(record, state, resolved):
            features, up_probability = captured.pop(key)
            yield "settled", (label, up_probability)
            model.learn_one(features, label)
        features = BP.featurize(record, state, resolved)
        output = BP.postprocess(model.predict_one(features), features, model, resolved)
        captured[BP.prediction_key(record)] = (features, output.up_probability)
        yield "prediction", output


# -- self-labelling ---------------------------------------------------------------------------------


def test_self_labels_settle_after_the_horizon_and_not_before() -> None:
    state = BP.new_state(PARAMS)
    assert BP.self_labels(snap(1000.0, 100.0), state, PARAMS) == []
    assert BP.self_labels(snap(1030.0, 101.0), state, PARAMS) == []
    assert BP.self_labels(snap(1059.999, 105.0), state, PARAMS) == []  # 1 ms short of 60 s
    assert BP.self_labels(snap(1060.0, 102.0), state, PARAMS) == [("BTC@1000000", 1.0)]
    # 1030 + 60 reached; 100.5 < 101, so down. 1059.999 is not yet due.
    assert BP.self_labels(snap(1090.0, 100.5), state, PARAMS) == [("BTC@1030000", 0.0)]
    assert state.pending_count("BTC") == 3


def test_keys_match_prediction_key_of_the_earlier_record() -> None:
    state = BP.new_state(PARAMS)
    first = snap(1_696_723_200.123, 45_000.0, symbol="ETHUSDT")
    BP.self_labels(first, state, PARAMS)
    settled = BP.self_labels(snap(1_696_723_260.5, 45_001.0, symbol="ETHUSDT"), state, PARAMS)
    assert settled == [(BP.prediction_key(first), 1.0)]
    assert BP.prediction_key(first) == "ETHUSDT@1696723200123"


def test_other_symbols_never_settle_a_symbol() -> None:
    state = BP.new_state(PARAMS)
    BP.self_labels(snap(0.0, 100.0, symbol="BTC"), state, PARAMS)
    assert BP.self_labels(snap(500.0, 200.0, symbol="ETH"), state, PARAMS) == []
    assert BP.self_labels(snap(500.0, 99.0, symbol="BTC"), state, PARAMS) == [("BTC@0", 0.0)]


def test_a_gap_settles_every_due_prediction_with_the_first_snapshot_after_it() -> None:
    state = BP.new_state(PARAMS)
    for ts, mid in [(0.0, 100.0), (1.0, 103.0), (2.0, 101.0)]:
        BP.self_labels(snap(ts, mid), state, PARAMS)
    assert BP.self_labels(snap(200.0, 102.0), state, PARAMS) == [
        ("BTC@0", 1.0),
        ("BTC@1000", 0.0),
        ("BTC@2000", 1.0),
    ]
    assert BP.self_labels(snap(400.0, 0.5), state, PARAMS) == [("BTC@200000", 0.0)]


def test_an_unchanged_mid_is_down_and_the_dead_zone_drops_small_moves() -> None:
    state = BP.new_state(PARAMS)
    BP.self_labels(snap(0.0, 100.0), state, PARAMS)
    assert BP.self_labels(snap(60.0, 100.0), state, PARAMS) == [("BTC@0", 0.0)]

    params = BP.resolve_params({"thresholdBp": 2})
    state = BP.new_state(params)
    BP.self_labels(snap(0.0, 100.0), state, params)
    BP.self_labels(snap(1.0, 100.0), state, params)
    assert BP.self_labels(snap(60.0, 100.01), state, params) == []  # +1 bp: inside the dead zone, dropped
    assert BP.self_labels(snap(61.0, 99.9), state, params) == [("BTC@1000", 0.0)]  # -10 bp
    assert state.pending_count("BTC") == 2


def test_horizon_parameter_and_out_of_order_snapshots() -> None:
    params = BP.resolve_params({"horizonSeconds": 300})
    state = BP.new_state(params)
    for ts in (0.0, 100.0, 50.0):  # 50 arrives late
        BP.self_labels(snap(ts, 100.0), state, params)
    assert BP.self_labels(snap(299.0, 101.0), state, params) == []
    assert BP.self_labels(snap(350.0, 101.0), state, params) == [("BTC@0", 1.0), ("BTC@50000", 1.0)]
    with pytest.raises(ParameterError, match="horizonSeconds"):
        BP.resolve_params({"horizonSeconds": 42})


def test_pending_predictions_are_bounded_per_symbol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(price_movement, "MAX_PENDING_PER_SYMBOL", 5)
    state = BP.new_state(PARAMS)
    for second in range(8):
        BP.self_labels(snap(float(second), 100.0), state, PARAMS)
    assert state.pending_count("BTC") == 5
    assert state.dropped_count() == 3
    settled = BP.self_labels(snap(100.0, 101.0), state, PARAMS)
    assert [key for key, _ in settled] == [f"BTC@{s * 1000}" for s in range(3, 8)]


def test_label_of_is_none_and_the_label_is_a_rule() -> None:
    assert BP.label_of(snap(0.0, 1.0), PARAMS) is None
    assert BP.label.column is None and BP.label.rule


def test_users_column_names_resolve_and_a_price_spread_stands_in() -> None:
    frame = BP.sample(60, seed=2)
    frame["spread"] = frame["spreadBp"] * frame["mid"] / 1e4  # price units
    users = frame.drop(columns="spreadBp").rename(
        columns={"ts": "timestamp", "symbol": "ticker", "mid": "price", "vol1m": "volume_1m", "rsi14": "rsi"}
    )
    resolution = resolve_columns(PriceMovement, users.columns)
    assert resolution.columns["symbol"] == "ticker" and resolution.stand_ins == {
        "spreadBp": ("spread", "spread")
    }
    records = canonical_frame(resolution, users)
    assert [r["ts"] for r in records[:2]] == [t / 1000 for t in frame["ts"][:2]]
    assert [r["spreadBp"] for r in records] == pytest.approx(frame["spreadBp"].tolist())
    assert records[0]["bid"] is None


# -- features -------------------------------------------------------------------------------------


def test_first_snapshot_and_zero_volume_give_finite_features() -> None:
    state = BP.new_state(PARAMS)
    record = snap(0.0, 100.0, vol1m=0.0, volume=0.0, spreadBp=0.0, rsi14=0.0)
    before = dict(record)
    features = BP.featurize(record, state, PARAMS)
    assert record == before  # not mutated
    assert tuple(features) == FEATURE_NAMES
    assert features["return_1_bp"] == features["return_20_bp"] == features["mid_vs_ema_bp"] == 0.0
    assert features["log_vol1m"] == 0.0 and features["rsi_centered"] == -1.0
    assert all(math.isfinite(float(v)) for v in features.values())


def test_returns_and_quote_gap_have_the_expected_sign() -> None:
    state = BP.new_state(PARAMS)
    for second, mid in enumerate([100.0, 100.0, 100.0, 100.0, 100.0, 100.0]):
        BP.featurize(snap(float(second), mid), state, PARAMS)
    features = BP.featurize(snap(6.0, 101.0, bid=100.0, ask=100.5), state, PARAMS)
    assert features["return_1_bp"] == pytest.approx(math.log(1.01) * 1e4)
    assert features["return_5_bp"] == features["return_20_bp"] == features["return_1_bp"]
    assert float(features["mid_vs_ema_bp"]) > 0 and float(features["volatility_bp"]) > 0
    assert float(features["quote_gap_bp"]) > 0  # trading above the quote midpoint


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
optional = st.one_of(st.none(), finite)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(finite, finite, finite, finite, optional, optional, optional, st.sampled_from("AB")),
        min_size=1,
        max_size=30,
    )
)
def test_features_are_finite_on_any_finite_input(rows: list[tuple[Any, ...]]) -> None:
    state = BP.new_state(PARAMS)
    for i, (mid, spread, vol, rsi, bid, ask, volume, symbol) in enumerate(rows):
        record = snap(
            float(i), mid, symbol, spreadBp=spread, vol1m=vol, rsi14=rsi, bid=bid, ask=ask, volume=volume
        )
        BP.self_labels(record, state, PARAMS)
        features = BP.featurize(record, state, PARAMS)
        assert tuple(features) == FEATURE_NAMES
        assert all(math.isfinite(float(v)) for v in features.values()), features


# -- model, output, determinism, pickling ---------------------------------------------------------


def test_postprocess_output() -> None:
    model = BP.make_model(PARAMS, seed=0)
    assert isinstance(model, OnlineModel)
    features = BP.featurize(snap(0.0, 100.0), BP.new_state(PARAMS), PARAMS)
    up = BP.postprocess(0.8, features, model, PARAMS)
    assert isinstance(up, PriceMovementOutput)
    assert (up.direction, up.up_probability, up.confidence, up.horizon_seconds) == (
        "up",
        0.8,
        pytest.approx(0.6),
        60,
    )
    down = BP.postprocess(0.1, features, model, BP.resolve_params({"horizonSeconds": 900}))
    assert (down.direction, down.confidence, down.horizon_seconds) == ("down", pytest.approx(0.8), 900)
    assert BP.postprocess(float("nan"), features, model, PARAMS).up_probability == 0.5
    assert BP.output.headline in PriceMovementOutput.model_fields


def test_sample_is_seeded_and_speaks_the_wire_contract() -> None:
    frame = BP.sample(300, seed=3)
    pd.testing.assert_frame_equal(frame, BP.sample(300, seed=3))
    assert not frame.equals(BP.sample(300, seed=4))
    assert len(frame) == 300 and frame["symbol"].nunique() == 3
    assert list(frame.columns) == ["ts", "symbol", "mid", "spreadBp", "vol1m", "rsi14", "volume"]
    assert set(frame.groupby("symbol")["ts"].diff().dropna()) == {1000}
    for row in frame.head(30).to_dict("records"):
        MarketSnapshot.model_validate(row)


def test_a_seeded_run_is_repeatable() -> None:
    records = canonical(BP.sample(900, seed=5))
    assert list(drive(records)) == list(drive(records))


def test_state_and_model_pickle_mid_stream() -> None:
    records = canonical(BP.sample(1200, seed=6))
    state, model = BP.new_state(PARAMS), BP.make_model(PARAMS, seed=0)
    captured: dict[str, dict[str, float | str]] = {}

    def step(record: dict[str, Any], state: Any, model: Any) -> float:
        for key, label in BP.self_labels(record, state, PARAMS):
            model.learn_one(captured[key], label)
        features = BP.featurize(record, state, PARAMS)
        captured[BP.prediction_key(record)] = features
        return float(model.predict_one(features))

    for record in records[:600]:
        step(record, state, model)
    state_copy, model_copy = pickle.loads(pickle.dumps((state, model)))
    tail = [step(r, state, model) for r in records[600:]]
    assert tail == [step(r, state_copy, model_copy) for r in records[600:]]


def test_batch_verbs_agree_with_one_at_a_time() -> None:
    state = BP.new_state(PARAMS)
    rows = [BP.featurize(r, state, PARAMS) for r in canonical(BP.sample(200, seed=8))]
    frame = pd.DataFrame(rows)
    labels = [float(i % 2) for i in range(len(rows))]
    model = BP.make_model(PARAMS, seed=0)
    assert model.predict_many(frame.iloc[:0]) == []
    model.learn_many(frame, labels)
    assert model.predict_many(frame) == pytest.approx([model.predict_one(x) for x in rows])
    shares = model.contributions(rows[0])
    assert shares and set(shares) <= set(FEATURE_NAMES)


def test_progressive_auc_on_the_sample_beats_chance() -> None:
    labels, scores = [], []
    for kind, value in drive(canonical(BP.sample(6000, seed=0))):
        if kind == "settled":
            labels.append(value[0])
            scores.append(value[1])
    assert len(labels) > 5500
    assert rank_auc(labels, scores) > 0.55


def test_module_docstring_example_runs() -> None:
    result = doctest.testmod(price_movement, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
