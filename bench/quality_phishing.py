"""Tracer's default classifier on River's bundled Phishing dataset, against River's own models.

Run from the repository root (needs the ``bench`` extra)::

    .venv/bin/python bench/quality_phishing.py

1,250 rows, progressive validation (predict, then learn, row by row): Tracer's default binary
classifier (the ``customer_churn`` pipeline, ``ScaleAndEncode | LogisticRegression`` behind
``RiverBinaryClassifier``) against River's ``StandardScaler | LogisticRegression`` and
``ARFClassifier(seed=42)``, with River's published accuracies. Target: the default reaches ARF's
accuracy at 10x ARF's throughput. Improvements to the linear default are tried honestly: each
candidate is fixed in this file, the one with the best mean accuracy on *other* datasets (River's
bundled Bananas, and seeded Agrawal and Hyperplane streams) is selected, and the target is judged
for every candidate. Nothing is tuned on Phishing. Throughput and per-event costs are CPU time of
this process (best of 3), steadier than wall time on a shared machine.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from common import best_of, print_table, verdict
from river import datasets, feature_extraction, forest, linear_model, optim, preprocessing, tree
from river.datasets import synth

from tracer.blueprints.base import Features, OnlineModel
from tracer.blueprints.engines.models import RiverBinaryClassifier, ScaleAndEncode
from tracer.blueprints.recipes.customer_churn import CustomerChurn

RIVER_PUBLISHED = {"River LogisticRegression": 0.8872, "River ARF (seed 42)": 0.9079}
"""River's published progressive accuracies on Phishing."""
ARF_THROUGHPUT_FACTOR = 10.0
CLOCK = time.process_time
"""Timings use this process's CPU time: other jobs on a shared machine don't inflate them."""
LEVELS_MAX = 5
"""LevelEncoder: a numeric feature with at most this many distinct values also gets one-hot levels."""

Stream = list[tuple[dict[str, Any], bool]]

# == 1. Phishing ========================================================================================


def default_classifier() -> OnlineModel:
    """Tracer's default binary classifier: the customer_churn pipeline, as the blueprint builds it."""
    return CustomerChurn().make_model(CustomerChurn.resolve_params(), seed=42)


def _linear(optimizer: optim.base.Optimizer | None = None) -> RiverBinaryClassifier:
    """The default's pipeline, with another optimizer if given."""
    return RiverBinaryClassifier(
        ScaleAndEncode()
        | linear_model.LogisticRegression(optimizer=optimizer or optim.SGD(0.03), l2=1e-4, intercept_lr=0.03),
        mini_batch_learning=False,
    )


class LevelEncoder:
    """A numeric feature with few distinct values (<= LEVELS_MAX so far) is also given as a level.

    The level is a string feature, so the pipeline one-hot encodes it next to the scaled value: a
    linear model can then weigh each level on its own (a non-monotone effect), as a tree would. A
    feature that shows more distinct values stops getting levels (its level weights go unused).
    """

    def __init__(self, inner: OnlineModel) -> None:
        self.inner = inner
        self.levels: dict[str, set[float]] = {}

    def _with_levels(self, x: Features) -> Features:
        out: Features = dict(x)
        for key, value in x.items():
            if isinstance(value, str):
                continue
            seen = self.levels.setdefault(key, set())
            if len(seen) <= LEVELS_MAX:
                seen.add(value)
                if len(seen) <= LEVELS_MAX:
                    out[f"{key}#level"] = f"{value:g}"
        return out

    def predict_one(self, x: Features) -> float:
        """P(True) from the features and their levels."""
        return self.inner.predict_one(self._with_levels(x))

    def learn_one(self, x: Features, y: float) -> None:
        """Learn from the features and their levels."""
        self.inner.learn_one(self._with_levels(x), y)


class Blend:
    """The mean of two classifiers' probabilities; both learn every row."""

    def __init__(self, first: OnlineModel, second: OnlineModel) -> None:
        self.first, self.second = first, second

    def predict_one(self, x: Features) -> float:
        """The mean probability."""
        return 0.5 * (self.first.predict_one(x) + self.second.predict_one(x))

    def learn_one(self, x: Features, y: float) -> None:
        """Both learn."""
        self.first.learn_one(x, y)
        self.second.learn_one(x, y)


def _interactions() -> RiverBinaryClassifier:
    return RiverBinaryClassifier(
        ScaleAndEncode()
        | feature_extraction.PolynomialExtender(degree=2, include_bias=False)  # type: ignore[no-untyped-call]
        | linear_model.LogisticRegression(optimizer=optim.SGD(0.03), l2=1e-4, intercept_lr=0.03),
        mini_batch_learning=False,
    )


CANDIDATES: dict[str, Callable[[], OnlineModel]] = {
    "Tracer default (churn pipeline)": default_classifier,
    "+ AdaGrad(0.1) optimizer": lambda: _linear(optim.AdaGrad(0.1)),
    "+ level one-hots (LevelEncoder)": lambda: LevelEncoder(_linear()),
    "+ pairwise interactions": _interactions,
    "blend with a Hoeffding tree": lambda: Blend(
        _linear(), RiverBinaryClassifier(tree.HoeffdingTreeClassifier())
    ),
}
"""Generic improvements to a linear model (optimizer, level encoding, interactions, a tree blend), fixed
here; one is selected on the development streams below, never on Phishing."""


def development_streams() -> dict[str, Stream]:
    """Streams to choose a candidate on, none of them Phishing."""
    return {
        "Bananas": [(x, bool(y)) for x, y in datasets.Bananas()],  # type: ignore[no-untyped-call]
        "Agrawal(f2)": [(x, bool(y)) for x, y in itertools.islice(synth.Agrawal(2, seed=7), 5000)],
        "Hyperplane(10)": [
            (x, bool(y)) for x, y in itertools.islice(synth.Hyperplane(seed=7, n_features=10), 5000)
        ],
    }


def accuracy_online(model: OnlineModel, stream: Stream) -> float:
    """Progressive accuracy of an OnlineModel (P(True) >= 0.5 is True)."""
    hits = 0
    for x, y in stream:
        hits += (model.predict_one(x) >= 0.5) == y
        model.learn_one(x, float(y))
    return hits / len(stream)


def accuracy_river(model: Any, stream: Stream) -> float:
    """Progressive accuracy of a River classifier."""
    hits = 0
    for x, y in stream:
        hits += model.predict_one(x) == y
        model.learn_one(x, y)
    return hits / len(stream)


def _river_run(make: Callable[[], Any], stream: Stream) -> float:
    return accuracy_river(make(), stream)


def _online_run(make: Callable[[], OnlineModel], stream: Stream) -> float:
    return accuracy_online(make(), stream)


def measured(run: Callable[[], float], n_events: int, runs: int = 3) -> tuple[float, float]:
    """(accuracy, events per second of the fastest of ``runs`` runs); each run starts a fresh model."""
    accuracy = math.nan

    def once() -> None:
        nonlocal accuracy
        accuracy = run()

    seconds = best_of(runs, once, clock=CLOCK)
    return accuracy, n_events / seconds


def phishing() -> None:
    """Table 1: Phishing, River's models against Tracer's default and the selected improvement.

    Selection rule, fixed before reading any Phishing accuracy: the best mean accuracy on the
    development streams (deterministic: timings, which move with the machine's load, play no part).
    The target is then judged for every candidate, so nothing hides behind the selection.
    """
    development = development_streams()
    dev_accuracy = {
        name: float(np.mean([accuracy_online(make(), stream) for stream in development.values()]))
        for name, make in CANDIDATES.items()
    }

    stream = [(x, bool(y)) for x, y in datasets.Phishing()]
    n = len(stream)
    river_models: dict[str, Callable[[], Any]] = {
        "River LogisticRegression": lambda: (
            preprocessing.StandardScaler() | linear_model.LogisticRegression()
        ),
        "River ARF (seed 42)": lambda: forest.ARFClassifier(seed=42),
    }
    results: dict[str, tuple[float, float]] = {}
    for name, make_river in river_models.items():
        results[name] = measured(functools.partial(_river_run, make_river, stream), n)
    for name, make in CANDIDATES.items():
        results[name] = measured(functools.partial(_online_run, make, stream), n)
    arf_accuracy, arf_rate = results["River ARF (seed 42)"]
    selected = max(CANDIDATES, key=lambda name: dev_accuracy[name])

    rows = []
    for name, (accuracy, rate) in results.items():
        dev = dev_accuracy.get(name)
        mark = " (selected on dev)" if name == selected else ""
        rows.append([name + mark, accuracy, RIVER_PUBLISHED.get(name, ""), "" if dev is None else dev, rate,
                     f"{rate / arf_rate:.1f}x"])  # fmt: skip
    print_table(
        f"1. Phishing ({n} rows), progressive validation: predict then learn each row",
        ["model", "accuracy", "River published", "dev mean acc", "events/s (CPU, best of 3)", "vs ARF speed"],
        rows,
        note=(
            "dev mean acc: mean progressive accuracy on Bananas, Agrawal(f2) and Hyperplane(10), 5k rows each.\n"
            "selected: the best dev mean accuracy; no Phishing figure enters the choice."
        ),
    )
    target_rows = []
    for name in CANDIDATES:
        accuracy, rate = results[name]
        met = accuracy >= arf_accuracy and rate >= ARF_THROUGHPUT_FACTOR * arf_rate
        target_rows.append([name, f"{accuracy:.4f} vs ARF {arf_accuracy:.4f}",
                            f"{rate / arf_rate:.1f}x vs >= {ARF_THROUGHPUT_FACTOR:g}x", verdict(met)])  # fmt: skip
    print_table("   target: accuracy >= ARF's at >= 10x ARF's events/s", ["model", "accuracy", "speed", ""],
                target_rows)  # fmt: skip


def main() -> None:
    """Print the Phishing tables."""
    phishing()


if __name__ == "__main__":
    main()
