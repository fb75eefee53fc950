"""Tracer's HTTP API, served by the Faust worker's own web server (aiohttp).

A prediction over HTTP is scored by the very ``LiveDeployment`` object the stream scores with, on
the same event loop, so it always uses the live model version. :func:`attach_api` adds the views
(Faust views, ``app.page``) and four aiohttp middlewares to ``app.web.web_app`` before the server
starts. A request passes them in this order:

1. errors: everything below, and the handler, answer errors as ``{"error", "detail"}`` JSON
   (:mod:`~tracer.agents.api.errors`);
2. authentication: ``X-API-Key``, except on ``/ml/health``, ``/ml/metrics`` and ``/openapi.json``;
3. rate limit: a token bucket per key;
4. body size: ``Content-Length`` over the route's limit is refused before anything is read
   (:mod:`~tracer.agents.api.protection`); handlers then read the body within the same limit;
5. the view: validates its input with pydantic (:mod:`~tracer.agents.api.models`) and calls the core.

Endpoints: :mod:`~tracer.agents.api.ml_views` (seed 002), :mod:`~tracer.agents.api.sdk_views`
(seed 000 and the registry), :mod:`~tracer.agents.api.openapi` (``/openapi.json``).
"""

from __future__ import annotations

from collections.abc import Sequence

import faust
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from tracer.agents.api.base import ApiView
from tracer.agents.api.composite_views import COMPOSITE_VIEWS
from tracer.agents.api.context import CONTEXT, ApiContext
from tracer.agents.api.datasets import DatasetStore
from tracer.agents.api.dlq_views import DLQ_VIEWS
from tracer.agents.api.errors import error_middleware, quiet_protocol_errors
from tracer.agents.api.health import BrokerProbe
from tracer.agents.api.lifecycle import LIFECYCLE_VIEWS
from tracer.agents.api.ml_views import ML_VIEWS
from tracer.agents.api.openapi import OpenApi, openapi_json
from tracer.agents.api.protection import (
    ApiKeys,
    RateLimiter,
    auth_middleware,
    body_limit_middleware,
    rate_limit_middleware,
)
from tracer.agents.api.report_views import REPORT_VIEWS
from tracer.agents.api.sdk_views import SDK_VIEWS, UploadDataset
from tracer.agents.composites import CompositeStage
from tracer.agents.metrics import TracerMetrics
from tracer.agents.scoring import ScoringService
from tracer.agents.settings import Settings

__all__ = ["VIEWS", "ApiContext", "attach_api"]

VIEWS: tuple[type[ApiView], ...] = (*ML_VIEWS, *SDK_VIEWS, *LIFECYCLE_VIEWS, *DLQ_VIEWS, OpenApi)
"""Every view of the API."""
VIEWS += REPORT_VIEWS
VIEWS += COMPOSITE_VIEWS


def attach_api(
    app: faust.App,
    *,
    service: ScoringService,
    metrics: TracerMetrics,
    settings: Settings,
    api_keys: Sequence[str],
    composites: CompositeStage | None = None,
) -> ApiContext:
    """Serve the API from ``app``'s web server; call it before the worker starts. Returns its context.

    Raises ValueError without an API key, or if the web server would run in a thread of its own
    (the views share the scorer's models, which are safe on one event loop only).
    """
    if app.conf.web_in_thread:
        raise ValueError("the HTTP API shares the scoring service's models: set web_in_thread=False")
    web = app.web
    if not isinstance(web, AiohttpWeb):
        raise TypeError(f"the HTTP API needs Faust's aiohttp web driver, not {type(web).__name__}")
    keys = ApiKeys(api_keys)
    context = ApiContext(
        service=service,
        metrics=metrics,
        settings=settings,
        datasets=DatasetStore(),
        probe=BrokerProbe(settings.broker),
        openapi=openapi_json(),
        composites=composites,
    )
    web_app = web.web_app
    web_app[CONTEXT] = context
    upload = {("POST", UploadDataset.path): settings.api_max_upload_bytes}
    web_app.middlewares.extend(
        [
            error_middleware,
            auth_middleware(keys),
            rate_limit_middleware(RateLimiter(settings.api_rate_per_s, settings.api_burst)),
            body_limit_middleware(settings.api_max_body_bytes, upload),
        ]
    )
    web_app.on_cleanup.append(context.close)
    quiet_protocol_errors()
    for view in VIEWS:
        app.page(view.path)(view)
    if not settings.api_keys:
        print(
            f"Tracer HTTP API on http://127.0.0.1:{settings.web_port}; API key (generated for local use, kept "
            f"in {settings.api_key_file}): {api_keys[0]}",
            flush=True,
        )
    return context
