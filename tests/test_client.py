"""``tracer.client`` without a worker: httpx.MockTransport answers as the API would.

What each verb sends (method, path, body, headers), how answers and errors are read, retries (429 and
503 only, Retry-After first), timeouts, and uploads streamed from disk with progress; sync and async.
The same journey against a live worker is ``tests/integration/test_client_e2e.py``.
"""

from __future__ import annotations

import asyncio
import io
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tracer.client import (
    AsyncTracerClient,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    TracerClient,
    TracerConnectionError,
    TracerError,
    TracerTimeoutError,
    UnavailableError,
    UnsupportedMediaTypeError,
    _core,
    sync,
)
from tracer.client.errors import error_for_status

KEY = "k-123"
SPEC = {"id": "churn-1", "blueprint": "customer_churn", "input_topics": ["t"], "key_field": "customer_id"}
DEPLOYMENT = {"spec": SPEC, "model_version": 1, "owned_here": True, "streaming": True, "validation": None,
              "status": "running", "stopped_at": None}  # fmt: skip
DATASET = {"id": "ds_1", "name": "customers.csv", "format": "csv", "bytes": 10, "rows": 2,
           "columns": [{"name": "customer_id"}], "time_series": None}  # fmt: skip
SUGGESTION = {"blueprint": "customer_churn", "name": "Churn", "compatibility": 0.95, "reason": "activity",
              "dataset": "ds_1", "column_mapping": {"customer_id": "customer_id"}, "label_column": "churned",
              "missing": []}  # fmt: skip
VERSION = {"deployment": "churn-1", "version": 2, "parent_version": 1, "blueprint": "customer_churn",
           "reason": "rollback", "created_at": 5, "metrics": {"auc": 0.8}}  # fmt: skip
PREDICTION = {"deployment": "churn-1", "blueprint": "customer_churn", "model_version": 1, "key": "cust_123",
              "output": {"churn_probability": 0.73, "risk_vectors": ["declining_usage"],
                         "recommendedProtocol": "immediate_outreach", "confidence": 0.89},
              "score": 0.73, "latency_ms": 0.4}  # fmt: skip


class Api:
    """A fake API: records each request, answers from ``routes`` (``(method, path) -> (status, body)``)."""

    def __init__(self, routes: dict[tuple[str, str], Any] | None = None) -> None:
        self.routes: dict[tuple[str, str], Any] = {
            ("GET", "/blueprints"): (
                200,
                {
                    "blueprints": [
                        {
                            "id": "customer_churn",
                            "name": "Churn",
                            "category": "business_operations",
                            "use_case": "u",
                            "task": "binary",
                            "output_kind": "probability",
                        }
                    ],
                    "categories": [],
                },
            ),
            ("GET", "/blueprints/customer_churn"): (200, {"id": "customer_churn", "inputs": []}),
            ("POST", "/datasets"): (201, DATASET),
            ("GET", "/datasets"): (200, {"datasets": [{**DATASET, "columns": 1, "uploaded_at": 7}]}),
            ("GET", "/datasets/ds_1"): (200, DATASET),
            ("DELETE", "/datasets/ds_1"): (204, None),
            ("POST", "/datasets/ds_1/analyze"): (200, {"dataset": "ds_1", "suggestions": [SUGGESTION]}),
            ("POST", "/datasets/ds_2/analyze"): (
                200,
                {
                    "dataset": "ds_2",
                    "suggestions": [{**SUGGESTION, "dataset": "ds_2", "compatibility": 0.99}],
                },
            ),
            ("POST", "/deployments"): (201, DEPLOYMENT),
            ("GET", "/deployments"): (
                200,
                {
                    "deployments": [
                        {
                            "id": "churn-1",
                            "blueprint": "customer_churn",
                            "status": "running",
                            "model_version": 1,
                            "owned_here": True,
                            "input_topics": ["t"],
                            "stopped_at": None,
                        }
                    ]
                },
            ),
            ("GET", "/deployments/churn-1"): (200, DEPLOYMENT),
            ("DELETE", "/deployments/churn-1"): (200, {**DEPLOYMENT, "status": "stopped", "stopped_at": 9}),
            ("POST", "/deployments/churn-1/predict"): (200, PREDICTION),
            ("GET", "/deployments/churn-1/versions"): (
                200,
                {
                    "deployment": "churn-1",
                    "live_version": 2,
                    "versions": [{**VERSION, "version": 1, "parent_version": None}, VERSION],
                },
            ),
            ("POST", "/deployments/churn-1/rollback"): (201, VERSION),
            ("POST", "/deployments/churn-1/promote"): (201, {**VERSION, "reason": "promotion"}),
            ("POST", "/composites"): (
                201,
                {
                    "id": "rev",
                    "designation": "revenue_optimization",
                    "components": ["churn-1"],
                    "objective": "maximize_revenue_6_months",
                },
            ),
            ("POST", "/composites/rev/analyze"): (200, {"risk_assessment": "medium"}),
            **(routes or {}),
        }
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        answer = self.routes.get(
            (request.method, request.url.path), (404, {"error": "not_found", "detail": "?"})
        )
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        status, body = answer
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(await request.aread())
        self.requests.pop()
        self.bodies.pop()
        return self(request)


def client(api: Api, **options: Any) -> TracerClient:
    return TracerClient(KEY, "http://tracer.test", transport=httpx.MockTransport(api), **options)


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "detail": f"{code} detail"},
                          headers={"X-Request-Id": "req-1", **(headers or {})})  # fmt: skip


# -- the verbs --------------------------------------------------------------------------------------


def test_the_customer_journey_sends_what_the_api_expects(tmp_path: Path) -> None:
    api = Api()
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,churned\nc1,0\n")
    with client(api) as tracer:
        blueprints = tracer.list_blueprints(category="business_operations", search="churn")
        assert [b.id for b in blueprints] == ["customer_churn"]
        assert tracer.get_blueprint(blueprints[0])["id"] == "customer_churn"
        dataset = tracer.upload_data(csv)
        assert (dataset.id, dataset.rows) == ("ds_1", 2)
        suggestions = tracer.analyze_data(dataset)
        assert [(s.blueprint, s.compatibility, s.reason) for s in suggestions] == [
            ("customer_churn", 0.95, "activity")
        ]
        model = tracer.deploy(
            "customer_churn", dataset, {"churnDefinition": "no_login_30_days"}, id="churn-1"
        )
        assert model.id == "churn-1" and model.deployment.model_version == 1
        prediction = model.predict({"customer_id": "cust_123"})
        assert prediction["churn_probability"] == 0.73 and prediction.model_version == 1
        assert dict(prediction)["recommendedProtocol"] == "immediate_outreach"
        assert tracer.predict("churn-1", {"customer_id": "x"}).score == 0.73
        assert [v.version for v in model.versions()] == [1, 2]
        assert model.rollback(to_version=1).reason == "rollback"
        assert model.rollback().version == 2
        assert model.promote("slow").reason == "promotion"
        assert model.refresh() is model
        assert [d.status for d in tracer.list_deployments()] == ["running"]
        assert [d.columns for d in tracer.list_datasets()] == [1]
        assert tracer.get_dataset("ds_1") == dataset
        assert tracer.delete_dataset(dataset) is None
        stopped = model.stop()
        assert (
            stopped.status == "stopped" and stopped.stopped_at == 9 and model.deployment.status == "stopped"
        )
        composite = tracer.create_composite("revenue_optimization", [model], "maximize_revenue_6_months")
        assert composite.id == "rev" and composite.analyze({"customer_id": "c"}) == {
            "risk_assessment": "medium"
        }
    sent = [(r.method, r.url.path) for r in api.requests]
    assert sent[:5] == [("GET", "/blueprints"), ("GET", "/blueprints/customer_churn"), ("POST", "/datasets"),
                        ("POST", "/datasets/ds_1/analyze"), ("POST", "/deployments")]  # fmt: skip
    assert all(r.headers["X-API-Key"] == KEY for r in api.requests)
    assert dict(api.requests[0].url.params) == {"category": "business_operations", "search": "churn"}
    deploy_body = json.loads(api.bodies[4])
    assert deploy_body == {"blueprint": "customer_churn", "dataset": "ds_1", "id": "churn-1",
                           "params": {"churnDefinition": "no_login_30_days"}}  # fmt: skip
    assert json.loads(api.bodies[5]) == {"customer_id": "cust_123"}
    rollbacks = [
        json.loads(b)
        for r, b in zip(api.requests, api.bodies, strict=True)
        if r.url.path.endswith("rollback")
    ]
    assert rollbacks == [{"to_version": 1}, {}]
    assert json.loads(api.bodies[sent.index(("POST", "/composites"))])["components"] == ["churn-1"]


def test_ids_are_quoted_in_paths_and_several_datasets_are_ranked_together() -> None:
    api = Api()
    with client(api) as tracer:
        with pytest.raises(NotFoundError):
            tracer.get_deployment("a/b c")
        assert api.requests[-1].url.raw_path == b"/deployments/a%2Fb%20c"
        ranked = tracer.analyze_data(["ds_1", "ds_2"])
        assert [(s.dataset, s.compatibility) for s in ranked] == [("ds_2", 0.99), ("ds_1", 0.95)]


def test_the_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACER_API_KEY", raising=False)
    with pytest.raises(ValueError, match="TRACER_API_KEY"):
        TracerClient()
    monkeypatch.setenv("TRACER_API_KEY", "from-env")
    monkeypatch.setenv("TRACER_URL", "http://elsewhere:1234/")
    api = Api()
    with TracerClient(transport=httpx.MockTransport(api)) as tracer:
        tracer.list_deployments()
    assert str(api.requests[0].url) == "http://elsewhere:1234/deployments"
    assert api.requests[0].headers["X-API-Key"] == "from-env"
    monkeypatch.delenv("TRACER_URL")
    with TracerClient(transport=httpx.MockTransport(api)) as tracer:
        assert tracer.base_url == "http://127.0.0.1:6066"


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [(400, "invalid_json", TracerError), (401, "invalid_api_key", AuthenticationError),
     (404, "deployment_not_found", NotFoundError), (409, "deployment_stopped", ConflictError),
     (413, "payload_too_large", PayloadTooLargeError), (415, "unsupported_media_type", UnsupportedMediaTypeError),
     (422, "invalid_row", InvalidRequestError), (500, "internal_error", ServerError)],
)  # fmt: skip
def test_errors_carry_the_apis_code_detail_and_request_id(
    status: int, code: str, cls: type[TracerError]
) -> None:
    api = Api({("POST", "/deployments/churn-1/predict"): error(status, code)})
    with client(api) as tracer, pytest.raises(cls) as raised:
        tracer.predict("churn-1", {})
    assert (raised.value.status, raised.value.code, raised.value.detail) == (status, code, f"{code} detail")
    assert raised.value.request_id == "req-1" and len(api.requests) == 1, "never retried"
    assert f"{status} {code}" in str(raised.value)
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is type(raised.value) and copy.code == code


def test_an_error_without_the_apis_shape_is_still_an_error() -> None:
    api = Api({("GET", "/deployments"): httpx.Response(502, text="<html>bad gateway</html>")})
    with client(api) as tracer, pytest.raises(ServerError) as raised:
        tracer.list_deployments()
    assert raised.value.code == "http_502" and "bad gateway" in raised.value.detail


def test_429_and_503_are_retried_with_the_apis_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(sync.time, "sleep", slept.append)
    answers = iter([error(429, "rate_limited", {"Retry-After": "2"}), error(503, "broker_unavailable"),
                    httpx.Response(200, json=PREDICTION)])  # fmt: skip
    api = Api({("POST", "/deployments/churn-1/predict"): lambda request: next(answers)})
    with client(api, backoff_s=0.1) as tracer:
        assert tracer.predict("churn-1", {}).score == 0.73
    assert len(api.requests) == 3 and slept[0] == 2.0 and 0.05 <= slept[1] <= 0.2, slept
    assert all(json.loads(body) == {} for body in api.bodies), "the same body each time"


def test_retries_give_up_after_max_retries_with_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(sync.time, "sleep", slept.append)
    api = Api({("GET", "/deployments"): error(429, "rate_limited", {"Retry-After": "120"})})
    with client(api, max_retries=2, max_backoff_s=5) as tracer, pytest.raises(RateLimitError) as raised:
        tracer.list_deployments()
    assert raised.value.retry_after == 120.0 and len(api.requests) == 3 and slept == [5, 5], "capped"
    api = Api({("GET", "/deployments"): error(503, "deployment_not_owned", {"Retry-After": "1"})})
    with client(api, max_retries=0) as tracer, pytest.raises(UnavailableError):
        tracer.list_deployments()
    assert len(api.requests) == 1


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    no_hint = TracerError(503, "x", "y")
    for attempt, (low, high) in enumerate([(0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (1.5, 3.0)]):
        assert low <= _core.retry_delay(attempt, no_hint, 0.5, 3.0) <= high
    assert _core.retry_delay(0, TracerError(429, "x", "y", retry_after=0.0), 0.5, 3.0) == 0.0
    assert error_for_status(504, "x", "y").__class__ is ServerError


def test_timeouts_and_unreachable_workers() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with TracerClient(KEY, "http://t", transport=httpx.MockTransport(slow), timeout=0.01) as tracer:
        with pytest.raises(TracerTimeoutError) as raised:
            tracer.list_datasets()
        assert raised.value.status == 0 and raised.value.code == "timeout"
    with TracerClient(KEY, "http://t", transport=httpx.MockTransport(refused)) as tracer:
        with pytest.raises(TracerConnectionError) as connection:
            tracer.list_datasets()
        assert not isinstance(connection.value, TracerTimeoutError)


# -- uploads ----------------------------------------------------------------------------------------


def test_a_path_is_streamed_with_its_length_type_name_and_progress(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    path.write_bytes(b"PAR1" + b"x" * (2 * _core.UPLOAD_CHUNK + 10))
    progress: list[tuple[int, int | None]] = []
    api = Api()
    with client(api) as tracer:
        tracer.upload_data(path, on_progress=lambda sent, total: progress.append((sent, total)))
    request = api.requests[0]
    size = path.stat().st_size
    assert request.headers["Content-Length"] == str(size) and "Transfer-Encoding" not in request.headers
    assert request.headers["Content-Type"] == "application/vnd.apache.parquet"
    assert request.url.params["name"] == "big.parquet" and api.bodies[0] == path.read_bytes()
    assert progress == [(_core.UPLOAD_CHUNK, size), (2 * _core.UPLOAD_CHUNK, size), (size, size)]


def test_uploads_of_bytes_files_and_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.time, "sleep", lambda seconds: None)
    first = tmp_path / "a.tsv"
    first.write_bytes(b"a\tb\n1\t2\n")
    flaky = iter(
        [
            *[error(503, "broker_unavailable"), httpx.Response(201, json=DATASET)] * 3,
            httpx.Response(201, json=DATASET),
        ]
    )
    api = Api({("POST", "/datasets"): lambda request: next(flaky)})
    with client(api) as tracer:
        uploaded = tracer.upload_data([first, b"x,y\n1,2\n", io.BytesIO(b"p,q\n3,4\n")])
        assert [d.id for d in uploaded] == ["ds_1"] * 3
        assert tracer.upload_data(b"x\n1\n", name="rows.csv", content_type="text/csv").id == "ds_1"
    types = [r.headers["Content-Type"] for r in api.requests]
    assert types[:6:2] == [
        "text/tab-separated-values",
        "application/octet-stream",
        "application/octet-stream",
    ]
    assert api.bodies[0] == api.bodies[1] == first.read_bytes(), "a retry sends the file again"
    assert api.bodies[4] == api.bodies[5] == b"p,q\n3,4\n", "a seekable file object is rewound"

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return 0

    api = Api({("POST", "/datasets"): error(503, "broker_unavailable")})
    with client(api) as tracer, pytest.raises(UnavailableError):
        tracer.upload_data(io.BufferedReader(Pipe()))
    assert len(api.requests) == 1, "a stream that can't be rewound is not sent twice"


# -- async ------------------------------------------------------------------------------------------


def run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


def test_the_async_client_has_the_same_verbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"customer_id\n" + b"c\n" * _core.UPLOAD_CHUNK)
    answers = iter([error(429, "rate_limited", {"Retry-After": "0"}), httpx.Response(200, json=PREDICTION)])
    api = Api({("POST", "/deployments/churn-1/predict"): lambda request: next(answers)})

    async def scenario() -> None:
        progress: list[int] = []
        transport = httpx.MockTransport(api.handle_async)
        async with AsyncTracerClient(KEY, "http://t", transport=transport) as tracer:
            dataset = await tracer.upload_data(path, on_progress=lambda sent, total: progress.append(sent))
            assert progress[-1] == path.stat().st_size and len(progress) == 3
            assert (await tracer.analyze_data(dataset))[0].blueprint == "customer_churn"
            model = await tracer.deploy("customer_churn", dataset)
            prediction = await model.predict({"customer_id": "c"})
            assert prediction["confidence"] == 0.89
            assert [v.version for v in await model.versions()] == [1, 2]
            assert (await model.rollback()).version == 2
            assert (await model.stop()).status == "stopped"
            assert [d.id for d in await tracer.list_datasets()] == ["ds_1"]
            await tracer.delete_dataset("ds_1")
            composite = await tracer.create_composite("r", ["churn-1"], "o")
            assert await composite.analyze({}) == {"risk_assessment": "medium"}
            with pytest.raises(NotFoundError):
                await tracer.get_deployment("nope")

    run(scenario)
    assert api.bodies[0] == path.read_bytes()
    predicts = [r for r in api.requests if r.url.path.endswith("/predict")]
    assert len(predicts) == 2, "the 429 was retried"
