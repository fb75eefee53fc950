"""The six chaos scenarios of issue 24, each a function of its sizes that returns its figures.

``bench/chaos.py`` runs them at the issue's sizes and prints one table; the tests under
``tests/integration/test_chaos_*.py`` run short versions and assert on the same figures. Every
scenario has its own topic prefix, so they share one broker (the outage scenario stops the broker it
is given, so it needs one of its own).
"""

from __future__ import annotations

import asyncio
import copy
import math
import random
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from chaos_fuzz import TOPIC_MAX_BYTES, bad_messages, churn_rows, kcat_lines
from chaos_kit import (
    SECRET,
    ChaosWorker,
    Outcome,
    churn_spec,
    create_input,
    fates,
    footprint,
    kcat_produce,
    produce_paced,
    wait_for_fates,
)
from kafka_io import end_offsets, read_range

from tracer.agents.kafka_local import LocalKafka
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models.checkpoint import open_checkpoint

__all__ = ["broker_outages", "fuzzed", "kill_nines", "soak", "tampered_checkpoint", "two_workers"]

DRAIN_S = 600.0
"""How long a scenario waits for every input to get its fate before it reports what is missing."""
SETTLE_S = 3.0
"""Idle time before a clean stop whose model is compared: the worker closes an open learning block
after 0.5 s idle (``BLOCK_IDLE_S``); stopped sooner, the block's labels wait in the checkpoint, unlearned."""


def _keyed(values: list[bytes]) -> bytes:
    return kcat_lines(values)


def _settle(outcome: Outcome, seen: Any, inputs: int) -> Outcome:
    outcome.inputs = inputs
    outcome.predictions, outcome.dead_letters = sum(seen.predicted.values()), sum(seen.dead.values())
    outcome.missing, outcome.duplicates = len(seen.missing(inputs)), seen.duplicates()
    return outcome


async def fuzzed(broker: str, work: Path, prefix: str, good: int, bad: int, seed: int = 24) -> Outcome:
    """Bad messages of every kind among good rows: each bad one dead-lettered with its reason, each
    good one predicted, once, and the worker never crashes."""
    source = prefix + "fuzz"
    await create_input(broker, source, TOPIC_MAX_BYTES)
    rng = random.Random(seed)
    mixed: list[tuple[bytes, str | None]] = [(row, None) for row in churn_rows(good, seed)]
    for message in bad_messages(bad, seed):
        mixed.insert(rng.randint(256, len(mixed)), (message.value, message.reason.value))  # after profiling
    kcat_produce(broker, source, _keyed([value for value, _ in mixed]), work, TOPIC_MAX_BYTES)
    worker = ChaosWorker(broker, work, prefix, [churn_spec("churn", source)])
    worker.start()
    seen = await wait_for_fates(broker, prefix, source, len(mixed), DRAIN_S)
    rss = footprint(worker.pid).rss_mb if worker.alive() else math.nan
    died = not worker.alive()
    worker.stop()
    expected = {offset: reason for offset, (_, reason) in enumerate(mixed)}
    wrong = {o: (want, seen.reasons.get(o, "predicted")) for o, want in expected.items()
             if want is not None and seen.reasons.get(o) != want}  # fmt: skip
    good_dead = [o for o, want in expected.items() if want is None and seen.dead[o]]
    exact = all(seen.predicted[o] + seen.dead[o] == 1 for o in expected)
    outcome = _settle(Outcome("1 fuzzed bad messages", rss_mb=rss), seen, len(mixed))
    outcome.crashes = int(died) + worker.crashes()
    outcome.note = f"{bad:,} bad of {len(mixed):,}; wrong reason {len(wrong)}; good dead {len(good_dead)}"
    outcome.facts = {"wrong_reasons": dict(list(wrong.items())[:20]), "n_wrong": len(wrong),
                     "good_dead_lettered": len(good_dead), "exactly_one_fate": exact}  # fmt: skip
    return outcome


def probe_outputs(state: Any) -> list[dict[str, Any]]:
    """The final model's outputs on rows it never saw (on a copy; as the crash-equivalence test)."""
    live = copy.deepcopy(state.live.live)
    probe = CustomerChurn().sample(60, seed=99)
    return [live.predict_one(row).model_dump() for row in probe.to_dict(orient="records")]


async def final_state(broker: str, prefix: str, deployment: str) -> Any:
    """The deployment's latest checkpoint, verified with the bench's key."""
    record = (await _latest_checkpoints(broker, prefix))[deployment]
    return open_checkpoint(record.value, secret=SECRET).state


async def _latest_checkpoints(broker: str, prefix: str) -> dict[str, Any]:
    topic = prefix + "tracer.checkpoints"
    latest: dict[str, Any] = {}
    for record in await read_range(broker, topic, {}, await end_offsets(broker, topic)):
        if record.key is not None and record.value is not None:
            latest[record.key.decode()] = record
    return latest


async def _run_to_end(broker: str, work: Path, prefix: str, source: str, events: int, **spec: Any) -> Any:
    worker = ChaosWorker(broker, work, prefix, [churn_spec("churn", source, **spec)])
    worker.start()
    seen = await wait_for_fates(broker, prefix, source, events, DRAIN_S)
    await asyncio.sleep(SETTLE_S)
    worker.stop()
    return seen, await final_state(broker, prefix, "churn")


async def kill_nines(broker: str, work: Path, prefix: str, events: int, kills: int, seed: int = 9) -> Outcome:
    """``kills`` SIGKILLs at random moments while the stream arrives in ``kills + 1`` parts: nothing is
    missing, and the final model predicts what an uninterrupted run's does on a probe set."""
    source, rng = prefix + "kills", random.Random(seed)
    await create_input(broker, source)
    rows = list(churn_rows(events, seed))
    part = math.ceil(events / (kills + 1))
    spec = {"checkpoint_every_events": max(500, events // 40)}
    worker = ChaosWorker(broker, work, prefix + "crash.", [churn_spec("churn", source, **spec)])
    recoveries, peak_rss = [], 0.0
    for k in range(kills + 1):
        kcat_produce(broker, source, _keyed(rows[k * part : (k + 1) * part]), work)
        worker.start()
        recoveries.append(await worker.wait_owned(["churn"]))
        if k == kills:
            break
        await asyncio.sleep(rng.uniform(0.3, 3.0))
        peak_rss = max(peak_rss, footprint(worker.pid).rss_mb) if worker.alive() else peak_rss
        worker.kill9()
    seen = await wait_for_fates(broker, prefix + "crash.", source, events, DRAIN_S)
    await asyncio.sleep(SETTLE_S)
    exit_status = worker.stop()
    crashed = await final_state(broker, prefix + "crash.", "churn")
    _, calm = await _run_to_end(broker, work, prefix + "calm.", source, events, **spec)
    same = probe_outputs(crashed) == probe_outputs(calm)
    outcome = _settle(
        Outcome(f"2 kill -9 x{kills}", recovery_s=max(recoveries), rss_mb=peak_rss), seen, events
    )
    outcome.crashes = int(exit_status not in (0, None))
    outcome.note = (
        f"probe {'identical' if same else 'DIFFERS'}; mean recovery {sum(recoveries) / len(recoveries):.1f} s"
    )
    outcome.facts = {"probe_identical": same, "learned": crashed.live.live.counters()["labels_learned"],
                     "calm_learned": calm.live.live.counters()["labels_learned"],
                     "accepted": crashed.accepted, "calm_accepted": calm.accepted, "recoveries_s": recoveries}  # fmt: skip
    return outcome


async def broker_outages(kafka: LocalKafka, work: Path, prefix: str, events: int, outages: int = 2,
                         outage_s: float = 10.0) -> Outcome:  # fmt: skip
    """The broker stopped and started ``outages`` times while the stream arrives: nothing missing.
    Recovery is from the broker's restart to every input sent so far having its fate."""
    broker, source = kafka.bootstrap, prefix + "outage"
    await create_input(broker, source)
    rows = list(churn_rows(events, 3))
    part = math.ceil(events / (outages + 1))
    worker = ChaosWorker(broker, work, prefix, [churn_spec("churn", source, checkpoint_every_events=1000)])
    worker.start()
    await worker.wait_owned(["churn"])
    recoveries = []
    for k in range(outages + 1):
        kcat_produce(broker, source, _keyed(rows[k * part : (k + 1) * part]), work)
        if k == outages:
            break
        await asyncio.sleep(1.0)  # mid-stream
        await asyncio.to_thread(kafka.stop)  # LocalKafka runs its own event loop
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(kafka.start, timeout_s=120)
        restarted = time.monotonic()
        await wait_for_fates(broker, prefix, source, min(events, (k + 1) * part), DRAIN_S)
        recoveries.append(time.monotonic() - restarted)
    seen = await wait_for_fates(broker, prefix, source, events, DRAIN_S)
    rss = footprint(worker.pid).rss_mb if worker.alive() else math.nan
    died = not worker.alive()
    exit_status = worker.stop()
    outcome = _settle(
        Outcome(f"3 broker down x{outages}", recovery_s=max(recoveries), rss_mb=rss), seen, events
    )
    outcome.crashes = int(died or exit_status != 0)
    outcome.note = f"{outage_s:.0f} s outages; worker exit {exit_status}"
    return outcome


DEPLOYMENTS = ["churn-a", "churn-b", "churn-d", "churn-e"]  # one on each of the 4 routed partitions


async def two_workers(broker: str, work: Path, prefix: str, first: int, second: int) -> Outcome:
    """Two workers share 4 deployments; one is stopped and the other owns all four, state carried."""
    source = prefix + "pair"
    await create_input(broker, source)
    specs = [churn_spec(d, source) for d in DEPLOYMENTS]
    one = ChaosWorker(broker, work, prefix, specs, app_id=prefix + "group", name="one")
    two = ChaosWorker(broker, work, prefix, specs, app_id=prefix + "group", name="two")
    one.start()
    two.start()
    rows = churn_rows(first + second, 1)
    kcat_produce(broker, source, _keyed(list(rows[:first])), work)
    for d in DEPLOYMENTS:  # both hold some before one goes
        await _wait_deployment(broker, prefix, source, d, first)
    split = (len(one.owned()), len(two.owned()))
    one.stop()
    stopped = time.monotonic()
    resumed_s = await two.wait_owned(DEPLOYMENTS, timeout_s=120)
    resumed_s = time.monotonic() - stopped if not math.isnan(resumed_s) else math.nan
    kcat_produce(broker, source, _keyed(list(rows[first:])), work)
    totals, carried = {"missing": 0, "duplicates": 0, "predictions": 0}, True
    for d in DEPLOYMENTS:
        seen = await _wait_deployment(broker, prefix, source, d, first + second)
        totals["missing"] += len(seen.missing(first + second))
        totals["duplicates"] += seen.duplicates()
        totals["predictions"] += sum(seen.predicted.values())
    rss = footprint(two.pid).rss_mb if two.alive() else math.nan
    two.stop()
    for d in DEPLOYMENTS:
        counters = (await final_state(broker, prefix, d)).live.live.counters()
        carried &= counters["predictions"] == counters["labels_learned"] == first + second
    outcome = Outcome("4 two workers, one stopped", inputs=(first + second) * len(DEPLOYMENTS),
                      predictions=totals["predictions"], missing=totals["missing"], duplicates=totals["duplicates"],
                      recovery_s=resumed_s, rss_mb=rss)  # fmt: skip
    outcome.note = f"owned before {split[0]}+{split[1]}; state {'carried' if carried else 'LOST'}"
    outcome.facts = {"state_carried": carried, "split": split, "resumed_s": resumed_s}
    return outcome


async def _wait_deployment(broker: str, prefix: str, source: str, deployment: str, inputs: int) -> Any:
    deadline = time.monotonic() + DRAIN_S
    while True:
        seen = await fates(broker, prefix, source, deployment)
        if not seen.missing(inputs) or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(1.0)


async def tampered_checkpoint(broker: str, work: Path, prefix: str, before: int, after: int) -> Outcome:
    """A checkpoint altered on the broker, then a restart: is it refused, is health degraded, and is
    history re-emitted? Measured as is (duplicates per source offset), not assumed."""
    source = prefix + "tamper"
    await create_input(broker, source)
    rows = churn_rows(before + after, 5)
    # Checkpoints only on a clean stop (and every 30 s): the refusal stays visible in /ml/health until
    # the rebuilt deployment seals a new one, so a poll sees it however fast the rebuild is.
    spec = churn_spec("churn", source, checkpoint_every_events=1_000_000)
    worker = ChaosWorker(broker, work, prefix, [spec])
    kcat_produce(broker, source, _keyed(list(rows[:before])), work)
    worker.start()
    await wait_for_fates(broker, prefix, source, before, DRAIN_S)
    worker.stop()  # a clean stop checkpoints
    record = (await _latest_checkpoints(broker, prefix))["churn"]
    altered = bytearray(record.value)
    altered[len(altered) // 2] ^= 0xFF
    producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=16 << 20)
    await producer.start()
    try:
        await producer.send_and_wait(record.topic, bytes(altered), key=record.key, partition=record.partition)
    finally:
        await producer.stop()
    log_before = len(worker.log.read_bytes())
    worker.start()
    statuses: list[str] = []  # /ml/health's status, polled from the restart on: a rebuild can be brief
    watching = asyncio.create_task(_watch_health(worker, statuses))
    owned_s = await worker.wait_owned(["churn"])
    kcat_produce(broker, source, _keyed(list(rows[before:])), work)
    await wait_for_fates(broker, prefix, source, before + after, DRAIN_S)
    await asyncio.sleep(SETTLE_S)  # re-emitted history may trail the new inputs
    watching.cancel()
    seen = await fates(broker, prefix, source)
    rss = footprint(worker.pid).rss_mb if worker.alive() else math.nan
    worker.stop()
    log = worker.log.read_bytes()[log_before:].decode(errors="replace")
    refused = "refus" in log.lower()
    reemitted = sum(1 for offset in range(before) if seen.predicted[offset] > 1)
    outcome = _settle(Outcome("5 tampered checkpoint", recovery_s=owned_s, rss_mb=rss), seen, before + after)
    seen_statuses = list(dict.fromkeys(statuses))
    outcome.note = (f"refused {'yes' if refused else 'NO'}; health {'->'.join(seen_statuses)}; "
                    f"history re-emitted {reemitted:,} of {before:,}")  # fmt: skip
    outcome.facts = {"refused": refused, "health_statuses": seen_statuses, "reemitted": reemitted}
    return outcome


async def _watch_health(worker: ChaosWorker, statuses: list[str]) -> None:
    while True:
        health = await asyncio.to_thread(worker.health)
        if health:
            statuses.append(str(health.get("status")))
        await asyncio.sleep(0.1)


async def soak(broker: str, work: Path, prefix: str, rate: float, seconds: float) -> Outcome:
    """A paced load at ``rate`` for ``seconds``: RSS growth after a warm-up (a fifth of the run), and
    open files and threads at the warm-up's end and at the run's end."""
    source = prefix + "soak"
    await create_input(broker, source)
    worker = ChaosWorker(broker, work, prefix, [churn_spec("churn", source)])
    worker.start()
    await worker.wait_owned(["churn"])
    load = asyncio.create_task(produce_paced(broker, source, churn_rows(20_000, 7), rate, seconds))
    await asyncio.sleep(seconds / 5)
    warm = footprint(worker.pid)
    peak = warm.rss_mb
    while not load.done():
        await asyncio.sleep(1.0)
        peak = max(peak, footprint(worker.pid).rss_mb)
    sent = await load
    seen = await wait_for_fates(broker, prefix, source, sent, DRAIN_S)
    end = footprint(worker.pid)
    died = not worker.alive()
    exit_status = worker.stop()
    growth = 100.0 * (end.rss_mb - warm.rss_mb) / warm.rss_mb
    outcome = _settle(Outcome(f"6 soak {seconds:.0f} s at {rate:,.0f}/s", rss_mb=end.rss_mb), seen, sent)
    outcome.crashes = int(died or exit_status != 0)
    outcome.note = (f"RSS {warm.rss_mb:.0f}->{end.rss_mb:.0f} MB ({growth:+.1f}%), peak {peak:.0f}; "
                    f"fds {warm.fds}->{end.fds}; threads {warm.threads}->{end.threads}")  # fmt: skip
    outcome.facts = {"rss_growth_pct": growth, "warm": warm, "end": end}
    return outcome
