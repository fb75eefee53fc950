"""The API's list/stop/delete routes and streamed uploads, served in-process (no broker).

``GET /deployments``, ``DELETE /deployments/{id}`` (the registry write is replaced by a recorder: the
broker-backed stop, restart included, is tested in ``tests/integration/test_client_e2e.py``),
``GET /datasets``, ``GET``/``DELETE /datasets/{id}``, and uploads streamed to a temporary file.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_api_unit import KEY, _row, run, served
from tracer.agents.api import lifecycle
from tracer.agents.api.models import StoppedDeployment
from tracer.agents.api.openapi import openapi_document
from tracer.agents.routing import RouteTable
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.schemas import DeploymentSpec, LabelSource

HEADERS = {"X-API-Key": KEY}


def _csv(rows: int = 200) -> bytes:
    return CustomerChurn().sample(rows, seed=5).to_csv(index=False).encode()


def test_datasets_list_show_and_delete(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with served(tmp_path) as (client, context):
            empty = await client.get("/datasets", headers=HEADERS)
            assert empty.status == 200 and (await empty.json()) == {"datasets": []}
            uploaded = await client.post(
                "/datasets", data=_csv(), params={"name": "customers.csv"},
                headers={**HEADERS, "Content-Type": "text/csv"},
            )  # fmt: skip
            dataset = await uploaded.json()
            assert uploaded.status == 201, dataset
            listed = (await (await client.get("/datasets", headers=HEADERS)).json())["datasets"]
            assert [(d["id"], d["name"], d["rows"], d["format"]) for d in listed] == [
                (dataset["id"], "customers.csv", 200, "csv")
            ]
            assert listed[0]["columns"] == len(dataset["columns"]) and listed[0]["uploaded_at"] > 0
            shown = await client.get(f"/datasets/{dataset['id']}", headers=HEADERS)
            assert shown.status == 200 and (await shown.json()) == dataset, "the upload's answer again"
            deleted = await client.delete(f"/datasets/{dataset['id']}", headers=HEADERS)
            assert deleted.status == 204 and await deleted.read() == b""
            for method in ("GET", "DELETE"):
                gone = await client.request(method, f"/datasets/{dataset['id']}", headers=HEADERS)
                assert (gone.status, (await gone.json())["error"]) == (404, "dataset_not_found"), method
            analyze = await client.post(f"/datasets/{dataset['id']}/analyze", headers=HEADERS)
            assert analyze.status == 404
            assert (await client.delete("/datasets/x", headers={})).status == 401
            assert len(context.datasets) == 0

    run(scenario)


def test_uploads_stream_to_a_temporary_file_that_is_removed(tmp_path: Path) -> None:
    limit = 50_000

    async def chunks(total: int) -> AsyncIterator[bytes]:
        yield b"cust_id,total\n"
        for index in range(total // 10):
            yield f"c-{index:04d},{index}\n".encode()

    async def scenario() -> None:
        async with served(tmp_path, api_max_upload_bytes=limit) as (client, context):
            folder = context.settings.data_dir / "uploads"
            ok = await client.post(
                "/datasets", data=_csv(100), headers={**HEADERS, "Content-Type": "text/csv"}
            )
            assert ok.status == 201 and (await ok.json())["bytes"] == len(_csv(100))
            assert list(folder.iterdir()) == [], "the temporary file is removed once parsed"
            chunked = await client.post(
                "/datasets", data=chunks(limit * 2), headers={**HEADERS, "Content-Type": "text/csv"}
            )
            assert chunked.status == 413 and (await chunked.json())["error"] == "payload_too_large"
            form = {"file": io.BytesIO(b"a,b\n" + b"1,2\n" * (limit // 4))}
            multipart = await client.post("/datasets", data=form, headers=HEADERS)
            assert multipart.status == 413
            blank = await client.post(
                "/datasets", data=b"  \n ", headers={**HEADERS, "Content-Type": "text/csv"}
            )
            assert (blank.status, (await blank.json())["error"]) == (422, "empty_dataset")
            assert list(folder.iterdir()) == [], "refused uploads leave nothing behind"

    run(scenario)


def test_deployments_list_stop_and_what_a_stopped_one_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[StoppedDeployment] = []

    async def publish_stop(bootstrap: str, topic: str, record: StoppedDeployment) -> None:
        recorded.append(record)

    monkeypatch.setattr(lifecycle, "publish_stop", publish_stop)

    async def scenario() -> None:
        async with served(tmp_path) as (client, context):
            listed = (await (await client.get("/deployments", headers=HEADERS)).json())["deployments"]
            assert listed == [
                {"id": "churn", "blueprint": "customer_churn", "status": "running", "model_version": 1,
                 "owned_here": True, "input_topics": ["unit.customers"], "stopped_at": None}
            ]  # fmt: skip
            assert (await client.delete("/deployments/nope", headers=HEADERS)).status == 404
            stopped = await client.delete("/deployments/churn", headers=HEADERS)
            body = await stopped.json()
            assert stopped.status == 200 and body["status"] == "stopped" and body["stopped_at"] > 0, body
            assert [r.spec.id for r in recorded] == ["churn"] and recorded[0].live_version == 1
            assert "churn" not in context.service.owned and "churn" not in context.service.specs
            assert context.service.stopped == {"churn"}, "the scorer skips what is still routed to it"
            assert context.service.routes.route("unit.customers", b"{}") == (), "and nothing more is routed"
            again = await client.delete("/deployments/churn", headers=HEADERS)
            assert again.status == 200 and (await again.json()) == body and len(recorded) == 1, "idempotent"
            shown = await (await client.get("/deployments/churn", headers=HEADERS)).json()
            assert shown == body
            listed = (await (await client.get("/deployments", headers=HEADERS)).json())["deployments"]
            assert [(d["id"], d["status"], d["model_version"]) for d in listed] == [("churn", "stopped", 1)]
            versions = await client.get("/deployments/churn/versions", headers=HEADERS)
            assert versions.status == 200 and [v["version"] for v in (await versions.json())["versions"]] == [
                1
            ]
            for method, path, json_body in [
                ("POST", "/deployments/churn/predict", _row()),
                ("POST", "/ml/predict", {"deployment": "churn", "row": _row()}),
                ("POST", "/deployments/churn/rollback", None),
            ]:
                refused = await client.request(method, path, json=json_body, headers=HEADERS)
                assert (refused.status, (await refused.json())["error"]) == (409, "deployment_stopped"), path
            reused = await client.post(
                "/deployments", json={"blueprint": "customer_churn", "id": "churn", "input_topics": ["x"]},
                headers=HEADERS,
            )  # fmt: skip
            assert (reused.status, (await reused.json())["error"]) == (409, "deployment_exists")

    run(scenario)


def test_a_stop_the_registry_refuses_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def publish_stop(*args: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(lifecycle, "publish_stop", publish_stop)

    async def scenario() -> None:
        async with served(tmp_path) as (client, context):
            refused = await client.delete("/deployments/churn", headers=HEADERS)
            assert (refused.status, (await refused.json())["error"]) == (503, "broker_unavailable")
            assert "churn" in context.service.owned and not context.stopped

    run(scenario)


def test_the_document_describes_the_new_routes() -> None:
    paths = openapi_document()["paths"]
    assert "requestBody" not in paths["/datasets"]["get"] and "requestBody" in paths["/datasets"]["post"]
    assert "413" not in paths["/datasets"]["get"]["responses"]
    deleted = paths["/datasets/{dataset_id}"]["delete"]["responses"]["204"]
    assert "content" not in deleted
    stop = paths["/deployments/{deployment_id}"]["delete"]["responses"]
    assert stop["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/DeploymentResponse")
    assert {"404", "503"} <= set(stop)
    assert "409" in paths["/deployments/{deployment_id}/predict"]["post"]["responses"]
    listing = paths["/deployments"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listing["$ref"].endswith("/DeploymentList")


def test_a_route_table_forgets_a_removed_deployment() -> None:
    def spec(deployment: str, *topics: str) -> DeploymentSpec:
        return DeploymentSpec(id=deployment, blueprint="customer_churn", input_topics=list(topics),
                              key_field="cust_id", labels=LabelSource(mode="delayed"))  # fmt: skip

    routes = RouteTable([spec("a", "t1", "t2"), spec("b", "t2")], "labels")
    routes.remove("a")
    assert routes.topics == ["labels", "t2"] and [r.deployment for r in routes.route("t2", b"{}")] == ["b"]
    assert routes.route("labels", b'{"deployment": "a"}')[0].reason is not None, "its labels are dead letters"
    routes.remove("nobody")
    assert routes.deployments == {"b"}
