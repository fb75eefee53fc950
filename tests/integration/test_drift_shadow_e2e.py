"""Drift and shadows in the stream, on the real broker: a feature shifted at a known event raises a
`DriftAlert` on `tracer.drift.alerts`, and a shadow's agreement with the live model arrives as
`ShadowReport`s on `tracer.shadow.reports`, while only live predictions are published."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.integration import workers
from tests.kafka_helpers import produce
from tracer.agents.topics import ensure_topics
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.schemas import DriftAlert, ShadowReport

pytestmark = pytest.mark.kafka

ROWS = 3000
SHIFT_AT = 1500


def test_a_shifted_feature_raises_an_alert_and_the_shadow_reports_agreement(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source = topic_prefix + "customers"
    asyncio.run(ensure_topics(kafka_bootstrap, {source: 1}))
    frame = CustomerChurn().sample(ROWS, seed=8)
    frame.loc[SHIFT_AT:, "support_tickets"] = frame.loc[SHIFT_AT:, "support_tickets"] + 6  # a known shift
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    produce(kafka_bootstrap, source, [json.dumps(row).encode() for row in rows])

    deployments = workers.write_deployments(
        tmp_path / "deployments.yaml",
        [{"id": "churn", "blueprint": "customer_churn", "input_topics": [source], "key_field": "cust_id",
          "labels": {"mode": "inline", "field": "churned"},
          "shadows": [{"name": "no-login-rule", "params": {"churnDefinition": "no_login_30_days"}}],
          "drift": {"agreement_window_events": 500}}],
    )  # fmt: skip
    env = workers.worker_environment(worker_env, topic_prefix)
    log = tmp_path / "worker.log"
    worker = workers.start(deployments, env, topic_prefix + "w", log)
    try:
        predictions = workers.records(kafka_bootstrap, topic_prefix + "tracer.predictions", expect=ROWS)
        alerts = [
            DriftAlert.model_validate(a)
            for a in workers.records(kafka_bootstrap, topic_prefix + "tracer.drift.alerts", expect=1)
        ]
        reports = [
            ShadowReport.model_validate(r)
            for r in workers.records(
                kafka_bootstrap, topic_prefix + "tracer.shadow.reports", expect=ROWS // 500
            )
        ]
    finally:
        assert workers.stop(worker) == 0, log.read_text()[-3000:]

    assert len(predictions) == ROWS, "shadows are scored, but only live predictions are published"
    data_alerts = [a for a in alerts if a.kind == "data" and a.feature == "support_intensity"]
    assert data_alerts, (
        f"no data-drift alert on the shifted feature; got {[(a.kind, a.feature) for a in alerts]}"
    )
    assert all(SHIFT_AT <= a.position <= SHIFT_AT + 1000 for a in data_alerts)
    assert not [a for a in alerts if a.kind == "data" and a.position < SHIFT_AT], (
        "no false alarm before the shift"
    )
    assert len(reports) == ROWS // 500
    assert all(r.shadow == "no-login-rule" and r.window_events == 500 for r in reports)
    assert reports[-1].labelled_events > 0
