"""The router process on the real broker: it routes, reports its dead letters and confirms new
deployments to the worker's side, is started again when it dies, stops when asked, and never
outlives its worker, even one killed with ``kill -9``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.integration import workers
from tests.kafka_helpers import consume, produce
from tracer.agents.router_process import RouterProcess
from tracer.agents.settings import Settings, Topics
from tracer.agents.topics import ensure_topics
from tracer.schemas import DeploymentSpec

pytestmark = pytest.mark.kafka


def _spec(deployment: str, topic: str) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {"id": deployment, "blueprint": "customer_churn", "input_topics": [topic], "key_field": "cust_id"}
    )


def _rows(start: int, count: int) -> list[bytes]:
    return [json.dumps({"cust_id": f"c{i}", "n": i}).encode() for i in range(start, start + count)]


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _until_committed(settings: Settings, topic: str, partitions: int, total: int) -> None:
    """Wait until the router's group has committed ``total`` offsets of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=f"{settings.app_id}-router",
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while (
            sum([await consumer.committed(TopicPartition(topic, p)) or 0 for p in range(partitions)]) < total
        ):
            if time.monotonic() > deadline:
                raise AssertionError(f"the router did not commit {total} offsets of {topic}")
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


def test_the_router_process_routes_reports_restarts_and_stops(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics().with_prefix(topic_prefix)
    settings = Settings(broker=kafka_bootstrap, app_id=f"{topic_prefix}app", topics=topics)
    inputs, orders = f"{topic_prefix}customers", f"{topic_prefix}orders"
    asyncio.run(ensure_topics(kafka_bootstrap, {inputs: 2, orders: 2, topics.routed: 4, topics.dlq: 1,
                                                topics.labels: 1}))  # fmt: skip
    specs = [_spec("churn", inputs)]
    produce(kafka_bootstrap, inputs, _rows(0, 40))
    produce(kafka_bootstrap, topics.labels, [b'{"deployment": "nobody", "key": "c1", "churned": 1}'])
    unrouted: list[tuple[str, str]] = []

    async def run() -> tuple[int, int]:
        stopping = False
        router = RouterProcess(
            settings, lambda: specs, lambda topic, reason: unrouted.append((topic, reason))
        )
        running = asyncio.ensure_future(router.run(lambda: stopping))
        routed = await asyncio.to_thread(consume, kafka_bootstrap, topics.routed, expect=40)
        assert Counter(key for key, _ in routed) == {b"churn": 40}
        await _until(lambda: bool(unrouted), "the unrouted label's report")

        await _until_committed(settings, inputs, 2, 40)  # so the next router routes nothing again
        assert router.child is not None
        first = router.child.pid
        router.child.kill()  # a crash: another router takes over
        await _until(lambda: router.child is not None and router.child.pid != first, "a new router process")
        specs.append(_spec("churn2", inputs))
        await router.add(specs[-1])  # returns once the router routes it
        await asyncio.to_thread(produce, kafka_bootstrap, inputs, _rows(40, 10))
        await asyncio.to_thread(produce, kafka_bootstrap, orders, _rows(0, 3))  # before its deployment
        specs.append(_spec("orders", orders))
        await router.add(specs[-1])  # a topic the router did not read: subscribed from its start
        await asyncio.to_thread(produce, kafka_bootstrap, orders, _rows(3, 4))
        later = await asyncio.to_thread(consume, kafka_bootstrap, topics.routed, expect=67, settle_s=3.0)

        last = router.child
        assert last is not None
        stopping = True
        await asyncio.wait_for(running, 30)
        assert router.child is None
        counts = Counter(key for key, _ in later)
        return counts[b"churn2"], counts[b"orders"], await last.wait()

    added, on_new_topic, status = asyncio.run(run())
    assert unrouted == [(topics.labels, "unknown_deployment")]
    assert len(consume(kafka_bootstrap, topics.dlq, expect=1)) == 1
    assert added == 10, "every row after the confirmed add reaches the new deployment, once"
    assert on_new_topic == 7, "a deployment on a new topic gets the topic's rows from its start, once"
    assert status == 0, "a stopped router finishes its batch, commits and exits cleanly"


def _router_children(parent: int) -> list[int]:
    listed = subprocess.run(["pgrep", "-P", str(parent), "-f", "tracer.agents.router_process"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    return [int(pid) for pid in listed.stdout.split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_router_process_ends_with_its_worker_even_after_kill_9(
    worker_env: dict[str, str], topic_prefix: str, tmp_path: Path
) -> None:
    deployments = workers.write_deployments(
        tmp_path / "deployments.yaml",
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [f"{topic_prefix}customers"],
          "key_field": "cust_id"}],
    )  # fmt: skip
    log = tmp_path / "worker.log"
    worker = workers.start(
        deployments, workers.worker_environment(worker_env, topic_prefix), f"{topic_prefix}app", log
    )
    try:
        workers.wait_for(lambda: bool(_router_children(worker.pid)), 90, "the worker's router process", log)
        (router,) = _router_children(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        workers.wait_for(lambda: not _running(router), 30, "the orphaned router process to exit", log)
    finally:
        workers.stop(worker)
