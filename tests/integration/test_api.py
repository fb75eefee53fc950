"""The HTTP API end to end: a real broker, a real worker process, real HTTP.

One worker serves the whole module (starting one takes seconds). It runs two deployments from a
file, ``churn`` (customer_churn, inline labels) and ``market`` (price_movement, self-labelled, with a
shadow to promote), on topics of their own, with four API keys so that the rate-limit test does not
throttle the others. The restart test comes last: it stops and starts the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration import workers
from tests.kafka_helpers import produce
from tracer.agents.registry_topic import read_registry
from tracer.blueprints import registry
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KEYS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("main", "limited", "fuzz", "journey")}
RATE_PER_S, BURST = 50, 50
MAX_UPLOAD_BYTES = 5_000_000
STARTUP_TIMEOUT_S = 120.0


@dataclass
class Worker:
    """A worker process serving the API on ``base``."""

    port: int
    prefix: str
    bootstrap: str
    deployments: Path
    app_id: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str = "main") -> httpx.Client:
        """A client that sends ``key``'s API key."""
        return httpx.Client(base_url=self.base, headers={"X-API-Key": KEYS[key]}, timeout=60)

    def start(self, owned: int) -> None:
        """Start the process and wait until it owns ``owned`` deployments."""
        self.process = workers.start(self.deployments, self.env, self.app_id, self.log, web_port=self.port)
        workers.wait_owned(self.process, self.base, owned, self.log, STARTUP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM: a clean stop checkpoints every owned deployment."""
        assert self.process is not None
        assert workers.stop(self.process) == 0, self.log.read_text(errors="replace")[-6000:]


def _json_rows(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The module's worker (``worker_env`` is per test; this is its module-wide equivalent)."""
    folder = tmp_path_factory.mktemp("api")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    deployments = folder / "deployments.yaml"
    deployments.write_text(
        "deployments:\n"
        f"  - {{id: churn, blueprint: customer_churn, input_topics: [{prefix}customers], key_field: cust_id,"
        " labels: {mode: inline, field: churned}}\n"
        f"  - {{id: market, blueprint: price_movement, input_topics: [{prefix}snapshots], key_field: symbol,"
        " labels: {mode: self}, shadows: [{name: slow, params: {horizonSeconds: 300}}]}\n"
    )
    env = workers.worker_environment(dict(os.environ), prefix)
    env.update(
        TRACER_KAFKA_BOOTSTRAP=kafka_bootstrap, TRACER_DATA_DIR=str(folder / "worker"),
        TRACER_API_KEYS=",".join(KEYS.values()), TRACER_API_RATE_LIMIT=str(RATE_PER_S),
        TRACER_API_BURST=str(BURST), TRACER_API_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES),
    )  # fmt: skip
    running = Worker(
        workers.free_port(), prefix, kafka_bootstrap, deployments, prefix + "api", env, folder / "worker.log"
    )
    try:
        running.start(owned=2)
        yield running
    finally:
        running.stop()
        output = running.log.read_text(errors="replace")
        print(output[-5000:])  # shown by pytest when a test fails
    assert "Traceback" not in output, "the worker logged an exception"


def _wait_for(condition: Any, what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _info(client: httpx.Client, deployment: str) -> dict[str, Any]:
    infos = client.get("/ml/model/info").json()["deployments"]
    return next(info for info in infos if info["deployment"] == deployment)  # type: ignore[no-any-return]


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _snapshot(ts_ms: int, symbol: str = "BTCUSDT") -> dict[str, Any]:
    return {"ts": ts_ms, "symbol": symbol, "mid": 45_000.0, "spreadBp": 2.0, "vol1m": 1e6, "rsi14": 55.0}


# -- the public endpoints, keys and limits ---------------------------------------------------------


def test_public_endpoints(worker: Worker) -> None:
    health = httpx.get(worker.base + "/ml/health").json()
    assert (
        health["status"] == "ok"
        and health["broker"]["reachable"]
        and health["agents"]["service"] == "running"
    )
    assert sorted(health["agents"]["owned"]) == ["churn", "market"]
    metrics = httpx.get(worker.base + "/ml/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "ml_model_version_info" in metrics.text
    document = httpx.get(worker.base + "/openapi.json").json()
    assert document["openapi"] == "3.1.0" and "/ml/predict" in document["paths"]


def test_api_keys_are_required(worker: Worker) -> None:
    for method, path in [("GET", "/blueprints"), ("POST", "/ml/predict"), ("GET", "/ml/model/info"),
                         ("POST", "/datasets"), ("GET", "/deployments/churn"), ("GET", "/nowhere")]:  # fmt: skip
        missing = httpx.request(method, worker.base + path)
        assert (missing.status_code, missing.json()["error"]) == (401, "missing_api_key"), path
        wrong = httpx.request(method, worker.base + path, headers={"X-API-Key": "not-a-key"})
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_api_key"), path


def test_bodies_over_the_limit_get_413(worker: Worker) -> None:
    with worker.client() as client:
        declared = client.post("/ml/predict", content=b"{" + b" " * 2_000_000 + b"}")
        assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(30):
                yield b" " * 65_536

        streamed = client.post("/ml/predict", content=chunks())
        assert streamed.status_code == 413, "a chunked body is measured as it is read"
        upload = client.post(
            "/datasets", content=b"a\n" + b"1\n" * 3_000_000, headers={"Content-Type": "text/csv"}
        )
        assert upload.status_code == 413 and str(MAX_UPLOAD_BYTES) in upload.json()["detail"]


def test_rate_limit_per_key(worker: Worker) -> None:
    async def burst() -> list[httpx.Response]:
        headers = {"X-API-Key": KEYS["limited"]}
        async with httpx.AsyncClient(base_url=worker.base, headers=headers, timeout=30) as client:
            return await asyncio.gather(*(client.get("/blueprints") for _ in range(3 * BURST)))

    answers = asyncio.run(burst())
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) == {200, 429} and statuses[200] >= BURST, statuses
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["error"] == "rate_limited"
    with worker.client("main") as client:
        assert client.get("/blueprints").status_code == 200, "other keys have buckets of their own"


# -- good and bad paths of every endpoint ----------------------------------------------------------

BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/ml/predict", {"json": {"deployment": "nope", "row": {}}}, 404, "deployment_not_found"),
    ("POST", "/ml/predict", {"json": {"deployment": "churn", "row": {"x": 1}}}, 422, "invalid_row"),
    ("POST", "/ml/predict", {"json": {"deployment": "churn"}}, 422, "invalid_request"),
    ("POST", "/ml/predict", {"json": {"deployment": "churn", "row": {"x": {"nested": 1}}}}, 422, "invalid_request"),
    ("POST", "/ml/predict", {"content": b"{not json"}, 400, "invalid_json"),
    ("POST", "/ml/predict", {"json": {"snapshot": {"ts": 1, "symbol": "B"}}}, 422, "invalid_request"),
    ("GET", "/blueprints/nope", {}, 404, "blueprint_not_found"),
    ("POST", "/datasets", {"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "unsupported_media_type"),
    ("POST", "/datasets", {"content": b"a,b\n", "headers": {"Content-Type": "text/csv"}}, 422, "empty_dataset"),
    ("POST", "/datasets", {"files": {"other": ("x.csv", b"a\n1\n")}}, 422, "missing_file"),
    ("POST", "/datasets/ds_nope/analyze", {}, 404, "dataset_not_found"),
    ("POST", "/deployments", {"json": {"blueprint": "nope", "input_topics": ["x"]}}, 422, "invalid_deployment"),
    ("POST", "/deployments", {"json": {"blueprint": "customer_churn"}}, 422, "invalid_deployment"),
    ("POST", "/deployments", {"json": {"blueprint": "customer_churn", "id": "churn", "input_topics": ["x"]}}, 409, "deployment_exists"),
    ("POST", "/deployments", {"json": {"blueprint": "customer_churn", "dataset": "ds_nope"}}, 404, "dataset_not_found"),
    ("POST", "/deployments", {"json": {"blueprint": "customer_churn", "input_topics": ["x"], "params": {"predictionWindow": "7_days"}}}, 422, "invalid_deployment"),
    ("POST", "/deployments", {"json": {"blueprint": "customer_churn", "input_topics": ["bad topic!"]}}, 422, "invalid_request"),
    ("GET", "/deployments/nope", {}, 404, "deployment_not_found"),
    ("POST", "/deployments/nope/predict", {"json": {}}, 404, "deployment_not_found"),
    ("POST", "/deployments/churn/predict", {"json": [1, 2]}, 422, "invalid_request"),
    ("GET", "/deployments/nope/versions", {}, 404, "deployment_not_found"),
    ("POST", "/deployments/nope/rollback", {}, 404, "deployment_not_found"),
    ("POST", "/deployments/churn/rollback", {"json": {"to_version": 0}}, 422, "invalid_request"),
    ("POST", "/deployments/churn/rollback", {}, 409, "rollback_unavailable"),
    ("POST", "/deployments/churn/promote", {"json": {"shadow": "none-here"}}, 404, "shadow_not_found"),
    ("POST", "/deployments/churn/promote", {"json": {}}, 422, "invalid_request"),
    ("GET", "/nowhere", {}, 404, "not_found"),
    ("DELETE", "/ml/predict", {}, 405, "method_not_allowed"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), BAD_REQUESTS)
def test_bad_requests(
    worker: Worker, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    with worker.client() as client:
        answer = client.request(method, path, **kwargs)
    body = answer.json()
    assert (answer.status_code, body["error"]) == (status, code), body
    assert set(body) == {"error", "detail"} and body["detail"] and "Traceback" not in body["detail"]


def test_catalog_and_file_deployments(worker: Worker) -> None:
    with worker.client() as client:
        crypto = client.get("/blueprints", params={"category": "crypto_defi"}).json()
        assert [bp["id"] for bp in crypto["blueprints"]] == [
            bp.id for bp in registry.list(category="crypto_defi")
        ]
        assert (
            "price_movement" in [bp["id"] for bp in crypto["blueprints"]] and len(crypto["categories"]) == 5
        )
        details = client.get("/blueprints/price_movement").json()
        assert details["label"]["rule"] and {p["name"] for p in details["parameters"]} >= {"horizonSeconds"}
        churn = client.get("/deployments/churn").json()
        assert churn["owned_here"] and churn["streaming"] and churn["validation"] is None
        versions = client.get("/deployments/churn/versions").json()
        assert versions["live_version"] == 1 and versions["versions"][0]["reason"] == "deploy"
        seed_002 = client.post("/ml/predict", json={"snapshot": _snapshot(1_696_723_200_000)})
        assert seed_002.status_code == 200, seed_002.text
        assert seed_002.json()["deployment"] == "market" and seed_002.json()["output"]["direction"] in (
            "up",
            "down",
        )


def test_stream_and_http_share_the_live_model(worker: Worker) -> None:
    rows = _json_rows(CustomerChurn().sample(300, seed=5))
    produce(worker.bootstrap, worker.prefix + "customers", [json.dumps(r).encode() for r in rows])
    with worker.client() as client:
        info = _wait_for(
            lambda: (i := _info(client, "churn"))["rows_seen"] >= 300 and i, "the stream to score"
        )
        assert info["rows_seen"] == 300 and info["counters"]["labels_learned"] > 0
        assert sum(info["learned_through"].values()) >= 300
        assert sum(info["source_offsets"].values()) == 300
        answer = client.post("/ml/predict", json={"deployment": "churn", "row": rows[0]})
        assert answer.status_code == 200 and answer.json()["model_version"] == info["model_version"]
        again = client.post("/ml/predict", json={"deployment": "churn", "row": rows[0]})
        assert again.json()["score"] == answer.json()["score"]
        assert _info(client, "churn")["counters"] == info["counters"], "HTTP leaves the stream's state alone"
        more = _json_rows(CustomerChurn().sample(300, seed=6))
        produce(worker.bootstrap, worker.prefix + "customers", [json.dumps(r).encode() for r in more])
        _wait_for(lambda: _info(client, "churn")["rows_seen"] >= 600, "the stream to learn more")
        later = client.post("/ml/predict", json={"deployment": "churn", "row": rows[0]})
        assert later.json()["score"] != answer.json()["score"], "the live model, which the stream trains"


def test_deploy_on_a_topic_the_router_reads(worker: Worker) -> None:
    with worker.client() as client:
        created = client.post(
            "/deployments",
            json={"blueprint": "price_movement", "id": "market-fast", "input_topics": [worker.prefix + "snapshots"],
                  "params": {"horizonSeconds": 300}},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["streaming"] and body["spec"]["labels"]["mode"] == "self" and body["validation"] is None
        ambiguous = client.post("/ml/predict", json={"snapshot": _snapshot(1)})
        assert (ambiguous.status_code, ambiguous.json()["error"]) == (422, "ambiguous_deployment")
        named = client.post("/ml/predict", json={"snapshot": _snapshot(1), "deployment": "market-fast"})
        assert named.status_code == 200 and named.json()["output"]["horizon_seconds"] == 300
        snapshots = [_snapshot(1_700_000_000_000 + i * 1000) for i in range(40)]
        produce(worker.bootstrap, worker.prefix + "snapshots", [json.dumps(s).encode() for s in snapshots])
        _wait_for(lambda: _info(client, "market-fast")["rows_seen"] >= 40, "the new deployment to stream")


def _maps_arrow(pid: int) -> bool:
    return "libarrow" in Path(f"/proc/{pid}/maps").read_text()


def test_a_parquet_upload_loads_pyarrow_only_then(worker: Worker, tmp_path: Path) -> None:
    """The worker's pandas runs without pyarrow (about 33 MB less resident); a parquet upload still
    reads, string columns included, and loads pyarrow when it does."""
    assert worker.process is not None
    assert not _maps_arrow(worker.process.pid), "the worker loaded pyarrow before any parquet upload"
    path = tmp_path / "customers.parquet"
    CustomerChurn().sample(300, seed=4).to_parquet(path)
    with worker.client("journey") as client:
        uploaded = client.post(
            "/datasets", files={"file": (path.name, path.read_bytes(), "application/octet-stream")}
        )
    assert uploaded.status_code == 201, uploaded.text
    dataset = uploaded.json()
    kinds = {c["name"]: c["kind"] for c in dataset["columns"]}
    assert dataset["format"] == "parquet" and dataset["rows"] == 300 and kinds["cust_id"] == "id"
    assert _maps_arrow(worker.process.pid)


STREAMED = 50
"""Rows the journey's deployment then scores from its new input topic (each with its label)."""
JOURNEY: dict[str, Any] = {}
"""What the journey made, for the restart test at the end of the module."""


def test_customer_journey(worker: Worker, tmp_path: Path) -> None:
    """Seed 000: upload a CSV, analyze it, deploy the best blueprint, predict, see it counted."""
    frame = CustomerChurn().sample(2000, seed=1)
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    with worker.client("journey") as client:
        started = time.perf_counter()
        uploaded = client.post("/datasets", files={"file": ("customers.csv", path.read_bytes(), "text/csv")})
        assert uploaded.status_code == 201, uploaded.text
        dataset = uploaded.json()
        assert (
            dataset["rows"] == 2000 and {c["name"]: c["kind"] for c in dataset["columns"]}["cust_id"] == "id"
        )
        analysis = client.post(f"/datasets/{dataset['id']}/analyze").json()
        best = analysis["suggestions"][0]
        assert best["blueprint"] == "customer_churn" and best["compatibility"] > 0.9
        created = client.post("/deployments", json={"blueprint": best["blueprint"], "dataset": dataset["id"],
                                                    "params": {"predictionWindow": "60_days"}})  # fmt: skip
        assert created.status_code == 201, created.text
        deployment = created.json()
        deployment_id = deployment["spec"]["id"]
        assert created.headers["Location"] == f"/deployments/{deployment_id}"
        assert deployment["validation"]["rows"] == 2000 and deployment["validation"]["metrics"]["auc"] > 0.6
        assert deployment["spec"]["labels"] == {"mode": "inline", "field": "churned", "ttl_seconds": None}
        assert deployment["owned_here"] and deployment["streaming"], "its new topic is read without a restart"
        row = _json_rows(frame.head(1))[0]
        first = client.post(f"/deployments/{deployment_id}/predict", json=row)
        elapsed_s = time.perf_counter() - started
        assert first.status_code == 200, first.text
        assert 0.0 <= first.json()["output"]["churn_probability"] <= 1.0
        second = client.post("/ml/predict", json={"deployment": deployment_id, "row": row})
        assert second.status_code == 200 and second.json()["model_version"] == 1
        metrics = client.get("/ml/metrics").text
        assert _metric(metrics, "ml_predict_requests_total", deployment=deployment_id, status="ok") == 2.0
        assert _metric(metrics, "ml_prediction_score_count", deployment=deployment_id) == 2.0
        versions = client.get(f"/deployments/{deployment_id}/versions").json()["versions"]
        assert versions[0]["metrics"]["auc"] == pytest.approx(deployment["validation"]["metrics"]["auc"])
        _wait_for(
            lambda: _metric(client.get("/ml/metrics").text, "tracer_checkpoints_written_total",
                            deployment=deployment_id) >= 1,
            "the scorer to checkpoint the trained model",
        )  # fmt: skip
        streamed = _json_rows(CustomerChurn().sample(STREAMED, seed=7))
        produce(
            worker.bootstrap,
            deployment["spec"]["input_topics"][0],
            [json.dumps(r).encode() for r in streamed],
        )
        _wait_for(
            lambda: _info(client, deployment_id)["counters"]["labels_learned"] >= 2000 + STREAMED,
            "the new topic's rows to be scored and learned",
        )
        wrong = client.post("/deployments", json={"blueprint": "revenue_forecast", "dataset": dataset["id"]})
        assert (wrong.status_code, wrong.json()["error"]) == (422, "dataset_incompatible"), wrong.text
    specs, recorded = asyncio.run(read_registry(worker.bootstrap, worker.prefix + "tracer.registry"))
    assert deployment_id in {spec.id for spec in specs}
    assert (deployment_id, 1) in {(v.deployment, v.version) for v in recorded}
    JOURNEY.update(
        deployment=deployment_id, learned=_info_of(worker, deployment_id)["counters"]["labels_learned"]
    )
    print(f"upload -> first prediction: {elapsed_s:.2f} s for 2000 rows")


def _info_of(worker: Worker, deployment: str) -> dict[str, Any]:
    with worker.client() as client:
        return _info(client, deployment)


# -- schemathesis ----------------------------------------------------------------------------------


def test_schemathesis_finds_no_server_error(worker: Worker, tmp_path: Path) -> None:
    """Fuzz every documented operation but deploy (it creates Kafka topics; the journey covers it) and
    stop (it would stop ``churn``; tests/test_api_lifecycle.py and test_client_e2e.py cover it)."""
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\ndeployment_id = "churn"\n')
    checks = "all"
    # positive_data_acceptance: a row that fits the JSON schema may still miss a blueprint's inputs (422).
    excluded = "positive_data_acceptance"
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", worker.base + "/openapi.json",
         "-H", f"X-API-Key: {KEYS['fuzz']}", "--checks", checks, "--exclude-checks", excluded,
         "--exclude-operation-id", "postDeployments", "--exclude-operation-id", "deleteDeploymentsDeploymentId",
         "--max-examples", "10", "--workers", "1",
         "--rate-limit", f"{RATE_PER_S - 5}/s", "--request-timeout", "30"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    assert re.search(r"\d+ generated, \d+ passed", output), output[-3000:]


# -- the registry operations ----------------------------------------------------------------------


def test_promote_and_rollback_record_new_versions(worker: Worker) -> None:
    with worker.client() as client:
        checkpoints = _metric(
            client.get("/ml/metrics").text, "tracer_checkpoints_written_total", deployment="market"
        )
        unknown = client.post("/deployments/market/promote", json={"shadow": "nope"})
        assert (unknown.status_code, unknown.json()["error"]) == (404, "shadow_not_found")
        promoted = client.post("/deployments/market/promote", json={"shadow": "slow"})
        first = client.post("/deployments/market/rollback", json={"to_version": 1})
        second = client.post("/deployments/market/rollback")
        assert [answer.status_code for answer in (promoted, first, second)] == [201, 201, 201]
        assert client.post("/deployments/market/rollback", json={"to_version": 99}).status_code == 409
        p, f, s = promoted.json(), first.json(), second.json()
        assert (p["version"], p["reason"], p["params"]["horizonSeconds"]) == (2, "promotion", 300)
        assert (f["version"], f["reason"], f["evidence"]["restored_version"]) == (3, "rollback", 1)
        assert (s["version"], s["evidence"]["restored_version"]) == (4, 2), (
            "default: the live version's parent"
        )
        versions = client.get("/deployments/market/versions").json()
        assert versions["live_version"] == 4 and [v["version"] for v in versions["versions"]] == [1, 2, 3, 4]
        answer = client.post("/ml/predict", json={"deployment": "market", "snapshot": _snapshot(2)}).json()
        assert answer["model_version"] == 4 and answer["output"]["horizon_seconds"] == 300
        metrics = client.get("/ml/metrics").text
        assert 'tracer_model_version{deployment="market"} 4.0' in metrics
        _wait_for(
            lambda: _metric(client.get("/ml/metrics").text, "tracer_checkpoints_written_total",
                            deployment="market") > checkpoints,
            "the scorer to checkpoint the new version",
        )  # fmt: skip
    _, recorded = asyncio.run(read_registry(worker.bootstrap, worker.prefix + "tracer.registry"))
    reasons = [(v.version, v.reason) for v in recorded if v.deployment == "market"]
    assert reasons == [(1, "deploy"), (2, "promotion"), (3, "rollback"), (4, "rollback")]


# -- last: a restart restores what the API deployed ------------------------------------------------


def test_restart_restores_api_deployments(worker: Worker) -> None:
    """The registry brings the API's deployments back, and their checkpoints the trained models."""
    deployment = JOURNEY.get("deployment")
    if deployment is None:
        pytest.skip("needs test_customer_journey")
    known = httpx.get(worker.base + "/ml/health").json()["agents"]["deployments"]
    worker.stop()
    worker.start(owned=known)  # the file's two, and those made through the API
    with worker.client() as client:
        restored = client.get(f"/deployments/{deployment}").json()
        assert restored["owned_here"] and restored["streaming"]
        info = _info(client, deployment)
        assert info["counters"]["labels_learned"] == JOURNEY["learned"] == 2000 + STREAMED, (
            "the trained model, not a new one"
        )
        assert info["versions"][0]["metrics"]["auc"] > 0.6
