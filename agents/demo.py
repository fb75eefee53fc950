"""``tracer demo``: the README's main job, on a real local broker.

It starts the local broker if none answers and a worker (development mode, ``TRACER_DEV=1``: keys
not configured are generated into ``~/.local/state/tracer``) with no deployment of its own. Then it
deploys as a user would: each blueprint is uploaded a bundled history as a dataset and deployed
with it through the worker's HTTP API, which replay-trains it before it goes live (progress bars
for both); so its live predictions are good from the first event. ``customer_churn`` is deployed
with delayed labels and a shadow, ``price_movement`` self-labelled on market snapshots
(``--stream crypto``: the five crypto_defi blueprints, all self-labelled).

Then it replays the live streams at a realistic rate (with a few malformed messages, as real
producers send; churn outcomes arrive on ``tracer.labels`` after their predictions), shows live
predictions and drift alerts, stops the worker cleanly and prints a summary: every input's fate,
live quality next to a baseline, the shadow's agreement, the alerts and what they mean, and the
path of an HTML report of the run. Library logs go to the log file, never to the terminal.

Each run reads and writes its own topics (``<TRACER_TOPIC_PREFIX>demo-<time>.``), so a rerun starts
from fresh deployments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaConsumer

from tracer.agents.demo_deploy import Plan, deploy_all, plans, sample_path
from tracer.agents.demo_report import write_run_report
from tracer.agents.demo_summary import DemoSummary
from tracer.agents.demo_watch import LABEL_DELAY_S, watch
from tracer.agents.kafka_local import LocalKafka, broker_answers
from tracer.agents.replay import produce_file
from tracer.agents.settings import Settings, Topics

__all__ = ["STREAMS", "DemoSummary", "run_demo", "sample_path"]

STREAMS = ("business", "crypto")
PLANTED = {"business": "the basic plan's price rises 60% half-way through the churn stream"}
"""Where each demo stream's story says it drifts."""


def _log_to_file(path: Path) -> logging.Handler:
    """Send this process's log records (the Kafka client's included) to ``path``, none to the terminal."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s demo %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(
        logging.INFO
    )  # with a handler on the root, Python's last-resort stderr handler stays silent
    return handler


def run_demo(
    *,
    port: int = 9092,
    rate_per_s: float = 400.0,
    emit: Callable[[str], None] = print,
    stream: str = "business",
    bar_file: TextIO | None = None,
) -> DemoSummary:
    """Run the demo of ``stream`` (one of :data:`STREAMS`) end to end; returns the summary (also
    printed through ``emit``). Progress bars go to ``bar_file`` (default: stderr)."""
    bootstrap = os.environ.get("TRACER_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    settings = Settings.from_env(broker=bootstrap, dev=True)
    prefix = f"{settings.topic_prefix}demo-{int(time.time())}."
    settings = replace(settings, topic_prefix=prefix, topics=Topics().with_prefix(prefix))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "demo.log"
    handler = _log_to_file(log_path)
    started_broker = None
    if not broker_answers(bootstrap):
        emit(f"starting a local Kafka on {bootstrap} ...")
        started_broker = LocalKafka(port)
        started_broker.start()
    emit(f"starting a worker (its log and the libraries': {log_path}) ...")
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tracer.agents.cli", "worker", "--deployments", str(sample_path("demo_worker.yaml")),
             "--broker", bootstrap, "--app-id", f"tracer-{prefix.rstrip('.')}", "--web-port", str(settings.web_port)],
            env={**os.environ, "TRACER_DEV": "1", "TRACER_TOPIC_PREFIX": prefix}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    clock = time.monotonic()
    summary = DemoSummary(log_path=str(log_path), planted=PLANTED.get(stream, ""))
    try:
        items = plans(stream, prefix)
        _wait_for_api(settings, worker)
        emit(
            "deploying each blueprint trained on its bundled history (POST /datasets, POST /deployments) ..."
        )
        summary.trained = deploy_all(
            f"http://127.0.0.1:{settings.web_port}", settings.http_api_keys()[0], items,
            bar_file=bar_file or sys.stderr,
        )  # fmt: skip
        asyncio.run(_replay_and_watch(settings, rate_per_s, emit, worker, items, summary))
        summary.report_path = write_run_report(settings, summary, items, emit)
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
        logging.getLogger().removeHandler(handler)
        handler.close()
    summary.seconds = time.monotonic() - clock
    emit(summary.render())
    return summary


def _wait_for_api(settings: Settings, worker: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    """Wait until the worker's HTTP API answers (it has created Tracer's topics by then)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{settings.web_port}/ml/health"
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(
                f"the worker exited with code {worker.returncode} during start-up; see its log"
            )
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=2.0)
            return
        time.sleep(0.5)
    raise RuntimeError("the worker's HTTP API did not answer in time; see its log")


async def _replay_and_watch(
    settings: Settings,
    rate_per_s: float,
    emit: Callable[[str], None],
    worker: subprocess.Popen[bytes],
    items: list[Plan],
    summary: DemoSummary,
) -> None:
    summary.produced.update({plan.id: len(plan.records) for plan in items})
    summary.baseline_name.update({plan.id: "days since last login" for plan in items if plan.outcomes})
    outcomes = {plan.id: plan.outcomes for plan in items if plan.outcomes}
    await _wait_for_topics(settings, worker, [plan.topic for plan in items])
    watcher = asyncio.create_task(watch(settings, summary, outcomes, emit))
    await asyncio.sleep(1.0)  # let the watcher join
    shown = ", ".join(
        f"{len(plan.records)} {plan.topic.removeprefix(settings.topic_prefix)}" for plan in items
    )
    emit(f"going live: replaying {shown} at {rate_per_s:.0f}/s each ...")
    await asyncio.gather(
        *(produce_file(settings.broker, plan.topic, plan.records, rate_per_s=rate_per_s) for plan in items)
    )
    expected = sum(len(o) for o in outcomes.values())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (summary.conserved and summary.labels_sent >= expected):
        if worker.poll() is not None:
            emit(f"the worker exited with code {worker.returncode}; see its log")
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(LABEL_DELAY_S)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher


async def _wait_for_topics(
    settings: Settings, worker: subprocess.Popen[bytes], inputs: list[str], timeout_s: float = 90.0
) -> None:
    """The deployments' input topics and the outputs exist before anything is produced."""
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
    raise RuntimeError("the deployments' topics were not created in time")
