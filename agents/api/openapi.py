"""``GET /openapi.json``: an OpenAPI 3.1 document built from the API's pydantic models.

:data:`OPERATIONS` lists every endpoint once: method, path, the models of its body and answer, and
the error statuses it can give besides the ones every endpoint shares (401 and 429 without a valid
key or over the rate; 400, 413 and 422 for a body; 404 for a path parameter). The schemas come from
one :func:`pydantic.json_schema.models_json_schema` call, so each model appears once under
``components/schemas``. A test checks that the routes the server registers and the document agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from faust.web import Request
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from tracer import __version__
from tracer.agents.api.base import ApiView
from tracer.agents.api.catalog import BlueprintDetails, BlueprintList
from tracer.agents.api.composite_views import CompositeAnalysis, CompositeList, CompositeResponse
from tracer.agents.api.datasets import FORMATS
from tracer.agents.api.errors import ErrorBody
from tracer.agents.api.models import (
    AnalysisResponse,
    DatasetList,
    DatasetResponse,
    DeploymentList,
    DeploymentProgress,
    DeploymentResponse,
    DeployRequest,
    HealthResponse,
    ModelInfoResponse,
    PredictResponse,
    PredictRowRequest,
    PredictSnapshotRequest,
    PromoteRequest,
    RollbackRequest,
    RowBody,
    VersionsResponse,
)
from tracer.agents.api.protection import API_KEY_HEADER
from tracer.agents.dlq import DeadLetterSummary
from tracer.agents.dlq_replay import ReplayReport, ReplayRequest
from tracer.agents.report.data import ReportData
from tracer.blueprints import registry
from tracer.schemas import ModelVersion
from tracer.schemas.composites import CompositeSpec

__all__ = ["OPERATIONS", "OpenApi", "Operation", "openapi_document", "openapi_json"]

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")
_PATH_PATTERNS = {"deployment_id": r"^[a-z0-9][a-z0-9_.-]{0,63}$"}
_ERRORS = {
    400: "The body is not valid JSON, or not a readable form.",
    401: "No API key, or not a valid one.",
    404: "Nothing has that id.",
    409: "The request conflicts with the current state.",
    413: "The body is over this endpoint's limit.",
    415: "The upload's content type is not one this endpoint reads.",
    422: "The body is well-formed but not valid (the detail names the field).",
    429: "Over the per-key rate limit; retry after Retry-After seconds.",
    500: "The model failed on a valid row (details in the worker log).",
    503: "The broker, or the deployment's owner, is not available now.",
}


@dataclass(frozen=True)
class Operation:
    """One endpoint of the API."""

    method: str
    path: str
    summary: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    request: tuple[type[BaseModel], ...] = ()
    """Body models; several means any one of them."""
    body_optional: bool = False
    errors: tuple[int, ...] = ()
    public: bool = False
    query: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str, str], ...] = ()
    """OpenAPI links from the success response: ``(method, path, JSON pointer of the id in the body)``."""


OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/ml/predict", "Score a row (or seed 002's snapshot) with a live model", "ml", PredictResponse,
              request=(PredictRowRequest, PredictSnapshotRequest), errors=(404, 409, 500, 503)),
    Operation("get", "/ml/health", "Broker, scoring service and owned deployments (503 if unhealthy)", "ml",
              HealthResponse, errors=(503,), public=True),
    Operation("get", "/ml/metrics", "Prometheus metrics of this worker", "ml", None, public=True),
    Operation("get", "/ml/model/info", "Versions, learned-through offsets, counters and metrics", "ml",
              ModelInfoResponse),
    Operation("get", "/blueprints", "List blueprints", "blueprints", BlueprintList,
              query=(("category", "Only this category."), ("search", "Text in the id, name or use case."))),
    Operation("get", "/blueprints/{blueprint_id}", "A blueprint's requirements, output and performance",
              "blueprints", BlueprintDetails),
    Operation("get", "/datasets", "List the datasets this worker keeps", "datasets", DatasetList),
    Operation("post", "/datasets", "Upload a dataset (CSV, TSV, JSON lines or Parquet)", "datasets",
              DatasetResponse, status=201, errors=(415,), query=(("name", "A name to show for it."),),
              links=(("post", "/datasets/{dataset_id}/analyze", "/id"),)),
    Operation("get", "/datasets/{dataset_id}", "A dataset's size and columns", "datasets", DatasetResponse),
    Operation("delete", "/datasets/{dataset_id}", "Delete a dataset", "datasets", None, status=204),
    Operation("post", "/datasets/{dataset_id}/analyze", "Suggest blueprints for a dataset", "datasets",
              AnalysisResponse),
    Operation("get", "/deployments", "List deployments, running and stopped", "deployments", DeploymentList),
    Operation("post", "/deployments", "Deploy a blueprint: train on a dataset, publish, serve", "deployments",
              DeploymentResponse, status=201, request=(DeployRequest,), errors=(404, 409, 503),
              links=tuple((method, path, "/spec/id") for method, path in (
                  ("get", "/deployments/{deployment_id}"), ("post", "/deployments/{deployment_id}/predict"),
                  ("get", "/deployments/{deployment_id}/versions"), ("post", "/deployments/{deployment_id}/rollback")))),
    Operation("get", "/deployments/{deployment_id}", "A deployment", "deployments", DeploymentResponse),
    Operation("get", "/deployments/{deployment_id}/progress", "How far its creation has come", "deployments", DeploymentProgress),
    Operation("delete", "/deployments/{deployment_id}", "Stop a deployment (its versions stay readable)",
              "deployments", DeploymentResponse, errors=(503,)),
    Operation("post", "/deployments/{deployment_id}/predict", "Score a row", "deployments", PredictResponse,
              request=(RowBody,), errors=(409, 500, 503)),
    Operation("get", "/deployments/{deployment_id}/versions", "A deployment's model versions", "registry",
              VersionsResponse, errors=(503,)),
    Operation("get", "/deployments/{deployment_id}/report", "A deployment's report series: metric over events, calibration, drift, shadows", "deployments", ReportData, errors=(409, 503)),
    Operation("post", "/deployments/{deployment_id}/rollback", "Restore an earlier model version", "registry",
              ModelVersion, status=201, request=(RollbackRequest,), body_optional=True, errors=(409, 503)),
    Operation("post", "/deployments/{deployment_id}/promote", "Make a shadow's model live", "registry",
              ModelVersion, status=201, request=(PromoteRequest,), errors=(409, 503)),
    Operation("get", "/composites", "List composites", "composites", CompositeList),
    Operation("post", "/composites", "Combine deployments that share an entity under an objective", "composites",
              CompositeResponse, status=201, request=(CompositeSpec,), errors=(503,),
              links=(("post", "/composites/{composite_id}/analyze", "/id"),)),
    Operation("get", "/composites/{composite_id}", "A composite", "composites", CompositeResponse),
    Operation("post", "/composites/{composite_id}/analyze", "The composite's decision for one entity",
              "composites", CompositeAnalysis, request=(RowBody,)),
    Operation("get", "/deadletters/summary", "Dead letters by deployment, reason and field", "deadletters",
              DeadLetterSummary, errors=(422, 503),
              query=(("deployment", "Only this deployment."), ("since", "An ISO time (UTC) or a duration: 15m, 1h."))),
    Operation("post", "/deployments/{deployment_id}/deadletters/replay",
              "Re-validate dead letters and send those that pass back to the input", "deadletters",
              ReplayReport, request=(ReplayRequest,), body_optional=True, errors=(503,)),
    Operation("get", "/openapi.json", "This document", "meta", None, public=True),
)  # fmt: skip
"""Every endpoint, in the order the document lists them."""


def _error(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERRORS[status],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}
    return response


def _upload_body() -> dict[str, Any]:
    content: dict[str, Any] = {
        kind: {"schema": {"type": "string"}} for kind, fmt in FORMATS.items() if fmt != "parquet"
    }
    for kind in ("application/vnd.apache.parquet", "application/octet-stream"):
        content[kind] = {"schema": {"type": "string", "contentMediaType": kind}}
    content["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
            "required": ["file"],
        }
    }
    return {"required": True, "content": content}


def _operation(op: Operation, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", **({"pattern": _PATH_PATTERNS[name]} if name in _PATH_PATTERNS else {})}}
        for name in _PARAM.findall(op.path)
    ]  # fmt: skip
    params += [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for name, text in op.query
    ]
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": _operation_id(op.method, op.path),
    }
    if params:
        doc["parameters"] = params
    statuses = set(op.errors)
    if not op.public:
        statuses |= {401, 429}
    upload = op.method == "post" and op.path == "/datasets"
    if op.request or upload:
        statuses |= {400, 413, 422}
    if params and any(p["in"] == "path" for p in params):
        statuses.add(404)
    if op.request:
        schemas = [refs[model] for model in op.request]
        schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        doc["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": schema}},
        }
    elif upload:
        doc["requestBody"] = _upload_body()
    if op.response is not None:
        content = {"application/json": {"schema": refs[op.response]}}
    elif op.path == "/ml/metrics":
        content = {"text/plain": {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {str(op.status): {"description": op.summary, "content": content}}
    if op.status == 204:
        del responses["204"]["content"]
    if op.links:
        responses[str(op.status)]["links"] = {
            _operation_id(method, path): {
                "operationId": _operation_id(method, path),
                "parameters": {_PARAM.findall(path)[0]: f"$response.body#{pointer}"},
            }
            for method, path, pointer in op.links
        }
    for status in sorted(statuses):
        responses[str(status)] = _error(status)
    if op.path == "/ml/health":
        responses["503"] = {"description": "Unhealthy: the problems are listed.", "content": content}
    doc["responses"] = responses
    if op.public:
        doc["security"] = []
    return doc


def _operation_id(method: str, path: str) -> str:
    """``post`` + ``/datasets/{dataset_id}/analyze`` -> ``postDatasetsDatasetIdAnalyze``."""
    words = [w for w in re.split(r"[/{}._-]+", path) if w]
    return method + "".join(w.capitalize() for w in words)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation in :data:`OPERATIONS`."""
    outputs = [registry.get(bp_id).output.model for bp_id in registry.ids()]
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for op in OPERATIONS:
        wanted += [(model, "validation") for model in op.request]
        if op.response is not None:
            wanted.append((op.response, "serialization"))
    wanted += [(model, "serialization") for model in outputs]
    unique = list(dict.fromkeys(wanted))
    keyed, top = models_json_schema(unique, ref_template=_REF)
    refs: dict[Any, dict[str, Any]] = {model: schema for (model, _), schema in keyed.items()}
    schemas: dict[str, Any] = top.get("$defs", {})
    predict = refs[PredictResponse]["$ref"].rsplit("/", 1)[-1]
    schemas[predict]["properties"]["output"] = {
        "description": "The blueprint's output: one of these schemas, by the deployment's blueprint.",
        "anyOf": [refs[model] for model in outputs],
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tracer API",
            "version": __version__,
            "description": "Blueprints, datasets, deployments and predictions, served by the Tracer worker "
            "that owns the models. Send your API key in the X-API-Key header.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}},
        },
        "security": [{"ApiKey": []}],
    }


def openapi_json() -> bytes:
    """The document, serialised once for the endpoint."""
    return json.dumps(openapi_document(), separators=(",", ":")).encode()


class OpenApi(ApiView):
    """``GET /openapi.json``."""

    path = "/openapi.json"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The document, built once when the API was attached."""
        _, ctx = self.aio(request)
        return web.Response(body=ctx.openapi, content_type="application/json")
