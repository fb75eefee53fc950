"""The input of a report: :class:`ReportData`, plain typed series that anyone can build.

``tracer eval --report report.html`` builds one from a replay (:func:`tracer.agents.report.collect.from_replay`),
the worker's ``GET /deployments/{id}/report`` from a live deployment's bounded history
(:func:`tracer.agents.report.collect.from_history`), and ``tracer report`` reads that JSON back with
``ReportData.model_validate_json``. A report draws what the data holds and says what it lacks.

Events are counted in the order the deployment saw them: a replay's scored rows, or the events a
live deployment had scored. Every series is on that axis, so drift alerts and shadow windows line up
with the learning curve.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from tracer.online_models.report_history import (
    AgreementMark,
    AlertMark,
    CalibrationBin,
    GainsPoint,
    WindowPoint,
)

__all__ = [
    "METRIC_LABELS",
    "AgreementMark",
    "AlertMark",
    "Baseline",
    "CalibrationBin",
    "GainsPoint",
    "ReportData",
    "WindowPoint",
    "curve_metrics",
]

METRIC_LABELS = {
    "auc": "AUC",
    "accuracy": "accuracy",
    "positive_rate": "positive rate",
    "mae": "MAE",
    "rmse": "RMSE",
    "mape": "MAPE",
    "logloss": "log loss",
    "precision_at_20pct": "precision in the top 20%",
    "recall_at_20pct": "recall in the top 20%",
}
"""How charts name the metrics of :attr:`WindowPoint.values`."""


def curve_metrics(task: str) -> list[str]:
    """The metrics a learning curve shows for a task: AUC for a classifier, MAE and MAPE for a value."""
    if task == "binary":
        return ["auc"]
    return ["accuracy"] if task == "multiclass" else ["mae", "mape"]


class Baseline(BaseModel):
    """A reference value of one metric, drawn as a line from ``from_event`` (the start when None)."""

    name: str
    metric: str
    value: float
    from_event: int | None = None
    note: str = ""


class ReportData(BaseModel):
    """Everything one report draws (see the module docstring). Lists may be empty: the section then
    says there is nothing to show, and why when ``notes`` says it."""

    title: str
    subject: str = Field(description="What was measured: the file evaluated, or the deployment.")
    blueprint: str
    task: str = Field(description="binary, multiclass, regression or forecast.")
    source: Literal["eval", "live"]
    events: int = Field(ge=0, description="Events scored.")
    labels: int = Field(ge=0, description="Events whose outcome was learned.")
    window: int = Field(ge=1, description="Labelled events per learning-curve point.")
    metrics: list[str] = Field(description="The keys of WindowPoint.values the learning curve draws.")
    summary: dict[str, float] = Field(default_factory=dict, description="The run's overall metrics.")
    points: list[WindowPoint] = Field(default_factory=list)
    baselines: list[Baseline] = Field(default_factory=list)
    calibration: list[CalibrationBin] = Field(
        default_factory=list, description="Reliability diagram of a classifier's probabilities."
    )
    predicted: list[float] = Field(default_factory=list, description="Forecast against actual: predictions.")
    actual: list[float] = Field(default_factory=list, description="... and the outcomes, pair by pair.")
    gains: list[GainsPoint] = Field(default_factory=list, description="Cumulative gains of a ranking.")
    alerts: list[AlertMark] = Field(default_factory=list)
    agreement: list[AgreementMark] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    generated_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
