"""The HTTP API without a broker: the pure parts, and the aiohttp app served in-process.

The views, middlewares and models run for real over aiohttp's test server; only the scoring service
is never started (no Kafka), so its deployments are put in place by hand. What needs the broker
(health, deploy, rollback's registry write) is tested in ``tests/integration/test_api.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tracer.agents.api import VIEWS, ApiContext, attach_api, catalog
from tracer.agents.api.datasets import DatasetStore, parse_dataset
from tracer.agents.api.deploy import plan_spec, train
from tracer.agents.api.errors import ApiError
from tracer.agents.api.models import DeployRequest
from tracer.agents.api.openapi import OPERATIONS, openapi_document
from tracer.agents.api.protection import ApiKeys, RateLimiter
from tracer.agents.app import make_app
from tracer.agents.metrics import TracerMetrics
from tracer.agents.scoring import Owned, ScoringService
from tracer.agents.settings import Settings, Topics
from tracer.blueprints.profiling import profile_dataset
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec, LabelSource

T = TypeVar("T")
KEY = "unit-test-key"
CHURN = DeploymentSpec(
    id="churn",
    blueprint="customer_churn",
    input_topics=["unit.customers"],
    key_field="cust_id",
    labels=LabelSource(mode="inline", field="churned"),
)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run one async scenario on a fresh loop."""
    return asyncio.run(scenario())  # type: ignore[arg-type]


def _row(index: int = 3) -> dict[str, Any]:
    frame = CustomerChurn().sample(50, seed=1)
    return json.loads(frame.iloc[[index]].to_json(orient="records"))[0]  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def served(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[TestClient[Any, Any], ApiContext]]:
    """The API of a never-started worker owning one churn deployment, on aiohttp's test server."""
    settings = Settings(
        app_id=f"unit-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path,
        broker="127.0.0.1:9",
        api_keys=(KEY,),
        **overrides,
    )
    app = make_app(settings)
    metrics = TracerMetrics()
    service = ScoringService(settings, [CHURN], secret="s" * 32, metrics=metrics)
    service.owned["churn"] = Owned(LiveDeployment(CHURN))
    context = attach_api(app, service=service, metrics=metrics, settings=settings, api_keys=settings.api_keys)
    web_app = app.web.web_app  # type: ignore[attr-defined]

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal state")

    web_app.router.add_get("/boom", boom)
    async with TestClient(TestServer(web_app)) as client:
        yield client, context


# -- pure parts -----------------------------------------------------------------------------------


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_s=20, burst=5, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    assert limiter.take("a") == pytest.approx(0.05)
    assert limiter.take("b") == 0.0, "buckets are per key"
    now[0] += 0.05
    assert limiter.take("a") == 0.0
    now[0] += 10
    assert [limiter.take("a") for _ in range(6)].count(0.0) == 5, "refills up to the burst only"


def test_api_keys_identify_by_fingerprint() -> None:
    keys = ApiKeys(["alpha", "", "beta"])
    assert keys.identify("alpha") is not None
    assert keys.identify("alpha") != keys.identify("beta")
    assert "alpha" not in (keys.identify("alpha") or "")
    assert keys.identify("gamma") is None
    with pytest.raises(ValueError, match="TRACER_API_KEYS"):
        ApiKeys(["", ""])


def test_settings_read_api_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACER_API_KEYS", " one, two ,,")
    monkeypatch.setenv("TRACER_API_RATE_LIMIT", "5.5")
    monkeypatch.setenv("TRACER_TOPIC_PREFIX", "x.")
    settings = Settings.from_env(data_dir=tmp_path)
    assert settings.api_keys == ("one", "two") and settings.api_rate_per_s == 5.5
    assert settings.topics.registry == "x.tracer.registry"
    monkeypatch.setenv("TRACER_API_BURST", "lots")
    with pytest.raises(ValueError, match="TRACER_API_BURST='lots'"):
        Settings.from_env()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # development mode's keys: see test_secrets.py
    generated = Settings(dev=True).http_api_keys()
    assert generated == Settings(dev=True).http_api_keys(), "generated once, then kept"
    assert (tmp_path / "tracer" / "api.key").stat().st_mode & 0o077 == 0


def test_a_deployment_reading_a_tracer_topic_reads_this_tracers_prefixed_one() -> None:
    settings = Settings(topics=Topics().with_prefix("run7."), topic_prefix="run7.")
    spec = DeploymentSpec.model_validate(
        {"id": "m", "blueprint": "price_movement", "input_topics": ["tracer.market.snapshots", "crm.rows"],
         "key_field": "symbol", "labels": {"mode": "self"}}
    )  # fmt: skip
    assert settings.local_spec(spec).input_topics == ["run7.tracer.market.snapshots", "crm.rows"]
    assert Settings().local_spec(spec).input_topics == spec.input_topics, "no prefix: names as given"
    assert settings.input_topic("run7.tracer.labels") == "run7.tracer.labels"


@pytest.mark.parametrize(
    ("content_type", "filename", "encode"),
    [
        ("text/csv", None, lambda f: f.to_csv(index=False).encode()),
        ("text/tab-separated-values", None, lambda f: f.to_csv(index=False, sep="\t").encode()),
        ("application/x-ndjson", None, lambda f: f.to_json(orient="records", lines=True).encode()),
        ("application/vnd.apache.parquet", None, lambda f: f.to_parquet()),
        ("application/octet-stream", None, lambda f: f.to_parquet()),
        ("application/octet-stream", "data.csv", lambda f: f.to_csv(index=False).encode()),
    ],
)
def test_parse_dataset_formats(
    content_type: str, filename: str | None, encode: Callable[[pd.DataFrame], bytes]
) -> None:
    frame = CustomerChurn().sample(30, seed=2)
    parsed, _ = parse_dataset(encode(frame), content_type, filename)
    assert list(parsed.columns) == list(frame.columns) and len(parsed) == 30


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"a,b\n1,2\n", "application/json", 415, "unsupported_media_type"),
        (b"PAR1 this is not parquet", "application/vnd.apache.parquet", 422, "unreadable_dataset"),
        (b"   ", "text/csv", 422, "empty_dataset"),
        (b"a,b\n", "text/csv", 422, "empty_dataset"),
        (b"\xff\xfe\x00garbage,\x81\n1,2", "text/csv", 422, "unreadable_dataset"),
    ],
)
def test_parse_dataset_refusals(data: bytes, content_type: str, status: int, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_dataset(data, content_type)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_dataset_store_evicts_least_recently_used() -> None:
    store = DatasetStore(max_datasets=2)
    frame = pd.DataFrame({"a": [1, 2]})
    first, second = (
        store.add(frame, profile_dataset(frame, n), file_format="csv", size_bytes=8) for n in "xy"
    )
    store.get(first.id)  # first is now the most recently used
    third = store.add(frame, profile_dataset(frame, "z"), file_format="csv", size_bytes=8)
    assert first.id in store and third.id in store and second.id not in store
    with pytest.raises(ApiError, match="evicted"):
        store.get(second.id)
    with pytest.raises(ApiError, match="upload one"):
        store.get("ds_nothing")


def test_openapi_covers_every_view_and_validates() -> None:
    document = openapi_document()
    served = {
        (method, view.path) for view in VIEWS for method in ("get", "post", "delete") if method in vars(view)
    }
    documented = {(op.method, op.path) for op in OPERATIONS}
    assert served == documented
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    public = {
        path for path, ops in document["paths"].items() for op in ops.values() if op.get("security") == []
    }
    assert public == {"/ml/health", "/ml/metrics", "/openapi.json"}
    schema = schemathesis.openapi.from_dict(document)
    assert len(list(schema.get_all_operations())) == len(OPERATIONS)


# -- the app, in-process ---------------------------------------------------------------------------


def test_keys_are_required_except_on_public_paths(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, _):
            missing = await client.get("/blueprints")
            assert missing.status == 401 and (await missing.json())["error"] == "missing_api_key"
            assert "WWW-Authenticate" in missing.headers
            wrong = await client.get("/blueprints", headers={"X-API-Key": "nope"})
            assert (await wrong.json())["error"] == "invalid_api_key"
            assert (await client.get("/openapi.json")).status == 200
            assert (await client.get("/ml/metrics")).status == 200
            ok = await client.get("/blueprints", headers={"X-API-Key": KEY})
            assert ok.status == 200 and "X-Request-Id" in ok.headers

    run(scenario)


def test_errors_are_json_without_internals(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, _):
            key = {"X-API-Key": KEY}
            boom = await client.get("/boom", headers=key)
            body = await boom.text()
            assert boom.status == 500 and json.loads(body)["error"] == "internal_error"
            assert "secret internal state" not in body and "Traceback" not in body
            missing = await client.get("/nowhere", headers=key)
            assert missing.status == 404 and set(await missing.json()) == {"error", "detail"}
            wrong = await client.put("/ml/predict", headers=key)
            assert wrong.status == 405 and "POST" in wrong.headers["Allow"]
            bad = await client.post("/ml/predict", data=b"{nope", headers=key)
            assert bad.status == 400 and (await bad.json())["error"] == "invalid_json"
            nan = await client.post(
                "/ml/predict", data=b'{"deployment": "churn", "row": {"x": NaN}}', headers=key
            )
            assert nan.status == 422

    run(scenario)


def test_body_limits_by_declared_length_and_by_bytes_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path, api_max_body_bytes=1000) as (client, _):
            key = {"X-API-Key": KEY}
            declared = await client.post("/ml/predict", data=b"x" * 2000, headers=key)
            assert declared.status == 413 and "2000 bytes" in (await declared.json())["detail"]

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(20):
                    yield b"y" * 100

            streamed = await client.post("/ml/predict", data=chunks(), headers=key)
            assert streamed.status == 413 and "over 1000 bytes" in (await streamed.json())["detail"]

    run(scenario)


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path, api_rate_per_s=1.0, api_burst=3) as (client, _):
            statuses = [
                (await client.get("/blueprints", headers={"X-API-Key": KEY})).status for _ in range(5)
            ]
            assert statuses == [200, 200, 200, 429, 429]
            limited = await client.get("/blueprints", headers={"X-API-Key": KEY})
            assert limited.headers["Retry-After"] == "1"
            assert (await client.get("/ml/metrics")).status == 200, "public paths are not limited"

    run(scenario)


def test_predict_uses_the_owned_live_model_and_counts(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, context):
            key = {"X-API-Key": KEY}
            answer = await client.post(
                "/ml/predict", json={"deployment": "churn", "row": _row()}, headers=key
            )
            body = await answer.json()
            assert answer.status == 200, body
            assert body["model_version"] == 1 and 0 <= body["output"]["churn_probability"] <= 1
            same = await client.post("/deployments/churn/predict", json=_row(), headers=key)
            assert same.status == 200 and (await same.json())["score"] == body["score"]
            live = context.service.owned["churn"].live.live
            assert body["score"] == live.peek(_row()).score, "the owned live model scored it"
            assert live.predictions == 0 and live.pending == 0, "and the stream's state is untouched"
            rejected = await client.post(
                "/ml/predict", json={"deployment": "churn", "row": {"cust_id": "c-9"}}, headers=key
            )
            assert rejected.status == 422 and "nothing to score from" in (await rejected.json())["detail"]
            unknown = await client.post("/ml/predict", json={"deployment": "nope", "row": {}}, headers=key)
            assert unknown.status == 404
            text = context.metrics.render().decode()
            assert 'ml_predict_requests_total{deployment="churn",model_version="1",status="ok"} 2.0' in text
            assert (
                'ml_predict_requests_total{deployment="churn",model_version="1",status="rejected"} 1.0'
                in text
            )

    run(scenario)


def test_blueprints_datasets_and_analysis(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, _):
            key = {"X-API-Key": KEY}
            listing = await (await client.get("/blueprints", params={"search": "churn"}, headers=key)).json()
            assert [bp["id"] for bp in listing["blueprints"]] == ["customer_churn", "player_churn"]
            details = await (await client.get("/blueprints/customer_churn", headers=key)).json()
            assert details["output"]["json_schema"]["properties"]["churn_probability"]
            assert any(i["name"] == "customer_id" and "cust_id" in i["synonyms"] for i in details["inputs"])
            assert {figure["data"] for figure in details["performance"]} >= {"real"}, details["performance"]
            risk = await (
                await client.get("/blueprints", params={"category": "financial_risk"}, headers=key)
            ).json()
            assert (
                "payment_default" in {bp["id"] for bp in risk["blueprints"]} and len(risk["categories"]) == 5
            )
            assert (await client.get("/blueprints/nope", headers=key)).status == 404
            buffer = io.BytesIO()
            CustomerChurn().sample(300, seed=3).to_parquet(buffer)
            form = {"file": io.BytesIO(buffer.getvalue())}
            uploaded = await client.post("/datasets", data=form, headers=key)
            dataset = await uploaded.json()
            assert uploaded.status == 201 and dataset["rows"] == 300 and dataset["format"] == "parquet"
            analysis = await client.post(f"/datasets/{dataset['id']}/analyze", headers=key)
            suggestions = (await analysis.json())["suggestions"]
            assert suggestions[0]["blueprint"] == "customer_churn"
            assert (await client.post("/datasets/ds_gone/analyze", headers=key)).status == 404

    run(scenario)


def test_health_reports_an_unreachable_broker(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, _):
            answer = await client.get("/ml/health")
            body = await answer.json()
            assert answer.status == 503 and body["status"] == "unavailable"
            assert body["broker"]["reachable"] is False
            assert any("scoring service is init" in problem for problem in body["problems"])

    run(scenario)


def test_unowned_deployments_and_model_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, context):
            key = {"X-API-Key": KEY}
            service = context.service
            service.specs = {**service.specs, "elsewhere": CHURN.model_copy(update={"id": "elsewhere"})}
            elsewhere = await client.post(
                "/ml/predict", json={"deployment": "elsewhere", "row": {}}, headers=key
            )
            assert elsewhere.status == 503 and elsewhere.headers["Retry-After"] == "1"
            assert (await elsewhere.json())["error"] == "deployment_not_owned"

            def broken(features: Any) -> float:
                raise ZeroDivisionError("the model's own bug")

            monkeypatch.setattr(service.owned["churn"].live.live.model, "predict_one", broken)
            failed = await client.post(
                "/ml/predict", json={"deployment": "churn", "row": _row()}, headers=key
            )
            body = await failed.json()
            assert (
                failed.status == 500
                and body["error"] == "model_error"
                and "ZeroDivisionError" in body["detail"]
            )
            assert "the model's own bug" not in body["detail"]
            text = context.metrics.render().decode()
            assert 'ml_model_errors_total{deployment="churn",error_type="ZeroDivisionError"} 1.0' in text
            assert (
                'ml_predict_requests_total{deployment="churn",model_version="1",status="error"} 1.0' in text
            )

    run(scenario)


def test_plan_spec_takes_its_defaults_from_the_dataset() -> None:
    frame = CustomerChurn().sample(200, seed=4).rename(columns={"total_spend": "spend_to_date"})
    request = DeployRequest(blueprint="customer_churn", dataset="ds_x")
    spec = plan_spec(request, deployment_id="c1", default_topic="p.tracer.inputs.c1", frame=frame)
    assert spec.input_topics == ["p.tracer.inputs.c1"] and spec.key_field == "cust_id"
    assert spec.labels.mode == "inline" and spec.labels.field == "churned"
    assert spec.column_mapping["total_value"] == "spend_to_date", "the analysis found the renamed column"
    live, report = train(spec, frame, created_at=1)
    assert report is not None and report.n_scored == 200
    assert live.history.records[0].metrics["n_labels"] == 200.0
    market = plan_spec(DeployRequest(blueprint="price_movement", input_topics=["snaps"]), deployment_id="m",
                       default_topic="unused", frame=None)  # fmt: skip
    assert market.labels.mode == "self" and market.key_field == "symbol"
    with pytest.raises(ApiError) as missing:
        plan_spec(request, deployment_id="c2", default_topic="t", frame=frame[["cust_id", "plan"]])
    assert (missing.value.status, missing.value.code) == (422, "dataset_incompatible")
    assert "churned" in missing.value.detail  # the outcome to learn from
    with pytest.raises(ApiError, match="predictionWindow"):
        plan_spec(DeployRequest(blueprint="customer_churn", input_topics=["t"], params={"predictionWindow": "1"}),
                  deployment_id="c3", default_topic="t", frame=None)  # fmt: skip


@pytest.mark.parametrize("module", [catalog], ids=lambda m: m.__name__)
def test_docstring_examples_run(module: Any) -> None:
    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


def test_public_surface() -> None:
    import importlib
    import pkgutil

    import tracer.agents.api as api

    assert sorted(api.__all__) == ["ApiContext", "VIEWS", "attach_api"]
    for info in pkgutil.iter_modules(api.__path__):
        module = importlib.import_module(f"tracer.agents.api.{info.name}")
        assert module.__all__, info.name
        assert all(hasattr(module, name) for name in module.__all__), info.name
