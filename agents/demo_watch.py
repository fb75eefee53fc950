"""Follow what the worker publishes for the demo's inputs: predictions, dead letters, drift alerts
and shadow reports; send each churn outcome on ``tracer.labels`` a little after its prediction, as
outcomes arrive later than predictions in a real business."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tracer.agents.demo_summary import AlertSeen, DemoSummary, Scored, ShadowWindow
from tracer.agents.settings import Settings

__all__ = ["LABEL_DELAY_S", "alert_name", "watch"]

LABEL_DELAY_S = 2.0
"""How long after a churn prediction its outcome is sent."""
SHOW_EVERY_S = 1.0


def alert_name(body: dict[str, object]) -> str:
    """What an alert says drifted (the monitor names it); an older worker's unnamed ones by detector."""
    return str(body.get("feature") or body.get("detector") or "?")


async def watch(
    settings: Settings,
    summary: DemoSummary,
    outcomes: dict[str, dict[str, tuple[bool, float]]],
    emit: Callable[[str], None],
) -> None:
    """Run until cancelled. ``outcomes``: deployment -> prediction key -> (outcome, baseline score)
    for the deployments whose outcomes the demo sends."""
    topics = settings.topics
    consumer = AIOKafkaConsumer(
        topics.predictions, topics.dlq, topics.drift_alerts, topics.shadow_reports,
        bootstrap_servers=settings.broker, group_id=None, auto_offset_reset="earliest",
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=20)
    await consumer.start()
    await producer.start()
    pending: list[tuple[float, str, str]] = []
    last_shown = 0.0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for tp, messages in batch.items():
                for message in messages:
                    body = json.loads(message.value)
                    if tp.topic == topics.predictions:
                        _on_prediction(body, summary, outcomes, pending, now)
                        if now - last_shown >= SHOW_EVERY_S:
                            last_shown = now
                            emit(_describe(body, summary))
                    elif tp.topic == topics.dlq and body["source"]["topic"] == topics.labels:
                        summary.label_letters[body["reason"]] += 1
                    elif tp.topic == topics.dlq and body.get("deployment"):
                        summary.dead_letters[body["deployment"]][body["reason"]] += 1
                    elif tp.topic == topics.drift_alerts:
                        alert = AlertSeen(
                            body["deployment"], body["kind"], alert_name(body), int(body["position"]),
                            str(body.get("detector", "")), float(body["statistic"]), float(body["threshold"]),
                        )  # fmt: skip
                        summary.alerts.append(alert)
                        emit(
                            f"  ⚠ drift alert {alert.deployment} [{alert.kind}] {alert.name} at event {alert.event}"
                        )
                    elif tp.topic == topics.shadow_reports:
                        summary.agreement[body["deployment"]].append(
                            ShadowWindow(
                                int(body["position"]), str(body["shadow"]), float(body["agreement"]),
                                int(body["window_events"]), bool(body["below_slo"]),
                            )
                        )  # fmt: skip
            due = [(deployment, key) for ready, deployment, key in pending if ready <= now]
            pending[:] = [item for item in pending if item[0] > now]
            for deployment, key in due:
                label = {
                    "deployment": deployment,
                    "key": key,
                    "label": outcomes[deployment][key][0],
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
    outcomes: dict[str, dict[str, tuple[bool, float]]],
    pending: list[tuple[float, str, str]],
    now: float,
) -> None:
    deployment = str(body["deployment"])
    summary.predicted[deployment] += 1
    key = str(body["key"])
    known = outcomes.get(deployment, {}).get(key)
    if known is not None:
        score = body.get("score")
        if not isinstance(score, int | float):
            output = body["output"]
            assert isinstance(output, dict)
            score = float(output["churn_probability"])
        summary.scored[deployment].append(Scored(float(score), known[0], known[1]))
        pending.append((now + LABEL_DELAY_S, deployment, key))


def _describe(body: dict[str, object], summary: DemoSummary) -> str:
    output = body["output"]
    assert isinstance(output, dict)
    if body["deployment"] == "churn":
        shown = f"churn_probability={output['churn_probability']:.2f} {output['risk_classification']:<8} {output['risk_vectors'][:2]}"
    elif body["deployment"] == "market-direction":
        shown = f"{output['direction']:<4} up_probability={output['up_probability']:.2f}"
    else:
        shown = ", ".join(f"{k}={v}" for k, v in list(output.items())[:2])
    counts = " ".join(f"{d}={summary.predicted[d]}" for d in sorted(summary.predicted))
    return f"  {body['deployment']:<17} {str(body['key'])[:26]:<26} {shown}   [{counts}, labels sent {summary.labels_sent}]"
