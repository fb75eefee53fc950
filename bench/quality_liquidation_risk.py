"""``liquidation_risk`` against its natural baseline, "health factor below a threshold" (AUC).

No public dataset of lending-position snapshots ships in a package on the index, so the figures are
on the generator (``simulate_positions``): the stream is replayed by a Deployment (progressive
validation: every snapshot scored before any later snapshot settles it) and, on the same settled
rows, set against the health factor's own ranking (the AUC of ``-HF``: every threshold at once) and
against the generator's planted first-passage chance at the true volatility (its ceiling).

    .venv/bin/python bench/quality_liquidation_risk.py
"""

from __future__ import annotations

import time

import numpy as np
from common import keep_figure, print_table, verdict
from sklearn.metrics import roc_auc_score

from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.liquidation_risk import LiquidationRisk, simulate_positions
from tracer.blueprints.recipes.payment_default import PaymentDefault
from tracer.online_models import Deployment

ROWS = 20_000
SEEDS = (1, 2, 3)


def reference_us(rows: int) -> float:
    """payment_default's cost per event on its own sample, in the same run: the machine's load."""
    frame = PaymentDefault().sample(rows, 1)
    started = time.process_time()
    Deployment(PaymentDefault).replay(frame)
    return (time.process_time() - started) / len(frame) * 1e6


def main() -> None:
    rows = []
    reference = reference_us(ROWS)
    for seed in SEEDS:
        frame, planted = simulate_positions(ROWS, seed)
        started = time.process_time()
        report = Deployment(LiquidationRisk).replay(frame)
        us = (time.process_time() - started) / len(frame) * 1e6
        labels = np.array([np.nan if y is None else y for y in report.rows.labels])
        known = ~np.isnan(labels)
        at = np.asarray(report.rows.positions)[known]
        y, scores = labels[known], np.asarray(report.rows.scores)[known]
        hf = frame["healthFactor"].fillna(
            frame["collateralAmount"]
            * frame["collateralPrice"]
            * frame["liquidationThreshold"]
            / frame["debtAmount"]
        )
        model_auc = float(roc_auc_score(y, scores))
        hf_auc = float(roc_auc_score(y, -hf.to_numpy()[at]))
        ceiling = float(roc_auc_score(y, planted[at]))
        keep_figure(Measured(
            "liquidation_risk", f"generated positions, seed {seed} ({ROWS} snapshots, 24 h horizon)", "generated",
            "progressive AUC", model_auc, "health factor below a threshold (AUC of -HF)", hf_auc,
            model_auc / hf_auc, "> 1.00", model_auc > hf_auc,
            {"ceiling AUC (planted first passage)": ceiling, "ratio to ceiling": model_auc / ceiling,
             "positive rate": float(y.mean()), "µs per event": us, "payment_default µs per event": reference},
        ))  # fmt: skip
        rows.append([seed, int(known.sum()), f"{y.mean():.3f}", model_auc, hf_auc, ceiling,
                     f"{model_auc / ceiling:.3f}", verdict(model_auc > hf_auc), f"{us:.0f}"])  # fmt: skip
    print_table(
        "liquidation_risk: progressive AUC vs health factor (generator; no real data ships in a package)",
        [
            "seed",
            "settled",
            "pos rate",
            "model AUC",
            "HF AUC",
            "ceiling AUC",
            "/ ceiling",
            "beats HF",
            "µs/row",
        ],
        rows,
        note=f"payment_default on its sample, same run: {reference:.0f} µs per event (machine load reference).",
    )


if __name__ == "__main__":
    main()
