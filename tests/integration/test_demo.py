"""The README's main job, ``tracer demo``, end to end on the real broker: it replays the bundled
streams through a worker it starts, every input ends as a prediction or a dead letter, and it stops
cleanly with its summary."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration import workers

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_the_demo_gives_every_input_a_fate_and_stops_cleanly(
    worker_env: dict[str, str], topic_prefix: str
) -> None:
    # Under a topic prefix: the bundled market deployment names tracer.market.snapshots, which is then
    # this Tracer's <prefix>tracer.market.snapshots (it had read the unprefixed one: no predictions).
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
    assert "market-direction   3011 in" in summary and "MISSING" not in summary
    assert "churn labels: 2500 sent, dead-lettered: none" in summary


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
    assert "churn" not in summary
