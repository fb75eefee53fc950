"""Streaming throughput, latency and memory: a Tracer worker against its limits and its peers, on one broker.

Run from the repository root (about 6 minutes on a 2-core machine, 1 more with the profile; needs
Java 17, the cached Kafka jars, the ``bench`` extra for Bytewax and quixstreams for Quix Streams, which
the Makefile's ``bench`` target installs outside the extra)::

    .venv/bin/python bench/throughput.py [--events 50000] [--rounds 3] [--no-profile] [--no-quix]
        [--no-bytewax]

One local Kafka 4.1.1 broker (``LocalKafka``, a free port, its own data folder in a temporary
directory) serves every contender, and every contender reads the same events: ``--events`` customer
rows from ``CustomerChurn.sample`` (with inline ``churned`` labels) and as many market snapshots from
``PriceMovement.sample``. The load is written by processes of its own: ``tracer produce`` before a
contender starts (the backlog, for the maximum rate), and kcat fed on time while it runs (the paced
load, for latency: :mod:`paced_load` says why; without kcat, ``tracer produce --rate``). Before
anything is measured, one whole Tracer run on a copy of the churn topic warms the fresh broker up
(:func:`warm_up`), so no contender is measured during the broker's first minute.

Contenders, each in its own process except (c):

(a) a ``tracer worker`` with a deployments file: ``customer_churn`` with inline labels; separately
    ``price_movement`` self-labelled on snapshots. Rate: predictions from the first to the last
    (their ``ts``, the worker's publish time). Latency: at a fixed offered rate of half that maximum,
    the source producer's timestamp to the broker's append time of the prediction (its topic is
    created with ``LogAppendTime``), so it includes routing, scoring and delivery. Peak RSS: VmHWM,
    summed over the worker and its router process. Broker bytes: what the broker appended to every
    topic while the worker drained the backlog (its log segments on disk, before and after: the
    routed log, predictions, checkpoints, the registry, offsets...), per input event, next to the
    input's own bytes per event.
(b) a bare aiokafka ``getmany`` -> ``send_batch`` relay: the transport limit of one hop.
(c) the blueprint's River pipeline alone, in this process, on the same records' features: predict +
    learn per event, and ``predict_many``/``learn_many`` in batches of 500 (the compute limit); and,
    for context, Tracer's core without Kafka (``LiveDeployment.process`` in blocks of 256 on the
    raw message bytes).
(d) a Quix Streams application doing ``Deployment.score`` + ``learn_from`` per event with the same
    blueprint, publishing a prediction per event: a peer.
(e) a Bytewax dataflow (one worker; ``KafkaSource`` -> ``map`` -> ``KafkaSink``, librdkafka both ways)
    running the same blueprint code per event and publishing the same prediction: the other peer.
(f) fan-out: one ``tracer worker`` with 25 ``customer_churn`` deployments on one topic (each row fans
    out to all 25): its input events/s, its peak RSS, and the broker bytes it wrote per input event.

(a), (d) and (e) play ``--rounds`` paired rounds per workload (:mod:`rounds`): back to back on a fresh
copy of the topic, in an order that rotates round by round, with a fixed pure-Python task timed
before and after each round (:func:`machine_speed_ms`). On a shared host the machine itself slows down mid-run, which the guest's
steal counter does not show: the ratio of a round whose speed moved more than 15% is starred. The
verdicts use the medians over the rounds (of the ratios, of Tracer's rates and of its p99). The
targets (issue 23): Tracer >= 1.5x Quix and >= 1.2x Bytewax; p99 <= 50 ms at half the max rate; the
worker >= 0.9x the harmonic combination of (b) and (c'); the core (c') >= 0.8x (c) per event; RSS
< 300 MB with 25 deployments.

Then the Tracer worker is profiled with py-spy on the churn backlog (a separate pass, so the
measured figures above carry no sampling overhead) and the hot spots are printed. Figures are
printed next to their targets; nothing is asserted.

This bench is split over modules in ``bench/``, imported by name like :mod:`common`: :mod:`kafka_io`
(offsets, reads and waits on the broker, the bytes it wrote; ``tracer produce`` and a ``tracer
worker`` in their own processes), :mod:`paced_load` (the paced load), :mod:`peers` ((b), (d) and (e),
the roles of ``python bench/peers.py``), :mod:`rounds` (paired rounds and their medians),
:mod:`throughput_report` (the tables and the targets), :mod:`worker_profile` (the py-spy pass and its
tables), and this script (the workloads, (a), (c), (f) and the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from common import Figures, best_of, percentile, print_table, process_memory_mb
from kafka_io import (
    PARTITIONS,
    PHASE_TIMEOUT_S,
    bytes_written,
    end_offsets,
    log_bytes,
    log_tail,
    produce,
    produce_command,
    read_range,
    start_worker,
    stop_process,
    wait_for_total,
)
from paced_load import paced_load
from peers import subprocess_contender
from rounds import PEERS, Round, median_figures, round_order
from throughput_report import INPUT_BYTES, WRITTEN, Results, bytes_rows, print_tables
from worker_profile import profile_worker

from tracer.agents.kafka_local import LocalKafka, free_port_pair
from tracer.agents.topics import ensure_topics
from tracer.blueprints.base import Blueprint, Features
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.blueprints.recipes.price_movement import PriceMovement
from tracer.online_models import Deployment, Scored
from tracer.online_models.batch import Source
from tracer.online_models.live import LiveDeployment, RoutedEvent
from tracer.schemas import DeploymentSpec

LATENCY_SECONDS = 10.0
"""How long the paced (half-rate) load runs for the latency figures, rows permitting (``PACED_ROWS``)."""
PACED_ROWS = 120_000
"""Rows of each workload kept for the paced load: 10 s at up to 12,000 events/s. With 30,000 rows the
paced load ran 3 s, and its first 400 ms, when the load starts on an idle worker and the two cores
fill up, could hold the whole p99 (one run of the dev harness: p99 135 ms over its 3 s, 56 ms after
its first second)."""
ROUNDS = 3
"""Rounds of the Tracer worker and its peers per workload (:mod:`rounds`)."""
MULTI_DEPLOYMENTS = 25


@dataclass(frozen=True)
class Workload:
    """One kind of event: its blueprint, the deployment that reads it, and its files and topic."""

    name: str
    blueprint: type[Blueprint[Any, Any]]
    topic: str
    key: str
    spec: dict[str, Any]
    backlog: Path
    paced: Path
    paced_rows: int


# == data ================================================================================================


def _json_rows(frame: pd.DataFrame) -> list[bytes]:
    """One JSON object per row, NaN as null (valid JSON for every consumer)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [json.dumps(row).encode() for row in clean.to_dict("records")]


def prepare_data(work: Path, events: int, paced_rows: int = PACED_ROWS) -> list[Workload]:
    """Write each workload's backlog and paced-load files (JSON lines) and describe its deployment."""
    extra = paced_rows
    workloads = []
    for name, blueprint, topic, key, spec in (
        ("customer_churn", CustomerChurn, "bench.customers", "cust_id",
         {"labels": {"mode": "inline", "field": "churned"}}),
        ("price_movement", PriceMovement, "bench.snapshots", "symbol", {"labels": {"mode": "self"}}),
    ):  # fmt: skip
        rows = _json_rows(blueprint().sample(events + extra, seed=1))
        backlog, paced = work / f"{name}.backlog.jsonl", work / f"{name}.paced.jsonl"
        backlog.write_bytes(b"\n".join(rows[:events]) + b"\n")
        paced.write_bytes(b"\n".join(rows[events:]) + b"\n")
        full_spec = {"id": name.replace("_", "-"), "blueprint": name, "input_topics": [topic], "key_field": key,
                     **spec}  # fmt: skip
        workloads.append(Workload(name, blueprint, topic, key, full_spec, backlog, paced, extra))
    return workloads


# == (a) and (e): Tracer workers ========================================================================


def _log_sizes(log_dir: Path | None) -> dict[str, int]:
    """:func:`kafka_io.log_bytes` of the broker's log folder, if the bench knows it."""
    return log_bytes(log_dir) if log_dir is not None and log_dir.is_dir() else {}


def _keep_bytes(figures: Figures, before: dict[str, int], after: dict[str, int], topic: str) -> None:
    """The bytes the broker appended per topic between two snapshots, and the input topic's before."""
    if before and after:
        figures.extra[INPUT_BYTES] = float(before.get(topic, 0))
        figures.extra.update({WRITTEN + t: float(n) for t, n in bytes_written(before, after).items()})


async def tracer_worker(
    broker: str, work: Path, load: Workload, events: int, run: str = "a", log_dir: Path | None = None
) -> Figures:
    """(a): the backlog at full speed, then half that rate for latency (the worker is named ``run``).

    With the broker's ``log_dir``, the bytes it appended to every topic while the backlog was drained
    are kept in ``figures.extra`` (:mod:`throughput_report`)."""
    figures = Figures(f"(a) Tracer worker, {load.name}")
    before = _log_sizes(log_dir)
    worker = await start_worker(broker, work, f"{run}-{load.name}", [load.spec])
    try:
        complete = await wait_for_total(
            broker, [worker.predictions, worker.dlq], events, worker.process, figures.contender
        )
        _keep_bytes(figures, before, _log_sizes(log_dir), load.topic)
        ends = await end_offsets(broker, worker.predictions)
        records = await read_range(broker, worker.predictions, {}, ends)
        stamps = [json.loads(r.value)["ts"] for r in records]
        dead = sum((await end_offsets(broker, worker.dlq)).values())
        figures.events = len(stamps)
        figures.note = f"{dead} dead letters"
        if len(stamps) > 1:
            figures.events_per_s = (len(stamps) - 1) / max((max(stamps) - min(stamps)) / 1000.0, 1e-3)
        if not complete:
            figures.note += (
                f"; SHORT: {events - len(stamps) - dead:,} events neither predicted nor dead-lettered"
            )
            print(log_tail(worker.log))
            figures.rss_mb = process_memory_mb(worker.process.pid, children=True)
            return figures

        rate = figures.events_per_s / 2.0
        paced_rows = min(load.paced_rows, int(rate * LATENCY_SECONDS))
        paced_file = work / f"{load.name}.paced.{paced_rows}.jsonl"
        paced_file.write_bytes(b"".join(load.paced.read_bytes().splitlines(keepends=True)[:paced_rows]))
        fallback = produce_command(broker, paced_file, load.topic, load.key, rate)
        producer = paced_load(broker, paced_file, load.topic, load.key, work / "produce.log", rate, fallback)
        done = await wait_for_total(broker, [worker.predictions, worker.dlq], events + paced_rows,
                                    worker.process, f"{figures.contender} at half rate")  # fmt: skip
        producer.wait(timeout=PHASE_TIMEOUT_S)
        if done:
            later = await read_range(
                broker, worker.predictions, ends, await end_offsets(broker, worker.predictions)
            )
            latencies = []
            for record in later:
                value = json.loads(record.value)
                source_ms = value["ts"] - value["latency_ms"]
                latencies.append(float(record.timestamp - source_ms))
            figures.p50_ms, figures.p99_ms = percentile(latencies, 50), percentile(latencies, 99)
            figures.note += (
                f"; latency at {rate:,.0f}/s over {len(latencies):,} events, paced by {producer.tool}"
            )
        figures.rss_mb = process_memory_mb(worker.process.pid, children=True)
        return figures
    finally:
        stop_process(worker.process)


async def tracer_many(broker: str, work: Path, load: Workload, log_dir: Path | None = None) -> Figures:
    """(f): 25 churn deployments on one topic: each row fans out to every deployment. Its rate is in
    input rows per second (``extra["predictions_per_s"]``: 25 times that), and with the broker's
    ``log_dir`` the bytes the broker appended are kept as :func:`tracer_worker` keeps them.

    Every event must end as a prediction or a dead letter; a shortfall is reported in the note,
    with the deployments it hit.
    """
    rows_per = 2000
    topic = "bench.customers25"
    figures = Figures(f"(f) Tracer worker, {MULTI_DEPLOYMENTS} churn deployments, input rows")
    await ensure_topics(broker, {topic: PARTITIONS})
    subset = work / "customers25.jsonl"
    subset.write_bytes(b"".join(load.backlog.read_bytes().splitlines(keepends=True)[:rows_per]))
    producer = produce(broker, subset, topic, load.key, work / "produce.log")
    producer.wait(timeout=PHASE_TIMEOUT_S)
    specs = [{**load.spec, "id": f"churn-{i:02d}", "input_topics": [topic]} for i in range(MULTI_DEPLOYMENTS)]
    before = _log_sizes(log_dir)
    worker = await start_worker(broker, work, "f-many", specs)
    try:
        expected = rows_per * MULTI_DEPLOYMENTS
        await wait_for_total(
            broker, [worker.predictions, worker.dlq], expected, worker.process, figures.contender
        )
        _keep_bytes(figures, before, _log_sizes(log_dir), topic)
        figures.rss_mb = process_memory_mb(worker.process.pid, children=True)
        worker_mb = process_memory_mb(worker.process.pid)
        records = await read_range(
            broker, worker.predictions, {}, await end_offsets(broker, worker.predictions)
        )
        values = [json.loads(r.value) for r in records]
        dead = sum((await end_offsets(broker, worker.dlq)).values())
        per = Counter(value["deployment"] for value in values)
        short = {
            spec["id"]: rows_per - per.get(spec["id"], 0)
            for spec in specs
            if per.get(spec["id"], 0) < rows_per
        }
        figures.events = rows_per
        if len(values) > 1:
            stamps = [value["ts"] for value in values]
            per_s = (len(stamps) - 1) / max((max(stamps) - min(stamps)) / 1000.0, 1e-3)
            figures.extra["predictions_per_s"] = per_s
            figures.events_per_s = per_s / len(specs)
        figures.note = (f"{rows_per:,} rows x {len(specs)} deployments: {len(values):,} predictions at "
                        f"{figures.extra.get('predictions_per_s', math.nan):,.0f}/s, {dead} dead letters; RSS: "
                        f"worker {worker_mb:.0f} MB + router {figures.rss_mb - worker_mb:.0f} MB")  # fmt: skip
        if short and dead < sum(short.values()):
            missing = sum(short.values()) - dead
            figures.note += f"; {missing:,} events LOST (neither predicted nor dead-lettered): " + ", ".join(
                f"{name} -{n}" for name, n in sorted(short.items())
            )
        return figures
    finally:
        stop_process(worker.process)


# == (c) compute limits, in this process =================================================================


def compute_limits(load: Workload, events: int) -> list[Figures]:
    """(c): the River pipeline alone (per event; batches of 500), and Tracer's core without Kafka."""
    values = load.backlog.read_bytes().splitlines()[:events]
    rows = [json.loads(v) for v in values]
    deployment: Deployment[Any] = Deployment(load.blueprint)
    pairs: list[tuple[Features, float]] = []
    for start in range(0, len(rows), 256):  # the features and labels, exactly as the stream learns them
        scored = [s for s in deployment.score_many(rows[start : start + 256]) if isinstance(s, Scored)]
        pairs += [(captured.features, y) for captured, y in deployment.learn_from(scored)]
    blueprint = load.blueprint()
    params = blueprint.resolve_params()

    model = blueprint.make_model(params, seed=42)
    started = time.perf_counter()
    for x, y in pairs:
        model.predict_one(x)
        model.learn_one(x, y)
    per_event = Figures(f"(c) River pipeline alone, {load.name}, per event", len(pairs),
                        len(pairs) / (time.perf_counter() - started), note="predict_one + learn_one")  # fmt: skip

    model = blueprint.make_model(params, seed=42)
    frames = [(pd.DataFrame.from_records([x for x, _ in pairs[i : i + 500]]), [y for _, y in pairs[i : i + 500]])
              for i in range(0, len(pairs), 500)]  # fmt: skip
    started = time.perf_counter()
    for frame, ys in frames:
        model.predict_many(frame)  # type: ignore[attr-defined]
        model.learn_many(frame, ys)  # type: ignore[attr-defined]
    learns = (
        "learn_many"
        if getattr(model, "mini_batch_learning", True)
        else "learn_many (row by row: the blueprint's choice)"
    )
    batched = Figures(f"(c) River pipeline alone, {load.name}, batches of 500", len(pairs),
                      len(pairs) / (time.perf_counter() - started), note=f"predict_many + {learns}")  # fmt: skip

    live = LiveDeployment(DeploymentSpec.model_validate(load.spec))
    events_in = [RoutedEvent(v, None, Source(load.topic, 0, i), 0) for i, v in enumerate(values)]
    started = time.perf_counter()
    for start in range(0, len(events_in), 256):
        live.process(events_in[start : start + 256], now_ms=int(time.time() * 1000))
    core = Figures(f"(c') Tracer core without Kafka, {load.name}", len(values),
                   len(values) / (time.perf_counter() - started), note="LiveDeployment.process, blocks of 256")  # fmt: skip
    return [per_event, batched, core]


# == the run =============================================================================================


def machine_speed_ms() -> float:
    """A fixed pure-Python task's best time of three (ms): run before and after each workload's
    contenders, it shows when the machine itself slowed down mid-run (a shared host), which the
    guest's steal counter here does not."""

    def task() -> float:
        total = 0.0
        for i in range(200_000):
            total += (i % 7) * 0.5
        return total

    return best_of(3, task) * 1000.0


async def topic_copy(broker: str, work: Path, load: Workload, suffix: str) -> Workload:
    """``load`` on a fresh copy of its topic (``<topic>.<suffix>``), its backlog written to it."""
    topic = f"{load.topic}.{suffix}"
    copy = replace(load, topic=topic, spec={**load.spec, "input_topics": [topic]})
    await ensure_topics(broker, {topic: PARTITIONS})
    producer = produce(broker, copy.backlog, topic, copy.key, work / "produce.log")
    if producer.wait(timeout=PHASE_TIMEOUT_S) != 0:
        raise RuntimeError(f"tracer produce failed: {log_tail(work / 'produce.log')}")
    return copy


async def warm_up(broker: str, work: Path, load: Workload, events: int) -> None:
    """A whole Tracer run (backlog, then paced) on a copy of ``load``'s topic, its figures dropped.

    A fresh broker is slow at first: measured first, price_movement had a p99 of 324 ms; measured
    second, after churn, 33-61 ms. Every contender is measured after this run instead.
    """
    await tracer_worker(broker, work, await topic_copy(broker, work, load, "warmup"), events, run="warmup")


async def play_round(
    broker: str,
    work: Path,
    load: Workload,
    events: int,
    number: int,
    peers: Sequence[str],
    log_dir: Path | None,
) -> Round:
    """Round ``number`` of ``load`` (:mod:`rounds`): the Tracer worker and ``peers`` back to back on their
    own copy of the topic (the first round on the topic itself), in the order :func:`round_order` gives."""
    if number:
        load = await topic_copy(broker, work, load, f"r{number}")
    order = round_order(number, peers)
    before = machine_speed_ms()
    tracer: Figures | None = None
    played: dict[str, Figures] = {}
    for contender in order:
        if contender not in PEERS:
            tracer = await tracer_worker(broker, work, load, events, run=f"a{number}", log_dir=log_dir)
            continue
        sink = f"bench.{contender.lower()}.{load.name}.{number}"
        role = [contender.lower(), broker, load.topic, sink, load.name, str(events)]
        if contender == "Quix":
            role.append(str(work / f"quix-{load.name}-{number}"))
        label = "(d) Quix Streams + River" if contender == "Quix" else "(e) Bytewax dataflow + River"
        played[contender] = await subprocess_contender(
            broker, work, f"{label}, {load.name}", role, sink, events,
            lambda record: float(json.loads(record.value)["ts"]),
        )  # fmt: skip
    assert tracer is not None
    return Round(number, tracer, played, (before, machine_speed_ms()), order)


async def run(
    broker: str, work: Path, events: int, rounds: int, peers: Sequence[str], with_profile: bool,
    log_dir: Path | None = None,
) -> None:  # fmt: skip
    """Every contender in turn against the broker at ``broker`` (its log folder ``log_dir``, for the bytes
    it writes), then the tables."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # retries on fresh topics are expected here
    started = time.perf_counter()
    load_1m, load_5m, _ = os.getloadavg()
    print(f"broker {broker}, {events:,} events per workload, {os.cpu_count()} CPUs, "
          f"load average {load_1m:.2f} (1 min) {load_5m:.2f} (5 min) at the start")  # fmt: skip
    loads = prepare_data(work, events)
    await ensure_topics(broker, {load.topic: PARTITIONS for load in loads})
    for load in loads:
        producer = produce(broker, load.backlog, load.topic, load.key, work / "produce.log")
        if producer.wait(timeout=PHASE_TIMEOUT_S) != 0:
            raise RuntimeError(f"tracer produce failed: {log_tail(work / 'produce.log')}")
    print(f"backlogs written in {time.perf_counter() - started:.0f} s")
    await warm_up(broker, work, loads[0], events)
    print(f"broker warmed up at {time.perf_counter() - started:.0f} s")

    results: dict[str, Results] = {}
    byte_rows: list[list[Any]] = []
    for load in loads:
        name = load.name
        played: list[Round] = []
        for number in range(rounds):
            played.append(await play_round(broker, work, load, events, number, peers, log_dir))
            last = played[-1]
            print(f"  {name} round {number + 1}: Tracer {last.tracer.events_per_s:,.0f}/s"
                  + "".join(f", {p} {f.events_per_s:,.0f}/s" for p, f in last.peers.items())
                  + f"; machine speed checks {last.speeds_ms[0]:.1f}, {last.speeds_ms[1]:.1f} ms")  # fmt: skip
        relay = await subprocess_contender(
            broker, work, f"(b) aiokafka relay, {name}",
            ["relay", broker, load.topic, f"bench.relay.{name}", str(events)], f"bench.relay.{name}", events,
            lambda record: float(record.timestamp),
        )  # fmt: skip
        river, batched, core = compute_limits(load, events)
        tracer = median_figures(played[0].tracer.contender, [r.tracer for r in played])
        result = Results(tracer, relay, river, batched, core, played)
        for peer in peers:
            runs = [r.peers[peer] for r in played if peer in r.peers]
            if runs:
                result.peers[peer] = median_figures(runs[0].contender, runs)
        results[name] = result
        byte_rows += bytes_rows(f"(a) {name}", played[0].tracer, events, f"a0-{name}.tracer.predictions")
        print(f"  {name} done at {time.perf_counter() - started:.0f} s")
    many = await tracer_many(broker, work, loads[0], log_dir)
    byte_rows += bytes_rows("(f) fan-out", many, many.events, "f-many.tracer.predictions")
    print_tables(f"Throughput, latency and memory ({events:,} events per workload, one local Kafka {broker})",
                 results, many, MULTI_DEPLOYMENTS, byte_rows)  # fmt: skip

    if with_profile:
        hot, packages = await profile_worker(broker, work, loads[0].spec, loads[0].topic)
        if hot:
            print_table(
                "Tracer worker profile (py-spy, 200 Hz, churn backlog): share of on-CPU samples",
                ["own", "function (own time)", "total", "function (total time, loop plumbing skipped)"],
                hot,
            )
            print_table(
                "   own time by package, then total time of selected call sites",
                ["share", "package / call site"],
                packages,
            )
    load_1m, load_5m, _ = os.getloadavg()
    print(f"\nthroughput bench finished in {time.perf_counter() - started:.0f} s; "
          f"load average {load_1m:.2f} (1 min) {load_5m:.2f} (5 min) at the end")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """The orchestrator (the roles it starts in their own process run from :mod:`peers`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000, help="Events per workload (default 50000).")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"Rounds of Tracer and its peers per workload (default {ROUNDS}; see rounds.py).")  # fmt: skip
    parser.add_argument("--no-quix", action="store_true", help="Skip the Quix Streams peer (d).")
    parser.add_argument("--no-bytewax", action="store_true", help="Skip the Bytewax peer (e).")
    parser.add_argument("--no-profile", action="store_true", help="Skip the py-spy profile of the worker.")
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tracer-bench-"))
    kafka = LocalKafka(free_port_pair(), data_dir=work / "kafka")  # our own broker, stopped below
    skipped = {"Quix": options.no_quix, "Bytewax": options.no_bytewax}
    try:
        kafka.start(timeout_s=120)
        asyncio.run(
            run(
                kafka.bootstrap,
                work,
                options.events,
                max(1, options.rounds),
                [peer for peer in PEERS if not skipped[peer]],
                not options.no_profile,
                kafka.home / "data",  # LocalKafka's log.dirs: the bytes the broker writes
            )
        )
    finally:
        kafka.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
