"""Paired rounds of the Tracer worker and its peers (Quix Streams, Bytewax), and their medians.

The machine the bench runs on is shared, and its speed moves by half within a minute (the fixed
task of ``machine_speed_ms`` took 10.3 ms, then 16.3 ms). One Tracer run against one Quix run gave
Tracer/Quix ratios from 0.83x to 1.44x on the same code. So each workload plays several rounds; a
round runs every contender back to back, on a fresh copy of the source topic, in an order that
rotates from round to round (:func:`round_order`: Tracer, Quix, Bytewax; then Quix, Bytewax, Tracer;
...), and a ratio to each peer is taken within each round. The verdicts use the medians: of the
per-round ratios, of Tracer's rates and of its p99 latencies.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from common import Figures

__all__ = ["PEERS", "SPEED_DRIFT_WARN", "TRACER", "Round", "median_figures", "median_ratio", "round_order",
           "round_rows"]  # fmt: skip

TRACER = "Tracer"
PEERS = ("Quix", "Bytewax")
"""The peers a round can play, by the names the tables use."""

SPEED_DRIFT_WARN = 0.15
"""A round is flagged when the machine's speed moved more than this during it."""


def round_order(number: int, peers: Sequence[str]) -> tuple[str, ...]:
    """Who plays when in round ``number`` (from 0): Tracer then ``peers``, rotated by one each round."""
    contenders = (TRACER, *peers)
    shift = number % len(contenders)
    return contenders[shift:] + contenders[:shift]


@dataclass(frozen=True)
class Round:
    """One round of a workload: the Tracer worker's figures, each peer's that played, the machine's speed."""

    number: int
    tracer: Figures
    peers: Mapping[str, Figures]
    """The peers' figures, by name (``PEERS``)."""
    speeds_ms: tuple[float, float]
    """The fixed task's time before and after the round."""
    order: tuple[str, ...] = field(default=())
    """Who played when (:func:`round_order`)."""

    def ratio(self, peer: str) -> float:
        """Tracer's rate over ``peer``'s, within this round (NaN when that peer did not play)."""
        figures = self.peers.get(peer)
        if figures is None or not figures.events_per_s > 0:
            return math.nan
        return self.tracer.events_per_s / figures.events_per_s

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


def median_ratio(rounds: Sequence[Round], peer: str) -> tuple[float, str]:
    """The median of the per-round Tracer/``peer`` ratios, and how the targets table shows it (then each
    round's, starred where the machine's speed moved)."""
    median = _median([played.ratio(peer) for played in rounds])
    shown = ", ".join(
        f"{played.ratio(peer):.2f}" + ("*" if played.speed_moved > SPEED_DRIFT_WARN else "")
        for played in rounds
    )
    return median, f"{median:.2f}x (rounds: {shown})"


def round_rows(workload: str, rounds: Sequence[Round], peers: Sequence[str]) -> list[list[object]]:
    """The rounds table's rows for one workload: per round, the order, Tracer's rate, each of ``peers``'
    rate, Tracer's ratio to each, Tracer's p50 and p99, and how much the machine's speed moved."""
    rows: list[list[object]] = []
    for played in rounds:
        rates = [played.peers[p].events_per_s if p in played.peers else math.nan for p in peers]
        ratios = [f"{played.ratio(p):.2f}x" if math.isfinite(played.ratio(p)) else "n/a" for p in peers]
        moved = f"{played.speed_moved:.0%}" + (" *" if played.speed_moved > SPEED_DRIFT_WARN else "")
        rows.append([workload, played.number + 1, ", ".join(played.order), played.tracer.events_per_s, *rates,
                     *ratios, played.tracer.p50_ms, played.tracer.p99_ms, moved])  # fmt: skip
    return rows
