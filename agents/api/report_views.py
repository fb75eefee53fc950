"""``GET /deployments/{deployment_id}/report``: the series of a deployment's report, as JSON (read-only).

The answer is :class:`~tracer.agents.report.data.ReportData`, built from the bounded history the live
deployment keeps as it learns (:class:`~tracer.online_models.report_history.ReportHistory`): its metric
per window of labelled events, calibration bins (a classifier) or recent forecast/actual pairs, gains,
drift alerts at the event they were raised, and each shadow's agreement per window. ``tracer report
DEPLOYMENT --out report.html`` turns it into the HTML page (:mod:`tracer.agents.cli_report`).

Only the worker that owns the deployment answers (another answers 503, as for a prediction).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from faust.web import Request

from tracer.agents.api.base import ApiView
from tracer.agents.api.context import ApiContext, json_response
from tracer.agents.report.collect import from_history
from tracer.agents.report.data import ReportData
from tracer.online_models.report_history import history_of

__all__ = ["REPORT_VIEWS", "DeploymentReport", "deployment_report"]


def deployment_report(ctx: ApiContext, deployment_id: str) -> ReportData:
    """The report data of an owned deployment; ApiError 404, 409 or 503 as :meth:`ApiContext.owned` says."""
    live = ctx.owned(deployment_id).live
    return from_history(live, history_of(live, live.task))


class DeploymentReport(ApiView):
    """``GET /deployments/{deployment_id}/report``."""

    path = "/deployments/{deployment_id}/report"

    async def get(self, request: Request, **kwargs: Any) -> web.Response:
        """The report's series: metric over events, calibration, gains, drift alerts, shadow agreement."""
        aio, ctx = self.aio(request)
        return json_response(deployment_report(ctx, aio.match_info["deployment_id"]))


REPORT_VIEWS: tuple[type[ApiView], ...] = (DeploymentReport,)
