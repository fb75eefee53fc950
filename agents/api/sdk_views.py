"""Seed 000's SDK surface, and the registry operations on a deployment.

- ``GET /blueprints?category=&search=`` and ``GET /blueprints/{blueprint_id}``;
- ``POST /datasets`` (upload: CSV, TSV, JSON lines or Parquet) and ``POST /datasets/{id}/analyze``;
- ``POST /deployments`` (train on a dataset, publish, serve), ``GET /deployments/{id}``,
  ``POST /deployments/{id}/predict``;
- ``GET /deployments/{id}/versions``, ``POST /deployments/{id}/rollback`` and ``.../promote``;
- ``GET /datasets``, ``GET /deployments`` and ``DELETE /deployments/{id}`` (in
  :mod:`~tracer.agents.api.lifecycle`, with ``GET``/``DELETE /datasets/{id}``).

Parsing, profiling, analysis and training are CPU work: they run in threads, so the worker's loop
keeps scoring the stream meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import web
from faust.web import Request
from pydantic import TypeAdapter

from tracer.agents.api.base import ApiView, parse_json
from tracer.agents.api.catalog import blueprint_details, blueprint_list
from tracer.agents.api.context import json_response
from tracer.agents.api.datasets import parse_dataset, receive_upload
from tracer.agents.api.deploy import create_deployment, describe, promote, rollback
from tracer.agents.api.lifecycle import dataset_list, deployment_list, stop_deployment
from tracer.agents.api.ml_views import predict_row
from tracer.agents.api.models import (
    AnalysisResponse,
    DatasetResponse,
    DeployRequest,
    PromoteRequest,
    RollbackRequest,
    RowBody,
    VersionsResponse,
)
from tracer.blueprints.analysis import analyze
from tracer.blueprints.profiling import DatasetProfile, profile_dataset

__all__ = [
    "SDK_VIEWS",
    "AnalyzeDataset",
    "BlueprintDetail",
    "Blueprints",
    "DeploymentDetail",
    "DeploymentPredict",
    "DeploymentPromote",
    "DeploymentRollback",
    "DeploymentVersions",
    "Deployments",
    "UploadDataset",
]

_DEPLOY = TypeAdapter(DeployRequest)
_ROW = TypeAdapter(RowBody)
_ROLLBACK = TypeAdapter(RollbackRequest)
_PROMOTE = TypeAdapter(PromoteRequest)
MAX_NAME_CHARS = 200


class Blueprints(ApiView):
    """``GET /blueprints``."""

    path = "/blueprints"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The archive, filtered by ``category`` and ``search``."""
        aio, _ = self.aio(request)
        return json_response(blueprint_list(aio.query.get("category"), aio.query.get("search")))


class BlueprintDetail(ApiView):
    """``GET /blueprints/{blueprint_id}``."""

    path = "/blueprints/{blueprint_id}"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """One blueprint's requirements, output schema and performance."""
        aio, _ = self.aio(request)
        return json_response(blueprint_details(aio.match_info["blueprint_id"]))


def _parse_and_profile(
    data: bytes | Path, content_type: str, filename: str | None, name: str
) -> tuple[pd.DataFrame, str, DatasetProfile]:
    frame, file_format = parse_dataset(data, content_type, filename)
    return frame, file_format, profile_dataset(frame, name)


class UploadDataset(ApiView):
    """``POST /datasets``."""

    path = "/datasets"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The datasets this worker keeps."""
        _, ctx = self.aio(request)
        return json_response(dataset_list(ctx))

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Store an uploaded dataset and return its id and the kind of each column."""
        aio, ctx = self.aio(request)
        async with receive_upload(aio, ctx.settings.data_dir / "uploads") as upload:
            name = (aio.query.get("name") or upload.filename or "dataset")[:MAX_NAME_CHARS]
            frame, file_format, profile = await asyncio.to_thread(
                _parse_and_profile, upload.path, upload.content_type, upload.filename, name
            )
        stored = ctx.datasets.add(frame, profile, file_format=file_format, size_bytes=upload.size)
        body = DatasetResponse(
            id=stored.id,
            name=stored.name,
            format=stored.format,
            bytes=stored.size_bytes,
            rows=profile.rows,
            columns=profile.columns,
            time_series=profile.time_series,
        )
        return json_response(body, status=201, headers={"Location": f"/datasets/{stored.id}"})


class AnalyzeDataset(ApiView):
    """``POST /datasets/{dataset_id}/analyze``."""

    path = "/datasets/{dataset_id}/analyze"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Every blueprint's fit to the dataset, best first, with the column mapping it found."""
        aio, ctx = self.aio(request)
        stored = ctx.datasets.get(aio.match_info["dataset_id"])
        suggestions = await asyncio.to_thread(analyze, {stored.id: stored.frame})
        return json_response(AnalysisResponse(dataset=stored.id, suggestions=suggestions))


class Deployments(ApiView):
    """``POST /deployments``."""

    path = "/deployments"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """Every deployment this worker knows, running or stopped."""
        _, ctx = self.aio(request)
        return json_response(deployment_list(ctx))

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Train, publish and serve a deployment; 201 with its validation metrics."""
        aio, ctx = self.aio(request)
        body = await parse_json(aio, _DEPLOY)
        created = await create_deployment(ctx, body)
        return json_response(created, status=201, headers={"Location": f"/deployments/{created.spec.id}"})


class DeploymentDetail(ApiView):
    """``GET /deployments/{deployment_id}``."""

    path = "/deployments/{deployment_id}"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The deployment's spec, live version, validation and where it runs."""
        aio, ctx = self.aio(request)
        return json_response(describe(ctx, aio.match_info["deployment_id"]))

    async def delete(self, request: Request, **kwargs: Any) -> web.Response:
        """Stop scoring the deployment; its history and versions stay readable."""
        aio, ctx = self.aio(request)
        return json_response(await stop_deployment(ctx, aio.match_info["deployment_id"]))


class DeploymentPredict(ApiView):
    """``POST /deployments/{deployment_id}/predict``."""

    path = "/deployments/{deployment_id}/predict"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Score the row in the body."""
        started = time.perf_counter()
        aio, ctx = self.aio(request)
        row = await parse_json(aio, _ROW)
        return json_response(predict_row(ctx, aio.match_info["deployment_id"], row.root, started))


class DeploymentVersions(ApiView):
    """``GET /deployments/{deployment_id}/versions``."""

    path = "/deployments/{deployment_id}/versions"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """Every model version, oldest first."""
        aio, ctx = self.aio(request)
        stopped = ctx.stopped.get(aio.match_info["deployment_id"])
        if stopped is not None:
            return json_response(
                VersionsResponse(
                    deployment=stopped.spec.id, live_version=stopped.live_version, versions=stopped.versions
                )
            )
        live = ctx.owned(aio.match_info["deployment_id"]).live
        return json_response(
            VersionsResponse(
                deployment=live.spec.id, live_version=live.model_version, versions=list(live.history.records)
            )
        )


class DeploymentRollback(ApiView):
    """``POST /deployments/{deployment_id}/rollback``."""

    path = "/deployments/{deployment_id}/rollback"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Restore an earlier model as a new version (also written to the registry)."""
        aio, ctx = self.aio(request)
        body = await parse_json(aio, _ROLLBACK, optional=True)
        version = await rollback(ctx, aio.match_info["deployment_id"], body.to_version)
        return json_response(version, status=201)


class DeploymentPromote(ApiView):
    """``POST /deployments/{deployment_id}/promote``."""

    path = "/deployments/{deployment_id}/promote"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Make a shadow's model live as a new version (also written to the registry)."""
        aio, ctx = self.aio(request)
        body = await parse_json(aio, _PROMOTE)
        version = await promote(ctx, aio.match_info["deployment_id"], body.shadow)
        return json_response(version, status=201)


SDK_VIEWS: tuple[type[ApiView], ...] = (
    Blueprints,
    BlueprintDetail,
    UploadDataset,
    AnalyzeDataset,
    Deployments,
    DeploymentDetail,
    DeploymentPredict,
    DeploymentVersions,
    DeploymentRollback,
    DeploymentPromote,
)
