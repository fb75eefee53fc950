"""Dead letters over HTTP, for the SDKs: the same as ``tracer dlq summary`` and ``tracer dlq replay``.

- ``GET /deadletters/summary?deployment=&since=``: counts by deployment, reason and field;
- ``POST /deployments/{id}/deadletters/replay``: re-validate the deployment's dead letters against the
  spec this worker runs it with, and send those that pass back to its input (:mod:`tracer.agents.dlq`).

Both read ``tracer.dlq`` from the broker (the whole topic, or from ``since``), behind the API key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from faust.web import Request
from pydantic import TypeAdapter

from tracer.agents.api.base import ApiView, parse_json
from tracer.agents.api.context import json_response
from tracer.agents.api.errors import ApiError
from tracer.agents.dlq import DeadLetterSummary, parse_since, read_letters, summarize
from tracer.agents.dlq_replay import ReplayRequest, replay_dead_letters

__all__ = ["DLQ_VIEWS", "DeadLetterReplay", "DeadLetterSummaryView"]

_REPLAY = TypeAdapter(ReplayRequest)
BROKER_TIMEOUT_S = 60.0
"""A dead-letter topic is read whole: more time than other broker calls."""


async def _broker(what: str, broker: str, operation: Any) -> Any:
    try:
        return await asyncio.wait_for(operation, BROKER_TIMEOUT_S)
    except ValueError as error:
        raise ApiError(422, "invalid_request", str(error)) from None
    except Exception as error:
        raise ApiError(
            503, "broker_unavailable", f"could not {what} on {broker}: {type(error).__name__}: {error}"
        ) from None


class DeadLetterSummaryView(ApiView):
    """``GET /deadletters/summary``."""

    path = "/deadletters/summary"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """Dead letters by deployment, reason and field, with first/last seen and one example each."""
        aio, ctx = self.aio(request)
        since = aio.query.get("since")
        try:
            since_ms = parse_since(since) if since else None
        except ValueError as error:
            raise ApiError(422, "invalid_request", f"since: {error}") from None
        settings = ctx.settings
        letters, unreadable = await _broker(
            "read the dead letters",
            settings.broker,
            read_letters(
                settings.broker,
                settings.topics.dlq,
                deployment=aio.query.get("deployment"),
                since_ms=since_ms,
            ),
        )
        return json_response(
            DeadLetterSummary(letters=len(letters), unreadable=unreadable, rows=summarize(letters))
        )


class DeadLetterReplay(ApiView):
    """``POST /deployments/{deployment_id}/deadletters/replay``."""

    path = "/deployments/{deployment_id}/deadletters/replay"

    async def post(self, request: Request, **kwargs: Any) -> web.Response:
        """Send the deployment's dead letters that now pass back to its input (idempotent)."""
        aio, ctx = self.aio(request)
        body = await parse_json(aio, _REPLAY, optional=True)
        deployment = aio.match_info["deployment_id"]
        spec = ctx.service.specs.get(deployment)
        if spec is None:
            raise ApiError(404, "deployment_not_found", f"no deployment {deployment!r}; {ctx.known()}")
        settings = ctx.settings
        report = await _broker(
            "replay the dead letters",
            settings.broker,
            replay_dead_letters(
                settings.broker,
                settings.topics,
                spec,
                reason=body.reason,
                maps=body.map,
                dry_run=body.dry_run,
            ),
        )
        return json_response(report)


DLQ_VIEWS: tuple[type[ApiView], ...] = (DeadLetterSummaryView, DeadLetterReplay)
