"""Reports with charts: one self-contained HTML file per run (no network needed to open it).

Usage::

    from tracer.agents.report import ReportData, from_replay, write_report

    data = from_replay(replay_report, blueprint.task, comparison, subject="churn.csv")
    path = write_report(data, "reports/churn.html")  # -> Path

:class:`ReportData` (:mod:`.data`) is the input: plain typed series (the metric per window of labelled
events, calibration bins or forecast/actual pairs, cumulative gains, drift alerts and shadow agreement,
each on the events axis). Build it with :func:`from_replay` (``tracer eval``), :func:`from_history`
(a live deployment: the worker's ``GET /deployments/{id}/report``), or field by field.
:func:`write_report` draws the charts with matplotlib (:mod:`.charts`) and writes the page
(:mod:`.html`). The charts and the page are only imported when a report is written.
"""

from __future__ import annotations

from pathlib import Path

from tracer.agents.report.collect import from_history, from_replay
from tracer.agents.report.data import Baseline, ReportData

__all__ = ["Baseline", "ReportData", "from_history", "from_replay", "write_report"]


def write_report(data: ReportData, path: str | Path) -> Path:
    """Write the self-contained HTML report of ``data`` to ``path``; return the path written.

    See :func:`tracer.agents.report.html.write_report`.
    """
    from tracer.agents.report.html import write_report as write

    return write(data, path)
