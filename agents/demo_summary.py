"""What ``tracer demo`` saw, and the closing summary it prints: per deployment, the fate of every
input, the live quality next to a baseline computed in the same run, the shadow's agreement and the
drift alerts, each with one line on what it means for the user."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer.online_models.metrics import exact_auc

__all__ = ["WINDOW_EVENTS", "AlertSeen", "DemoSummary", "Scored", "ShadowWindow"]

WINDOW_EVENTS = 500
"""Labelled predictions per window of the live-quality series."""
CALIBRATION_BINS = 10


@dataclass(frozen=True, slots=True)
class Scored:
    """One live prediction the demo knows the outcome of, and the baseline's score for the same row."""

    score: float
    outcome: bool
    baseline: float


@dataclass(frozen=True, slots=True)
class AlertSeen:
    """A drift alert as the demo printed it; ``event`` is the deployment's event count at detection."""

    deployment: str
    kind: str
    name: str
    event: int
    detector: str = ""
    statistic: float = 0.0
    threshold: float = 0.0


@dataclass(frozen=True, slots=True)
class ShadowWindow:
    """One shadow report: the agreement of a shadow with live over a window of events."""

    event: int
    shadow: str
    agreement: float
    window_events: int
    below_slo: bool


MEANINGS = {
    "data": "the inputs' distribution moved: check the producer or the business, the model may need new data",
    "prediction": "the model's outputs moved: it now predicts higher or lower than it did (e.g. more customers at risk)",
    "concept": "the model's errors grew: what used to predict the outcome no longer does as well",
    "agreement": "the shadow and live disagree more than their SLO allows",
}


@dataclass
class DemoSummary:
    """What the demo saw, per deployment."""

    produced: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    dead_letters: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    labels_sent: int = 0
    label_letters: Counter[str] = field(default_factory=Counter)
    """Dead letters of labels (their fate is a join or a dead letter; they are not inputs to score)."""
    alerts: list[AlertSeen] = field(default_factory=list)
    agreement: dict[str, list[ShadowWindow]] = field(default_factory=lambda: defaultdict(list))
    """Deployment -> its shadow reports, in order."""
    scored: dict[str, list[Scored]] = field(default_factory=lambda: defaultdict(list))
    """Deployment -> its live predictions with known outcomes, in the order they came out."""
    baseline_name: dict[str, str] = field(default_factory=dict)
    trained: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Deployment -> the validation of its training replay (rows, metrics), from the deploy response."""
    planted: str = ""
    """Where the story says the stream drifts, for the summary."""
    log_path: str = ""
    report_path: str | None = None
    worker_metrics: dict[str, tuple[int, dict[str, float]]] = field(default_factory=dict)
    """Per deployment: the worker's own metrics of its latest labelled events (how many, and them),
    from its report: for deployments whose outcomes the demo does not see (self-labelled ones)."""
    seconds: float = 0.0

    def settled(self, deployment: str) -> int:
        """Inputs of ``deployment`` that ended as a prediction or a dead letter."""
        return self.predicted[deployment] + sum(self.dead_letters[deployment].values())

    @property
    def conserved(self) -> bool:
        """Every input of every deployment ended as a prediction or a dead letter."""
        return all(self.settled(d) == n for d, n in self.produced.items())

    def windows(self, deployment: str) -> list[dict[str, float | int | None]]:
        """Live AUC and the baseline's AUC per window of :data:`WINDOW_EVENTS` labelled predictions."""
        rows = self.scored.get(deployment, [])
        out: list[dict[str, float | int | None]] = []
        for start in range(0, len(rows), WINDOW_EVENTS):
            window = rows[start : start + WINDOW_EVENTS]
            if len(window) < WINDOW_EVENTS // 2 and out:
                break  # a short tail says little; the whole-run figure covers it
            y = np.array([r.outcome for r in window], dtype=float)
            out.append({
                "end": start + len(window),
                "auc": exact_auc(y, np.array([r.score for r in window])),
                "baseline_auc": exact_auc(y, np.array([r.baseline for r in window])),
                "positive_rate": float(y.mean()),
            })  # fmt: skip
        return out

    def calibration(self, deployment: str) -> list[dict[str, float | int]]:
        """Reliability bins: mean predicted probability against the observed rate, with counts."""
        rows = self.scored.get(deployment, [])
        bins: list[list[Scored]] = [[] for _ in range(CALIBRATION_BINS)]
        for row in rows:
            bins[min(int(row.score * CALIBRATION_BINS), CALIBRATION_BINS - 1)].append(row)
        return [
            {
                "predicted": float(np.mean([r.score for r in b])),
                "observed": float(np.mean([r.outcome for r in b])),
                "count": len(b),
            }
            for b in bins
            if b
        ]

    def render(self) -> str:
        """The closing summary, for a person."""
        lines = [f"\nsummary after {self.seconds:.1f} s:"]
        for deployment, produced in sorted(self.produced.items()):
            letters = (
                ", ".join(f"{r} {n}" for r, n in sorted(self.dead_letters[deployment].items())) or "none"
            )
            fate = "✓ every input has a fate" if self.settled(deployment) == produced else "✗ MISSING INPUTS"
            lines.append(
                f"  {deployment:<17} {produced:>5} in → {self.predicted[deployment]:>5} predictions, "
                f"{sum(self.dead_letters[deployment].values())} dead letters ({letters})  {fate}"
            )
            lines.extend(f"    {line}" for line in self._details(deployment))
        if "churn" in self.produced:
            unmatched = ", ".join(f"{r} {n}" for r, n in sorted(self.label_letters.items())) or "none"
            lines.append(f"  churn labels: {self.labels_sent} sent, dead-lettered: {unmatched}")
        lines.append(self._alerts_line())
        lines.extend(
            f"    {kind}: {meaning}"
            for kind, meaning in MEANINGS.items()
            if any(a.kind == kind for a in self.alerts)
        )
        if self.log_path:
            lines.append(f"  everything the worker and the libraries logged: {self.log_path}")
        if self.report_path:
            lines.append(
                f"  HTML report of this run: {self.report_path} (one page per deployment in its folder)"
            )
        return "\n".join(lines)

    def _details(self, deployment: str) -> list[str]:
        out = []
        trained = self.trained.get(deployment)
        if trained:
            metric = next(
                (m for m in ("auc", "mape", "mae", "accuracy") if trained["metrics"].get(m) is not None), None
            )
            shown = f", {metric} {trained['metrics'][metric]:.3f} while it learned" if metric else ""
            out.append(f"trained on {trained['rows']} rows of history before going live{shown}")
        windows = self.windows(deployment)
        if windows:
            live = " ".join(f"{w['auc']:.2f}" for w in windows if w["auc"] is not None)
            base = " ".join(f"{w['baseline_auc']:.2f}" for w in windows if w["baseline_auc"] is not None)
            rows = self.scored[deployment]
            y = np.array([r.outcome for r in rows], dtype=float)
            whole = exact_auc(y, np.array([r.score for r in rows]))
            rule = exact_auc(y, np.array([r.baseline for r in rows]))
            out.append(
                f"live AUC per {WINDOW_EVENTS} outcomes: {live}  (whole run {whole or 0:.3f}); "
                f"baseline '{self.baseline_name.get(deployment, 'rule')}': {base}  (whole run {rule or 0:.3f})"
            )
            out.append(
                "  → AUC is the chance a customer who left was ranked above one who stayed (0.5 is a coin toss): "
                "sort your outreach list by churn_probability"
            )
        elif deployment in self.worker_metrics:
            n, metrics = self.worker_metrics[deployment]
            if metrics.get("auc") is not None:
                out.append(
                    f"live AUC {metrics['auc']:.3f} on its latest {n} outcomes (self-labelled by later events, as "
                    f"the worker learned them); a coin toss scores 0.500, 'always the majority' "
                    f"{max(metrics.get('positive_rate', 0.5), 1 - metrics.get('positive_rate', 0.5)):.1%} accuracy "
                    f"against its {metrics.get('accuracy', 0.0):.1%}"
                )
            elif metrics.get("mape") is not None:
                out.append(
                    f"live MAPE {metrics['mape']:.1%}, MAE {metrics['mae']:.4g} on its latest {n} outcomes"
                )
        reports = self.agreement.get(deployment)
        if reports:
            shown = " ".join(f"{w.agreement:.0%}" for w in reports)
            out.append(f"shadow agreement with live, per window: {shown}")
            out.append(
                "  → how often the challenger would have decided as live did; promote it only if it also scores better"
            )
        return out

    def _alerts_line(self) -> str:
        if not self.alerts:
            return "  drift alerts: none"
        counts = Counter(f"{a.deployment} {a.kind}:{a.name}" for a in self.alerts)
        listed = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in sorted(counts.items()))
        planted = f" (the story plants one change: {self.planted})" if self.planted else ""
        return f"  drift alerts: {len(self.alerts)}{planted}: {listed}"
