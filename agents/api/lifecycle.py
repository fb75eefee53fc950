"""What a client needs besides creating things: list and stop deployments, list, show and delete datasets.

- ``GET /deployments``: every deployment this worker knows, running or stopped, with its live version;
- ``DELETE /deployments/{deployment_id}``: stop scoring it. The registry records the stop under
  ``stopped/<id>`` (the spec, when, the live version and every version) and drops ``deployment/<id>``
  (a tombstone), so no worker runs it after a restart; its versions stay under ``version/<id>/<n>``
  and stay readable here (``GET /deployments/{id}``, ``.../versions``). The router stops routing
  its rows (and labels); what was routed before is skipped. Its id is not reused: deploying it again
  under the same id is a 409.
- ``GET /datasets``, ``GET /datasets/{dataset_id}``, ``DELETE /datasets/{dataset_id}`` (204);
- ``GET /deployments/{deployment_id}/progress``: how far its creation has come (its training replay's
  rows done out of the dataset's, then live), as :mod:`~tracer.agents.api.progress` records it.

Only the worker that owns a deployment can stop it (others answer 503, as for a rollback). A stop is
idempotent: stopping a stopped deployment answers the same.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from faust.web import Request

from tracer.agents.api.base import ApiView
from tracer.agents.api.context import ApiContext, json_response, now_ms
from tracer.agents.api.deploy import _broker, describe
from tracer.agents.api.errors import ApiError
from tracer.agents.api.models import (
    DatasetList,
    DatasetResponse,
    DatasetSummary,
    DeploymentList,
    DeploymentProgress,
    DeploymentResponse,
    DeploymentSummary,
    StoppedDeployment,
)
from tracer.agents.registry_topic import write_keyed
from tracer.agents.scoring import ScoringService
from tracer.agents.topics import read_compacted

__all__ = [
    "LIFECYCLE_VIEWS",
    "DatasetDetail",
    "DeploymentProgressView",
    "dataset_list",
    "dataset_response",
    "deployment_list",
    "deployment_progress",
    "publish_stop",
    "read_stopped",
    "restore_stopped",
    "stop_deployment",
]

STOPPED_PREFIX = "stopped/"


# -- the registry ----------------------------------------------------------------------------------


async def publish_stop(bootstrap: str, topic: str, record: StoppedDeployment) -> None:
    """Record a stop in the registry: ``stopped/<id>``, then a tombstone for ``deployment/<id>``."""
    deployment = record.spec.id
    await write_keyed(bootstrap, topic, [
        (f"{STOPPED_PREFIX}{deployment}", record.model_dump_json().encode()), (f"deployment/{deployment}", None),
    ])  # fmt: skip


async def read_stopped(bootstrap: str, topic: str) -> dict[str, StoppedDeployment]:
    """Every stopped deployment the registry records, by id."""
    latest = await read_compacted(bootstrap, topic)
    records = [
        StoppedDeployment.model_validate_json(value)
        for key, value in latest.items()
        if key.startswith(STOPPED_PREFIX)
    ]
    return {record.spec.id: record for record in records}


def restore_stopped(
    context: ApiContext, service: ScoringService, stopped: dict[str, StoppedDeployment]
) -> None:
    """At start: the API shows the stopped deployments, the scorer skips what is still routed to them."""
    context.stopped.update(stopped)
    service.stopped.update(stopped)


# -- deployments -----------------------------------------------------------------------------------


def deployment_list(ctx: ApiContext) -> DeploymentList:
    """Running deployments (from the service) and stopped ones (from the registry), by id."""
    service = ctx.service
    items = []
    for spec in service.specs.values():
        owned = service.owned.get(spec.id)
        items.append(
            DeploymentSummary(
                id=spec.id,
                blueprint=spec.blueprint,
                status="running",
                model_version=owned.live.model_version if owned is not None else None,
                owned_here=owned is not None,
                input_topics=list(spec.input_topics),
            )
        )
    for record in ctx.stopped.values():
        if record.spec.id not in service.specs:
            items.append(
                DeploymentSummary(
                    id=record.spec.id,
                    blueprint=record.spec.blueprint,
                    status="stopped",
                    model_version=record.live_version,
                    owned_here=False,
                    input_topics=list(record.spec.input_topics),
                    stopped_at=record.stopped_at,
                )
            )
    return DeploymentList(deployments=sorted(items, key=lambda item: item.id))


async def stop_deployment(ctx: ApiContext, deployment_id: str) -> DeploymentResponse:
    """Stop scoring a deployment this worker owns (module docstring). ApiError 404, 503."""
    if deployment_id in ctx.stopped:
        return describe(ctx, deployment_id)
    owned = ctx.owned(deployment_id)
    service, settings = ctx.service, ctx.settings
    live = owned.live
    record = StoppedDeployment(
        spec=service.specs[deployment_id],
        stopped_at=now_ms(),
        live_version=live.model_version,
        versions=list(live.history.records),
    )
    # The registry first: if the broker can't take it, nothing has changed (503, retry).
    await _broker(
        ctx,
        "record the stop in the registry",
        publish_stop(settings.broker, settings.topics.registry, record),
    )
    async with service.batch_lock:  # never between a batch's scoring and its offsets
        service.stopped.add(deployment_id)
        # Copy-on-write, as deploy does: the scorer may be iterating these dicts across an await.
        service.owned = {key: value for key, value in service.owned.items() if key != deployment_id}
        service.specs = {key: value for key, value in service.specs.items() if key != deployment_id}
        service.sealing.pop(deployment_id, None)
        ctx.stopped[deployment_id] = record
    await service.remove_route(deployment_id)
    return describe(ctx, deployment_id)


def deployment_progress(ctx: ApiContext, deployment_id: str) -> DeploymentProgress:
    """Stopped, else what the board tracks, else ``live`` if the worker knows it; ApiError 404."""
    report = ctx.replays.get(deployment_id)
    rows = report.n_rows if report is not None else None
    if deployment_id in ctx.stopped:
        return DeploymentProgress(deployment=deployment_id, phase="stopped", done=rows or 0, total=rows)
    tracked = ctx.progress.get(deployment_id)
    if tracked is not None:
        return tracked
    if deployment_id in ctx.service.specs:
        return DeploymentProgress(deployment=deployment_id, phase="live", done=rows or 0, total=rows)
    raise ApiError(404, "deployment_not_found", f"no deployment {deployment_id!r} here; {ctx.known()}")


class DeploymentProgressView(ApiView):
    """``GET /deployments/{deployment_id}/progress``."""

    path = "/deployments/{deployment_id}/progress"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The deployment's phase, and the rows its training replayed out of the dataset's."""
        aio, ctx = self.aio(request)
        return json_response(deployment_progress(ctx, aio.match_info["deployment_id"]))


# -- datasets --------------------------------------------------------------------------------------


def dataset_list(ctx: ApiContext) -> DatasetList:
    """The datasets the store keeps, least recently used first."""
    return DatasetList(
        datasets=[
            DatasetSummary(
                id=stored.id,
                name=stored.name,
                format=stored.format,
                bytes=stored.size_bytes,
                rows=stored.profile.rows,
                columns=len(stored.profile.columns),
                uploaded_at=stored.uploaded_at,
            )
            for stored in ctx.datasets.all()
        ]
    )


def dataset_response(ctx: ApiContext, dataset_id: str) -> DatasetResponse:
    """One dataset with its column profiles, as its upload answered; 404 if unknown."""
    stored = ctx.datasets.get(dataset_id)
    profile = stored.profile
    return DatasetResponse(
        id=stored.id,
        name=stored.name,
        format=stored.format,
        bytes=stored.size_bytes,
        rows=profile.rows,
        columns=profile.columns,
        time_series=profile.time_series,
    )


class DatasetDetail(ApiView):
    """``GET`` and ``DELETE /datasets/{dataset_id}``."""

    path = "/datasets/{dataset_id}"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The dataset's size and the kind of each column."""
        aio, ctx = self.aio(request)
        return json_response(dataset_response(ctx, aio.match_info["dataset_id"]))

    async def delete(self, request: Request, **kwargs: Any) -> web.Response:
        """Forget the dataset (deployments trained on it keep their models); 204."""
        aio, ctx = self.aio(request)
        ctx.datasets.delete(aio.match_info["dataset_id"])
        return web.Response(status=204)


LIFECYCLE_VIEWS: tuple[type[ApiView], ...] = (DatasetDetail, DeploymentProgressView)
