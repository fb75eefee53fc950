"""Reports with charts: the series they draw, the live history, the HTML page and its rendering in
headless Chromium (no broker here; ``tests/integration/test_report_e2e.py`` reads a running worker)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.test_live import events, spec
from tracer.agents.cli import main
from tracer.agents.report import ReportData, from_history, from_replay, write_report
from tracer.agents.report.html import SECTIONS
from tracer.blueprints import registry
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.blueprints.recipes.revenue_forecast import RevenueForecast
from tracer.online_models import Deployment
from tracer.online_models.baselines import compare_replay
from tracer.online_models.live import LiveDeployment
from tracer.online_models.report_history import ReportHistory, history_of
from tracer.schemas import DriftAlert

PNG = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r'<section id="([\w-]+)">.*?(?=<section|<ul class="notes">)', re.S)


def _replay(blueprint_id: str, frame: Any) -> tuple[Any, Any, Any]:
    deployment: Deployment[Any] = Deployment(registry.get(blueprint_id), {}, seed=42)
    report = deployment.replay(frame)
    return deployment, report, compare_replay(deployment, frame, report)


@pytest.fixture(scope="module")
def churn() -> ReportData:
    _, report, comparison = _replay("customer_churn", CustomerChurn().sample(3000, seed=7))
    return from_replay(report, "binary", comparison, subject="churn sample")


@pytest.fixture(scope="module")
def churn_with_a_change() -> ReportData:
    """The churn sample whose outcome flips half-way: a planted concept drift for the drift section."""
    frame = CustomerChurn().sample(3000, seed=7)
    frame.loc[1500:, "churned"] = ~frame.loc[1500:, "churned"].astype(bool)
    _, report, comparison = _replay("customer_churn", frame)
    return from_replay(report, "binary", comparison, subject="churn sample, outcome flipped half-way")


def _images(html: str) -> dict[str, list[bytes]]:
    """Each section's inline PNGs, decoded."""
    found: dict[str, list[bytes]] = {}
    for match in IMAGE.finditer(html):
        uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', match.group(0))
        found[match.group(1)] = [base64.b64decode(uri) for uri in uris]
    return found


# -- the series --------------------------------------------------------------------------------------


def test_the_learning_curve_rises_as_the_model_learns(churn: ReportData) -> None:
    aucs = [point.values["auc"] for point in churn.points if "auc" in point.values]
    assert len(aucs) >= 30, "about 40 windows of 75 labelled rows"
    events_axis = [point.event for point in churn.points]
    assert events_axis == sorted(events_axis) and events_axis[-1] == churn.events
    early, late = np.mean(aucs[:3]), np.mean(aucs[-10:])
    assert late > early + 0.15, f"the curve must show learning: first windows {early:.3f}, last {late:.3f}"
    assert len({round(a, 3) for a in aucs}) > 10, "a curve that changes from window to window"


def test_calibration_bins_hold_every_labelled_row_and_gains_reach_all_positives(churn: ReportData) -> None:
    assert sum(b.count for b in churn.calibration) == churn.labels == 3000
    assert all(b.lower <= b.mean_score <= b.upper for b in churn.calibration)
    assert churn.gains[-1].fraction == 1.0 and churn.gains[-1].captured == pytest.approx(1.0)
    assert churn.gains[0].lift > 1.5, "the top scores hold more positives than a random pick"
    names = {b.name for b in churn.baselines}
    assert "chance (base rate)" in names and any(b.name.startswith("batch model") for b in churn.baselines)


def test_a_forecast_report_has_mae_and_mape_curves_and_forecast_against_actual() -> None:
    _, report, comparison = _replay("revenue_forecast", RevenueForecast().sample(300, seed=1))
    data = from_replay(report, "forecast", comparison, subject="revenue")
    assert data.metrics == ["mae", "mape"] and not data.calibration and not data.gains
    assert len(data.predicted) == len(data.actual) == report.n_learned
    assert all({"mae", "mape"} <= set(point.values) for point in data.points)
    assert {b.metric for b in data.baselines} == {"mae", "mape"}, "naive and seasonal naive"


def test_docstring_examples_run() -> None:
    import doctest

    from tracer.online_models import report_history

    assert doctest.testmod(report_history).failed == 0


# -- the live history ---------------------------------------------------------------------------------


def test_the_history_is_bounded_and_its_calibration_counts_every_label() -> None:
    history = ReportHistory("binary", window=10, max_points=5, max_recent=50)
    rng = np.random.default_rng(0)
    for step in range(20):
        scores = rng.random(10)
        history.learned(zip(scores.tolist(), (rng.random(10) < scores).astype(float).tolist(), strict=True),
                        position=(step + 1) * 10)  # fmt: skip
    assert len(history.points) == 5 and [p.event for p in history.points] == [160, 170, 180, 190, 200]
    assert len(history.recent) == 50
    assert sum(b.count for b in history.calibration()) == history.labels == 200
    assert pickle.loads(pickle.dumps(history)).points == history.points


def test_a_live_deployment_records_its_curve_alerts_and_shadow_agreement() -> None:
    live = LiveDeployment(spec(shadows=[{"name": "twin", "params": {}}], drift={"agreement_window_events": 50}),
                          created_at=0)  # fmt: skip
    for start in range(0, 1200, 100):
        live.process(events(100, seed=start, start=start), now_ms=0)
    history = history_of(live, live.task)
    assert history.labels == 1200 and len(history.points) == 1200 // history.window
    assert history.agreement and {m.shadow for m in history.agreement} == {"twin"}
    alert = DriftAlert(deployment="churn", model_version=1, kind="prediction", detector="ks_window", statistic=0.3,
                       threshold=0.2, reference_window_events=500, current_window_events=500, position=700,
                       detected_at=0)  # fmt: skip
    history.marks([alert], [])
    data = from_history(live, history)
    assert data.source == "live" and data.events == 1200 and data.alerts[-1].name == "model scores"
    assert sum(b.count for b in data.calibration) == 1200
    restored = pickle.loads(pickle.dumps(live))  # the checkpoint keeps the history
    assert history_of(restored, restored.task).points == history.points
    assert ReportData.model_validate_json(data.model_dump_json()) == data, "the API's JSON reads back"


# -- the page ----------------------------------------------------------------------------------------


def test_the_page_is_self_contained_with_a_chart_in_each_section(
    churn_with_a_change: ReportData, tmp_path: Path
) -> None:
    assert any(a.kind == "concept" and 1500 <= a.event < 1700 for a in churn_with_a_change.alerts)
    path = write_report(churn_with_a_change, tmp_path / "deep" / "report.html")
    html = path.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing to fetch"
    assert "<script" not in html
    images = _images(html)
    assert list(images) == list(SECTIONS)
    for section in ("learning-curve", "calibration", "gains", "drift"):
        assert images[section] and all(png.startswith(PNG) and len(png) > 5000 for png in images[section])
    assert not images["shadows"] and "runs no shadow" in html


def chromium_screenshot(page: Path, shot: Path, tmp_path: Path) -> None:
    """Render ``page`` in headless Chromium into ``shot``; skip without Chromium unless in CI."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: scripts/bootstrap.sh installs it")
        pytest.skip("chromium is not installed (scripts/bootstrap.sh installs it)")
    subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", f"--screenshot={shot}", "--window-size=1200,3000",
         page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def colours(png: Path) -> int:
    """How many distinct colours the image has."""
    from matplotlib.image import imread

    pixels = (imread(str(png))[..., :3] * 255).astype(np.uint32).reshape(-1, 3)
    return len(np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2]))


def test_the_page_renders_in_headless_chromium(churn_with_a_change: ReportData, tmp_path: Path) -> None:
    page, shot = write_report(churn_with_a_change, tmp_path / "report.html"), tmp_path / "shot.png"
    chromium_screenshot(page, shot, tmp_path)
    assert shot.read_bytes().startswith(PNG)
    assert colours(shot) > 200, "the charts are drawn, not a blank page"
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body><h1>x</h1></body></html>")
    chromium_screenshot(blank, tmp_path / "blank.png", tmp_path)
    assert colours(tmp_path / "blank.png") < colours(shot) / 4, "the check tells charts from text"


def test_eval_writes_the_html_report_and_its_json_beside_it(tmp_path: Path) -> None:
    data = tmp_path / "churn.csv"
    CustomerChurn().sample(1200, seed=7).to_csv(data, index=False)
    page = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(
        main, ["eval", str(data), "--blueprint", "customer_churn", "--report", str(page)]
    )
    assert result.exit_code in (0, 1), result.output
    assert f"HTML report with charts to {page}" in result.output
    assert json.loads(page.with_suffix(".json").read_text())["rows"] == 1200
    images = _images(page.read_text())
    assert images["learning-curve"] and images["calibration"] and images["gains"]
