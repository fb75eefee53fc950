"""Every wire model round-trips through JSON, and invalid values are rejected naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tracer.agents.cli import main
from tracer.schemas import (
    WIRE_MODELS,
    DeadLetter,
    DeploymentSpec,
    DriftAlert,
    Label,
    MarketSnapshot,
    ModelVersion,
    Prediction,
    ReasonCode,
    ShadowReport,
    SourceOffset,
)
from tracer.schemas.block_snapshot import BlockSnapshot
from tracer.schemas.decode import Rejection, decode
from tracer.schemas.pool_snapshot import PoolSnapshot
from tracer.schemas.position_snapshot import PositionSnapshot
from tracer.schemas.token_transfer import TokenTransfer

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)
non_negative = st.floats(min_value=0, max_value=1e12, allow_nan=False)
fraction = st.floats(min_value=0, max_value=1)
millis = st.integers(min_value=0, max_value=2**53)
name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
slug = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)
topic = st.from_regex(r"[A-Za-z0-9._-]{1,30}", fullmatch=True)
source = st.builds(SourceOffset, topic=topic, partition=st.integers(0, 100), offset=st.integers(0, 2**40))
json_scalar = st.one_of(st.booleans(), st.integers(-(2**31), 2**31), finite, name)
param_value = st.one_of(st.booleans(), st.integers(-1000, 1000), finite, name)

STRATEGIES: dict[type[BaseModel], st.SearchStrategy[Any]] = {
    MarketSnapshot: st.builds(
        MarketSnapshot, ts=millis, symbol=name, mid=positive, spreadBp=non_negative, vol1m=non_negative,
        rsi14=st.floats(0, 100), bid=st.none(), ask=st.none(), volume=st.none() | non_negative,
    ),
    Label: st.builds(Label, deployment=name, key=name, label=json_scalar, ts=millis),
    Prediction: st.builds(
        Prediction, deployment=name, blueprint=name, model_version=st.integers(1, 10**6), key=name,
        output=st.dictionaries(name, json_scalar, max_size=5), latency_ms=non_negative, source=source, ts=millis,
    ),
    DriftAlert: st.builds(
        DriftAlert, deployment=name, model_version=st.integers(1, 100), kind=st.sampled_from(["data", "concept"]),
        feature=st.none() | name, detector=name, statistic=finite, threshold=finite,
        reference_window_events=st.integers(0, 10**6), current_window_events=st.integers(0, 10**6),
        position=st.integers(0, 10**9), source=st.none() | source, detected_at=millis,
    ),
    ShadowReport: st.builds(
        ShadowReport, deployment=name, live_version=st.integers(1, 100), shadow=name,
        window_events=st.integers(1, 10**6), agreement=fraction, agreement_slo=fraction, below_slo=st.booleans(),
        labelled_events=st.integers(0, 10**6), live_metrics=st.dictionaries(name, finite, max_size=4),
        shadow_metrics=st.dictionaries(name, finite, max_size=4), position=st.integers(0, 10**9), ts=millis,
    ),
    DeadLetter: st.builds(
        DeadLetter, reason=st.sampled_from(ReasonCode), error=name, raw=st.binary(max_size=200),
        key=st.none() | st.binary(max_size=20), source=source, deployment=st.none() | name, ts=millis,
    ),
    ModelVersion: st.builds(
        ModelVersion, deployment=slug, version=st.integers(1, 1000), parent_version=st.none() | st.integers(1, 999),
        blueprint=name, params=st.dictionaries(name, param_value, max_size=4),
        reason=st.sampled_from(["deploy", "drift_swap", "promotion", "rollback"]), created_at=millis,
        learned_through=st.dictionaries(name, st.integers(0, 2**40), max_size=4),
        metrics=st.dictionaries(name, finite, max_size=4),
    ),
    DeploymentSpec: st.builds(
        DeploymentSpec, id=slug, blueprint=name, params=st.dictionaries(name, param_value, max_size=4),
        input_topics=st.lists(topic, min_size=1, max_size=3), column_mapping=st.dictionaries(name, name, max_size=4),
        key_field=name,
    ),
    PositionSnapshot: st.builds(
        PositionSnapshot, ts=millis, protocol=name, account=name, collateralAsset=name, debtAsset=name,
        collateralAmount=non_negative, collateralPrice=positive, debtAmount=non_negative, debtPrice=positive,
        liquidationThreshold=st.floats(0.01, 1.0), healthFactor=st.none() | non_negative,
        liquidated=st.none() | st.booleans(),
    ),
    PoolSnapshot: st.builds(
        PoolSnapshot, ts=millis, protocol=name, pool=name, apy=st.floats(-100, 1e5), tvlUsd=non_negative,
        utilization=fraction, rewardTokenPrice=non_negative, apyBase=st.none() | st.floats(-100, 1e5),
        apyReward=st.none() | st.floats(0, 1e5),
    ),
    TokenTransfer: st.builds(
        TokenTransfer, ts=millis, from_address=name, to_address=name, token=name, amount=non_negative,
        usd_value=st.none() | non_negative, to_exchange=st.booleans(), tx_hash=st.none() | name,
    ),
    BlockSnapshot: st.builds(
        BlockSnapshot, number=st.integers(0, 10**9), timestamp=st.integers(0, 2**32), baseFeePerGas=positive,
        gasUsed=st.just(0.0), gasLimit=positive, priorityFeePerGas=st.none() | non_negative,
        transactionCount=st.none() | st.integers(0, 10**5), chain=st.none() | name,
    ),
}  # fmt: skip


def test_every_wire_model_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(WIRE_MODELS)


@pytest.mark.parametrize("model", WIRE_MODELS, ids=lambda m: m.__name__)
@given(data=st.data())
def test_json_round_trip(model: type[BaseModel], data: st.DataObject) -> None:
    instance = data.draw(STRATEGIES[model])
    assert model.model_validate_json(instance.model_dump_json()) == instance


# (model, field, an invalid value for it) — each must be rejected with the field's name in the message.
INVALID: list[tuple[type[BaseModel], str, Any]] = [
    (MarketSnapshot, "mid", -1.0),
    (MarketSnapshot, "mid", "expensive"),
    (MarketSnapshot, "rsi14", 101),
    (MarketSnapshot, "spreadBp", float("inf")),
    (MarketSnapshot, "ts", -5),
    (MarketSnapshot, "symbol", ""),
    (Label, "key", ""),
    (Prediction, "model_version", 0),
    (Prediction, "latency_ms", -1),
    (DriftAlert, "kind", "weather"),
    (ShadowReport, "agreement", 1.5),
    (DeadLetter, "reason", "bad_vibes"),
    (ModelVersion, "reason", "because"),
    (DeploymentSpec, "id", "Has Spaces"),
    (DeploymentSpec, "input_topics", []),
]


@pytest.mark.parametrize(("model", "field", "bad"), INVALID, ids=lambda v: getattr(v, "__name__", repr(v)))
@given(data=st.data())
def test_invalid_values_name_the_field(
    model: type[BaseModel], field: str, bad: Any, data: st.DataObject
) -> None:
    fields = data.draw(STRATEGIES[model]).model_dump()
    fields[field] = bad
    with pytest.raises(ValidationError) as raised:
        model.model_validate(fields)
    assert field in str(raised.value)


def test_outbound_models_refuse_unknown_fields_and_inbound_ignore_them() -> None:
    snapshot = {"ts": 1, "symbol": "BTC", "mid": 1, "spreadBp": 1, "vol1m": 1, "rsi14": 50, "exchange": "x"}
    assert MarketSnapshot.model_validate(snapshot).symbol == "BTC"
    with pytest.raises(ValidationError, match="surprise"):
        SourceOffset.model_validate({"topic": "t", "partition": 0, "offset": 0, "surprise": 1})


def test_bid_above_ask_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"bid 2\.0 is above ask 1\.0"):
        MarketSnapshot(ts=1, symbol="B", mid=1.5, spreadBp=1, vol1m=1, rsi14=50, bid=2, ask=1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", ReasonCode.NOT_JSON),
        (b"{not json", ReasonCode.NOT_JSON),
        (b"[]", ReasonCode.NOT_AN_OBJECT),
        (b'{"ts": 1}', ReasonCode.MISSING_FIELD),
        (
            b'{"ts": 1, "symbol": "B", "mid": "x", "spreadBp": 1, "vol1m": 1, "rsi14": 5}',
            ReasonCode.WRONG_TYPE,
        ),
        (
            b'{"ts": 1, "symbol": "B", "mid": NaN, "spreadBp": 1, "vol1m": 1, "rsi14": 5}',
            ReasonCode.NON_FINITE,
        ),
        (
            b'{"ts": 1, "symbol": "B", "mid": 1, "spreadBp": 1, "vol1m": 1, "rsi14": 500}',
            ReasonCode.INVALID_VALUE,
        ),
        (b"{" + b" " * 2_000_000 + b"}", ReasonCode.OVERSIZED),
    ],
)
def test_decode_gives_a_reason_code(raw: bytes, reason: ReasonCode) -> None:
    result = decode(MarketSnapshot, raw)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert result.error


def test_schemas_export_writes_one_schema_per_model(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(main, ["schemas", "export", str(tmp_path)])
    assert outcome.exit_code == 0, outcome.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"{m.__name__}.schema.json" for m in WIRE_MODELS)
    snapshot = json.loads((tmp_path / "MarketSnapshot.schema.json").read_text())
    assert set(snapshot["required"]) == {"ts", "symbol", "mid", "spreadBp", "vol1m", "rsi14"}
    assert snapshot["properties"]["rsi14"]["maximum"] == 100
