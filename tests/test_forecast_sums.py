"""Horizon totals from kept cycle sums: the same as summing step by step, and the same whatever was asked
before from the same model state (the memo a series empties when it learns)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from tracer.blueprints.engines.forecast_sums import CycleSums
from tracer.blueprints.engines.seasonal_forecaster import SeasonalForecaster


@pytest.mark.parametrize("m", [1, 4, 7, 52, 168])
@pytest.mark.parametrize("phi", [1.0, 0.98])
def test_cycle_sums_are_the_step_by_step_sums(m: int, phi: float) -> None:
    rng = np.random.default_rng(m)
    weights, adds = rng.normal(1.0, 0.3, m), rng.normal(0.0, 5.0, m)
    sums = CycleSums.of(weights, adds, phi)
    for start in (0, 3, m - 1, 5 * m + 2):
        for steps in (1, m - 1, m, 2 * m + 3, 91):
            positions = [(start + h) % m for h in range(1, steps + 1)]
            plain, geometric, added = sums.parts(start, steps)
            assert plain == pytest.approx(sum(weights[p] for p in positions), rel=1e-12)
            assert added == pytest.approx(sum(adds[p] for p in positions), rel=1e-9, abs=1e-9)
            if phi < 1.0:
                damped = sum(phi**h * weights[p] for h, p in enumerate(positions, start=1))
                assert geometric == pytest.approx(damped, rel=1e-12)
            assert sums.parts(start, steps) == (plain, geometric, added)  # kept, not recomputed


def _rows(kind: str, n: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(5)
    if kind == "daily":
        return [
            (1.7e9 + i * 86_400.0, 1000.0 + 3 * i + 200.0 * (i % 7 == 5) + rng.normal(0, 20))
            for i in range(n)
        ]
    if kind == "weekly":
        return [(1.6e9 + i * 604_800.0, -500.0 + 300 * math.sin(i / 8) + rng.normal(0, 50)) for i in range(n)]
    rows = []  # 5-minute slots, weekdays 07:00-21:55
    for i in range(n):
        day, slot = divmod(i, 180)
        week, weekday = divmod(day, 5)
        ts = 1_704_067_200.0 + (week * 7 + weekday) * 86_400 + 7 * 3_600 + slot * 300
        rows.append((ts, float(rng.poisson(5 + 3 * math.sin(slot / 57)))))
    return rows


@pytest.mark.parametrize(("kind", "n"), [("daily", 400), ("weekly", 160), ("intraday", 3 * 5 * 180)])
def test_totals_scored_from_one_state_do_not_depend_on_what_was_asked_before(kind: str, n: int) -> None:
    rows = _rows(kind, n)
    model = SeasonalForecaster(interval_days=7.0)
    for ts, y in rows[:-40]:
        model.learn_one({"series_id": kind, "date_epoch_s": ts, "customer_count": 100.0}, y)
    horizons = (1.0, 7.0, 30.0, 90.0, 28.0)
    state = pickle.dumps(model)  # the series' memo is not pickled: each copy below starts empty
    block = [model.outlook({"series_id": kind, "date_epoch_s": ts}, horizons) for ts, _ in rows[-40:]]
    for (ts, _), shared in zip(rows[-40:], block, strict=True):
        alone = pickle.loads(state).outlook({"series_id": kind, "date_epoch_s": ts}, horizons)
        assert alone == shared
        assert all(math.isfinite(total) for total in shared.totals) and shared.totals[3] != 0.0  # 90 days
    assert model.forecast(3, kind) == pickle.loads(state).forecast(3, kind)
