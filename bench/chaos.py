"""Chaos on a real broker (issue 24): bad messages, kill -9s, broker outages, a lost worker, a
tampered checkpoint and a soak, with one table of what became of every input.

    python bench/chaos.py                       # the issue's sizes (the soak alone takes 30 min)
    python bench/chaos.py --scale 0.1 --soak-seconds 60 --kills 5

It starts a local KRaft broker of its own (stopped and restarted by scenario 3) unless ``--broker``
names one (then scenario 3 is skipped). Figures are printed, never asserted: the short versions in
``tests/integration/test_chaos_*.py`` assert the invariants. Needs kcat and Java.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import chaos_scenarios as scenarios
from chaos_kit import HEADER, Outcome
from common import print_table

from tracer.agents.kafka_local import LocalKafka, free_port_pair

MAX_RATE = 9_000.0
"""Churn events a second one worker keeps up with on this 2-core machine (README, paced load)."""


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every event count")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--soak-seconds", type=float, default=1800.0)
    parser.add_argument("--max-rate", type=float, default=MAX_RATE, help="the soak runs at half this rate")
    parser.add_argument("--broker", help="an existing broker (scenario 3, which stops it, is then skipped)")
    parser.add_argument("--only", help="comma-separated scenario numbers, e.g. 1,5")
    return parser.parse_args()


async def _run(args: argparse.Namespace, work: Path, kafka: LocalKafka | None, broker: str) -> list[Outcome]:
    def n(events: int) -> int:
        return max(100, int(events * args.scale))

    tag = uuid.uuid4().hex[:6]
    planned: dict[str, Callable[[], Awaitable[Outcome]]] = {
        "1": lambda: scenarios.fuzzed(broker, work, f"c1{tag}.", good=n(100_000), bad=n(10_000)),
        "2": lambda: scenarios.kill_nines(broker, work, f"c2{tag}.", events=n(200_000), kills=args.kills),
        "4": lambda: scenarios.two_workers(broker, work, f"c4{tag}.", first=n(8_000), second=n(7_000)),
        "5": lambda: scenarios.tampered_checkpoint(broker, work, f"c5{tag}.", before=n(10_000), after=n(2_000)),
        "6": lambda: scenarios.soak(broker, work, f"c6{tag}.", args.max_rate / 2, args.soak_seconds),
    }  # fmt: skip
    if kafka is not None:
        planned["3"] = lambda: scenarios.broker_outages(kafka, work, f"c3{tag}.", events=n(100_000))
    wanted = set(args.only.split(",")) if args.only else set(planned)
    outcomes = []
    for number in sorted(wanted & set(planned)):
        print(f"scenario {number}...", flush=True)
        outcome = await planned[number]()
        print(f"  {outcome.row()}\n  {outcome.facts}", flush=True)
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    args = _parse()
    with tempfile.TemporaryDirectory(prefix="tracer-chaos-") as folder:
        work = Path(folder)
        kafka = None
        if args.broker is None:
            kafka = LocalKafka(free_port_pair(), data_dir=work / "kafka")
            kafka.start(timeout_s=120)
        try:
            outcomes = asyncio.run(_run(args, work, kafka, args.broker or kafka.bootstrap))  # type: ignore[union-attr]
        finally:
            if kafka is not None:
                kafka.stop()
    print_table(
        f"Chaos on a real broker (scale {args.scale}, {args.kills} kills, soak {args.soak_seconds:.0f} s)",
        HEADER, [outcome.row() for outcome in outcomes],
        note="missing: inputs with neither a prediction nor a dead letter; duplicates: outputs past the "
        "first for one input (per source offset); recovery: restart to owning (2, 4: from the stop; "
        "3: broker back to caught up); RSS: worker + router process.",
    )  # fmt: skip


if __name__ == "__main__":
    main()
