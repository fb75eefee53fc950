"""Dead letters are bounded, keep their input's key, and a record the broker refuses never crashes
the loop that published it (issue 24). Pure and fake-producer tests; the real broker is exercised by
``tests/integration/test_big_messages_e2e.py``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from hypothesis import given
from hypothesis import strategies as st

from tracer.agents.deadletters import DEAD_LETTER_KEY_BYTES, Refusals, dead_letter
from tracer.agents.metrics import TracerMetrics
from tracer.agents.publisher import Origin, Publisher
from tracer.agents.router import Router
from tracer.agents.routing import HEADER_KEY, HEADER_REPLAY_DEPLOYMENT, HEADER_REPLAY_OF, RouteTable
from tracer.agents.settings import Settings
from tracer.schemas import DeadLetter, DeploymentSpec, ReasonCode
from tracer.schemas.decode import MAX_MESSAGE_BYTES

COORDINATES: dict[str, Any] = {"topic": "crm", "partition": 2, "offset": 41}


def _letter(raw: bytes, key: bytes | None = b"k", max_raw_bytes: int = 1_000, error: str = "bad") -> Any:
    value = dead_letter(
        ReasonCode.NOT_JSON, error, raw=raw, key=key, max_raw_bytes=max_raw_bytes, **COORDINATES
    )
    DeadLetter.model_validate_json(value)  # what it writes is what its schema reads back
    return json.loads(value)


@given(raw=st.binary(max_size=3_000), max_raw_bytes=st.integers(min_value=1, max_value=2_000))
def test_a_dead_letter_keeps_a_bounded_prefix_and_identifies_the_whole(
    raw: bytes, max_raw_bytes: int
) -> None:
    letter = _letter(raw, max_raw_bytes=max_raw_bytes)
    kept = base64.urlsafe_b64decode(letter["raw"])
    assert len(kept) <= max_raw_bytes and raw.startswith(kept)
    assert letter["truncated"] is (len(raw) > max_raw_bytes)
    if letter["truncated"]:
        assert letter["raw_bytes"] == len(raw)
        assert letter["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    else:
        assert kept == raw and letter["raw_bytes"] is None and letter["raw_sha256"] is None
    assert {k: letter["source"][k] for k in COORDINATES} == COORDINATES


def test_a_huge_input_makes_a_dead_letter_far_below_the_broker_limit() -> None:
    raw = b"z" * 3_000_000
    value = dead_letter(ReasonCode.OVERSIZED, "x" * 1_000_000, raw=raw, key=b"k" * 1_000_000, **COORDINATES)
    assert len(value) < 100_000
    letter = json.loads(value)
    assert letter["raw_bytes"] == len(raw) and letter["key_bytes"] == 1_000_000
    assert len(base64.urlsafe_b64decode(letter["key"])) == DEAD_LETTER_KEY_BYTES
    assert len(letter["error"]) <= 2_000


def test_a_small_dead_letter_is_kept_whole_with_its_key() -> None:
    letter = _letter(b"{not json", key=b"cust-7")
    assert base64.urlsafe_b64decode(letter["raw"]) == b"{not json"
    assert base64.urlsafe_b64decode(letter["key"]) == b"cust-7" and letter["key_bytes"] is None
    assert letter["truncated"] is False


# -- a fake producer: batches that the broker acknowledges or refuses -------------------------------


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []

    def append(
        self, *, key: bytes | None, value: bytes, timestamp: int | None, headers: Any
    ) -> object | None:
        if self.records and sum(len(v) for _, v, _ in self.records) + len(value) > 1_000:
            return None  # full (a big record goes alone in a batch, as aiokafka's builder does)
        self.records.append((key, value, list(headers)))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class _Producer:
    """Refuses any record over ``limit`` bytes, as a broker does with ``MessageSizeTooLargeError``."""

    def __init__(self, limit: int = 5_000) -> None:
        self.limit = limit
        self.written: dict[str, list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def create_batch(self) -> _Batch:
        return _Batch()

    def _ack(self, topic: str, records: list[Any]) -> asyncio.Future[None]:
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if any(len(value) > self.limit for _, value, _ in records):
            ack.set_exception(MessageSizeTooLargeError())
        else:
            self.written.setdefault(topic, []).extend(records)
            ack.set_result(None)
        return ack

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        return self._ack(topic, batch.records)

    async def send(self, topic: str, value: bytes, *, key: bytes | None = None) -> asyncio.Future[None]:
        return self._ack(topic, [(key, value, [])])


def _refusals(producer: _Producer, metrics: TracerMetrics, lost: list[Origin]) -> Refusals:
    return Refusals(
        producer,
        "dlq",
        on_refused=metrics.record_publish_failure,
        on_dead_lettered=lambda origin: metrics.record_dead_letters_acknowledged(
            origin.deployment or "unrouted", origin.reason or ""
        ),
        on_lost=lambda origin, reason: lost.append(origin),
    )


def _sample(metrics: TracerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_a_refused_prediction_becomes_a_dead_letter_and_the_loop_goes_on() -> None:
    producer, metrics, lost, acked = _Producer(), TracerMetrics(), list[Origin](), list[Origin]()

    async def run() -> None:
        publisher = Publisher(
            producer,
            on_failed=_refusals(producer, metrics, lost),
            on_acked=lambda topic, origins: acked.extend(origins),
        )
        await publisher.prepare(["predictions", "dlq"])
        publisher.append("predictions", b"p" * 10, key=b"a", origin=Origin("crm", 0, 1, b"a", None, "churn"))
        publisher.append(
            "predictions", b"p" * 9_000, key=b"b", origin=Origin("crm", 0, 2, b"b", None, "churn")
        )
        publisher.append("predictions", b"p" * 10, key=b"c", origin=Origin("crm", 0, 3, b"c", None, "churn"))
        await publisher.drain()  # no MessageSizeTooLargeError out of here
        publisher.append("predictions", b"p" * 10, key=b"d", origin=Origin("crm", 0, 4, b"d", None, "churn"))
        await publisher.drain()

    asyncio.run(run())
    assert sorted(o.offset for o in acked) == [1, 3, 4], "the other records are published and acknowledged"
    (letter_record,) = producer.written["dlq"]
    letter = json.loads(letter_record[1])
    assert letter["reason"] == ReasonCode.PUBLISH_FAILED
    assert letter["source"] == {"topic": "crm", "partition": 0, "offset": 2}
    assert base64.urlsafe_b64decode(letter["key"]) == b"b" and letter["deployment"] == "churn"
    assert letter_record[0] == b"churn"
    failures = _sample(
        metrics, "tracer_publish_failures_total", topic="predictions", reason="MessageSizeTooLargeError"
    )
    assert failures == 1
    acknowledged = _sample(
        metrics, "tracer_dead_letters_acknowledged_total", deployment="churn", reason="publish_failed"
    )
    assert acknowledged == 1
    assert lost == []


def test_a_refused_dead_letter_is_counted_lost_never_silent() -> None:
    producer, metrics, lost = _Producer(limit=100), TracerMetrics(), list[Origin]()

    async def run() -> None:
        publisher = Publisher(producer, on_failed=_refusals(producer, metrics, lost))
        await publisher.prepare(["dlq"])
        origin = Origin("crm", 1, 9, None, None, "churn", ReasonCode.NOT_JSON.value)
        publisher.append("dlq", b"d" * 500, key=b"churn", origin=origin)
        await publisher.drain()

    asyncio.run(run())
    assert [(o.topic, o.offset) for o in lost] == [("crm", 9)]
    assert (
        _sample(metrics, "tracer_publish_failures_total", topic="dlq", reason="MessageSizeTooLargeError") == 1
    )


def test_the_lost_and_acknowledged_metrics_are_exposed() -> None:
    metrics = TracerMetrics()
    metrics.record_lost("churn", "crm", "MessageSizeTooLargeError")
    metrics.record_dead_letters_acknowledged("churn", "not_json", 2)
    text = metrics.render().decode()
    assert (
        'tracer_events_lost_total{deployment="churn",reason="MessageSizeTooLargeError",topic="crm"} 1.0'
        in text
    )
    assert 'tracer_dead_letters_acknowledged_total{deployment="churn",reason="not_json"} 2.0' in text


# -- the router: the key travels with the copy; an oversized input is dead-lettered, not copied -----


def _message(offset: int, value: bytes, key: bytes | None) -> Any:
    return SimpleNamespace(offset=offset, value=value, key=key, timestamp=1_700_000_000_000)


def _churn_router() -> tuple[Settings, _Producer, Router, list[tuple[str, ReasonCode]]]:
    """A router of one churn deployment on ``crm``, its producer, and the dead letters it reports."""
    settings = Settings(partitions=2)
    spec = DeploymentSpec(id="churn", blueprint="customer_churn", input_topics=["crm"], key_field="cust_id")
    producer = _Producer(limit=2 * MAX_MESSAGE_BYTES)
    unrouted: list[tuple[str, ReasonCode]] = []
    router = Router(settings, RouteTable([spec], settings.topics.labels), producer,
                    lambda topic, reason: unrouted.append((topic, reason)))  # fmt: skip
    return settings, producer, router, unrouted


def test_the_router_copies_the_key_and_dead_letters_an_oversized_input() -> None:
    settings, producer, router, unrouted = _churn_router()
    big = b"h" * (MAX_MESSAGE_BYTES + 1)

    async def run() -> None:
        await router.publisher.prepare([settings.topics.dlq])
        tp = TopicPartition("crm", 0)
        await router.route({tp: [_message(0, b'{"cust_id": "a"}', b"a"), _message(1, big, b"big")]})
        await router.publisher.drain()

    asyncio.run(run())
    ((key, value, headers),) = producer.written[settings.topics.routed]
    assert key == b"churn" and value == b'{"cust_id": "a"}'
    assert dict(headers)[HEADER_KEY] == b"a"
    ((letter_key, letter_value, _),) = producer.written[settings.topics.dlq]
    letter = json.loads(letter_value)
    assert letter_key == b"big" and base64.urlsafe_b64decode(letter["key"]) == b"big"
    assert (letter["reason"], letter["truncated"], letter["raw_bytes"]) == ("oversized", True, len(big))
    assert unrouted == [("crm", ReasonCode.OVERSIZED)], "counted once the broker acknowledged it"


def test_a_routed_copy_the_broker_refuses_becomes_an_oversized_dead_letter() -> None:
    settings = Settings(partitions=2, dead_letter_raw_bytes=100)
    spec = DeploymentSpec(id="churn", blueprint="customer_churn", input_topics=["crm"], key_field="cust_id")
    producer = _Producer(limit=1_000)  # a broker whose limit is under what the router copies
    unrouted: list[tuple[str, ReasonCode]] = []
    refused: list[tuple[str, str, int]] = []
    router = Router(settings, RouteTable([spec], settings.topics.labels), producer,
                    lambda topic, reason: unrouted.append((topic, reason)),
                    on_refused=lambda topic, reason, count: refused.append((topic, reason, count)))  # fmt: skip

    async def run() -> None:
        await router.publisher.prepare([settings.topics.dlq])
        await router.route({TopicPartition("crm", 0): [_message(5, b"x" * 2_000, b"k")]})
        await router.publisher.drain()

    asyncio.run(run())
    assert settings.topics.routed not in producer.written
    assert refused == [(settings.topics.routed, "MessageSizeTooLargeError", 1)]
    assert unrouted == [("crm", ReasonCode.OVERSIZED)]
    letter = json.loads(producer.written[settings.topics.dlq][0][1])
    assert letter["source"]["offset"] == 5 and base64.urlsafe_b64decode(letter["key"]) == b"k"


def test_a_replayed_input_for_a_deployment_not_reading_its_topic_is_dead_lettered_not_dropped() -> None:
    settings, producer, router, unrouted = _churn_router()

    def replayed(offset: int, deployment: bytes) -> Any:
        message = _message(offset, b'{"cust_id": "a"}', b"a")
        message.headers = [(HEADER_REPLAY_DEPLOYMENT, deployment), (HEADER_REPLAY_OF, b"crm:0:3")]
        return message

    async def run() -> None:
        await router.publisher.prepare([settings.topics.dlq])
        await router.route({TopicPartition("crm", 0): [replayed(10, b"churn"), replayed(11, b"gone")]})
        await router.publisher.drain()

    asyncio.run(run())
    ((key, _, headers),) = producer.written[settings.topics.routed]
    assert key == b"churn" and dict(headers)[HEADER_REPLAY_OF] == b"crm:0:3"
    ((_, letter_value, _),) = producer.written[settings.topics.dlq]
    letter = json.loads(letter_value)
    assert letter["reason"] == ReasonCode.UNKNOWN_DEPLOYMENT.value and letter["source"]["offset"] == 11
    assert "'gone'" in letter["error"] and "'crm'" in letter["error"]
    assert unrouted == [("crm", ReasonCode.UNKNOWN_DEPLOYMENT)]
