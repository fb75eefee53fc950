"""What a scored batch becomes on Kafka: its predictions, dead letters, drift alerts, shadow reports and
model versions, appended to the scorer's :class:`~tracer.agents.publisher.Publisher` (sent once per
poll), and the metrics each of them bumps. The core (:class:`~tracer.online_models.live.LiveDeployment`)
decides what they are; this module only encodes and counts them."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from pydantic_core import to_json

from tracer.agents.deadletters import DEAD_LETTER_RAW_BYTES, dead_letter
from tracer.agents.metrics import TracerMetrics
from tracer.agents.publisher import Origin, Publisher
from tracer.agents.settings import Topics
from tracer.online_models.live import BatchResult, LiveDeployment
from tracer.schemas import ModelVersion

__all__ = ["now_ms", "publish_result", "publish_versions"]


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, as Kafka timestamps are."""
    return int(time.time() * 1000)


def publish_result(
    publisher: Publisher,
    topics: Topics,
    metrics: TracerMetrics,
    live: LiveDeployment,
    result: BatchResult,
    *,
    max_raw_bytes: int = DEAD_LETTER_RAW_BYTES,
) -> None:
    """Append every output of ``result`` to ``publisher`` and record the batch in ``metrics``.

    A prediction is keyed by its entity and carries the deployment, the model version, the output,
    the end-to-end latency (from the source message's timestamp) and the source offset; dead letters,
    alerts and reports are keyed by deployment. Predictions and dead letters carry their input's
    :class:`Origin`, so one the broker refuses still gets a fate (see the publisher's ``on_failed``).
    Dead letters are bounded to ``max_raw_bytes`` of their input.
    """
    spec = live.spec
    now = now_ms()
    version = live.model_version
    latencies = []
    append, predictions = publisher.append, topics.predictions  # every topic here is prepared at start
    for prediction in result.predictions:
        latency_ms = max(0, now - prediction.timestamp_ms)
        latencies.append(float(latency_ms))
        source = prediction.source
        value = to_json({  # pydantic's Rust encoder: a quarter of json.dumps' time
            "deployment": spec.id, "blueprint": spec.blueprint, "model_version": version, "key": prediction.key,
            "output": prediction.output, "latency_ms": latency_ms, "ts": now,
            "source": {"topic": source.topic, "partition": source.partition, "offset": source.offset},
        })  # fmt: skip
        key = prediction.key.split("@", 1)[0].encode()
        append(predictions, value, key=key,
               origin=Origin(source.topic, source.partition, source.offset, key, None, spec.id))  # fmt: skip
    reasons: dict[str, int] = defaultdict(int)
    deployment_key = spec.id.encode()
    for letter in result.dead_letters:
        source = letter.event.source
        event = letter.event
        value = dead_letter(letter.reason, letter.error, raw=event.value, key=event.key,
                            topic=source.topic, partition=source.partition, offset=source.offset,
                            deployment=spec.id, max_raw_bytes=max_raw_bytes)  # fmt: skip
        origin = Origin(
            source.topic, source.partition, source.offset, event.key, None, spec.id, letter.reason.value
        )
        append(topics.dlq, value, key=deployment_key, origin=origin)
        if not letter.event.is_label:
            reasons[letter.reason.value] += 1
    for alert in result.alerts:
        append(topics.drift_alerts, alert.model_dump_json().encode(), key=deployment_key)
        metrics.record_drift_alert(spec.id, alert.kind, alert.detector)
    for report in result.reports:
        append(topics.shadow_reports, report.model_dump_json().encode(), key=deployment_key)
        metrics.set_shadow_agreement(spec.id, report.shadow, report.agreement)
    publish_versions(publisher, topics, metrics, result.versions)
    metrics.record_batch(
        spec.id, spec.input_topics[0], consumed=result.rows, predicted=len(result.predictions),
        dead_lettered_by_reason=reasons, latencies_ms=latencies, scores=[p.score for p in result.predictions],
    )  # fmt: skip
    metrics.record_labels(spec.id, joined=result.labels_joined, expired=result.labels_expired)


def publish_versions(
    publisher: Publisher, topics: Topics, metrics: TracerMetrics, versions: Iterable[ModelVersion]
) -> None:
    """Record model versions in the compacted registry topic, keyed ``version/<deployment>/<n>``."""
    for record in versions:
        key = f"version/{record.deployment}/{record.version}".encode()
        publisher.append(topics.registry, record.model_dump_json().encode(), key=key)
        metrics.set_model_version(record.deployment, record.version)
