"""One self-contained HTML page per report: the charts are inline PNG data URIs, the style is inline,
there is no script and nothing to fetch, so the file opens anywhere without a network.

The page has one ``<section>`` per chart, with these ids: ``learning-curve``, ``calibration``,
``gains``, ``drift`` and ``shadows``. A section whose chart has no data says so in a
``<p class="empty">`` instead of an image.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from html import escape
from pathlib import Path

from tracer.agents.report import charts
from tracer.agents.report.data import METRIC_LABELS, ReportData

__all__ = ["SECTIONS", "render_html", "write_report"]

SECTIONS = ("learning-curve", "calibration", "gains", "drift", "shadows")
"""The ids of the page's sections, in order."""

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1150px;
       color: #1c2833; background: #fdfefe; }
h1 { margin-bottom: 0.2em; } .subject { color: #566573; margin-top: 0; }
section { border-top: 1px solid #d5d8dc; padding-top: 0.6em; margin-top: 1.4em; }
img { max-width: 100%; display: block; } .empty { color: #7f8c8d; font-style: italic; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 0.2em 0.8em; text-align: left; }
th { background: #eaf2f8; } tr:nth-child(even) td { background: #f8f9f9; }
.notes { color: #566573; font-size: 0.9em; }
"""
_MAX_ALERT_ROWS = 50


def _image(png: bytes | None, alt: str, empty: str) -> str:
    if png is None:
        return f'<p class="empty">{escape(empty)}</p>'
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def _format(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "undefined"
    return f"{value:.2%}" if metric in ("mape", "positive_rate") else f"{value:.4g}"


def _summary(data: ReportData) -> str:
    rows = [("events scored", str(data.events)), ("labels learned", str(data.labels))]
    rows += [
        (METRIC_LABELS.get(name, name), _format(name, value))
        for name, value in data.summary.items()
        if name != "n_labels"
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="summary">{cells}</table>'


def _alerts_table(data: ReportData) -> str:
    if not data.alerts:
        return ""
    rows = "".join(
        f"<tr><td>{m.event}</td><td>{escape(m.kind)}</td><td>{escape(m.name)}</td>"
        f"<td>{escape(m.detector)}</td><td>{m.statistic:.4g} &gt; {m.threshold:.4g}</td></tr>"
        for m in data.alerts[:_MAX_ALERT_ROWS]
    )
    more = len(data.alerts) - _MAX_ALERT_ROWS
    tail = f'<p class="notes">... and {more} more.</p>' if more > 0 else ""
    head = "<tr><th>event</th><th>kind</th><th>what drifted</th><th>detector</th><th>statistic</th></tr>"
    return f"<table>{head}{rows}</table>{tail}"


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{escape(title)}</h2>{body}</section>'


def render_html(data: ReportData) -> str:
    """The page of ``data``, as one string."""
    draw: Callable[[ReportData], bytes | None]
    if data.calibration:
        calibration_title, draw = "Calibration (reliability diagram)", charts.calibration_chart
    else:
        calibration_title, draw = "Forecast against actual", charts.calibration_chart
    curve_what = ", ".join(METRIC_LABELS.get(m, m) for m in data.metrics)
    sections = [
        _section("learning-curve", f"Learning curve ({curve_what} over events)", _image(
            charts.learning_curve_chart(data), "learning curve",
            "No window of labelled events yet: the curve starts when outcomes arrive.")),
        _section("calibration", calibration_title, _image(
            draw(data), calibration_title.lower(), "No labelled events to compare predictions with.")),
        _section("gains", "Lift and cumulative gains", _image(
            charts.gains_chart(data), "cumulative gains and lift",
            "Gains rank probabilities: this needs a binary blueprint with positive outcomes.")),
        _section("drift", f"Drift alerts on the timeline ({len(data.alerts)})", _image(
            charts.drift_timeline_chart(data), "drift alerts",
            "No drift alert in this run.") + _alerts_table(data)),
        _section("shadows", "Shadow agreement over time", _image(
            charts.agreement_chart(data), "shadow agreement",
            "No shadow ran beside this deployment." if data.source == "live"
            else "An evaluation runs no shadow: see `tracer report` on a deployment with shadows.")),
    ]  # fmt: skip
    notes = "".join(f"<li>{escape(note)}</li>" for note in data.notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(data.title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(data.title)}</h1>"
        f'<p class="subject">{escape(data.subject)}: blueprint {escape(data.blueprint)} ({escape(data.task)}), '
        f"generated {escape(data.generated_at)}</p>"
        f"{_summary(data)}{''.join(sections)}"
        f'<ul class="notes">{notes}</ul></body></html>\n'
    )


def write_report(data: ReportData, path: str | Path) -> Path:
    """Write the self-contained HTML report of ``data`` to ``path`` (its folder is created); return the path.

    ``data`` is a :class:`~tracer.agents.report.data.ReportData`: build it with
    :func:`~tracer.agents.report.collect.from_replay` after a replay, with
    :func:`~tracer.agents.report.collect.from_history` for a live deployment, or field by field.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(data), encoding="utf-8")
    return target
