"""End to end through Debian's kcat, a real outside client: 1,000 snapshots and 50 bad messages in,
exactly 1,000 valid snapshots and 50 dead letters with the right reason codes out, worker alive."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.kafka_helpers import consume
from tracer.schemas import DeadLetter, MarketSnapshot, ReasonCode

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]


def _snapshots(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    mid = 45_000.0
    rows = []
    for i in range(n):
        mid *= 1 + rng.gauss(0, 0.0005)
        rows.append(
            json.dumps(
                {"ts": 1_696_723_200_000 + i * 1000, "symbol": rng.choice(["BTCUSDT", "ETHUSDT"]), "mid": mid,
                 "spreadBp": rng.uniform(0.5, 5), "vol1m": rng.uniform(1e5, 1e6), "rsi14": rng.uniform(20, 80)}
            )
        )  # fmt: skip
    return rows


BAD: list[tuple[str, ReasonCode]] = (
    [("this is not json {", ReasonCode.NOT_JSON)] * 10
    + [("[1, 2, 3]", ReasonCode.NOT_AN_OBJECT)] * 5
    + [
        (
            '{"ts": 1, "symbol": "BTCUSDT", "mid": 1.0, "spreadBp": 1.0, "vol1m": 1.0}',
            ReasonCode.MISSING_FIELD,
        )
    ]
    * 10
    + [
        (
            '{"ts": 1, "symbol": "BTCUSDT", "mid": "high", "spreadBp": 1, "vol1m": 1, "rsi14": 50}',
            ReasonCode.WRONG_TYPE,
        )
    ]
    * 10
    + [
        (
            '{"ts": 1, "symbol": "BTCUSDT", "mid": NaN, "spreadBp": 1, "vol1m": 1, "rsi14": 50}',
            ReasonCode.NON_FINITE,
        )
    ]
    * 5
    + [
        (
            '{"ts": 1, "symbol": "BTCUSDT", "mid": 1, "spreadBp": 1, "vol1m": 1, "rsi14": 250}',
            ReasonCode.INVALID_VALUE,
        )
    ]
    * 10
)


def test_kcat_snapshots_through_the_pipe(
    kafka_bootstrap: str, topic_prefix: str, worker_env: dict[str, str], tmp_path: Path
) -> None:
    source, sink, dlq = topic_prefix + "snapshots", topic_prefix + "valid", topic_prefix + "dlq"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tracer.agents.cli", "pipe", "--source", source, "--sink", sink, "--dlq", dlq,
         "--app-id", topic_prefix + "pipe"],
        env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for_topic(kafka_bootstrap, source)
        good = _snapshots(1000)
        lines = good + [bad for bad, _ in BAD]
        random.Random(3).shuffle(lines)
        payload = tmp_path / "messages.txt"
        payload.write_text("\n".join(lines) + "\n")
        subprocess.run(
            ["kcat", "-P", "-b", kafka_bootstrap, "-t", source, "-l", str(payload)], check=True, timeout=60
        )

        valid = consume(kafka_bootstrap, sink, expect=1000)
        letters = consume(kafka_bootstrap, dlq, expect=50)

        assert len(valid) == 1000
        assert all(
            MarketSnapshot.model_validate_json(value).symbol == key.decode() for key, value in valid if key
        )
        assert len(letters) == 50
        decoded = [DeadLetter.model_validate_json(value) for _, value in letters]
        assert Counter(letter.reason for letter in decoded) == Counter(reason for _, reason in BAD)
        for letter in decoded:
            assert letter.source.topic == source
            assert letter.raw.decode() in {bad for bad, _ in BAD}
        assert worker.poll() is None, "the worker died"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
        print(output[-5000:])  # shown by pytest when the test fails
    assert "Traceback" not in output


def _wait_for_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> None:
    """The worker creates its topics before subscribing; wait for that so kcat doesn't auto-create."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listing = subprocess.run(
            ["kcat", "-L", "-b", bootstrap, "-t", topic, "-J"], capture_output=True, timeout=20
        )
        if listing.returncode == 0:
            topics = json.loads(listing.stdout).get("topics", [])
            if any(t.get("topic") == topic and t.get("partitions") for t in topics):
                return
        time.sleep(0.5)
    raise AssertionError(f"topic {topic} was not created by the worker within {timeout_s} s")
