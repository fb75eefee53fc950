"""The profile of a Tracer worker: py-spy on a fresh worker draining the churn backlog, and its tables.

A pass of its own after the measured ones (so those carry no sampling overhead); the tables are the
hot spots by own and total time, own time by package, and the total time of selected call sites.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from kafka_io import end_offsets, start_worker, stop_process, wait_for_total

__all__ = ["FOCUS", "PACKAGES", "by_package", "focus", "hot_spots", "profile_worker"]


async def profile_worker(
    broker: str, work: Path, spec: dict[str, Any], topic: str
) -> tuple[list[list[Any]], list[list[Any]]]:
    """py-spy on a fresh worker consuming the churn backlog, attached once it predicts (so start-up
    imports stay out); the hot spots by own and total time."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        print("  (no py-spy in the virtualenv: .venv/bin/pip install py-spy; profile skipped)")
        return [], []
    worker = await start_worker(broker, work, "p-profile", [spec])
    await wait_for_total(
        broker, [worker.predictions], 1, worker.process, "profiled worker's first prediction"
    )
    raw = work / "profile.txt"
    sampler = subprocess.Popen([str(py_spy), "record", "--pid", str(worker.process.pid), "--rate", "200",
                                "--format", "raw", "--output", str(raw), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        total = sum((await end_offsets(broker, topic)).values())
        await wait_for_total(
            broker, [worker.predictions, worker.dlq], total, worker.process, "profiled worker"
        )
    finally:
        stop_process(sampler, timeout_s=30, stop_signal=signal.SIGINT)  # py-spy writes its samples on SIGINT
        stop_process(worker.process)
    if not raw.exists():
        return [], []
    return hot_spots(raw), [*by_package(raw), ["", ""], *focus(raw)]


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (short path)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


PACKAGES = (
    ("aiokafka/", "Kafka client (aiokafka)"),
    ("json/", "JSON encode/decode (stdlib json)"),
    ("checkpoint.py", "checkpoint sealing (pickle + HMAC)"),
    ("pandas/", "pandas (DataFrames for *_many)"),
    ("numpy/", "numpy"),
    ("pydantic", "pydantic (typed outputs)"),
    ("river/", "River"),
    ("tracer/blueprints/", "Tracer blueprints (features, postprocess, adapters)"),
    ("tracer/online_models/", "Tracer online_models (deployment, live)"),
    ("tracer/drift/", "Tracer drift monitors"),
    ("tracer/agents/", "Tracer agents (routing, scoring, metrics)"),
    ("prometheus_client/", "prometheus_client"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
)
"""Where a sample's own time goes, by the file of its innermost frame (first match wins)."""

FOCUS = (
    ("Router.route |ScoringService._route ", "router: copy to the routed log"),
    ("ScoringService._score_partition ", "scorer: a routed batch, scored and learned"),
    ("LiveDeployment.score ", "  LiveDeployment.score (decode, score_many, drift, joins)"),
    (
        "Deployment.score_records ",
        "    Deployment.score_records (canonical, featurize, predict, postprocess)",
    ),
    ("CustomerChurn.postprocess ", "      CustomerChurn.postprocess (risk vectors, pydantic output)"),
    ("DataFrame.from_records ", "      DataFrame.from_records (frames for predict_many/learn_many)"),
    ("DriftMonitor.observe", "    DriftMonitor.observe_* (data and prediction drift)"),
    ("LiveDeployment.learn_block ", "  LiveDeployment.learn_block (learn the block's outcomes)"),
    ("BaseModel.model_dump ", "  pydantic model_dump of outputs"),
    ("ScoringService._publish ", "  _publish (JSON encode, producer.send, metrics)"),
    ("TracerMetrics.record_batch ", "    TracerMetrics.record_batch"),
    ("ScoringService.checkpoint ", "scorer: checkpoints (pickle, HMAC, send, ack)"),
    ("AIOKafkaConsumer.getmany ", "aiokafka getmany (fetch, unpack records)"),
)
"""Call sites whose total time the profile reports, by the start of py-spy's frame text (``|``: or)."""


def focus(raw: Path) -> list[list[Any]]:
    """Total-time shares of the ``FOCUS`` call sites (a sample counts once per call site)."""
    totals: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        samples += int(count_text)
        frames = stack.split(";")
        for markers, label in FOCUS:
            if any(frame.startswith(tuple(markers.split("|"))) for frame in frames):
                totals[label] += int(count_text)
    return [[f"{totals[label] / samples:.1%}", label] for _, label in FOCUS] if samples else []


def by_package(raw: Path) -> list[list[Any]]:
    """Own-time shares grouped by package (see ``PACKAGES``), largest first."""
    shares: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = [f for f in stack.split(";") if " (" in f]
        if not frames or not count_text.isdigit():
            continue
        samples += int(count_text)
        leaf = _function(frames[-1])
        group = next((name for marker, name in PACKAGES if marker in leaf), "other (stdlib, mode, faust...)")
        shares[group] += int(count_text)
    return [[f"{n / samples:.1%}", group] for group, n in shares.most_common()] if samples else []


def hot_spots(raw: Path, top: int = 15) -> list[list[Any]]:
    """Own-time and total-time shares of the functions in py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for function in set(frames):
            inclusive[function] += count
    rows: list[list[Any]] = []
    for (own_name, own_count), (total_name, total_count) in zip(
        own.most_common(top), _ours(inclusive, top), strict=False
    ):
        rows.append([f"{own_count / samples:.1%}", own_name, f"{total_count / samples:.1%}", total_name])
    return rows


def _ours(inclusive: Counter[str], top: int) -> list[tuple[str, int]]:
    """The heaviest functions by total time, skipping event-loop plumbing that contains everything."""
    plumbing = ("run_forever", "_run_once", "_run (asyncio", "run_until_complete", "<module>", "execute_from_commandline",
                "start_worker", "main (", "invoke (", "__call__ (click", "run (asyncio", "_execute_task",
                "Service._execute", "_run (mode", "worker (", "run_worker", "execute (mode", "asyncio/base_events")  # fmt: skip
    return [(name, n) for name, n in inclusive.most_common() if not any(p in name for p in plumbing)][:top]
