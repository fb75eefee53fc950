"""``tracer demo``: the README's main job, on a real local broker.

``--stream crypto`` runs the crypto vertical instead: the five crypto_defi blueprints (market
direction, liquidations, yields, whales, gas) on their bundled streams, all self-labelled.

It starts the local broker if none answers, creates the topics, starts a worker (in development
mode, ``TRACER_DEV=1``: keys not configured are generated into ``~/.local/state/tracer``) with the bundled
deployments (``customer_churn`` with delayed labels and a shadow, ``price_movement`` self-labelled
on market snapshots), and replays the bundled streams at a realistic rate: customer activity rows,
churn outcomes arriving later on ``tracer.labels`` for the predictions made, and market snapshots
(with a few malformed messages, as real producers send). It shows live predictions and running
metrics, then stops the worker cleanly and prints a summary that checks conservation: every
input ended as a prediction or a dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tracer.agents.kafka_local import LocalKafka, broker_answers
from tracer.agents.replay import Record, produce_file, read_records
from tracer.agents.settings import Settings
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models.metrics import BinaryMetrics

__all__ = ["STREAMS", "DemoSummary", "run_demo", "sample_path"]

CUSTOMERS_TOPIC = "crm.customer_activity"
STREAMS = {"business": "deployments.yaml", "crypto": "crypto_deployments.yaml"}
"""Each demo stream and the bundled deployments file it runs."""
CRYPTO_STREAMS = (
    ("liquidations", "crypto.positions", "position_snapshot.jsonl", "account"),
    ("yields", "crypto.pools", "pool_snapshot.jsonl", "pool"),
    ("whales", "crypto.transfers", "token_transfer.jsonl", "from_address"),
    ("gas", "crypto.blocks", "block_snapshot.jsonl", "chain"),
)
"""The crypto demo's bundled streams besides the market snapshots: deployment, topic, file, key."""
LABEL_DELAY_S = 2.0
"""How long after a churn prediction its outcome is sent: outcomes arrive later than predictions."""


def sample_path(name: str) -> Path:
    """Path of a bundled sample file."""
    return Path(str(resources.files("tracer.agents") / "samples" / name))


@dataclass
class DemoSummary:
    """What the demo saw, per deployment."""

    produced: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    dead_letters: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    labels_sent: int = 0
    label_letters: Counter[str] = field(default_factory=Counter)
    """Dead letters of labels (their fate is a join or a dead letter; they are not inputs to score)."""
    alerts: Counter[str] = field(default_factory=Counter)
    agreement: float | None = None
    churn_early: BinaryMetrics = field(default_factory=BinaryMetrics)
    churn_late: BinaryMetrics = field(default_factory=BinaryMetrics)
    seconds: float = 0.0

    def settled(self, deployment: str) -> int:
        """Inputs of ``deployment`` that ended as a prediction or a dead letter."""
        return self.predicted[deployment] + sum(self.dead_letters[deployment].values())

    @property
    def conserved(self) -> bool:
        """Every input of every deployment ended as a prediction or a dead letter."""
        return all(self.settled(d) == n for d, n in self.produced.items())

    def render(self) -> str:
        """The closing summary, for a person."""
        lines = [f"\nsummary after {self.seconds:.1f} s:"]
        for deployment, produced in sorted(self.produced.items()):
            letters = (
                ", ".join(f"{r} {n}" for r, n in sorted(self.dead_letters[deployment].items())) or "none"
            )
            fate = "✓ every input has a fate" if self.settled(deployment) == produced else "✗ MISSING INPUTS"
            lines.append(
                f"  {deployment:<17} {produced:>5} in → {self.predicted[deployment]:>5} predictions, "
                f"{sum(self.dead_letters[deployment].values())} dead letters ({letters})  {fate}"
            )
        early, late = self.churn_early.get(), self.churn_late.get()
        if "auc" in early and "auc" in late:
            lines.append(
                f"  churn AUC against the delayed outcomes: {early['auc']:.3f} on the first half of the stream, "
                f"{late['auc']:.3f} on the second (it learned online from {self.labels_sent} labels)"
            )
        if "churn" in self.produced:
            unmatched = ", ".join(f"{r} {n}" for r, n in sorted(self.label_letters.items())) or "none"
            lines.append(f"  churn labels: {self.labels_sent} sent, dead-lettered: {unmatched}")
        if self.agreement is not None:
            lines.append(f"  shadow 'no-login-rule' agreement with live, last window: {self.agreement:.1%}")
        if self.alerts:
            lines.append("  drift alerts: " + ", ".join(f"{k} {n}" for k, n in sorted(self.alerts.items())))
        return "\n".join(lines)


def _customer_stream(rows: int, seed: int) -> tuple[list[Record], dict[str, bool]]:
    """Customer activity rows in time order (a few malformed), and each prediction key's outcome."""
    frame = CustomerChurn().sample(rows, seed=seed).sort_values("snapshot_date", kind="stable")
    outcomes = {
        f"{row.cust_id}@{int(pd.Timestamp(row.snapshot_date, tz='UTC').value // 1_000_000)}": bool(
            row.churned
        )
        for row in frame.itertuples()
    }
    records = [
        Record(str(row["cust_id"]).encode(), json.dumps(row).encode())
        for row in json.loads(frame.drop(columns=["churned"]).to_json(orient="records", date_format="iso"))
    ]
    for position, bad in zip(
        range(150, rows, 400), (b"{oops", b'{"cust_id": "C-404"}', b'["not", "a", "row"]'), strict=False
    ):
        records.insert(position, Record(b"broken", bad))
    return records, outcomes


async def _start_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    """The end offset of every partition of ``topics`` now: what this run produces comes after it."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=settings.broker, group_id=None)
    await consumer.start()  # without a group, a subscribed consumer is assigned every partition
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def _watch(
    settings: Settings,
    summary: DemoSummary,
    outcomes: dict[str, bool],
    starts: dict[tuple[str, int], int],
    emit: Callable[[str], None],
) -> None:
    """Follow predictions, dead letters, alerts and reports of this run's inputs (a worker may also
    replay older ones, e.g. after refusing a checkpoint); send each churn outcome after a delay."""
    topics = settings.topics
    consumer = AIOKafkaConsumer(
        topics.predictions, topics.dlq, topics.drift_alerts, topics.shadow_reports,
        bootstrap_servers=settings.broker, group_id=None, auto_offset_reset="latest",
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=20)
    await consumer.start()
    await producer.start()
    pending: list[tuple[float, str]] = []
    last_shown = 0.0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for tp, messages in batch.items():
                for message in messages:
                    body = json.loads(message.value)
                    source = body.get("source") or {}
                    if source and source["offset"] < starts.get((source["topic"], source["partition"]), 0):
                        continue  # an output of an earlier run, replayed
                    if tp.topic == topics.predictions:
                        _on_prediction(body, summary, outcomes, pending, now)
                        if now - last_shown >= 1.0:
                            last_shown = now
                            emit(_describe(body, summary))
                    elif tp.topic == topics.dlq and body["source"]["topic"] == topics.labels:
                        summary.label_letters[body["reason"]] += 1
                    elif tp.topic == topics.dlq and body.get("deployment"):
                        summary.dead_letters[body["deployment"]][body["reason"]] += 1
                    elif tp.topic == topics.drift_alerts:
                        summary.alerts[f"{body['kind']}:{body.get('feature') or body['detector']}"] += 1
                        emit(
                            f"  ⚠ drift alert [{body['kind']}] {body.get('feature') or ''} at event {body['position']}"
                        )
                    elif tp.topic == topics.shadow_reports:
                        summary.agreement = body["agreement"]
            due = [key for ready, key in pending if ready <= now]
            pending[:] = [(ready, key) for ready, key in pending if ready > now]
            for key in due:
                label = {
                    "deployment": "churn",
                    "key": key,
                    "label": outcomes[key],
                    "ts": int(time.time() * 1000),
                }
                await producer.send(topics.labels, json.dumps(label).encode(), key=key.encode())
                summary.labels_sent += 1
    finally:
        await producer.stop()
        await consumer.stop()


def _on_prediction(
    body: dict[str, object],
    summary: DemoSummary,
    outcomes: dict[str, bool],
    pending: list[tuple[float, str]],
    now: float,
) -> None:
    deployment = str(body["deployment"])
    summary.predicted[deployment] += 1
    key = str(body["key"])
    if deployment == "churn" and key in outcomes:
        output = body["output"]
        assert isinstance(output, dict)
        half = (
            summary.churn_early
            if summary.predicted["churn"] <= summary.produced["churn"] // 2
            else summary.churn_late
        )
        half.update(outcomes[key], float(output["churn_probability"]))
        pending.append((now + LABEL_DELAY_S, key))


def _describe(body: dict[str, object], summary: DemoSummary) -> str:
    output = body["output"]
    assert isinstance(output, dict)
    if body["deployment"] == "churn":
        shown = f"churn_probability={output['churn_probability']:.2f} {output['risk_classification']:<8} {output['risk_vectors'][:2]}"
    elif body["deployment"] == "market-direction":
        shown = f"{output['direction']:<4} up_probability={output['up_probability']:.2f}"
    else:  # another deployment registered on this broker
        shown = ", ".join(f"{k}={v}" for k, v in list(output.items())[:2])
    counts = " ".join(f"{d}={summary.predicted[d]}" for d in sorted(summary.predicted))
    return f"  {body['deployment']:<17} {str(body['key'])[:26]:<26} {shown}   [{counts}, labels sent {summary.labels_sent}]"


def run_demo(
    *,
    port: int = 9092,
    rate_per_s: float = 400.0,
    emit: Callable[[str], None] = print,
    stream: str = "business",
) -> DemoSummary:
    """Run the demo of ``stream`` (a key of :data:`STREAMS`) end to end; returns the summary (also
    printed through ``emit``)."""
    deployments = sample_path(STREAMS[stream])
    started_broker = None
    bootstrap = os.environ.get("TRACER_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    if not broker_answers(bootstrap):
        emit(f"starting a local Kafka on {bootstrap} ...")
        started_broker = LocalKafka(port)
        started_broker.start()
    settings = Settings.from_env(broker=bootstrap)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "demo-worker.log"
    emit(f"starting a worker with {deployments.name} (log: {log_path}) ...")
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tracer.agents.cli", "worker", "--deployments", str(deployments),
             "--broker", bootstrap, "--app-id", "tracer-demo", "--web-port", str(settings.web_port)],
            env={**os.environ, "TRACER_DEV": "1"}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    clock = time.monotonic()
    try:
        summary = asyncio.run(_replay_and_watch(settings, rate_per_s, emit, worker, stream))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if started_broker is not None:
            emit("stopping the local Kafka the demo started ...")
            started_broker.stop()
    summary.seconds = time.monotonic() - clock
    emit(summary.render())
    return summary


async def _replay_and_watch(
    settings: Settings,
    rate_per_s: float,
    emit: Callable[[str], None],
    worker: subprocess.Popen[bytes],
    stream: str,
) -> DemoSummary:
    summary = DemoSummary()
    snapshots = read_records(sample_path("market_snapshots.jsonl"), key_column="symbol")
    streams: list[tuple[str, str, list[Record]]] = [
        ("market-direction", settings.topics.snapshots, snapshots)
    ]
    outcomes: dict[str, bool] = {}
    if stream == "crypto":
        streams += [(deployment, topic, read_records(sample_path(file), key_column=key))
                    for deployment, topic, file, key in CRYPTO_STREAMS]  # fmt: skip
    else:
        customers, outcomes = _customer_stream(2500, seed=2024)
        streams.insert(0, ("churn", CUSTOMERS_TOPIC, customers))
    summary.produced.update({deployment: len(records) for deployment, _, records in streams})
    inputs = [topic for _, topic, _ in streams]
    await _wait_for_topics(settings, worker, inputs)
    starts = await _start_offsets(settings, [*inputs, settings.topics.labels])
    watcher = asyncio.create_task(_watch(settings, summary, outcomes, starts, emit))
    await asyncio.sleep(2.0)  # the watcher reads from the end: let it join first
    shown = ", ".join(f"{len(records)} {topic}" for _, topic, records in streams)
    emit(f"replaying {shown} at {rate_per_s:.0f}/s each ...")
    await asyncio.gather(
        *(
            produce_file(settings.broker, topic, records, rate_per_s=rate_per_s)
            for _, topic, records in streams
        )
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        summary.conserved and summary.labels_sent >= summary.predicted.get("churn", 0)
    ):
        if worker.poll() is not None:
            emit(f"the worker exited with code {worker.returncode}; see its log")
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(LABEL_DELAY_S)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return summary


async def _wait_for_topics(
    settings: Settings, worker: subprocess.Popen[bytes], inputs: list[str], timeout_s: float = 90.0
) -> None:
    """The worker creates the topics before it subscribes; wait for that, so producers don't race it."""
    wanted = {*inputs, settings.topics.predictions, settings.topics.routed}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=None)
        await consumer.start()
        try:
            if wanted <= await consumer.topics():
                return
        finally:
            await consumer.stop()
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode} during start-up")
        await asyncio.sleep(0.5)
    raise RuntimeError("the worker did not create its topics in time")
