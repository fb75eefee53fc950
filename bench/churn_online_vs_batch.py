"""customer_churn: online model vs a batch baseline on the same rows, and the per-event cost.

Run: ``.venv/bin/python bench/churn_online_vs_batch.py [n_rows] [seed]``

The sample is replayed in time order through a Deployment (score, then learn each row's label).
The first 70% of rows (by time) are the batch baseline's training set; both are scored on the last
30%: the online model with its progressive predictions (it keeps learning as it goes, as it would
in production), the baseline with a HistGradientBoostingClassifier fitted once on the first 70%, on
the very same feature vectors the blueprint produced.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models import Deployment, Scored


def _per_event_us(rows: list[dict[str, object]], batch_size: int, repeats: int) -> float:
    """CPU time per event of scoring and learning every row, best of ``repeats`` fresh deployments."""
    best = float("inf")
    for _ in range(repeats):
        deployment = Deployment(CustomerChurn, seed=42)
        started = time.process_time()
        if batch_size == 1:
            for row in rows:
                scored = deployment.score(row)
                deployment.learn_one(scored, scored.label if scored.label is not None else 0.0)
        else:
            for start in range(0, len(rows), batch_size):
                results = deployment.score_many(rows[start : start + batch_size])
                deployment.learn_from([r for r in results if isinstance(r, Scored)])
        best = min(best, time.process_time() - started)
    return best / len(rows) * 1e6


def main(n_rows: int = 20_000, seed: int = 0, repeats: int = 5) -> None:
    frame = CustomerChurn().sample(n_rows, seed)
    rows = frame.to_dict("records")

    deployment = Deployment(CustomerChurn, seed=42)
    features, scores, labels = [], [], []
    for row in rows:
        scored = deployment.score(row)
        deployment.learn_one(scored, scored.label if scored.label is not None else 0.0)
        features.append(scored.features)
        scores.append(scored.score)
        labels.append(scored.label)

    x = pd.DataFrame.from_records(features)
    x["plan_type"] = x["plan_type"].astype("category")
    y = np.array(labels)
    cut = int(len(x) * 0.7)
    baseline = HistGradientBoostingClassifier(random_state=0, categorical_features="from_dtype")
    baseline.fit(x.iloc[:cut], y[:cut])
    batch_auc = roc_auc_score(y[cut:], baseline.predict_proba(x.iloc[cut:])[:, 1])
    online_auc = roc_auc_score(y[cut:], np.array(scores)[cut:])
    print(f"rows={len(rows)} positive_rate={y.mean():.3f} test_rows={len(x) - cut}")
    print(f"online AUC (progressive, last 30%) = {online_auc:.4f}")
    print(f"batch HGB AUC (fit on first 70%)  = {batch_auc:.4f}")
    print(f"ratio online/batch = {online_auc / batch_auc:.3f}")
    print(f"CPU per event, score + learn_one, best of {repeats}: {_per_event_us(rows, 1, repeats):.1f} us")
    print(f"CPU per event, score_many + learn_from (256 a batch): {_per_event_us(rows, 256, repeats):.1f} us")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
