"""A multi-class score: the class probabilities, whose float value is the top class's probability.

A model's score is one float per row everywhere in the runtime (captured with the features, compared
by shadows, put in the Prometheus histogram). A multi-class model (``task = "multiclass"``) scores a
row with a :class:`ClassProbabilities`: a ``float`` subclass, so every place that needs one float
reads the headline (the most likely class's probability) unchanged, while the places that need the
whole distribution (log loss, accuracy, the error for concept drift, shadow agreement on the top
class) read :attr:`ClassProbabilities.probabilities` and :attr:`ClassProbabilities.top`. A label of
a multi-class task is the index of its class (``0.0``, ``1.0``, ...), in the blueprint's ``classes``
order.

>>> score = ClassProbabilities((0.5, 0.3, 0.2))
>>> float(score), score.top, score.of(2.0)
(0.5, 0, 0.2)
>>> import pickle
>>> pickle.loads(pickle.dumps(score)).probabilities
(0.5, 0.3, 0.2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["ClassProbabilities", "class_error", "top_class"]

_EPSILON = 1e-15


class ClassProbabilities(float):
    """Probabilities of the classes in a fixed order (they sum to 1); as a float, the largest one."""

    __slots__ = ("probabilities", "top")
    probabilities: tuple[float, ...]
    top: int
    """The index of the most likely class (the first of equals)."""

    def __new__(cls, probabilities: Sequence[float]) -> ClassProbabilities:
        values = tuple(probabilities)
        total = sum(values)
        if not (0.0 < total < math.inf and min(values) >= 0.0):  # NaN fails too
            raise ValueError(f"class probabilities must be >= 0 with a positive sum, got {list(values)}")
        if total != 1.0:
            values = tuple(p / total for p in values)
        headline = max(values)
        score = super().__new__(cls, headline)
        score.probabilities = values
        score.top = values.index(headline)
        return score

    def __reduce__(self) -> tuple[Any, ...]:
        return (ClassProbabilities, (self.probabilities,))

    def __repr__(self) -> str:
        shown = ", ".join(f"{p:.4g}" for p in self.probabilities)
        return f"ClassProbabilities(({shown}))"

    def of(self, label: float) -> float:
        """The probability given to class ``label`` (an index as a float; 0 for an unknown one)."""
        index = int(label)
        return self.probabilities[index] if 0 <= index < len(self.probabilities) and index == label else 0.0

    def log_loss(self, label: float) -> float:
        """``-log p(label)``, with p clipped at 1e-15."""
        return -math.log(max(self.of(label), _EPSILON))


def top_class(score: float) -> int | None:
    """The most likely class of a multi-class score; None for a plain float."""
    return score.top if isinstance(score, ClassProbabilities) else None


def class_error(score: float, label: float) -> bool:
    """The 0/1 error of a multi-class score: its top class is not ``label`` (always, for a plain float)."""
    return top_class(score) != label
