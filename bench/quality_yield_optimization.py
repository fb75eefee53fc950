"""yield_optimization against "the current best APY" on its generator: regret over the horizon.

At each snapshot time every pool's prediction settles later with the risk-adjusted APY it paid; the
regret of a rule is the best pool's paid APY minus the paid APY of the pool the rule chose. The
model chooses the highest ``expected_apy``; the baseline the highest APY quoted now. The first
quarter of the replay (the model's warm-up) is left out. No real pool-snapshot history ships in a
package on the index, so this runs on the generator only.

    .venv/bin/python bench/quality_yield_optimization.py
"""

from __future__ import annotations

import time

import pandas as pd
from common import keep_figure

from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.yield_optimization import YieldOptimization
from tracer.online_models import Deployment

ROWS, SEED = 20_000, 1


def regrets(frame: pd.DataFrame) -> tuple[float, float, float, float, float]:
    """Model regret, baseline regret, model MAE, persistence MAE, and CPU µs per event."""
    started = time.process_time()
    report = Deployment(YieldOptimization).replay(frame)
    per_event_us = (time.process_time() - started) / len(frame) * 1e6
    rows = report.rows
    scored = pd.DataFrame(
        {"pos": rows.positions, "score": rows.scores, "label": rows.labels, "t": rows.times_s}
    )
    scored["apy"] = frame["apy"].to_numpy()[scored["pos"]]
    scored = scored.dropna(subset=["label"])
    scored = scored[scored["t"] >= scored["t"].quantile(0.25)]
    by_time = scored.groupby("t")
    best = by_time["label"].max()
    chosen = by_time.apply(lambda g: g["label"].iloc[g["score"].argmax()])
    current = by_time.apply(lambda g: g["label"].iloc[g["apy"].argmax()])
    return (
        float((best - chosen).mean()),
        float((best - current).mean()),
        float((scored["score"] - scored["label"]).abs().mean()),
        float((scored["apy"] - scored["label"]).abs().mean()),
        per_event_us,
    )


def main() -> list[Measured]:
    """Measure and keep the figure; print it."""
    model, baseline, mae, persistence_mae, per_event_us = regrets(YieldOptimization().sample(ROWS, SEED))
    ratio = model / baseline if baseline else float("inf")
    figure = keep_figure(
        Measured(
            blueprint="yield_optimization",
            dataset=f"generator ({ROWS} rows, seed {SEED})",
            data="generated",
            metric="regret over 24 h (APY points)",
            value=model,
            baseline="current best APY",
            baseline_value=baseline,
            ratio=ratio,
            target="< 1.0",
            met=ratio < 1.0,
            extra={"mae": mae, "persistence_mae": persistence_mae, "cpu_us_per_event": per_event_us},
        )
    )
    print(figure)
    return [figure]


if __name__ == "__main__":
    main()
