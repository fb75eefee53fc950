"""What the views share: the scoring service, the metrics, the settings and the API's own state.

One :class:`ApiContext` per web application, stored under :data:`CONTEXT` in the aiohttp app and
found by the views through :func:`context_of`. The web server runs on the worker's event loop (not
in a thread of its own), so a view and the scorer never touch a ``LiveDeployment`` at the same time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

from tracer.agents.api.datasets import DatasetStore
from tracer.agents.api.errors import ApiError
from tracer.agents.api.health import BrokerProbe
from tracer.agents.api.models import StoppedDeployment
from tracer.agents.api.progress import ProgressBoard
from tracer.agents.composites import CompositeStage
from tracer.agents.metrics import STATUS_ERROR, STATUS_OK, STATUS_REJECTED, RequestStatus, TracerMetrics
from tracer.agents.scoring import Owned, ScoringService
from tracer.agents.settings import Settings
from tracer.online_models.deployment import ReplayReport

__all__ = [
    "CONTEXT",
    "MAX_CONCURRENT_TRAININGS",
    "ApiContext",
    "context_of",
    "json_response",
    "now_ms",
    "record_prediction",
]

MAX_CONCURRENT_TRAININGS = 2


@dataclass
class ApiContext:
    """The worker's parts the API uses, and the API's own state."""

    service: ScoringService
    metrics: TracerMetrics
    settings: Settings
    datasets: DatasetStore
    probe: BrokerProbe
    openapi: bytes = b"{}"
    replays: dict[str, ReplayReport] = field(default_factory=dict)
    """Validation replays of the deployments made through the API, by deployment id."""
    creating: set[str] = field(default_factory=set)
    """Deployment ids being created right now (reserved against a concurrent create)."""
    trainings: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_TRAININGS))
    """Training replays run in threads; at most this many at once, the others wait."""
    stopped: dict[str, StoppedDeployment] = field(default_factory=dict)
    composites: CompositeStage | None = None
    """The composites' stream stage: its table holds the composites this worker reads (issue 21)."""
    """Deployments stopped with ``DELETE /deployments/{id}`` (read from the registry at start)."""
    progress: ProgressBoard = field(default_factory=ProgressBoard)  # deployments being created

    def owned(self, deployment_id: str) -> Owned:
        """The deployment this worker owns; 404 if nobody knows it, 503 if another worker owns it."""
        owned = self.service.owned.get(deployment_id)
        if owned is not None:
            return owned
        stopped = self.stopped.get(deployment_id)
        if stopped is not None:
            raise ApiError(
                409,
                "deployment_stopped",
                f"deployment {deployment_id!r} was stopped at {stopped.stopped_at} (epoch ms); its versions "
                "stay readable, but it no longer scores: deploy it again under a new id",
            )
        if deployment_id in self.service.specs:
            raise ApiError(
                503,
                "deployment_not_owned",
                f"deployment {deployment_id!r} is owned by another worker, or this one is still restoring "
                "it; retry, or ask the worker that owns its routed partition",
                headers={"Retry-After": "1"},
            )
        raise ApiError(404, "deployment_not_found", f"no deployment {deployment_id!r}; {self.known()}")

    def known(self) -> str:
        """A short list of the known deployment ids, for error details."""
        ids = sorted(self.service.specs)
        shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
        return f"known deployments: {shown}" if ids else "no deployment is known yet"

    async def close(self, _app: web.Application) -> None:
        """Release the broker probe's connection (an aiohttp ``on_cleanup`` callback)."""
        await self.probe.close()


CONTEXT = web.AppKey("tracer_api", ApiContext)


def context_of(request: web.Request) -> ApiContext:
    """The API context of the application serving ``request``."""
    return request.config_dict[CONTEXT]


def json_response(
    body: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response from a model (non-finite floats become null)."""
    return web.Response(
        body=body.model_dump_json().encode(), status=status, content_type="application/json", headers=headers
    )


def record_prediction(
    metrics: TracerMetrics,
    deployment: str,
    model_version: int,
    status: RequestStatus,
    *,
    latency_ms: float | None = None,
    score: float | None = None,
    error_type: str | None = None,
) -> None:
    """Count one HTTP prediction in seed 002's ``ml_*`` series, next to the stream's; its latency
    goes to ``ml_http_predict_latency_ms`` (in-worker time, not the stream's end-to-end)."""
    version = str(model_version)
    metrics.predict_requests.labels(deployment, version, status).inc()
    if status == STATUS_OK:
        metrics.feature_extractions.labels(deployment).inc()
        if latency_ms is not None:
            metrics.http_predict_latency_ms.labels(deployment, version).observe_many([latency_ms])
        if score is not None:
            metrics.prediction_score.labels(deployment, version).observe_many([score])
    elif status == STATUS_ERROR:
        metrics.model_errors.labels(deployment, error_type or "scoring_error").inc()
    elif status != STATUS_REJECTED:  # pragma: no cover - RequestStatus has three values
        raise ValueError(f"unknown request status {status!r}")


def now_ms() -> int:
    """Wall-clock milliseconds, as model versions record them."""
    return int(time.time() * 1000)
