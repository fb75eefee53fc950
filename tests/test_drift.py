"""The drift core: data, prediction and concept detectors, the monitor's alerts, the reaction policy.

No Kafka here: ``tracer.drift`` is pure and synchronous. Streams are seeded, so every figure is exact.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import itertools
import math
import pickle
import random
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import linear_model, preprocessing
from river.datasets import synth
from scipy import stats

from tracer import drift
from tracer.drift import (
    DriftConfig,
    DriftMonitor,
    ErrorDriftConfig,
    ErrorDriftDetector,
    ReactionAction,
    ReactionMachine,
    ReactionState,
    WindowedKS,
    WindowedKSConfig,
    as_float_array,
    ks_statistic,
    lag1_autocorrelation,
    max_autocorrelation,
)
from tracer.schemas import DriftAlert, DriftPolicy, SourceOffset

TS_MS = 1_700_000_000_000
FEATURES = ["tenure", "spend", "visits", "ratio"]


def feature_rows(
    seed: int, n: int, *, shift_at: int | None = None, shift: float = 1.0
) -> list[dict[str, object]]:
    """Rows of four features; from ``shift_at`` on, ``spend``'s mean moves by ``shift`` standard deviations."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    ar = 0.0
    for position in range(n):
        ar = 0.8 * ar + rng.gauss(0, 1)  # a slowly moving feature, like a rolling volatility
        spend = rng.gauss(50, 10)
        if shift_at is not None and position >= shift_at:
            spend += 10 * shift
        rows.append({"tenure": rng.gauss(12, 3), "spend": spend, "visits": rng.randrange(6), "ratio": ar})
    return rows


def run_single(monitor: DriftMonitor, rows: Sequence[Mapping[str, object]]) -> list[DriftAlert]:
    alerts: list[DriftAlert] = []
    for position, row in enumerate(rows):
        alerts += monitor.observe_features(row, position=position, ts_ms=TS_MS)
    return alerts


def run_batches(
    monitor: DriftMonitor, rows: Sequence[Mapping[str, object]], sizes: Iterator[int]
) -> list[DriftAlert]:
    alerts: list[DriftAlert] = []
    start = 0
    while start < len(rows):
        batch = rows[start : start + next(sizes)]
        alerts += monitor.observe_features_many(batch, start_position=start, ts_ms=TS_MS)
        start += len(batch)
    return alerts


# -- the public surface ----------------------------------------------------------------------------------


def test_public_surface_is_what_we_meant() -> None:
    assert sorted(drift.__all__) == sorted(
        [
            "METRIC_HIGHER_IS_BETTER",
            "AgreementTracker",
            "AgreementWindow",
            "Detection",
            "DriftConfig",
            "DriftMonitor",
            "ErrorDriftConfig",
            "ErrorDriftDetector",
            "ModelKind",
            "Outcome",
            "PromotionDecision",
            "PromotionJudge",
            "Reaction",
            "ReactionAction",
            "ReactionMachine",
            "ReactionState",
            "WindowedKS",
            "WindowedKSConfig",
            "adwin_bound",
            "as_float_array",
            "ks_critical_value",
            "ks_statistic",
            "lag1_autocorrelation",
            "max_autocorrelation",
        ]
    )
    for name in drift.__all__:
        obj = getattr(drift, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
        if inspect.isfunction(obj):
            assert "return" in obj.__annotations__, f"{name} has no return annotation"


MODULES = ["concept", "data", "monitor", "promotion", "reaction", "shadow", "stats"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    imported = importlib.import_module(f"tracer.drift.{module}")
    result = doctest.testmod(imported, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"tracer.drift.{module} has no example"
    assert result.failed == 0


# -- the KS statistic ------------------------------------------------------------------------------------


def test_ks_statistic_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    reference, current = np.sort(rng.normal(0, 1, 400)), np.sort(rng.normal(0.3, 1.2, 300))
    assert ks_statistic(reference, current) == pytest.approx(stats.ks_2samp(reference, current).statistic)
    ties_a, ties_b = (
        np.sort(rng.integers(0, 4, 300).astype(float)),
        np.sort(rng.integers(1, 5, 200).astype(float)),
    )
    assert ks_statistic(ties_a, ties_b) == pytest.approx(stats.ks_2samp(ties_a, ties_b).statistic)


def _statistic_after(values: np.ndarray, config: WindowedKSConfig) -> float:
    detector = WindowedKS(config)
    detector.update_many(values)
    return detector.statistic


@pytest.mark.parametrize("discrete", [True, False])
def test_windowed_statistic_is_the_exact_ks_at_the_last_check(discrete: bool) -> None:
    rng = np.random.default_rng(2)
    config = WindowedKSConfig(reference_events=300, window_events=200, check_every_events=50, alpha=1e-12)
    if discrete:  # few distinct values: the quantile grid holds all of them, so the statistic is exact
        values = np.concatenate((rng.integers(0, 5, 300), rng.integers(1, 6, 200))).astype(float)
    else:
        values = np.concatenate((rng.normal(0, 1, 300), rng.normal(0.2, 1, 200)))
    exact = ks_statistic(np.sort(values[:300]), np.sort(values[300:]))
    binned = _statistic_after(values, config)
    if discrete:
        assert binned == pytest.approx(exact)
    else:  # never above the exact statistic, and within the quantile grid's resolution
        assert exact - 0.03 <= binned <= exact + 1e-12


def test_config_errors_say_which_field_and_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"check_every_events \(600\) must not exceed window_events"):
        WindowedKSConfig(check_every_events=600)
    with pytest.raises(ValueError, match="alpha must be in"):
        WindowedKSConfig(alpha=0.0)
    with pytest.raises(ValueError, match="warning_delta must be in"):
        ErrorDriftConfig(delta=0.01, warning_delta=0.005)
    with pytest.raises(ValueError, match="outcome must be"):
        ErrorDriftDetector("multiclass")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reaction must be"):
        ReactionMachine("panic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_features"):
        DriftConfig(max_features=0)


def test_defaults_are_immutable() -> None:
    config = DriftConfig()
    with pytest.raises(AttributeError):
        config.data.alpha = 0.5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.max_features = 1  # type: ignore[misc]
    assert WindowedKS().config == WindowedKSConfig()


# -- data drift ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shifted_feature_alerts_within_1000_events_and_not_before(seed: int) -> None:
    shift_at = 6000
    rows = feature_rows(seed, 9000, shift_at=shift_at, shift=0.5)
    alerts = run_single(DriftMonitor("churn", features=FEATURES), rows)
    assert [(a.kind, a.feature) for a in alerts] == [("data", "spend")]
    assert shift_at <= alerts[0].position < shift_at + 1000


def test_stationary_stream_gives_at_most_one_false_alarm_in_20k_events() -> None:
    rows = feature_rows(7, 20_000)
    monitor = DriftMonitor("churn", features=FEATURES, policy=DriftPolicy(cooldown_events=0))
    alerts = run_batches(monitor, rows, itertools.repeat(1000))
    assert len(alerts) <= 1
    assert monitor.detections["data"] <= 1


def test_without_the_autocorrelation_correction_a_slow_feature_raises_false_alarms() -> None:
    """The correction is what keeps ``ratio`` (an AR(1) feature) quiet; this shows the test can fail."""
    rows = feature_rows(7, 20_000)
    config = DriftConfig(data=WindowedKSConfig(autocorrelation_correction=False))
    monitor = DriftMonitor("churn", features=["ratio"], config=config, policy=DriftPolicy(cooldown_events=0))
    assert len(run_batches(monitor, rows, itertools.repeat(1000))) > 1


def test_one_shift_gives_one_detection_because_the_reference_reanchors() -> None:
    rows = feature_rows(3, 12_000, shift_at=4000, shift=2.0)
    monitor = DriftMonitor("churn", features=["spend"], policy=DriftPolicy(cooldown_events=0))
    alerts = run_single(monitor, rows)
    assert len(alerts) == 1
    assert monitor.detections["data"] == 1


def test_cooldown_suppresses_repeated_alerts_on_the_same_feature() -> None:
    rng = random.Random(5)
    # A feature that keeps drifting: each reference is soon out of date again.
    rows = [{"spend": rng.gauss(position / 400, 1)} for position in range(20_000)]
    free = DriftMonitor("churn", features=["spend"], policy=DriftPolicy(cooldown_events=0))
    free_alerts = run_single(free, rows)
    cooled = DriftMonitor("churn", features=["spend"], policy=DriftPolicy(cooldown_events=5000))
    cooled_alerts = run_single(cooled, rows)
    assert len(free_alerts) >= 8
    assert 2 <= len(cooled_alerts) < len(free_alerts)
    gaps = [b.position - a.position for a, b in itertools.pairwise(cooled_alerts)]
    assert min(gaps) >= 5000
    assert cooled.suppressed["data"] == len(free_alerts) - len(cooled_alerts)
    assert cooled.detections["data"] == len(free_alerts)


def test_cooldown_is_per_feature() -> None:
    rng = random.Random(6)
    rows = [
        {"a": rng.gauss(2 if position >= 3000 else 0, 1), "b": rng.gauss(2 if position >= 3100 else 0, 1)}
        for position in range(6000)
    ]
    alerts = run_single(
        DriftMonitor("d", features=["a", "b"], policy=DriftPolicy(cooldown_events=10_000)), rows
    )
    assert [a.feature for a in alerts] == ["a", "b"]


def test_alert_carries_what_an_operator_needs() -> None:
    rows = feature_rows(1, 8000, shift_at=5000, shift=1.0)
    monitor = DriftMonitor("churn", model_version=3, features=FEATURES)
    source = SourceOffset(topic="customers", partition=2, offset=41)
    alerts = []
    for position, row in enumerate(rows):
        alerts += monitor.observe_features(row, position=position, ts_ms=TS_MS + position, source=source)
    (alert,) = alerts
    assert alert.deployment == "churn"
    assert alert.model_version == 3
    assert alert.kind == "data"
    assert alert.feature == "spend"
    assert alert.detector == "ks_window"
    assert alert.statistic > alert.threshold >= WindowedKSConfig().threshold
    assert alert.reference_window_events == 500
    assert alert.current_window_events == 500
    assert alert.source == source
    assert alert.detected_at == TS_MS + alert.position


def test_non_finite_none_and_non_numbers_are_skipped_not_counted() -> None:
    rows = feature_rows(4, 8000, shift_at=5000, shift=1.0)
    clean = run_single(DriftMonitor("d", features=["spend"]), rows)
    junk: list[object] = [None, math.nan, math.inf, -math.inf, "12.5", b"1", 10**400, [1.0], {"x": 1}, 1j]
    noisy_rows: list[dict[str, object]] = []
    for row in rows:
        noisy_rows.append(row)
        noisy_rows.append({"spend": junk[len(noisy_rows) % len(junk)]})
        noisy_rows.append({"other": 1.0})
    noisy = run_single(DriftMonitor("d", features=["spend"]), noisy_rows)
    batched = run_batches(DriftMonitor("d", features=["spend"]), noisy_rows, itertools.cycle([7, 700, 64]))
    assert len(clean) == len(noisy) == 1
    # Junk never counts: the detection falls on the same clean row, and the statistics agree exactly.
    assert noisy[0].position == 3 * clean[0].position
    assert noisy[0].statistic == clean[0].statistic
    assert batched == noisy


def test_as_float_array_skips_exactly_what_single_updates_skip() -> None:
    values: list[object] = [1, 2.5, None, "3", b"4", True, np.float32(1.5), 10**400, math.nan, object()]
    converted = as_float_array(values)
    for value, as_float in zip(values, converted.tolist(), strict=True):
        detector = WindowedKS(WindowedKSConfig(reference_events=1, window_events=1, check_every_events=1))
        detector.update(value)  # type: ignore[arg-type]
        assert (detector.reference_events == 1) == math.isfinite(as_float), value


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=20))
def test_batches_give_exactly_the_alerts_of_single_events(sizes: list[int]) -> None:
    rows = feature_rows(11, 7000, shift_at=3500, shift=0.8)
    for index in range(0, len(rows), 97):
        rows[index] = {**rows[index], "spend": None, "visits": "n/a"}
    single = run_single(DriftMonitor("d", features=FEATURES, policy=DriftPolicy(cooldown_events=0)), rows)
    batched = run_batches(
        DriftMonitor("d", features=FEATURES, policy=DriftPolicy(cooldown_events=0)),
        rows,
        itertools.cycle(sizes),
    )
    assert batched == single
    assert single, "the stream must contain a detection for this test to mean anything"


def test_feature_order_in_rows_does_not_matter() -> None:
    rows = feature_rows(2, 7000, shift_at=4000, shift=1.0)
    reordered = [dict(reversed(list(row.items()))) for row in rows]
    assert run_single(DriftMonitor("d", features=FEATURES), rows) == run_single(
        DriftMonitor("d", features=FEATURES), reordered
    )


def test_observing_does_not_mutate_the_rows() -> None:
    rows = feature_rows(2, 2000)
    copies = [dict(row) for row in rows]
    run_single(DriftMonitor("d"), rows)
    run_batches(DriftMonitor("d"), rows, itertools.repeat(300))
    assert rows == copies


def test_features_are_discovered_when_not_named() -> None:
    rng = random.Random(8)
    rows: list[dict[str, object]] = []
    for position in range(6000):
        row: dict[str, object] = {"country": "FR", "spend": rng.gauss(0, 1), "flag": None}
        if position >= 1000:  # a feature that appears mid-stream, then shifts
            row["late"] = rng.gauss(3 if position >= 4000 else 0, 1)
        if position == 10:
            row["flag"] = 1.0
        rows.append(row)
    monitor = DriftMonitor("d")
    alerts = run_single(monitor, rows)
    assert monitor.features == ("spend", "flag", "late")
    assert [(a.feature, a.position >= 4000) for a in alerts] == [("late", True)]
    batched = DriftMonitor("d")
    assert run_batches(batched, rows, itertools.repeat(512)) == alerts
    assert batched.features == monitor.features
    capped = DriftMonitor("d", config=DriftConfig(max_features=1))
    run_single(capped, rows[:50])
    assert capped.features == ("spend",)


def test_a_key_first_seen_with_a_value_that_is_not_a_number_stays_unwatched() -> None:
    monitor = DriftMonitor("d")
    monitor.observe_features({"plan": "pro", "late": None}, position=0, ts_ms=TS_MS)
    monitor.observe_features({"plan": 3.0, "late": 1.0, "spend": 2.0}, position=1, ts_ms=TS_MS)
    assert monitor.features == ("late", "spend")


def test_a_monitor_pickled_before_discovery_settled_keys_still_discovers() -> None:
    monitor = DriftMonitor("d")
    monitor.observe_features({"spend": 1.0}, position=0, ts_ms=TS_MS)
    state = monitor.__dict__.copy()
    del state["_settled"]
    old = DriftMonitor.__new__(DriftMonitor)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    restored.observe_features({"spend": 2.0, "visits": 3.0}, position=1, ts_ms=TS_MS)
    assert restored.features == ("spend", "visits")


# -- prediction drift ------------------------------------------------------------------------------------


def test_prediction_drift_skips_the_warm_up_then_finds_a_score_shift() -> None:
    rng = random.Random(9)
    # A model still learning: its first 1,000 scores are all over the place, then they settle, then shift.
    scores = [rng.random() for _ in range(1000)]
    scores += [min(max(rng.gauss(0.3, 0.05), 0.0), 1.0) for _ in range(5000)]
    scores += [min(max(rng.gauss(0.4, 0.05), 0.0), 1.0) for _ in range(2000)]
    monitor = DriftMonitor("churn")
    alerts = []
    for position, score in enumerate(scores):
        alerts += monitor.observe_prediction(score, position=position, ts_ms=TS_MS)
    assert [(a.kind, a.feature) for a in alerts] == [("prediction", "score")]
    assert 6000 <= alerts[0].position < 6500
    batched = DriftMonitor("churn")
    batch_alerts = []
    for start in range(0, len(scores), 250):
        batch_alerts += batched.observe_predictions_many(
            scores[start : start + 250], start_position=start, ts_ms=TS_MS
        )
    assert batch_alerts == alerts
    without_warm_up = DriftMonitor("churn", config=DriftConfig(prediction=WindowedKSConfig()))
    early = [
        alert
        for position, score in enumerate(scores)
        for alert in without_warm_up.observe_prediction(score, position=position, ts_ms=TS_MS)
    ]
    assert early[0].position < 2000, "without the warm-up skip the learning phase itself looks like drift"


# -- concept drift ---------------------------------------------------------------------------------------


def sea_errors(seed: int, n: int, position: int) -> list[bool]:
    """Errors of an online logistic regression on SEA whose concept changes near ``position``."""
    stream = synth.ConceptDriftStream(
        stream=synth.SEA(variant=0, seed=seed),
        drift_stream=synth.SEA(variant=3, seed=seed + 1),
        position=position,
        width=50,
        seed=seed,
    )
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    errors = []
    for x, y in stream.take(n):
        errors.append(model.predict_one(x) != y)
        model.learn_one(x, y)
    return errors


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_concept_drift_is_found_after_the_drift_point_and_not_long_before(seed: int) -> None:
    position = 5000
    monitor = DriftMonitor("sea", outcome="binary")
    alerts = []
    for index, wrong in enumerate(sea_errors(seed, 8000, position)):
        alerts += monitor.observe_error(wrong, position=index, ts_ms=TS_MS)
    assert [a.kind for a in alerts] == ["concept"]
    (alert,) = alerts
    assert position - 100 <= alert.position <= position + 500  # the transition is 50 events wide
    assert alert.detector == "adwin"
    assert alert.statistic > alert.threshold > 0
    assert alert.reference_window_events > alert.current_window_events > 0


def test_stationary_error_stream_gives_no_concept_alarm() -> None:
    rng = random.Random(10)
    detector = ErrorDriftDetector("binary")
    assert not any(detector.update(rng.random() < 0.1) for _ in range(50_000))


def linear_drift_errors(seed: int, scale: float) -> list[float]:
    """Errors of an online linear regression whose target's coefficients change at event 6000."""
    rng = random.Random(seed)
    model = preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=0.01)
    errors = []
    for index in range(8000):
        x = {f"x{j}": rng.gauss(0, 1) for j in range(3)}
        weights = (1.0, -2.0, 3.0) if index < 6000 else (-1.0, 2.0, 1.0)
        y = (sum(w * x[f"x{j}"] for j, w in enumerate(weights)) + rng.gauss(0, 0.5)) * scale
        errors.append(model.predict_one(x) - y)
        model.learn_one(x, y)
    return errors


def test_regression_concept_drift_is_found_whatever_the_scale_of_the_target() -> None:
    found = {}
    for scale in (1e-4, 1.0, 1e4):
        detector = ErrorDriftDetector("regression")
        hits = [
            (i, detector.statistic)
            for i, error in enumerate(linear_drift_errors(12, scale))
            if detector.update(error)
        ]
        assert len(hits) == 1, (scale, hits)
        found[scale] = hits[0]
    positions = {position for position, _ in found.values()}
    assert len(positions) == 1 and 6000 <= positions.pop() <= 6300
    # The statistic is in the error's own units.
    assert found[1e4][1] == pytest.approx(found[1.0][1] * 1e4, rel=1e-6)
    assert found[1e-4][1] == pytest.approx(found[1.0][1] * 1e-4, rel=1e-6)


def test_a_drop_in_error_is_not_an_alert_unless_asked_for() -> None:
    rng = random.Random(13)
    errors = [rng.random() < 0.3 for _ in range(3000)] + [rng.random() < 0.05 for _ in range(3000)]
    quiet = ErrorDriftDetector("binary")
    assert not any(quiet.update(e) for e in errors)
    loud = ErrorDriftDetector("binary", ErrorDriftConfig(alert_on_improvement=True))
    hits = [i for i, e in enumerate(errors) if loud.update(e)]
    assert len(hits) == 1 and 3000 <= hits[0] < 3500
    assert loud.statistic < 0


def test_warning_zone_opens_before_drift_and_times_out_when_not_confirmed() -> None:
    rng = random.Random(14)
    detector = ErrorDriftDetector("binary", ErrorDriftConfig(warning_timeout_events=300))
    first_warning = first_drift = None
    for index in range(9000):
        rate = 0.1 if index < 5000 else 0.2
        drifted = detector.update(rng.random() < rate)
        if detector.warning_detected and first_warning is None and index >= 5000:
            first_warning = index
        if drifted and first_drift is None:
            first_drift = index
    assert first_warning is not None and first_drift is not None
    assert 5000 <= first_warning < first_drift
    # A short burst of errors opens the warning zone but cannot confirm drift; the zone then closes.
    rng = random.Random(1)
    errors = (
        [rng.random() < 0.05 for _ in range(3000)] + [True] * 12 + [rng.random() < 0.05 for _ in range(1000)]
    )
    burst = ErrorDriftDetector("binary", ErrorDriftConfig(warning_timeout_events=300))
    flags = [(burst.update(error), burst.warning_detected) for error in errors]
    assert not any(drifted for drifted, _ in flags)
    warned = [index for index, (_, warning) in enumerate(flags) if warning]
    assert warned, "the burst should open the warning zone"
    assert warned[0] >= 3000 and warned[-1] - warned[0] == 300  # open for exactly the timeout
    assert warned == list(range(warned[0], warned[-1] + 1))


def test_errors_that_are_missing_or_not_finite_are_skipped() -> None:
    detector = ErrorDriftDetector("regression")
    for error in (None, math.nan, math.inf, "1.0", 10**400):
        assert detector.update(error) is False  # type: ignore[arg-type]
    assert detector.calibrating
    monitor = DriftMonitor("d", outcome="regression")
    assert monitor.observe_error(None, position=0, ts_ms=TS_MS) == []


# -- the reaction policy ---------------------------------------------------------------------------------

IDLE, BACKGROUND = ReactionState.IDLE, ReactionState.BACKGROUND


@pytest.mark.parametrize(
    ("state", "warning", "drift", "action", "next_state"),
    [
        (IDLE, False, False, ReactionAction.NONE, IDLE),
        (IDLE, True, False, ReactionAction.START_BACKGROUND, BACKGROUND),
        (IDLE, False, True, ReactionAction.RESET_LIVE, IDLE),
        (BACKGROUND, True, False, ReactionAction.NONE, BACKGROUND),
        (BACKGROUND, False, True, ReactionAction.SWAP_BACKGROUND, IDLE),
        (BACKGROUND, True, True, ReactionAction.SWAP_BACKGROUND, IDLE),
        (BACKGROUND, False, False, ReactionAction.DROP_BACKGROUND, IDLE),
    ],
)
def test_retrain_transitions(
    state: ReactionState, warning: bool, drift: bool, action: ReactionAction, next_state: ReactionState
) -> None:
    machine = ReactionMachine("retrain")
    if state is BACKGROUND:
        machine.update(warning=True, drift=False)
    assert machine.state is state
    assert machine.update(warning=warning, drift=drift) is action
    assert machine.action is action
    assert machine.state is next_state
    assert machine.background_active == (next_state is BACKGROUND)


def test_background_is_dropped_only_after_the_warning_stays_clear() -> None:
    machine = ReactionMachine("retrain", clear_after_events=3)
    machine.update(warning=True, drift=False)
    steps = [(False, False), (False, False), (True, False), (False, False), (False, False), (False, False)]
    actions = [machine.update(warning=w, drift=d) for w, d in steps]
    assert actions[:5] == [ReactionAction.NONE] * 5
    assert actions[5] is ReactionAction.DROP_BACKGROUND


def test_alert_only_never_asks_for_anything() -> None:
    machine = ReactionMachine("alert_only")
    flags = itertools.product([False, True], repeat=2)
    assert {machine.update(warning=w, drift=d) for w, d in flags} == {ReactionAction.NONE}
    assert machine.state is IDLE


def test_monitor_drives_the_retrain_reaction_from_the_error_stream() -> None:
    rng = random.Random(15)
    monitor = DriftMonitor("d", policy=DriftPolicy(reaction="retrain"))
    actions: list[tuple[int, ReactionAction]] = []
    alerts = []
    for index in range(9000):
        rate = 0.1 if index < 5000 else 0.2
        alerts += monitor.observe_error(rng.random() < rate, position=index, ts_ms=TS_MS)
        if monitor.action is not ReactionAction.NONE:
            actions.append((index, monitor.action))
    assert [action for _, action in actions] == [
        ReactionAction.START_BACKGROUND,
        ReactionAction.SWAP_BACKGROUND,
    ]
    (alert,) = alerts
    assert 5000 <= actions[0][0] < actions[1][0] == alert.position


def test_a_new_model_version_restarts_model_detectors_but_not_data_ones() -> None:
    rows = feature_rows(1, 1200)
    monitor = DriftMonitor("d", features=["spend"], policy=DriftPolicy(reaction="retrain"))
    run_single(monitor, rows)
    for index in range(1500):
        monitor.observe_prediction(0.5, position=index, ts_ms=TS_MS)
        monitor.observe_error(index % 7 == 0, position=index, ts_ms=TS_MS)
    monitor.reaction.update(warning=True, drift=False)
    data_events = monitor.feature_detector("spend").current_events
    monitor.set_model_version(2)
    assert monitor.model_version == 2
    assert monitor.prediction.reference_events == 0
    assert monitor.reaction.state is IDLE
    assert monitor.feature_detector("spend").current_events == data_events > 0
    with pytest.raises(ValueError, match="model_version"):
        monitor.set_model_version(0)


# -- determinism and checkpoints -------------------------------------------------------------------------


def full_run(
    monitor: DriftMonitor, seed: int, n: int, start: int = 0, stop: int | None = None
) -> list[DriftAlert]:
    """Features, scores and errors of one stream, all shifting half way; events ``start:stop`` only."""
    rows = feature_rows(seed, n, shift_at=n // 2, shift=1.0)
    rng = random.Random(seed)
    wrong = [rng.random() < (0.1 if position < n // 2 else 0.3) for position in range(n)]
    alerts: list[DriftAlert] = []
    for position in range(start, n if stop is None else stop):
        row = rows[position]
        alerts += monitor.observe_features(row, position=position, ts_ms=TS_MS)
        score = 1 / (1 + math.exp(-float(row["spend"]) / 50))  # type: ignore[arg-type]
        alerts += monitor.observe_prediction(score, position=position, ts_ms=TS_MS)
        alerts += monitor.observe_error(wrong[position], position=position, ts_ms=TS_MS)
    return alerts


def test_same_stream_twice_gives_identical_alerts() -> None:
    first = full_run(DriftMonitor("d", features=FEATURES), 21, 8000)
    second = full_run(DriftMonitor("d", features=FEATURES), 21, 8000)
    assert {a.kind for a in first} == {"data", "prediction", "concept"}
    assert [a.model_dump() for a in first] == [a.model_dump() for a in second]


def test_a_pickled_monitor_carries_on_exactly_where_it_stopped() -> None:
    expected = full_run(DriftMonitor("d", features=FEATURES), 22, 8000)
    first = DriftMonitor("d", features=FEATURES)
    head = full_run(first, 22, 8000, stop=4003)
    restored: DriftMonitor = pickle.loads(pickle.dumps(first))
    tail = full_run(restored, 22, 8000, start=4003)
    assert {a.kind for a in expected} == {"data", "prediction", "concept"}
    assert head + tail == expected


def test_an_interleaved_autocorrelated_feature_raises_no_false_alarm() -> None:
    """Three symbols' slow features, one snapshot of each in turn: lag 1 hides their dependence."""
    rng = np.random.default_rng(3)
    steps = 6000
    series = np.empty((3, steps))
    for symbol in range(3):
        x = 0.0
        for t in range(steps):
            x = 0.98 * x + rng.normal()
            series[symbol, t] = x
    interleaved = series.T.ravel()
    assert abs(lag1_autocorrelation(interleaved[:500])) < 0.2 < max_autocorrelation(interleaved[:500])
    detector = WindowedKS()
    assert detector.update_many(interleaved) == [], "a stationary process: no drift"
    naive = WindowedKS(WindowedKSConfig(autocorrelation_correction=False))
    assert naive.update_many(interleaved), "without the correction, this stream raises false alarms"
