"""``tracer report DEPLOYMENT`` against a running worker: events through Kafka, the report's series from
``GET /deployments/{id}/report``, and the HTML page written from them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration import workers
from tests.kafka_helpers import produce
from tests.test_report import _images
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROWS = 1500


def test_tracer_report_reads_a_running_worker(
    worker_env: dict[str, str], topic_prefix: str, tmp_path: Path
) -> None:
    deployments = workers.write_deployments(tmp_path / "deployments.yaml", [{
        "id": "churn", "blueprint": "customer_churn", "input_topics": [f"{topic_prefix}customers"],
        "key_field": "cust_id", "labels": {"mode": "inline", "field": "churned"},
        "shadows": [{"name": "twin"}], "drift": {"agreement_window_events": 100},
    }])  # fmt: skip
    env = workers.worker_environment(worker_env, topic_prefix)
    port = workers.free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "worker.log"
    worker = workers.start(deployments, env, topic_prefix + "report", log, web_port=port)
    try:
        workers.wait_owned(worker, base, 1, log)
        rows = json.loads(CustomerChurn().sample(ROWS, seed=11).to_json(orient="records", date_format="iso"))
        produce(
            env["TRACER_KAFKA_BOOTSTRAP"], f"{topic_prefix}customers", [json.dumps(r).encode() for r in rows]
        )
        headers = {"X-API-Key": workers.API_KEY}
        deadline, data = time.monotonic() + 120, {}
        while time.monotonic() < deadline:
            data = httpx.get(f"{base}/deployments/churn/report", headers=headers, timeout=30).json()
            if data.get("labels", 0) >= ROWS:
                break
            time.sleep(0.5)
        assert data["events"] == ROWS and data["labels"] == ROWS, data
        assert len(data["points"]) == ROWS // data["window"]
        assert sum(b["count"] for b in data["calibration"]) == ROWS
        assert {m["shadow"] for m in data["agreement"]} == {"twin"}
        missing = httpx.get(f"{base}/deployments/nope/report", headers=headers, timeout=30)
        assert missing.status_code == 404 and missing.json()["error"] == "deployment_not_found"

        page = tmp_path / "report.html"
        done = subprocess.run(
            [sys.executable, "-m", "tracer.agents.cli", "report", "churn", "--out", str(page), "--url", base,
             "--api-key", workers.API_KEY],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"{ROWS} events, {ROWS} labels" in done.stdout and str(page) in done.stdout
        images = _images(page.read_text())
        for section in ("learning-curve", "calibration", "gains", "shadows"):
            assert images[section], f"the {section} section has its chart"
        wrong_key = subprocess.run(
            [sys.executable, "-m", "tracer.agents.cli", "report", "churn", "--out", str(page), "--url", base,
             "--api-key", "not-a-key"],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert wrong_key.returncode == 1 and "401" in wrong_key.stderr
    finally:
        assert workers.stop(worker) == 0, log.read_text(errors="replace")[-5000:]
    assert "Traceback" not in log.read_text(errors="replace")
