"""``tracer.client`` against a live worker on the real broker: the customer journey, sync and async, every
error path the client types, the list/stop/delete routes, and a stop that survives a restart.

One worker serves the module. Its file runs ``market`` (price_movement, with a shadow to promote, so
there are versions to roll back to); the journeys deploy ``customer_churn`` through the client. The
restart test comes last.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration import workers
from tracer.agents.registry_topic import read_registry
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.client import (
    AsyncTracerClient,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    TracerClient,
    TracerTimeoutError,
    UnsupportedMediaTypeError,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KEYS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("main", "limited")}
RATE_PER_S, BURST = 20, 20
MAX_UPLOAD_BYTES = 2_000_000
STATE: dict[str, Any] = {}


@dataclass
class Worker:
    port: int
    prefix: str
    bootstrap: str
    deployments: Path
    app_id: str
    env: dict[str, str]
    log: Path
    process: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str = "main", **options: Any) -> TracerClient:
        return TracerClient(KEYS[key], self.base, **{"timeout": 120.0, **options})

    def start(self, owned: int) -> None:
        self.process = workers.start(self.deployments, self.env, self.app_id, self.log, web_port=self.port)
        workers.wait_owned(self.process, self.base, owned, self.log, 120)

    def stop(self) -> None:
        assert workers.stop(self.process) == 0, self.log.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    folder = tmp_path_factory.mktemp("client")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    deployments = folder / "deployments.yaml"
    deployments.write_text(
        "deployments:\n"
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
        workers.free_port(),
        prefix,
        kafka_bootstrap,
        deployments,
        prefix + "client",
        env,
        folder / "worker.log",
    )
    try:
        running.start(owned=1)
        yield running
    finally:
        running.stop()
        output = running.log.read_text(errors="replace")
        print(output[-5000:])
    assert "Traceback" not in output, "the worker logged an exception"
    assert "did not confirm" not in output, "the router confirmed each route it was told to add or remove"


def _customers(tmp_path: Path, rows: int = 2000, seed: int = 1) -> tuple[Path, dict[str, Any]]:
    frame = CustomerChurn().sample(rows, seed=seed)
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    row = frame.head(1).to_dict(orient="records")[0]
    return path, {name: (None if value != value else value) for name, value in row.items()}  # NaN -> None


# -- the journey ------------------------------------------------------------------------------------


def test_the_customer_journey(worker: Worker, tmp_path: Path) -> None:
    """Seed 000's journey in Python: upload a CSV, analyze, deploy, predict, read versions."""
    path, row = _customers(tmp_path)
    progress: list[int] = []
    with worker.client() as tracer:
        started = time.perf_counter()
        dataset = tracer.upload_data(path, on_progress=lambda sent, total: progress.append(sent))
        assert (
            dataset.rows == 2000 and dataset.name == "customers.csv" and progress[-1] == path.stat().st_size
        )
        best = tracer.analyze_data(dataset)[0]
        assert best.blueprint == "customer_churn" and best.compatibility > 0.9 and best.reason
        blueprint = tracer.get_blueprint(best.blueprint)
        assert "churn_probability" in blueprint["output"]["json_schema"]["properties"]
        assert "customer_churn" in [b.id for b in tracer.list_blueprints(search="churn")]
        model = tracer.deploy(best.blueprint, dataset, {"predictionWindow": "60_days"})
        assert model.deployment.status == "running" and model.deployment.validation is not None
        prediction = model.predict(row)
        elapsed_s = time.perf_counter() - started
        assert 0.0 <= prediction["churn_probability"] <= 1.0 and 0.0 <= prediction["confidence"] <= 1.0
        assert isinstance(prediction["risk_vectors"], list) and prediction.model_version == 1
        assert tracer.predict(model.id, row).score == prediction.score, "the same live model"
        assert [v.version for v in model.versions()] == [1]
        with pytest.raises(ConflictError) as nothing:
            model.rollback()
        assert nothing.value.code == "rollback_unavailable"
        listed = {d.id: d for d in tracer.list_deployments()}
        assert listed[model.id].status == "running" and listed["market"].owned_here
    STATE["journey"] = model.id
    print(f"client journey: upload -> first prediction in {elapsed_s:.2f} s (2000 rows)")


def test_the_readme_journey_runs(worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example, as written, from a folder holding customers.csv."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = next(block for block in readme.split("```python\n")[1:] if "from tracer.client import" in block)
    _customers(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACER_API_KEY", KEYS["main"])
    monkeypatch.setenv("TRACER_URL", worker.base)
    namespace: dict[str, Any] = {}
    exec(compile(example.split("```")[0], "README.md", "exec"), namespace)  # our own README, as written
    assert (
        0.0 <= namespace["prediction"]["churn_probability"] <= 1.0
        and namespace["best"].blueprint == "customer_churn"
    )


def test_versions_and_rollback(worker: Worker) -> None:
    with worker.client() as tracer:
        market = tracer.get_deployment("market")
        assert market.promote("slow").version == 2
        restored = market.rollback(to_version=1)
        assert (restored.version, restored.reason, restored.raw["evidence"]["restored_version"]) == (
            3,
            "rollback",
            1,
        )
        assert [v.version for v in market.versions()] == [1, 2, 3]
        assert market.refresh().deployment.model_version == 3


def test_the_async_journey(worker: Worker, tmp_path: Path) -> None:
    path, row = _customers(tmp_path, rows=1000, seed=4)

    async def journey() -> str:
        async with AsyncTracerClient(KEYS["main"], worker.base, timeout=120) as tracer:
            dataset = await tracer.upload_data(path)
            best = (await tracer.analyze_data([dataset]))[0]
            model = await tracer.deploy(best.blueprint, dataset, id="async-churn")
            predictions = await asyncio.gather(*(model.predict(row) for _ in range(5)))
            assert {p.score for p in predictions} == {predictions[0].score}
            assert [v.version for v in await model.versions()] == [1]
            assert (await tracer.get_dataset(dataset.id)).rows == 1000
            return model.id

    assert asyncio.run(journey()) == "async-churn"


def test_deploy_reports_its_training_progress(worker: Worker, tmp_path: Path) -> None:
    """A deploy on some thousands of rows: the worker's ``GET /deployments/{id}/progress`` counts the rows
    replayed while it trains, and ``on_progress`` gets increasing values ending at the total (sync, async)."""
    rows = 12_000
    path, _ = _customers(tmp_path, rows=rows, seed=5)
    sync_calls: list[tuple[int, int | None]] = []
    with worker.client() as tracer:
        tracer.progress_interval_s = 0.1  # the worker's rate limit is 20 requests/s
        dataset = tracer.upload_data(path)
        model = tracer.deploy(
            "customer_churn", dataset, on_progress=lambda done, total: sync_calls.append((done, total))
        )
        assert model.id.startswith("customer-churn-"), "the client picked the id it polled"
        assert model.deployment.validation is not None and model.deployment.validation["rows"] == rows
        after = model.progress()
        assert (after.deployment, after.phase, after.done, after.total) == (model.id, "live", rows, rows)
        with pytest.raises(NotFoundError):
            tracer.deployment_progress("never-deployed")

        async def deploy_async() -> list[tuple[int, int | None]]:
            calls: list[tuple[int, int | None]] = []
            async with AsyncTracerClient(KEYS["main"], worker.base, timeout=120) as client:
                client.progress_interval_s = 0.1
                deployed = await client.deploy(
                    "customer_churn", dataset.id, on_progress=lambda done, total: calls.append((done, total))
                )
                assert (await deployed.progress()).phase == "live"
            return calls

        async_calls = asyncio.run(deploy_async())
        tracer.delete_dataset(dataset)
    for calls in (sync_calls, async_calls):
        done = [each for each, _ in calls]
        assert {total for _, total in calls} == {rows}, calls
        assert done == sorted(set(done)) and done[-1] == rows, f"increasing, ending at the total: {calls}"
        assert len([each for each in done if 0 < each < rows]) >= 3, f"seen while training: {calls}"


# -- datasets and deployments: list, delete, stop --------------------------------------------------


def test_datasets_are_listed_and_deleted(worker: Worker, tmp_path: Path) -> None:
    path, _ = _customers(tmp_path, rows=100, seed=9)
    with worker.client() as tracer:
        dataset = tracer.upload_data(path.read_bytes(), name="bytes.csv", content_type="text/csv")
        listed = {d.id: d for d in tracer.list_datasets()}
        assert listed[dataset.id].rows == 100 and listed[dataset.id].name == "bytes.csv"
        tracer.delete_dataset(dataset)
        assert dataset.id not in {d.id for d in tracer.list_datasets()}
        with pytest.raises(NotFoundError) as gone:
            tracer.analyze_data(dataset)
        assert gone.value.code == "dataset_not_found"


def test_a_stopped_deployment_stops_scoring_and_keeps_its_history(worker: Worker) -> None:
    deployment = STATE.get("journey")
    if deployment is None:
        pytest.skip("needs test_the_customer_journey")
    with worker.client() as tracer:
        model = tracer.get_deployment(deployment)
        stopped = model.stop()
        assert stopped.status == "stopped" and stopped.stopped_at and not stopped.owned_here
        assert tracer.stop_deployment(deployment).stopped_at == stopped.stopped_at, "idempotent"
        with pytest.raises(ConflictError) as refused:
            model.predict({"cust_id": "c"})
        assert refused.value.code == "deployment_stopped"
        assert [v.version for v in model.versions()] == [1], "its versions stay readable"
        assert {d.id: d.status for d in tracer.list_deployments()}[deployment] == "stopped"
        with pytest.raises(ConflictError):
            tracer.deploy("customer_churn", id=deployment, input_topics=[worker.prefix + "again"])
    specs, versions = asyncio.run(read_registry(worker.bootstrap, worker.prefix + "tracer.registry"))
    assert deployment not in {spec.id for spec in specs}, "no worker runs it after a restart"
    assert (deployment, 1) in {(v.deployment, v.version) for v in versions}


# -- every error path -------------------------------------------------------------------------------


def test_error_paths(worker: Worker, tmp_path: Path) -> None:
    with TracerClient("not-a-key", worker.base) as stranger, pytest.raises(AuthenticationError) as denied:
        stranger.list_blueprints()
    assert denied.value.code == "invalid_api_key" and denied.value.request_id
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * (MAX_UPLOAD_BYTES // 4 + 10))
    with worker.client() as tracer:
        with pytest.raises(NotFoundError) as missing:
            tracer.get_blueprint("nope")
        assert missing.value.status == 404 and "nope" in missing.value.detail
        with pytest.raises(PayloadTooLargeError) as too_big:
            tracer.upload_data(big)
        assert str(MAX_UPLOAD_BYTES) in too_big.value.detail
        with pytest.raises(UnsupportedMediaTypeError):
            tracer.upload_data(b"\x89PNG", content_type="image/png")
        with pytest.raises(InvalidRequestError) as invalid:
            tracer.deploy("no_such_blueprint", input_topics=["x"])
        assert invalid.value.code == "invalid_deployment"
        with pytest.raises(InvalidRequestError) as bad_row:
            tracer.predict("market", {"ts": "yesterday"})
        assert bad_row.value.status == 422
        with pytest.raises(NotFoundError):
            tracer.predict("nobody", {})
    path, _ = _customers(tmp_path, rows=20_000, seed=2)
    with worker.client() as tracer:
        dataset = tracer.upload_data(path)
    with worker.client(timeout=0.005) as hurried, pytest.raises(TracerTimeoutError):
        hurried.analyze_data(dataset)


def test_429_is_typed_with_its_hint_and_retried(worker: Worker) -> None:
    async def burst(max_retries: int) -> list[Any]:
        async with AsyncTracerClient(KEYS["limited"], worker.base, max_retries=max_retries) as tracer:
            return await asyncio.gather(
                *(tracer.list_deployments() for _ in range(3 * BURST)), return_exceptions=True
            )

    answers = asyncio.run(burst(0))
    limited = [a for a in answers if isinstance(a, RateLimitError)]
    assert limited and all(a.retry_after is not None and a.retry_after >= 1 for a in limited)
    assert all(isinstance(a, list | RateLimitError) for a in answers), answers
    time.sleep(BURST / RATE_PER_S)
    retried = asyncio.run(burst(5))
    assert all(isinstance(a, list) for a in retried), "every call got through after waiting Retry-After"


# -- last: a stop survives a restart ---------------------------------------------------------------


def test_a_stop_survives_a_restart(worker: Worker) -> None:
    deployment = STATE.get("journey")
    if deployment is None:
        pytest.skip("needs test_the_customer_journey")
    with worker.client() as tracer:
        running = [d for d in tracer.list_deployments() if d.status == "running"]
    worker.stop()
    worker.start(owned=len(running))
    with worker.client() as tracer:
        listed = {d.id: d for d in tracer.list_deployments()}
        assert listed[deployment].status == "stopped" and listed[deployment].model_version == 1
        assert {d.id for d in running} == {i for i, d in listed.items() if d.status == "running"}
        assert tracer.get_deployment(deployment).deployment.status == "stopped"
        assert [v.version for v in tracer.versions(deployment)] == [1]
        with pytest.raises(ConflictError):
            tracer.predict(deployment, {})
