"""Pure parts of ``tracer demo``: the churn story's data, the summary's figures, and drift alerts that
name what drifted (prediction and concept alerts had no name: ``drift alert [prediction]  at event 2000``)."""

from __future__ import annotations

import random

import numpy as np

from tracer.agents.demo_streams import HISTORY_START, LIVE_START, churn_frame, live_stream
from tracer.agents.demo_summary import AlertSeen, DemoSummary, Scored
from tracer.agents.demo_watch import alert_name
from tracer.drift import DriftMonitor
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec

TS_MS = 1_700_000_000_000


def test_prediction_and_concept_alerts_name_the_score_they_watch() -> None:
    rng = random.Random(3)
    monitor = DriftMonitor("churn", score_name="churn_probability")
    alerts = []
    scores = [min(max(rng.gauss(0.3, 0.05), 0.0), 1.0) for _ in range(6000)]
    scores += [min(max(rng.gauss(0.5, 0.05), 0.0), 1.0) for _ in range(2000)]
    for position, score in enumerate(scores):
        alerts += monitor.observe_prediction(score, position=position, ts_ms=TS_MS)
    errors = [rng.random() < 0.05 for _ in range(3000)] + [rng.random() < 0.5 for _ in range(2000)]
    for position, error in enumerate(errors):
        alerts += monitor.observe_error(error, position=position, ts_ms=TS_MS)
    named = {(a.kind, a.feature) for a in alerts}
    assert ("prediction", "churn_probability") in named, named
    assert ("concept", "churn_probability errors") in named, named


def test_a_live_deployment_names_its_alerts_after_the_blueprints_headline_output() -> None:
    spec = DeploymentSpec(id="churn", blueprint="customer_churn", input_topics=["crm"], key_field="cust_id")
    assert LiveDeployment(spec, created_at=TS_MS).monitor.score_name == "churn_probability"


def test_alert_name_falls_back_to_the_detector_for_an_older_worker() -> None:
    assert alert_name({"feature": "daily_value_rate", "detector": "ks_window"}) == "daily_value_rate"
    assert alert_name({"feature": None, "detector": "adwin"}) == "adwin"


def test_the_history_comes_before_the_live_stream_and_the_price_rise_lands_half_way() -> None:
    history = churn_frame(3000, seed=7, start=HISTORY_START, days=270)
    live = churn_frame(2500, seed=2024, start=LIVE_START, days=120, price_change_at=0.5)
    assert len(history) == 3000 and len(live) == 2500
    assert history["snapshot_date"].max() < live["snapshot_date"].min()
    assert not set(history["cust_id"]) & set(live["cust_id"])
    halves = live.iloc[:1250], live.iloc[1250:]
    # Basic customers are billed more after the rise, so they spend more per month of tenure ...
    rates = [
        float((h["total_spend"] / h["plan"].eq("basic")).replace(np.inf, np.nan).dropna().median())
        for h in halves
    ]
    assert rates[1] > rates[0]
    # ... and more of them leave.
    churn = [float(h.loc[h["plan"] == "basic", "churned"].mean()) for h in halves]
    assert churn[1] > churn[0] + 0.03, churn


def test_the_live_stream_has_three_malformed_rows_and_an_outcome_per_row() -> None:
    records, outcomes = live_stream(2500, seed=2024)
    assert len(records) == 2503 and len(outcomes) == 2500
    assert sum(r.key == b"broken" for r in records) == 3


def test_the_summary_reports_live_auc_per_window_next_to_the_baseline() -> None:
    rng = random.Random(5)
    summary = DemoSummary()
    summary.produced["churn"] = summary.predicted["churn"] = 1000
    for _ in range(1000):
        outcome = rng.random() < 0.2
        summary.scored["churn"].append(
            Scored(score=rng.random() * 0.5 + 0.5 * outcome, outcome=outcome, baseline=rng.random())
        )
    summary.baseline_name["churn"] = "coin"
    summary.alerts.append(AlertSeen("churn", "data", "daily_value_rate", 700))
    windows = summary.windows("churn")
    assert [w["end"] for w in windows] == [500, 1000]
    assert all(float(w["auc"] or 0) > 0.8 for w in windows)
    assert all(abs(float(w["baseline_auc"] or 0) - 0.5) < 0.1 for w in windows)
    bins = summary.calibration("churn")
    assert sum(int(b["count"]) for b in bins) == 1000
    text = summary.render()
    assert "live AUC per 500 outcomes:" in text and "baseline 'coin'" in text
    assert "drift alerts: 1" in text and "churn data:daily_value_rate" in text
    assert "the inputs' distribution moved" in text
