"""``gas_price_forecast`` against the EIP-1559 formula, on its generator (no real block data ships in a package).

Run from the repository root (under a minute)::

    .venv/bin/python bench/quality_gas_price_forecast.py

Each horizon (1, 5 and 25 blocks) replays the blueprint's sample (20,000 mainnet-like blocks, seed 1)
through a fresh deployment: every block is scored, then the blocks it settles are learned. On the
rows whose forecast was settled, the MAE of the predicted base fee (gwei) is set against the
natural baseline, the EIP-1559 formula's next base fee held flat over the horizon, and against the
naive forecast (this block's base fee). Target: at least 10% lower MAE than the formula for horizons
longer than one block (at one block the formula is exact, so both are ~0). No public package on the
index ships per-block base fees, so there is no real-data row.
"""

from __future__ import annotations

import math
import time

import numpy as np
from common import keep_figure, print_table, verdict

from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.gas_price_forecast import GasPriceForecast, eip1559_next
from tracer.online_models import Deployment

GAIN_TARGET = 0.10
HORIZONS = (1, 5, 25)
ROWS, SEED = 20_000, 1


def measure(horizon: int, rows: int = ROWS, seed: int = SEED) -> tuple[float, float, float, float, int]:
    """(model MAE, formula MAE, naive MAE, µs per row, settled rows) for one horizon."""
    frame = GasPriceForecast().sample(rows, seed)
    start = time.process_time()
    report = Deployment(GasPriceForecast, {"horizonBlocks": horizon}).replay(frame)
    micros = (time.process_time() - start) / rows * 1e6
    base = frame["base_fee_gwei"].to_numpy(float)
    formula = np.array(
        [
            eip1559_next(b, u, lim)
            for b, u, lim in zip(base, frame["gas_used"], frame["gas_limit"], strict=True)
        ]
    )
    model, flat, naive = [], [], []
    for position, score, label in zip(
        report.rows.positions, report.rows.scores, report.rows.labels, strict=True
    ):
        if label is None:
            continue
        actual = formula[position] * math.exp(label / 100.0)
        model.append(abs(formula[position] * math.exp(score / 100.0) - actual))
        flat.append(abs(formula[position] - actual))
        naive.append(abs(base[position] - actual))
    return float(np.mean(model)), float(np.mean(flat)), float(np.mean(naive)), micros, len(model)


def main() -> None:
    table = []
    for horizon in HORIZONS:
        mae, formula_mae, naive_mae, micros, settled = measure(horizon)
        gain = 1.0 - mae / formula_mae if formula_mae > 1e-9 else 0.0
        met = None if horizon == 1 else gain >= GAIN_TARGET
        keep_figure(
            Measured(
                blueprint="gas_price_forecast",
                dataset=f"sample ({ROWS} blocks), h={horizon}",
                data="generated",
                metric="MAE of the base fee (gwei)",
                value=mae,
                baseline="EIP-1559 formula held flat",
                baseline_value=formula_mae,
                ratio=mae / formula_mae if formula_mae > 1e-9 else 1.0,
                target="" if horizon == 1 else "<= 0.90",
                met=met,
                extra={"naive_mae": naive_mae, "us_per_event": micros, "settled": float(settled)},
            )
        )
        table.append(
            [horizon, settled, mae, formula_mae, naive_mae, f"{gain:.1%}", verdict(met), round(micros, 1)]
        )
    print_table(
        "gas_price_forecast: base fee MAE vs the EIP-1559 formula (stream replay of the sample)",
        ["h", "settled", "MAE", "formula MAE", "naive MAE", "gain", "verdict", "µs/row"],
        table,
        note="gain: 1 - MAE / formula MAE on the same rows (target >= 10% for h > 1); no real data ships in a package.",
    )


if __name__ == "__main__":
    main()
