"""Paired rounds of the Tracer worker and the Quix Streams peer, and their medians.

The machine the bench runs on is shared, and its speed moves by half within a minute (the fixed
task of ``machine_speed_ms`` took 10.3 ms, then 16.3 ms). One Tracer run against one Quix run gave
Tracer/Quix ratios from 0.83x to 1.44x on the same code. So each workload plays several rounds; a
round runs both contenders back to back, on a fresh copy of the source topic, in alternating order
(Tracer first in even rounds, Quix first in odd ones), and a ratio is taken within each round. The
verdicts use the medians: of the per-round ratios, of Tracer's rates and of its p99 latencies.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from common import Figures

__all__ = ["SPEED_DRIFT_WARN", "Round", "median_figures", "median_ratio", "round_rows"]

SPEED_DRIFT_WARN = 0.15
"""A round is flagged when the machine's speed moved more than this during it."""


@dataclass(frozen=True)
class Round:
    """One round of a workload: the Tracer worker's figures, the peer's (if run), the machine's speed."""

    number: int
    tracer: Figures
    quix: Figures | None
    speeds_ms: tuple[float, float]
    """The fixed task's time before and after the round."""

    @property
    def tracer_first(self) -> bool:
        return self.number % 2 == 0

    @property
    def ratio(self) -> float:
        """Tracer's rate over the peer's, within this round (NaN without the peer)."""
        if self.quix is None or not self.quix.events_per_s > 0:
            return math.nan
        return self.tracer.events_per_s / self.quix.events_per_s

    @property
    def speed_moved(self) -> float:
        return max(self.speeds_ms) / min(self.speeds_ms) - 1.0


def _median(values: Sequence[float]) -> float:
    finite = [value for value in values if math.isfinite(value)]
    return statistics.median(finite) if finite else math.nan


def median_figures(label: str, runs: Sequence[Figures]) -> Figures:
    """One row for several runs of a contender: the median rate, p50 and p99, the highest RSS."""
    return Figures(
        label,
        events=runs[0].events,
        events_per_s=_median([run.events_per_s for run in runs]),
        p50_ms=_median([run.p50_ms for run in runs]),
        p99_ms=_median([run.p99_ms for run in runs]),
        rss_mb=max((run.rss_mb for run in runs if math.isfinite(run.rss_mb)), default=math.nan),
        note=_rounds_note(runs),
    )


def _rounds_note(runs: Sequence[Figures]) -> str:
    """The note of a median row: how many rounds, then the first round's own note (named as such)."""
    if len(runs) == 1:
        return runs[0].note
    first = f"; round 1: {runs[0].note}" if runs[0].note else ""
    return f"median of {len(runs)} rounds{first}"


def median_ratio(rounds: Sequence[Round]) -> tuple[float, str]:
    """The median of the per-round Tracer/Quix ratios, and how the targets table shows it (then each
    round's, starred where the machine's speed moved)."""
    median = _median([played.ratio for played in rounds])
    shown = ", ".join(
        f"{played.ratio:.2f}" + ("*" if played.speed_moved > SPEED_DRIFT_WARN else "") for played in rounds
    )
    return median, f"{median:.2f}x (rounds: {shown})"


def round_rows(workload: str, rounds: Sequence[Round]) -> list[list[object]]:
    """The rounds table's rows for one workload."""
    return [
        [
            workload,
            played.number + 1,
            "Tracer, Quix" if played.tracer_first else "Quix, Tracer",
            played.tracer.events_per_s,
            played.quix.events_per_s if played.quix is not None else math.nan,
            f"{played.ratio:.2f}x" if math.isfinite(played.ratio) else "n/a",
            played.tracer.p50_ms,
            played.tracer.p99_ms,
            f"{played.speed_moved:.0%}" + (" *" if played.speed_moved > SPEED_DRIFT_WARN else ""),
        ]
        for played in rounds
    ]
