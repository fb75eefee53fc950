"""Shadow agreement windows, labelled metrics and auto-promotion, on hand-built outputs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.drift import AgreementTracker, AgreementWindow, PromotionJudge
from tracer.schemas import DriftPolicy

TS_MS = 1_700_000_000_000


def feed(tracker: AgreementTracker, pairs: list[tuple[float | None, float | None]]) -> list[AgreementWindow]:
    windows = []
    for position, (live, shadow) in enumerate(pairs):
        window = tracker.observe(live, shadow, position=position, ts_ms=TS_MS + position)
        if window is not None:
            windows.append(window)
    return windows


# -- what agreeing means ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "shadow", "threshold", "prob_tolerance", "agree"),
    [
        (0.9, 0.6, 0.5, None, True),  # same class
        (0.9, 0.4, 0.5, None, False),  # different class
        (0.5, 0.5, 0.5, None, True),  # the threshold itself is the positive class for both
        (0.49, 0.5, 0.5, None, False),
        (0.35, 0.45, 0.3, None, True),  # a lower decision threshold
        (0.25, 0.35, 0.3, None, False),
        (0.9, 0.6, 0.5, 0.1, False),  # same class but probabilities too far apart
        (0.9, 0.82, 0.5, 0.1, True),
        (0.1, 0.9, 0.5, 1.0, False),  # the tolerance never overrides the class
    ],
)
def test_classifier_agreement(
    live: float, shadow: float, threshold: float, prob_tolerance: float | None, agree: bool
) -> None:
    tracker = AgreementTracker("s", deployment="d", threshold=threshold, prob_tolerance=prob_tolerance)
    assert tracker.agrees(live, shadow) is agree
    assert tracker.agrees(shadow, live) is agree


@pytest.mark.parametrize(
    ("live", "shadow", "agree"),
    [
        (100.0, 105.0, True),  # 5 / 105 < 5%
        (100.0, 106.0, False),
        (-100.0, -104.0, True),
        (-1.0, 1.0, False),
        (0.0, 0.0, True),  # two zeros agree
        (0.0, 1e-12, True),  # within abs_tolerance
        (0.0, 1e-3, False),  # a relative test alone would call any value against zero a disagreement
        (1e-3, 1.04e-3, True),
    ],
)
def test_regressor_agreement(live: float, shadow: float, agree: bool) -> None:
    tracker = AgreementTracker("s", deployment="d", kind="regressor", rel_tolerance=0.05)
    assert tracker.agrees(live, shadow) is agree
    assert tracker.agrees(shadow, live) is agree


def test_abs_tolerance_judges_forecasts_near_zero() -> None:
    tracker = AgreementTracker("s", deployment="d", kind="regressor", abs_tolerance=0.001)
    assert tracker.agrees(0.0004, -0.0004)
    assert not tracker.agrees(0.002, -0.002)


# -- windows ---------------------------------------------------------------------------------------------


def test_windows_report_the_fraction_that_agreed() -> None:
    tracker = AgreementTracker("lr_fast", deployment="churn", live_version=4, window_events=5, slo=0.8)
    pairs: list[tuple[float | None, float | None]] = [
        # window 1: 4 of 5 agree
        (0.9, 0.7),
        (0.1, 0.2),
        (0.6, 0.4),
        (0.2, 0.3),
        (0.8, 0.9),
        # window 2: 2 of 5 agree
        (0.9, 0.1),
        (0.1, 0.9),
        (0.6, 0.4),
        (0.7, 0.7),
        (0.3, 0.3),
        # the open window: 1 of 2
        (0.9, 0.9),
        (0.1, 0.9),
    ]
    windows = feed(tracker, pairs)
    assert [w.report.agreement for w in windows] == [0.8, 0.4]
    assert [w.report.below_slo for w in windows] == [False, True]
    assert [w.report.position for w in windows] == [4, 9]
    assert [w.report.ts for w in windows] == [TS_MS + 4, TS_MS + 9]
    report = windows[1].report
    assert (report.deployment, report.live_version, report.shadow) == ("churn", 4, "lr_fast")
    assert (report.window_events, report.agreement_slo, report.labelled_events) == (5, 0.8, 0)
    assert report.live_metrics == report.shadow_metrics == {}
    assert windows[0].alert is None
    alert = windows[1].alert
    assert alert is not None
    assert (alert.kind, alert.detector, alert.feature) == ("agreement", "shadow_agreement", "lr_fast")
    assert (alert.statistic, alert.threshold, alert.current_window_events) == (0.4, 0.8, 5)
    assert (alert.position, alert.detected_at, alert.model_version) == (9, TS_MS + 9, 4)
    assert tracker.window_progress == (2, 1)


def test_missing_or_non_finite_outputs_are_skipped_not_counted() -> None:
    tracker = AgreementTracker("s", deployment="d", window_events=3)
    pairs: list[tuple[float | None, float | None]] = [
        (0.9, 0.9),
        (None, 0.9),
        (0.9, math.nan),
        (math.inf, 0.2),
        (0.9, 0.1),
        (0.2, 0.1),
    ]
    (window,) = feed(tracker, pairs)
    assert window.report.agreement == pytest.approx(2 / 3)
    assert window.report.window_events == 3
    assert tracker.skipped_events == 3


def test_below_slo_alerts_respect_the_cooldown_but_reports_do_not() -> None:
    tracker = AgreementTracker("s", deployment="d", window_events=10, slo=0.95, cooldown_events=25)
    windows = feed(tracker, [(0.9, 0.1)] * 60)
    assert len(windows) == 6
    assert all(w.report.below_slo for w in windows)
    assert [w.alert is not None for w in windows] == [True, False, False, True, False, False]
    assert tracker.suppressed_alerts == 4


def test_from_policy_takes_window_slo_and_cooldown() -> None:
    policy = DriftPolicy(agreement_window_events=20, agreement_slo=0.9, cooldown_events=0)
    tracker = AgreementTracker.from_policy("s", deployment="d", policy=policy, kind="regressor")
    assert (tracker.window_events, tracker.slo, tracker.cooldown_events, tracker.kind) == (
        20,
        0.9,
        0,
        "regressor",
    )


def test_observe_many_matches_observe() -> None:
    live = [0.1 * (i % 10) for i in range(57)]
    shadow = [0.1 * ((i * 7) % 10) for i in range(57)]
    one = AgreementTracker("s", deployment="d", window_events=10, slo=0.5)
    expected = feed(one, list(zip(live, shadow, strict=True)))
    many = AgreementTracker("s", deployment="d", window_events=10, slo=0.5)
    got = many.observe_many(live[:30], shadow[:30], start_position=0, ts_ms=TS_MS)
    got += many.observe_many(live[30:], shadow[30:], start_position=30, ts_ms=TS_MS)
    assert [w.report.agreement for w in got] == [w.report.agreement for w in expected]
    assert [w.report.position for w in got] == [w.report.position for w in expected]
    with pytest.raises(ValueError, match="same length"):
        many.observe_many([0.1], [], start_position=0, ts_ms=TS_MS)


@settings(max_examples=50, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=200),
    window_events=st.integers(1, 40),
)
def test_agreement_is_the_fraction_of_same_class_pairs(
    pairs: list[tuple[float, float]], window_events: int
) -> None:
    tracker = AgreementTracker("s", deployment="d", window_events=window_events)
    windows = feed(tracker, list(pairs))
    assert len(windows) == len(pairs) // window_events
    for index, window in enumerate(windows):
        chunk = pairs[index * window_events : (index + 1) * window_events]
        same = sum((live >= 0.5) == (shadow >= 0.5) for live, shadow in chunk)
        assert window.report.agreement == pytest.approx(same / window_events)


# -- labelled metrics ------------------------------------------------------------------------------------


def test_classifier_metrics_are_accuracy_and_log_loss() -> None:
    tracker = AgreementTracker("s", deployment="d", window_events=4)
    labelled = [(0.9, 0.6, True), (0.2, 0.7, False), (0.8, 0.3, True), (0.4, 0.1, False)]
    for live, shadow, y in labelled:
        tracker.observe_label(live, shadow, y)
    assert tracker.labelled_events == 4
    assert tracker.live_metrics["accuracy"] == 1.0
    assert tracker.shadow_metrics["accuracy"] == 0.5
    live_log_loss = -(math.log(0.9) + math.log(0.8) + math.log(0.8) + math.log(0.6)) / 4
    assert tracker.live_metrics["log_loss"] == pytest.approx(live_log_loss)
    (window,) = feed(tracker, [(live, shadow) for live, shadow, _ in labelled])
    assert window.report.labelled_events == 4
    assert window.report.live_metrics == tracker.live_metrics
    assert window.report.shadow_metrics == tracker.shadow_metrics


def test_regressor_metrics_are_mae_and_rmse() -> None:
    tracker = AgreementTracker("s", deployment="d", kind="regressor")
    for live, shadow, y in [(10.0, 12.0, 11.0), (5.0, 5.0, 8.0), (0.0, -4.0, 0.0)]:
        tracker.observe_label(live, shadow, y)
    assert tracker.live_metrics == {"mae": pytest.approx(4 / 3), "rmse": pytest.approx(math.sqrt(10 / 3))}
    assert tracker.shadow_metrics == {"mae": pytest.approx(8 / 3), "rmse": pytest.approx(math.sqrt(26 / 3))}
    tracker.observe_label(math.nan, 1.0, 1.0)
    tracker.observe_label(1.0, 1.0, None)  # type: ignore[arg-type]
    assert tracker.labelled_events == 3


def test_a_new_live_version_starts_metrics_and_window_again() -> None:
    tracker = AgreementTracker("s", deployment="d", window_events=3)
    tracker.observe_label(0.9, 0.9, True)
    feed(tracker, [(0.9, 0.9), (0.9, 0.1)])
    tracker.set_live_version(2)
    assert tracker.labelled_events == 0 and tracker.live_metrics == {}
    assert tracker.window_progress == (0, 0)
    (window,) = feed(tracker, [(0.9, 0.9)] * 3)
    assert window.report.live_version == 2 and window.report.agreement == 1.0


# -- auto-promotion --------------------------------------------------------------------------------------


def test_judge_needs_enough_labels() -> None:
    judge = PromotionJudge(metric="accuracy", margin=0.01, min_labelled_events=1000)
    decision = judge.judge({"accuracy": 0.7}, {"accuracy": 0.9}, labelled_events=999)
    assert not decision.promote
    assert decision.reason == "only 999 labelled events, 1000 needed"
    assert decision.evidence["labelled_events"] == 999


@pytest.mark.parametrize(
    ("metric", "live", "challenger", "margin", "promote"),
    [
        ("accuracy", 0.80, 0.82, 0.01, True),
        ("accuracy", 0.80, 0.805, 0.01, False),  # better, but not by the margin
        ("accuracy", 0.80, 0.78, 0.0, False),
        ("accuracy", 0.80, 0.80, 0.0, False),  # a tie never promotes
        ("mae", 2.0, 1.5, 0.25, True),  # lower is better
        ("mae", 2.0, 2.5, 0.0, False),
        ("log_loss", 0.5, 0.4, 0.05, True),
    ],
)
def test_judge_asks_for_a_margin_in_the_right_direction(
    metric: str, live: float, challenger: float, margin: float, promote: bool
) -> None:
    judge = PromotionJudge(metric=metric, margin=margin, min_labelled_events=10)
    decision = judge.judge({metric: live}, {metric: challenger}, labelled_events=10)
    assert decision.promote is promote
    assert decision.evidence["promote"] is promote
    assert decision.evidence["live"] == live and decision.evidence["challenger"] == challenger
    expected_improvement = challenger - live if metric == "accuracy" else live - challenger
    assert decision.evidence["improvement"] == pytest.approx(expected_improvement)


def test_judge_reads_a_tracker_and_a_policy() -> None:
    assert PromotionJudge.from_policy(DriftPolicy()) is None  # no margin: auto-promotion is off
    judge = PromotionJudge.from_policy(DriftPolicy(auto_promote_margin=0.05, auto_promote_min_labels=4))
    assert judge == PromotionJudge(metric="accuracy", margin=0.05, min_labelled_events=4)
    regressor_judge = PromotionJudge.from_policy(DriftPolicy(auto_promote_margin=0.5), kind="regressor")
    assert regressor_judge is not None and regressor_judge.metric == "mae"
    tracker = AgreementTracker("challenger", deployment="d", live_version=3)
    for live, shadow, y in [(0.4, 0.9, True), (0.6, 0.1, False), (0.9, 0.8, True), (0.2, 0.3, False)]:
        tracker.observe_label(live, shadow, y)
    assert judge is not None
    decision = judge.judge_tracker(tracker)
    assert decision.promote
    assert decision.evidence["shadow"] == "challenger" and decision.evidence["live_version"] == 3
    assert decision.evidence["live"] == 0.5 and decision.evidence["challenger"] == 1.0


def test_judge_refuses_unknown_metrics_and_reports_missing_ones() -> None:
    with pytest.raises(ValueError, match="metric must be one of"):
        PromotionJudge(metric="f1")
    decision = PromotionJudge(metric="mae", min_labelled_events=1).judge({}, {"mae": 1.0}, labelled_events=5)
    assert not decision.promote and "missing from the live metrics" in decision.reason


def test_tracker_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        AgreementTracker("s", deployment="d", kind="ranker")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="slo must be"):
        AgreementTracker("s", deployment="d", slo=95)
    with pytest.raises(ValueError, match="window_events"):
        AgreementTracker("s", deployment="d", window_events=0)
