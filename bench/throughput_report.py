"""The tables of the throughput bench (:mod:`throughput`): the contenders, the rounds, the broker bytes
written per input event, and the targets of issue 23, each figure next to its target. Nothing is
asserted: a verdict is printed, the run goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common import Figures, print_table, verdict
from rounds import Round, median_ratio, round_rows

__all__ = [
    "INPUT_BYTES",
    "TARGET_CORE_VS_RIVER",
    "TARGET_P99_MS",
    "TARGET_RSS_MB",
    "TARGET_VS_LIMITS",
    "TARGET_VS_PEER",
    "WRITTEN",
    "Results",
    "bytes_rows",
    "harmonic",
    "print_tables",
]

TARGET_VS_PEER = {"Quix": 1.5, "Bytewax": 1.2}
"""Tracer's rate over each peer's, median of the paired rounds, on both workloads."""
TARGET_VS_LIMITS = 0.9
"""The worker over the harmonic combination of the transport limit (b) and Tracer's core without Kafka (c')."""
TARGET_CORE_VS_RIVER = 0.8
"""Tracer's core without Kafka (c') over the River pipeline alone, per event (c)."""
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 300.0

WRITTEN = "written:"
"""Prefix of the ``Figures.extra`` keys holding the bytes the broker appended to a topic during a run."""
INPUT_BYTES = "input_bytes"
"""The ``Figures.extra`` key holding the bytes of the input topic (as produced) before the run."""


@dataclass
class Results:
    """One workload's figures: (a) (the median of its rounds), (b), (c), (c') and each peer's median."""

    tracer: Figures
    relay: Figures
    river: Figures
    river_batched: Figures
    core: Figures
    rounds: list[Round]
    peers: dict[str, Figures] = field(default_factory=dict)

    def rows(self) -> list[list[Any]]:
        figures = [self.tracer, self.relay, self.river, self.river_batched, self.core, *self.peers.values()]
        return [f.row() for f in figures]


def harmonic(first: float, second: float) -> float:
    """``1 / (1/a + 1/b)``: the rate of doing both jobs one after the other in one process."""
    return 1.0 / (1.0 / first + 1.0 / second)


def bytes_rows(label: str, figures: Figures, events: int, predictions: str) -> list[list[Any]]:
    """The broker-bytes rows of one Tracer run (its ``extra``: :data:`INPUT_BYTES` and :data:`WRITTEN`
    keys): the input's bytes per event, then each topic the run wrote, then the sums."""
    written = {k[len(WRITTEN) :]: v for k, v in figures.extra.items() if k.startswith(WRITTEN)}
    if not written or events <= 0:
        return [[label, "(not measured)", math.nan, math.nan, figures.note]]
    source = figures.extra.get(INPUT_BYTES, math.nan)
    total = sum(written.values())
    rows: list[list[Any]] = [
        [label, "input topic (as produced, before the run)", source, source / events, ""]
    ]
    for topic, size in sorted(written.items(), key=lambda item: -item[1]):
        rows.append([label, f"  {topic}", size, size / events, ""])
    ideal = source + written.get(predictions, 0.0)
    rows.append([label, "all the run wrote", total, total / events, f"{total / source:.2f}x the input"])
    rows.append([label, "input + all the run wrote", source + total, (source + total) / events,
                 f"input + predictions alone: {ideal / events:,.0f} B/event"])  # fmt: skip
    return rows


def _peer_names(results: Mapping[str, Results]) -> list[str]:
    names: list[str] = []
    for result in results.values():
        names += [name for played in result.rounds for name in played.peers if name not in names]
    return names


def _targets(results: Mapping[str, Results], many: Figures, multi: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, result in results.items():
        for peer in _peer_names(results):
            ratio, shown = median_ratio(result.rounds, peer)
            target = TARGET_VS_PEER.get(peer, math.nan)
            rows.append([f"{name}: Tracer >= {target}x {peer}", shown, verdict(ratio >= target)])
        tracer, relay, river, core = result.tracer, result.relay, result.river, result.core
        p99s = ", ".join(f"{r.tracer.p99_ms:.0f}" for r in result.rounds)
        rows.append([f"{name}: p99 <= {TARGET_P99_MS:g} ms at half max rate",
                     f"{tracer.p99_ms:.1f} ms (rounds: {p99s})",
                     verdict(tracer.p99_ms <= TARGET_P99_MS) if math.isfinite(tracer.p99_ms) else "n/a"])  # fmt: skip
        bound = harmonic(relay.events_per_s, core.events_per_s)
        ratio = tracer.events_per_s / bound
        rows.append([f"{name}: worker (a) >= {TARGET_VS_LIMITS}x 1/(1/b + 1/c')",
                     f"{tracer.events_per_s:,.0f} vs {bound:,.0f}: {ratio:.2f}x",
                     verdict(ratio >= TARGET_VS_LIMITS) if math.isfinite(ratio) else "n/a"])  # fmt: skip
        ratio = core.events_per_s / river.events_per_s
        rows.append([f"{name}: core (c') >= {TARGET_CORE_VS_RIVER}x River alone per event (c)",
                     f"{core.events_per_s:,.0f} vs {river.events_per_s:,.0f}: {ratio:.2f}x",
                     verdict(ratio >= TARGET_CORE_VS_RIVER) if math.isfinite(ratio) else "n/a"])  # fmt: skip
    rows.append([f"RSS < {TARGET_RSS_MB:g} MB with {multi} deployments", f"{many.rss_mb:.0f} MB",
                 verdict(many.rss_mb < TARGET_RSS_MB) if math.isfinite(many.rss_mb) else "n/a"])  # fmt: skip
    rows.append([f"fan-out (f): {multi} deployments on one topic, input events/s", f"{many.events_per_s:,.0f}/s "
                 f"({many.extra.get('predictions_per_s', math.nan):,.0f} predictions/s)", verdict(None)])  # fmt: skip
    return rows


def print_tables(
    title: str, results: Mapping[str, Results], many: Figures, multi: int, byte_rows: Sequence[list[Any]]
) -> None:
    """Every table of the run: contenders, rounds, broker bytes, targets."""
    peers = _peer_names(results)
    rows = [row for result in results.values() for row in result.rows()] + [many.row()]
    print_table(
        title,
        ["contender", "events", "events/s", "p50 ms", "p99 ms", "peak RSS MB", "note"],
        rows,
        note=(
            "events/s: first to last output ((f): input rows/s); latency: source producer timestamp -> broker\n"
            "append time of the prediction, at a paced load of half the worker's max rate; RSS: VmHWM of the\n"
            "contender's process (a Tracer worker's: the sum with its router process)."
        ),
    )
    print_table(
        "Rounds (Tracer and its peers back to back on the same events, the order rotating; * the machine's "
        "speed moved > 15%)",
        ["workload", "round", "order", "Tracer events/s", *(f"{p} events/s" for p in peers),
         *(f"Tracer/{p}" for p in peers), "p50 ms", "p99 ms", "speed moved"],
        [row for name, result in results.items() for row in round_rows(name, result.rounds, peers)],
    )  # fmt: skip
    print_table(
        "Broker bytes written per input event (Tracer worker on the backlog, round 1; (f): the fan-out run)",
        ["run", "topic", "bytes", "B/input event", "note"],
        byte_rows,
        note="Log segment sizes on the broker's disk before and after the run (record batches as stored).",
    )
    print_table("Targets (issue 23)", ["target", "measured", ""], _targets(results, many, multi))
