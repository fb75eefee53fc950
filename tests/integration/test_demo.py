"""The README's main job, ``tracer demo``, end to end on the real broker: it deploys each blueprint
trained on a bundled history through a worker it starts, replays the live streams, every input ends
as a prediction or a dead letter, and it stops cleanly with its summary and the path of a report."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration import workers

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_the_demo_gives_every_input_a_fate_and_stops_cleanly(
    worker_env: dict[str, str], topic_prefix: str
) -> None:
    # Under a topic prefix (the demo adds a run stamp to it): this run's topics are its own.
    env = {**worker_env, "TRACER_WEB_PORT": str(workers.free_port()), "TRACER_TOPIC_PREFIX": topic_prefix}
    done = subprocess.run(
        [sys.executable, "-m", "tracer.agents.cli", "demo", "--rate", "3000"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    shown = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, shown
    summary = done.stdout[done.stdout.index("summary after") :]
    assert summary.count("✓ every input has a fate") == 2, shown
    assert "2503 in →  2500 predictions, 3 dead letters" in summary, "the bundled customers' three bad rows"
    assert (
        "market-direction   3003 in →  3000 predictions, 3 dead letters" in summary
        and "MISSING" not in summary
    )
    market = re.search(r"live AUC ([\d.]+) on its latest \d+ outcomes \(self-labelled", summary)
    assert market is not None and float(market.group(1)) > 0.6, "market direction learned from its history"
    assert "churn labels: 2500 sent, dead-lettered: none" in summary
    # Trained on its history before going live: good from the first window of outcomes, and better
    # than the simple rule computed on the same rows.
    assert "trained on 6000 rows of history before going live" in summary, summary
    live = re.search(
        r"live AUC per 500 outcomes: ([\d. ]+?)  \(whole run ([\d.]+)\); baseline .*?\(whole run ([\d.]+)\)",
        summary,
    )
    assert live is not None, summary
    windows = [float(x) for x in live.group(1).split()]
    assert len(windows) >= 4 and windows[0] > 0.75 and min(windows) > 0.75, summary
    assert float(live.group(2)) > float(live.group(3)), "the model beats the days-since-login rule"
    assert "shadow agreement with live, per window:" in summary
    # Alerts name what drifted; nothing empty between the kind and "at event".
    alerts = re.findall(r"⚠ drift alert (\S+) \[(\w+)\] (.*) at event \d+", done.stdout)
    assert alerts and all(name.strip() for _, _, name in alerts), done.stdout
    assert re.search(r"drift alerts: \d+ \(the story plants one change", summary)
    # No library log line on the terminal: they are in the log file the summary names.
    log_file = re.search(r"everything the worker and the libraries logged: (\S+)", summary)
    assert log_file is not None and Path(log_file.group(1)).stat().st_size > 0
    terminal = done.stdout + done.stderr
    for noise in ("NotLeaderForPartitionError", "Failed fetch offsets", "Traceback", "WARNING", "ERROR"):
        assert noise not in terminal, noise
    if importlib.util.find_spec("tracer.agents.report") is not None:
        page = re.search(r"HTML report of this run: (\S+\.html)", summary)
        assert page is not None, summary
        assert "<html" in Path(page.group(1)).read_text(encoding="utf-8").lower()


def test_the_crypto_demo_scores_the_five_crypto_blueprints(
    worker_env: dict[str, str], topic_prefix: str
) -> None:
    env = {**worker_env, "TRACER_WEB_PORT": str(workers.free_port()), "TRACER_TOPIC_PREFIX": topic_prefix}
    done = subprocess.run(
        [sys.executable, "-m", "tracer.agents.cli", "demo", "--stream", "crypto", "--rate", "3000"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    shown = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, shown
    summary = done.stdout[done.stdout.index("summary after") :]
    assert summary.count("✓ every input has a fate") == 5 and "MISSING" not in summary, shown
    for deployment in ("market-direction", "liquidations", "yields", "whales", "gas"):
        assert f"  {deployment} " in summary, deployment
    assert summary.count("trained on") == 5, "each crypto deployment is trained on its history"
    assert "churn" not in summary
    assert "NotLeaderForPartitionError" not in done.stdout + done.stderr
