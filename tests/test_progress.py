"""Deploy progress without a worker: the API's board (threads, bounds, phases), the clients' relay of
polled values, and ``deploy(on_progress=...)`` over httpx.MockTransport, sync and async.

The same against a live worker on the real broker: ``tests/integration/test_client_e2e.py``
(``test_deploy_reports_its_training_progress``) and the TypeScript SDK's live tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from tests.test_api_unit import CHURN, KEY, run, served
from tracer.agents.api.models import DeploymentProgress, StoppedDeployment
from tracer.agents.api.progress import ProgressBoard
from tracer.client import AsyncTracerClient, InvalidRequestError, TracerClient, _core
from tracer.client.models import Deployment
from tracer.client.models import DeploymentProgress as ClientProgress
from tracer.schemas.deployment import DeploymentId

# -- the board -------------------------------------------------------------------------------------


def test_board_follows_a_deployment_from_queued_to_live() -> None:
    board = ProgressBoard()
    assert board.get("churn") is None
    board.start("churn", 1000)
    assert board.get("churn") == DeploymentProgress(deployment="churn", phase="queued", done=0, total=1000)
    report = board.reporter("churn")
    report(256, 1000)
    report(100, 1000)  # never goes back
    assert board.get("churn") == DeploymentProgress(
        deployment="churn", phase="training", done=256, total=1000
    )
    board.phase("churn", "publishing")
    report(512, 1000)  # training is over: a late report moves nothing
    assert board.get("churn") == DeploymentProgress(
        deployment="churn", phase="publishing", done=256, total=1000
    )
    board.phase("churn", "live")
    report(0, 1000)
    assert board.get("churn") == DeploymentProgress(deployment="churn", phase="live", done=1000, total=1000)
    board.start("plain", None)
    board.phase("plain", "live")
    assert board.get("plain") == DeploymentProgress(deployment="plain", phase="live", done=0, total=None)
    board.start("broken", 10)
    report_broken = board.reporter("broken")
    report_broken(4, 10)
    board.phase("broken", "failed")
    report_broken(8, 10)
    assert board.get("broken") == DeploymentProgress(deployment="broken", phase="failed", done=4, total=10)


def test_board_is_bounded_and_forgets_finished_deployments_first() -> None:
    board = ProgressBoard(max_tracked=3)
    for name in ("a", "b", "c"):
        board.start(name, 10)
    board.phase("b", "live")
    board.start("d", 10)  # over the bound: b, finished, goes before a, the oldest
    assert [board.get(name) is not None for name in "abcd"] == [True, False, True, True]
    board.start("e", 10)  # nothing finished: the oldest goes
    assert [board.get(name) is not None for name in "acde"] == [False, True, True, True]
    assert len(board) == 3


def test_board_takes_reports_from_many_threads() -> None:
    board = ProgressBoard()
    board.start("x", 8 * 1000)
    report = board.reporter("x")

    def run(offset: int) -> None:
        for done in range(offset, 8000, 8):
            report(done, 8000)

    threads = [threading.Thread(target=run, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert board.get("x") == DeploymentProgress(deployment="x", phase="training", done=7999, total=8000)


def test_the_endpoint_answers_from_the_board_else_from_what_the_worker_knows(tmp_path: Path) -> None:
    headers = {"X-API-Key": KEY}

    async def scenario() -> None:
        async with served(tmp_path) as (client, context):
            answer = await client.get("/deployments/churn/progress", headers=headers)
            assert answer.status == 200
            assert await answer.json() == {"deployment": "churn", "phase": "live", "done": 0, "total": None}
            context.progress.start("new-one", 5000)
            context.progress.reporter("new-one")(1280, 5000)
            answer = await client.get("/deployments/new-one/progress", headers=headers)
            assert await answer.json() == {
                "deployment": "new-one",
                "phase": "training",
                "done": 1280,
                "total": 5000,
            }
            context.stopped["churn"] = StoppedDeployment(
                spec=CHURN, stopped_at=1, live_version=1, versions=[]
            )
            answer = await client.get("/deployments/churn/progress", headers=headers)
            assert (await answer.json())["phase"] == "stopped"
            missing = await client.get("/deployments/nobody/progress", headers=headers)
            assert (missing.status, (await missing.json())["error"]) == (404, "deployment_not_found")
            assert (await client.get("/deployments/churn/progress")).status == 401

    run(scenario)


# -- the clients' side -----------------------------------------------------------------------------


def test_relay_reports_each_new_value_once_never_back_and_ends_at_the_rows() -> None:
    calls: list[tuple[int, int | None]] = []
    relay = _core.ProgressRelay(lambda done, total: calls.append((done, total)))

    def seen(phase: str, done: int) -> None:
        relay.seen(ClientProgress("d", phase, done, 1000, {}))

    relay.seen(None)
    seen("queued", 0)
    seen("training", 256)
    seen("training", 256)
    seen("training", 100)
    seen("failed", 900)
    seen("training", 768)
    relay.finish(_deployment("d", rows=1000))
    assert calls == [(0, 1000), (256, 1000), (768, 1000), (1000, 1000)]


def test_client_picked_ids_are_valid_deployment_ids() -> None:
    valid = TypeAdapter(DeploymentId)
    for blueprint in ("customer_churn", "Price Movement!", "___", "x" * 80):
        picked = _core.new_deployment_id(blueprint)
        assert valid.validate_python(picked) == picked
        assert re.fullmatch(r".+-[0-9a-f]{6}", picked)
    assert _core.new_deployment_id("customer_churn").startswith("customer-churn-")
    assert _core.new_deployment_id("customer_churn") != _core.new_deployment_id("customer_churn")


def _deployment(deployment_id: str, rows: int | None) -> Deployment:
    validation = {"rows": rows, "scored": rows, "learned": rows, "errors": 0} if rows is not None else None
    return Deployment.from_json(_deployment_json(deployment_id, validation))


def _deployment_json(deployment_id: str, validation: dict[str, Any] | None) -> dict[str, Any]:
    spec = {"id": deployment_id, "blueprint": "customer_churn", "input_topics": ["t"], "key_field": "cust_id"}
    return {"spec": spec, "model_version": 1, "owned_here": True, "streaming": True, "validation": validation,
            "status": "running", "stopped_at": None}  # fmt: skip


POLLS = [
    (404, {"error": "deployment_not_found", "detail": "not yet"}),
    (200, {"deployment": "x", "phase": "queued", "done": 0, "total": 3000}),
    (200, {"deployment": "x", "phase": "training", "done": 1024, "total": 3000}),
    (429, {"error": "rate_limited", "detail": "slow down"}),
    (200, {"deployment": "x", "phase": "training", "done": 2048, "total": 3000}),
]


class FakeApi:
    """Answers progress polls from :data:`POLLS` in turn (then ``publishing``); the deploy's POST answers
    once every poll was answered. Records the paths asked and the POST's body."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.polls = list(POLLS)
        self.paths: list[str] = []
        self.body: dict[str, Any] = {}
        self.polled = threading.Event()

    def poll(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        status, body = self.polls.pop(0) if self.polls else (200, {**POLLS[-1][1], "phase": "publishing"})
        if not self.polls:
            self.polled.set()
        return httpx.Response(status, json=body)

    def posted(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        self.body = json.loads(request.content)
        if self.fail:
            return httpx.Response(422, json={"error": "dataset_incompatible", "detail": "no label"})
        validation = {"rows": 3000, "scored": 3000, "learned": 3000, "errors": 0}
        return httpx.Response(201, json=_deployment_json(self.body.get("id", "picked-by-api"), validation))

    def sync(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert self.polled.wait(10), "the client polled while the POST ran"
            return self.posted(request)
        return self.poll(request)

    async def aio(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            for _ in range(1000):
                if self.polled.is_set():
                    break
                await asyncio.sleep(0.01)
            await request.aread()
            return self.posted(request)
        return self.poll(request)


def _check(api: FakeApi, calls: list[tuple[int, int | None]], model_id: str) -> None:
    assert calls == [(0, 3000), (1024, 3000), (2048, 3000), (3000, 3000)]
    assert re.fullmatch(r"customer-churn-[0-9a-f]{6}", api.body["id"]) and model_id == api.body["id"]
    assert {path for path in api.paths if path.startswith("GET")} == {f"GET /deployments/{model_id}/progress"}


def test_sync_deploy_reports_progress_while_it_trains() -> None:
    api = FakeApi()
    calls: list[tuple[int, int | None]] = []
    with TracerClient("k", "http://tracer.test", transport=httpx.MockTransport(api.sync)) as client:
        client.progress_interval_s = 0.001
        model = client.deploy(
            "customer_churn", "ds_1", on_progress=lambda done, total: calls.append((done, total))
        )
    _check(api, calls, model.id)


def test_async_deploy_reports_progress_while_it_trains() -> None:
    api = FakeApi()
    calls: list[tuple[int, int | None]] = []

    async def run() -> str:
        async with AsyncTracerClient(
            "k", "http://tracer.test", transport=httpx.MockTransport(api.aio)
        ) as client:
            client.progress_interval_s = 0.001
            model = await client.deploy(
                "customer_churn", "ds_1", on_progress=lambda done, total: calls.append((done, total))
            )
            return model.id

    _check(api, calls, asyncio.run(run()))


def test_a_failed_deploy_raises_its_error_and_reports_no_end() -> None:
    api = FakeApi(fail=True)
    calls: list[tuple[int, int | None]] = []
    with TracerClient("k", "http://tracer.test", transport=httpx.MockTransport(api.sync)) as client:
        client.progress_interval_s = 0.001
        with pytest.raises(InvalidRequestError):
            client.deploy(
                "customer_churn", "ds_1", on_progress=lambda done, total: calls.append((done, total))
            )
    assert calls == [(0, 3000), (1024, 3000), (2048, 3000)]


def test_without_on_progress_or_dataset_nothing_is_polled_and_no_id_is_picked() -> None:
    api = FakeApi()
    api.polled.set()
    with TracerClient("k", "http://tracer.test", transport=httpx.MockTransport(api.sync)) as client:
        client.deploy("customer_churn", "ds_1")
        assert "id" not in api.body
        client.deploy("customer_churn", input_topics=["t"], on_progress=lambda done, total: None)
        assert "id" not in api.body
    assert api.paths == ["POST /deployments"] * 2
