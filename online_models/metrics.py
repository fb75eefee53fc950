"""Progressive metrics: updated one (truth, score) pair at a time, read at any moment.

River's metrics keep the running ones (accuracy, log loss, MAE). The ranking ones (ROC AUC,
precision and recall in the top k% of scores) are computed exactly from the stored pairs rather
than with River's ``ROCAUC``, which bins scores into ``n_thresholds`` and is only approximate;
at most ``max_pairs`` recent pairs are kept for them, so memory stays bounded on an endless stream.

``get()`` leaves out a metric that is undefined so far (AUC with one class only, MAPE with no
non-zero target), so every value it returns is a finite float.

>>> metrics = BinaryMetrics()
>>> for y_true, score in [(1, 0.9), (0, 0.2), (1, 0.6), (0, 0.7), (0, 0.1)]:
...     metrics.update(y_true, score)
>>> {name: round(value, 3) for name, value in metrics.get().items()}
{'n_labels': 5.0, 'positive_rate': 0.4, 'accuracy': 0.8, 'logloss': 0.43, 'auc': 0.833, 'precision_at_20pct': 1.0, 'recall_at_20pct': 0.5}
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np
from river import metrics as river_metrics

from tracer.schemas.scores import ClassProbabilities

__all__ = [
    "BinaryMetrics",
    "MultiClassMetrics",
    "RegressionMetrics",
    "exact_auc",
    "metrics_for",
    "top_fraction",
]

DEFAULT_MAX_PAIRS = 200_000


class _RiverMetric(Protocol):
    def update(self, y_true: Any, y_pred: Any) -> Any: ...
    def get(self) -> float: ...


def _river_metric(factory: object) -> _RiverMetric:
    """A River metric, typed (River's metric constructors carry no annotations)."""
    return cast(Callable[[], _RiverMetric], factory)()


def exact_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum statistic, ties counted as half; None when only one class is present."""
    positives = int(y_true.sum())
    negatives = len(y_true) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average ranks over runs of tied scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    run = np.zeros(len(scores), dtype=np.intp)  # each sorted score's run of ties, in one pass
    run[boundaries] = 1
    run = np.cumsum(run)
    ranks[order] = (starts[run] + ends[run] + 1) / 2.0
    rank_sum = float(ranks[y_true.astype(bool)].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def top_fraction(y_true: np.ndarray, scores: np.ndarray, fraction: float) -> tuple[float, float] | None:
    """(precision, recall) among the ``fraction`` highest scores; None with no positives at all."""
    positives = int(y_true.sum())
    if positives == 0 or len(scores) == 0:
        return None
    k = max(1, math.ceil(fraction * len(scores)))
    top = np.argsort(-scores, kind="stable")[:k]
    hits = int(y_true[top].sum())
    return hits / k, hits / positives


class BinaryMetrics:
    """Accuracy and log loss (River, threshold 0.5) over all pairs; AUC and top-k% over recent ones."""

    def __init__(self, *, top_pct: float = 20.0, max_pairs: int = DEFAULT_MAX_PAIRS) -> None:
        self.top_pct = top_pct
        self.n = 0
        self.n_positive = 0
        self._accuracy = _river_metric(river_metrics.Accuracy)
        self._logloss = _river_metric(river_metrics.LogLoss)
        self._pairs: deque[tuple[float, float]] = deque(maxlen=max_pairs)

    def update(self, y_true: float, score: float) -> None:
        """Add one outcome (``>= 0.5`` is positive) and the probability that was predicted for it."""
        positive = y_true >= 0.5
        self.n += 1
        self.n_positive += positive
        self._accuracy.update(positive, score >= 0.5)
        self._logloss.update(positive, min(max(score, 1e-15), 1 - 1e-15))
        self._pairs.append((float(positive), score))

    def get(self) -> dict[str, float]:
        """The metrics defined so far, by name."""
        if not self.n:
            return {"n_labels": 0.0}
        out = {
            "n_labels": float(self.n),
            "positive_rate": self.n_positive / self.n,
            "accuracy": float(self._accuracy.get()),
            "logloss": float(self._logloss.get()),
        }
        pairs = np.array(self._pairs, dtype=np.float64)
        y_true, scores = pairs[:, 0], pairs[:, 1]
        auc = exact_auc(y_true, scores)
        if auc is not None:
            out["auc"] = auc
        top = top_fraction(y_true, scores, self.top_pct / 100.0)
        if top is not None:
            label = f"{self.top_pct:g}pct"
            out[f"precision_at_{label}"], out[f"recall_at_{label}"] = top
        return out


class RegressionMetrics:
    """MAE and RMSE (River) over all pairs, and MAPE over the pairs whose target is not zero."""

    def __init__(self) -> None:
        self.n = 0
        self._mae = _river_metric(river_metrics.MAE)
        self._rmse = _river_metric(river_metrics.RMSE)
        self._ape_sum = 0.0
        self._ape_n = 0

    def update(self, y_true: float, score: float) -> None:
        """Add one target and the value that was predicted for it."""
        self.n += 1
        self._mae.update(y_true, score)
        self._rmse.update(y_true, score)
        if y_true != 0:
            self._ape_sum += abs((y_true - score) / y_true)
            self._ape_n += 1

    def get(self) -> dict[str, float]:
        """The metrics defined so far, by name; ``mape`` is a fraction (0.12 is 12%)."""
        if not self.n:
            return {"n_labels": 0.0}
        out = {"n_labels": float(self.n), "mae": float(self._mae.get()), "rmse": float(self._rmse.get())}
        if self._ape_n:
            out["mape"] = self._ape_sum / self._ape_n
        return out


class MultiClassMetrics:
    """Accuracy (the top class is the label) and log loss (``-log p(label)``, clipped at 1e-15) over all
    pairs of a multi-class task, whose scores are :class:`~tracer.schemas.scores.ClassProbabilities`
    and labels class indices; ``rate_<k>`` is how often class ``k`` was the label.

    >>> metrics = MultiClassMetrics()
    >>> metrics.update(0.0, ClassProbabilities((0.6, 0.3, 0.1)))
    >>> metrics.update(2.0, ClassProbabilities((0.5, 0.3, 0.2)))
    >>> {name: round(value, 3) for name, value in metrics.get().items()}
    {'n_labels': 2.0, 'accuracy': 0.5, 'logloss': 1.06, 'rate_0': 0.5, 'rate_2': 0.5}
    """

    def __init__(self) -> None:
        self.n = 0
        self.correct = 0
        self.log_loss = 0.0
        self.label_counts: dict[int, int] = {}

    def update(self, y_true: float, score: float) -> None:
        """Add one label (a class index) and the class probabilities predicted for it; a plain float
        score gives the label probability 0 (the clipped worst log loss)."""
        self.n += 1
        label = int(y_true)
        self.label_counts[label] = self.label_counts.get(label, 0) + 1
        if isinstance(score, ClassProbabilities):
            self.correct += score.top == y_true
            self.log_loss += score.log_loss(y_true)
        else:
            self.log_loss -= math.log(1e-15)

    def get(self) -> dict[str, float]:
        """The metrics so far, by name."""
        if not self.n:
            return {"n_labels": 0.0}
        out = {
            "n_labels": float(self.n),
            "accuracy": self.correct / self.n,
            "logloss": self.log_loss / self.n,
        }
        for label, count in sorted(self.label_counts.items()):
            out[f"rate_{label}"] = count / self.n
        return out


def metrics_for(task: str) -> BinaryMetrics | MultiClassMetrics | RegressionMetrics:
    """The progressive metrics of a task: binary, multi-class, or those of a value (regression, forecast)."""
    if task == "binary":
        return BinaryMetrics()
    return MultiClassMetrics() if task == "multiclass" else RegressionMetrics()
