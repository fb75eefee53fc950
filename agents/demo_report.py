"""The HTML report of a demo run: one page per deployment (``tracer.agents.report``), from the
series the worker keeps as it runs (``GET /deployments/{id}/report``), with the baseline the demo
computed in the same run drawn next to the live metric."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from tracer.agents.demo_deploy import Plan
from tracer.agents.demo_summary import DemoSummary
from tracer.agents.settings import Settings
from tracer.online_models.metrics import exact_auc

__all__ = ["write_run_report"]

log = logging.getLogger(__name__)


def write_run_report(
    settings: Settings, summary: DemoSummary, items: list[Plan], emit: Callable[[str], None]
) -> str | None:
    """Write each deployment's report into ``<data dir>/demo-reports/``; return the first one's path
    (the story's main deployment), or None (and why, in the log) if no report could be written."""
    try:  # the report module (issue 25, item 2)
        report = importlib.import_module("tracer.agents.report")
    except ImportError as error:
        log.warning("no HTML report: %s", error)
        return None
    folder = settings.data_dir / "demo-reports"
    written: list[Path] = []
    headers = {"X-API-Key": settings.http_api_keys()[0]}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{settings.web_port}", headers=headers, timeout=60.0
    ) as http:
        for plan in items:
            try:
                answer = http.get(f"/deployments/{plan.id}/report")
                answer.raise_for_status()
                data = report.ReportData.model_validate(answer.json())
                covered = min(data.labels, len(data.predicted) or 1000)
                summary.worker_metrics[plan.id] = (covered, dict(data.summary))
                rows = summary.scored.get(plan.id)
                if rows:
                    y = np.array([r.outcome for r in rows], dtype=float)
                    rule = exact_auc(y, np.array([r.baseline for r in rows]))
                    if rule is not None:
                        name = summary.baseline_name.get(plan.id, "rule")
                        baseline = report.Baseline(name=f"rule: {name}", metric="auc", value=rule)
                        data = data.model_copy(update={"baselines": [*data.baselines, baseline]})
                if summary.planted and plan.outcomes:
                    data = data.model_copy(
                        update={"notes": [*data.notes, f"planted change: {summary.planted}"]}
                    )
                written.append(Path(report.write_report(data, folder / f"{plan.id}.html")))
            except Exception as error:  # a report is a bonus: the run's summary stands without it
                log.warning("no HTML report for %s: %s: %s", plan.id, type(error).__name__, error)
    if not written:
        emit("  (no HTML report was written; see the log)")
        return None
    return str(written[0].resolve())
