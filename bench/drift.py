"""Measured figures of the drift core against the issue's targets (printed, not asserted).

Run from the repository root::

    .venv/bin/python bench/drift.py            # the full run, about two minutes
    .venv/bin/python bench/drift.py --quick    # fewer seeds and events, for a smoke test

Every stream is seeded, so the detection figures repeat exactly; the timing figures depend on the machine
and on its load, so the cost ratios are measured in the same run, interleaved, best of several rounds.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import best_of
from river import drift as river_drift
from river import linear_model, preprocessing
from river.datasets import synth

from tracer.drift import AgreementTracker, DriftMonitor, ErrorDriftDetector, WindowedKS, WindowedKSConfig
from tracer.schemas import DriftPolicy

EVENTS_PER_SECOND = 10.0
SEED_002_ALERT_SECONDS = 600.0  # seed 002: "Drift Detection: Alert within 10 minutes"
MISS_AFTER_EVENTS = 5000  # a detection later than this after the change counts as a miss


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    measured: str
    target: str
    met: bool | None  # None: a figure for context, with no target

    def cells(self) -> tuple[str, str, str, str]:
        """The four printed cells."""
        verdict = "" if self.met is None else ("yes" if self.met else "NO")
        return self.figure, self.measured, self.target, verdict


@dataclass
class Delays:
    """Detection delays over several seeds."""

    delays: list[int]
    misses: int
    false_alarms: int
    runs: int

    @property
    def mean(self) -> float:
        """Mean delay of the detected changes."""
        return statistics.fmean(self.delays) if self.delays else math.inf

    @property
    def worst(self) -> int:
        """Largest delay of the detected changes."""
        return max(self.delays) if self.delays else MISS_AFTER_EVENTS

    def describe(self) -> str:
        """One line for the table."""
        return (
            f"mean {self.mean:.0f}, max {self.worst} events; "
            f"{self.misses}/{self.runs} missed, {self.false_alarms} alarms before the change"
        )


def delays_of(detections: Iterable[tuple[list[int], int]]) -> Delays:
    """Summarise (detection positions, change position) pairs."""
    delays, misses, false_alarms, runs = [], 0, 0, 0
    for positions, change in detections:
        runs += 1
        false_alarms += sum(1 for p in positions if p < change)
        after = [p - change for p in positions if change <= p < change + MISS_AFTER_EVENTS]
        if after:
            delays.append(after[0])
        else:
            misses += 1
    return Delays(delays, misses, false_alarms, runs)


# -- concept drift ---------------------------------------------------------------------------------------


def abrupt(before: Iterable[Any], after: Iterable[Any], change: int) -> Iterator[Any]:
    """The first ``change`` items of one stream, then the other: an abrupt concept change."""
    return itertools.chain(itertools.islice(iter(before), change), iter(after))


def model_errors(stream: Iterable[tuple[dict[str, Any], bool]], n: int) -> list[bool]:
    """0/1 errors of an online logistic regression under progressive validation."""
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    errors = []
    for x, y in itertools.islice(stream, n):
        errors.append(model.predict_one(x) != y)
        model.learn_one(x, y)
    return errors


def detections(detector_factory: Callable[[], Any], errors: Sequence[float]) -> list[int]:
    """Positions at which a fresh detector flags drift on ``errors``."""
    detector = detector_factory()
    found = []
    for index, error in enumerate(errors):
        detector.update(error)
        if detector.drift_detected:
            found.append(index)
    return found


def bernoulli(rates: Sequence[tuple[float, int]], seed: int) -> list[bool]:
    """0/1 errors: ``(rate, length)`` segments one after the other."""
    rng = random.Random(seed)
    return [rng.random() < rate for rate, length in rates for _ in range(length)]


def concept_scenarios(seeds: int, before: int) -> dict[str, list[tuple[list[bool], int]]]:
    """Error streams with one abrupt change at ``before``, per scenario."""
    after = 3000
    scenarios: dict[str, list[tuple[list[bool], int]]] = {}
    scenarios["SEA 0->3, online LR"] = [
        (
            model_errors(
                abrupt(synth.SEA(variant=0, seed=s), synth.SEA(variant=3, seed=s + 100), before),
                before + after,
            ),
            before,
        )
        for s in range(seeds)
    ]
    agrawal_before = min(before, 10_000)  # Agrawal's generator is slow
    scenarios["Agrawal 0->4, online LR"] = [
        (
            model_errors(
                abrupt(
                    synth.Agrawal(classification_function=0, seed=s),
                    synth.Agrawal(classification_function=4, seed=s + 100),
                    agrawal_before,
                ),
                agrawal_before + after,
            ),
            agrawal_before,
        )
        for s in range(max(seeds // 2, 2))
    ]
    for low, high in [(0.10, 0.20), (0.05, 0.15), (0.02, 0.10)]:
        scenarios[f"error rate {low:.0%} -> {high:.0%}"] = [
            (bernoulli([(low, before), (high, after)], seed=s), before) for s in range(seeds)
        ]
    return scenarios


# -- data drift ------------------------------------------------------------------------------------------


def feature_column(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """One stationary feature of the given kind."""
    if kind == "normal":
        return rng.normal(50, 10, n)
    if kind == "lognormal":
        return rng.lognormal(0, 1.5, n)
    if kind == "discrete":
        return rng.poisson(3, n).astype(float)
    if kind == "uniform":
        return rng.uniform(0, 1, n)
    if kind == "ar1_0.9":  # a slowly moving feature, like a rolling volatility
        noise = rng.normal(0, 1, n)
        values = np.empty(n)
        level = 0.0
        for i in range(n):
            level = 0.9 * level + noise[i]
            values[i] = level
        return values
    raise ValueError(kind)


FEATURE_KINDS = ["normal", "lognormal", "discrete", "uniform", "ar1_0.9"]


def rows_of(columns: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """Row dicts, as the agents hand them over."""
    names = list(columns)
    return [
        dict(zip(names, values, strict=True))
        for values in zip(*(columns[n].tolist() for n in names), strict=True)
    ]


def data_false_alarms(events: int, seeds: int) -> tuple[int, int]:
    """Data-drift alerts on stationary five-feature streams: (alerts, events)."""
    alerts = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        rows = rows_of({kind: feature_column(kind, rng, events) for kind in FEATURE_KINDS})
        monitor = DriftMonitor("bench", features=FEATURE_KINDS, policy=DriftPolicy(cooldown_events=0))
        for start in range(0, events, 500):
            alerts += len(
                monitor.observe_features_many(rows[start : start + 500], start_position=start, ts_ms=0)
            )
    return alerts, events * seeds


SHARES_BEFORE = [0.5, 0.3, 0.2]
SHIFTS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "mean +0.5 sd": lambda rng, n: rng.normal(0.5, 1, n),
    "mean +1 sd": lambda rng, n: rng.normal(1, 1, n),
    "sd x2": lambda rng, n: rng.normal(0, 2, n),
    "category shares 50/30/20 -> 30/30/40": lambda rng, n: rng.choice(3, size=n, p=[0.3, 0.3, 0.4]).astype(
        float
    ),
    "category shares 50/30/20 -> 40/30/30": lambda rng, n: rng.choice(3, size=n, p=[0.4, 0.3, 0.3]).astype(
        float
    ),
}


def data_delays(shift: str, seeds: int, before: int = 5000) -> Delays:
    """Delay of a data-drift alert after one feature changes at ``before``."""
    runs = []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        if shift.startswith("category"):
            base = rng.choice(3, size=before, p=SHARES_BEFORE).astype(float)
        else:
            base = rng.normal(0, 1, before)
        values = np.concatenate((base, SHIFTS[shift](rng, 3000)))
        runs.append(([d.row for d in WindowedKS().update_many(values)], before))
    return delays_of(runs)


def prediction_alerts(events: int, seeds: int, *, learning: bool) -> tuple[int, int]:
    """Prediction-drift alerts on the scores of a logistic regression over stationary SEA: (alerts, events).

    With ``learning=False`` the model is trained on 5,000 events first and then frozen, so its scores are
    stationary; with ``learning=True`` it keeps learning, and its scores keep sharpening.
    """
    alerts = 0
    for seed in range(seeds):
        stream = iter(synth.SEA(variant=0, seed=200 + seed))
        model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
        if not learning:
            for x, y in itertools.islice(stream, 5000):
                model.learn_one(x, y)
        monitor = DriftMonitor("bench", policy=DriftPolicy(cooldown_events=0))
        for position, (x, y) in enumerate(itertools.islice(stream, events)):
            score = model.predict_proba_one(x).get(True, 0.0)
            alerts += len(monitor.observe_prediction(score, position=position, ts_ms=0))
            if learning:
                model.learn_one(x, y)
    return alerts, events * seeds


# -- costs -----------------------------------------------------------------------------------------------


SHADOW_CASES: dict[str, dict[str, Any]] = {
    "customer_churn": {
        "fields": {"key_field": "cust_id", "labels": {"mode": "inline", "field": "churned"}},
        "challengers": {"other output params (predictionWindow)": {"params": {"predictionWindow": "60_days"}},
                        "other feature params (churnDefinition)": {"params": {"churnDefinition": "no_login_30_days"}},
                        "another pipeline (hoeffding_tree)": {"model": "hoeffding_tree"}},
    },
    "price_movement": {
        "fields": {"key_field": "symbol", "labels": {"mode": "self"}},
        "challengers": {"other label params (horizonSeconds)": {"params": {"horizonSeconds": 300}},
                        "another pipeline (hoeffding_tree)": {"model": "hoeffding_tree"}},
    },
}  # fmt: skip
"""Per streaming blueprint: the deployment's fields, and challengers other than live's model lineage.
A challenger whose params differ only outside the features scores live's features; one whose
feature params differ featurizes every record its own way; another pipeline costs what its model
costs (a Hoeffding tree scores and learns several times slower than the logistic regression)."""


def deployment_shadow_costs(events: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per-event microseconds of a deployment (``LiveDeployment.process`` in blocks of 256, as the
    scorer runs it: decode, features, live score and output, drift, learning) with no shadow
    (``alone``), with one challenger of live's params (``same params``: another model lineage, a
    registered version, a retrained or promoted model) and with each of ``SHADOW_CASES``'
    challengers, for each streaming blueprint; interleaved, best of ``rounds`` in CPU time, with the
    worker's garbage-collector settings (``quiet_garbage_collector``: without them a full collection
    lands in one run or another and decides the ratio)."""
    from tracer.agents.worker import quiet_garbage_collector
    from tracer.blueprints import registry
    from tracer.online_models.batch import Source
    from tracer.online_models.live import LiveDeployment, RoutedEvent
    from tracer.schemas import DeploymentSpec

    costs: dict[str, dict[str, float]] = {}
    for name, case in SHADOW_CASES.items():
        frame = registry.get(name)().sample(events, seed=1)
        values = [row.encode() for row in frame.to_json(orient="records", lines=True).splitlines()]
        stream = [RoutedEvent(v, None, Source("t", 0, i), 0) for i, v in enumerate(values)]
        base = {"id": "bench", "blueprint": name, "input_topics": ["t"], **case["fields"]}
        variants: dict[str, list[dict[str, Any]]] = {"alone": [], "same params": [{"name": "challenger"}]}
        for label, shadow in case["challengers"].items():
            variants[label] = [{"name": "challenger", **shadow}]

        def run(
            shadows: list[dict[str, Any]], base: dict[str, Any] = base, stream: list[Any] = stream
        ) -> None:
            live = LiveDeployment(DeploymentSpec.model_validate({**base, "shadows": shadows}), created_at=0)
            for start in range(0, len(stream), 256):
                live.process(stream[start : start + 256], now_ms=0)

        quiet_garbage_collector()
        best = dict.fromkeys(variants, math.inf)
        for _ in range(rounds):
            for label, shadows in variants.items():
                seconds = best_of(1, functools.partial(run, shadows), clock=time.process_time)
                best[label] = min(best[label], seconds)
        costs[name] = {label: seconds / events * 1e6 for label, seconds in best.items()}
    return costs


def shadow_costs(events: int, rounds: int) -> dict[str, float]:
    """Per-event microseconds of scoring alone, scoring with one shadow and a tracker, and parts of it."""
    rng = random.Random(0)
    rows = [{f"x{j}": rng.gauss(0, 1) for j in range(8)} for _ in range(events)]
    labels = [rng.random() < 0.3 for _ in range(events)]

    def trained(l2: float) -> Any:
        model = preprocessing.StandardScaler() | linear_model.LogisticRegression(l2=l2)
        for x, y in zip(rows[:2000], labels, strict=False):
            model.learn_one(x, y)
        return model

    live, shadow = trained(0.0), trained(0.01)

    def live_only() -> None:
        score_live = live.predict_proba_one
        for x in rows:
            score_live(x).get(True, 0.0)

    def live_and_shadow() -> None:
        score_live, score_shadow = live.predict_proba_one, shadow.predict_proba_one
        tracker = AgreementTracker("shadow", deployment="bench", window_events=500)
        for position, x in enumerate(rows):
            p_live = score_live(x).get(True, 0.0)
            p_shadow = score_shadow(x).get(True, 0.0)
            tracker.observe(p_live, p_shadow, position=position, ts_ms=0)

    pairs = [(rng.random(), rng.random()) for _ in range(events)]

    def tracker_only() -> None:
        tracker = AgreementTracker("shadow", deployment="bench", window_events=500)
        for position, (a, b) in enumerate(pairs):
            tracker.observe(a, b, position=position, ts_ms=0)

    def learn_live() -> None:
        for x, y in zip(rows, labels, strict=True):
            live.learn_one(x, y)

    def monitor_single() -> None:
        monitor = DriftMonitor("bench", features=list(rows[0]))
        for position, x in enumerate(rows):
            monitor.observe_features(x, position=position, ts_ms=0)

    def monitor_batched() -> None:
        monitor = DriftMonitor("bench", features=list(rows[0]))
        for start in range(0, events, 500):
            monitor.observe_features_many(rows[start : start + 500], start_position=start, ts_ms=0)

    errors = [rng.random() < 0.1 for _ in range(events)]

    def monitor_errors() -> None:
        monitor = DriftMonitor("bench")
        for position, error in enumerate(errors):
            monitor.observe_error(error, position=position, ts_ms=0)

    timings = {
        name: math.inf
        for name in ["live", "live+shadow+tracker", "tracker", "learn", "monitor", "batched", "errors"]
    }
    for _ in range(rounds):  # interleaved, so that load on the machine hits every variant alike
        timings["live"] = min(timings["live"], best_of(1, live_only))
        timings["live+shadow+tracker"] = min(timings["live+shadow+tracker"], best_of(1, live_and_shadow))
        timings["tracker"] = min(timings["tracker"], best_of(1, tracker_only))
        timings["monitor"] = min(timings["monitor"], best_of(1, monitor_single))
        timings["batched"] = min(timings["batched"], best_of(1, monitor_batched))
        timings["errors"] = min(timings["errors"], best_of(1, monitor_errors))
    timings["learn"] = best_of(1, learn_live)
    return {name: seconds / events * 1e6 for name, seconds in timings.items()}


# -- the report ------------------------------------------------------------------------------------------


def seconds_at_rate(events: float) -> str:
    """A delay in events as seconds at 10 events/s."""
    return f"{events / EVENTS_PER_SECOND:.0f} s"


def main() -> None:
    """Measure everything and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and events (a smoke test)")
    args = parser.parse_args()
    seeds = 3 if args.quick else 10
    stationary_events = 20_000 if args.quick else 100_000
    before = 5000 if args.quick else 20_000
    rows: list[Row] = []
    started = time.perf_counter()

    # Concept drift delay.
    all_delays: list[int] = []
    all_misses = 0
    for name, runs in concept_scenarios(seeds, before).items():
        ours = delays_of(
            (detections(lambda: ErrorDriftDetector("binary"), errors), change) for errors, change in runs
        )
        ddm = delays_of((detections(river_drift.binary.DDM, errors), change) for errors, change in runs)
        all_delays += ours.delays
        all_misses += ours.misses
        rows.append(
            Row(
                f"concept drift delay: {name}",
                ours.describe(),
                "mean <= 500",
                ours.mean <= 500 and not ours.misses,
            )
        )
        rows.append(Row("  (river DDM on the same errors)", ddm.describe(), "", None))
    concept_mean = statistics.fmean(all_delays)
    rows.append(
        Row(
            "concept drift delay, all scenarios",
            f"mean {concept_mean:.0f}, max {max(all_delays)} events, {all_misses} missed",
            "mean <= 500",
            concept_mean <= 500 and not all_misses,
        )
    )

    # Stationary streams: false alarms.
    concept_alarms = 0
    concept_events = 0
    for rate in (0.02, 0.1, 0.3):
        for seed in range(2):
            errors = bernoulli([(rate, stationary_events)], seed=50 + seed)
            concept_alarms += len(detections(lambda: ErrorDriftDetector("binary"), errors))
            concept_events += len(errors)
    sea = model_errors(iter(synth.SEA(variant=0, seed=7)), stationary_events)
    concept_alarms += len(detections(lambda: ErrorDriftDetector("binary"), sea))
    concept_events += len(sea)
    per_100k = concept_alarms / concept_events * 100_000
    rows.append(
        Row(
            "concept false alarms, stationary errors",
            f"{concept_alarms} in {concept_events:,} events ({per_100k:.2f} per 100k)",
            "<= 1 per 100k",
            per_100k <= 1,
        )
    )
    data_alarms, data_events = data_false_alarms(stationary_events, 2 if args.quick else 3)
    per_100k = data_alarms / data_events * 100_000
    rows.append(
        Row(
            "data false alarms, 5 stationary features",
            f"{data_alarms} in {data_events:,} events ({per_100k:.2f} per 100k, all 5 features)",
            "<= 1 per 100k",
            per_100k <= 1,
        )
    )

    for learning in (False, True):
        alerts, events = prediction_alerts(stationary_events, 2, learning=learning)
        per_100k = alerts / events * 100_000
        if learning:
            figure, target, met = (
                "prediction alerts, online LR, stationary SEA",
                "(the model itself moves)",
                None,
            )
        else:
            figure, target, met = (
                "prediction false alarms, frozen LR, stationary SEA",
                "<= 1 per 100k",
                per_100k <= 1,
            )
        rows.append(Row(figure, f"{alerts} in {events:,} events ({per_100k:.2f} per 100k)", target, met))

    # Data drift delay.
    data_worst = 0
    floor = WindowedKSConfig().threshold
    for shift in SHIFTS:
        found = data_delays(shift, seeds)
        if shift.endswith("40/30/30"):  # a CDF gap of 0.10: below what 500-event windows tell from noise
            rows.append(
                Row(f"data drift delay: {shift}", found.describe(), f"(KS gap 0.10 < {floor:.3f})", None)
            )
            continue
        data_worst = max(data_worst, found.worst)
        rows.append(
            Row(
                f"data drift delay: {shift}",
                found.describe(),
                "<= 1,000",
                found.worst <= 1000 and not found.misses,
            )
        )

    # Time to alert at 10 events/s.
    rows.append(
        Row(
            "time to alert at 10 events/s: concept",
            f"mean {seconds_at_rate(concept_mean)}, max {seconds_at_rate(max(all_delays))}",
            "< 600 s (seed 002)",
            max(all_delays) / EVENTS_PER_SECOND < SEED_002_ALERT_SECONDS,
        )
    )
    rows.append(
        Row(
            "time to alert at 10 events/s: data",
            f"max {seconds_at_rate(data_worst)}",
            "< 600 s (seed 002)",
            data_worst / EVENTS_PER_SECOND < SEED_002_ALERT_SECONDS,
        )
    )

    # Costs.
    for name, micros in deployment_shadow_costs(
        5_000 if args.quick else 20_000, 2 if args.quick else 4
    ).items():
        alone = micros.pop("alone")
        same = micros.pop("same params")
        rows.append(
            Row(
                f"cost of one shadow, {name} deployment (per event, all steps)",
                f"{same / alone:.2f}x ({same:.1f} vs {alone:.1f} us/event)",
                "<= 1.5x",
                same / alone <= 1.5,
            )
        )
        for label, cost in micros.items():
            figure = f"{cost / alone:.2f}x ({cost:.1f} us/event)"
            if "pipeline" in label:  # another model: its own cost, not the shadow machinery's
                rows.append(Row(f"  a challenger with {label}", figure, "(the model's own cost)", None))
            else:
                rows.append(Row(f"  a challenger with {label}", figure, "<= 1.5x", cost / alone <= 1.5))
    bare = shadow_costs(10_000 if args.quick else 30_000, 3 if args.quick else 5)
    ratio = bare["live+shadow+tracker"] / bare["live"]
    rows.append(
        Row(
            "  for context, a bare River pipeline: live+shadow+tracker / live",
            f"{ratio:.2f}x ({bare['live+shadow+tracker']:.1f} vs {bare['live']:.1f} us/event)",
            "",
            None,
        )
    )
    rows.append(
        Row(
            "  of which the AgreementTracker",
            f"{bare['tracker']:.2f} us/event = {bare['tracker'] / bare['live']:.0%} of one LR score",
            "",
            None,
        )
    )
    rows.append(
        Row(
            "  shadow cost with learning too (score both + learn both)",
            f"{(2 * (bare['live'] + bare['learn']) + bare['tracker']) / (bare['live'] + bare['learn']):.2f}x "
            f"(learn_one {bare['learn']:.1f} us/event)",
            "",
            None,
        )
    )
    rows.append(
        Row(
            "DriftMonitor, 8 features: one event at a time",
            f"{bare['monitor']:.2f} us/event ({bare['monitor'] / bare['live']:.0%} of one LR score)",
            "",
            None,
        )
    )
    rows.append(
        Row(
            "DriftMonitor, 8 features: batches of 500",
            f"{bare['batched']:.2f} us/event ({bare['batched'] / bare['live']:.0%} of one LR score)",
            "",
            None,
        )
    )
    rows.append(Row("DriftMonitor.observe_error (ADWIN x2)", f"{bare['errors']:.2f} us/event", "", None))

    widths = [
        max(len(row.cells()[i]) for row in [*rows, Row("figure", "measured", "target", None)])
        for i in range(4)
    ]
    header = ("figure", "measured", "target", "met")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row.cells(), widths, strict=True)).rstrip())
    print(
        f"\n({time.perf_counter() - started:.0f} s; seeds per scenario: {seeds}; stable period before changes: {before})"
    )


if __name__ == "__main__":
    main()
