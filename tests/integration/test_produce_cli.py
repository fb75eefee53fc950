"""``tracer produce`` on the real broker, read back with Debian's kcat: every row arrives once, keyed,
in file order, and the paced replay keeps its rate."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kafka_helpers import consume
from tracer.agents import replay
from tracer.agents.topics import ensure_topics

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]

ROWS = 1_500


def _write_rows(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [{"cust_id": f"c{i % 97}", "n": i, "spend": i * 0.5} for i in range(ROWS)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def test_the_cli_replays_a_file_paced_and_kcat_reads_it_back(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = topic_prefix + "replayed"
    asyncio.run(ensure_topics(kafka_bootstrap, {topic: 1}))
    rows = _write_rows(tmp_path / "rows.jsonl")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tracer.agents.cli", "produce", str(tmp_path / "rows.jsonl"), "--topic", topic,
         "--key", "cust_id", "--rate", "1000", "--broker", kafka_bootstrap],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert f"{ROWS} messages acknowledged" in done.stdout
    assert elapsed >= (ROWS - 1) / 1000, "paced at --rate: 1,500 rows at 1,000/s take at least 1.5 s"
    read = subprocess.run(
        ["kcat", "-C", "-b", kafka_bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = read.stdout.splitlines()
    assert [json.loads(line.split("\t", 1)[1]) for line in lines] == rows
    assert [line.split("\t", 1)[0] for line in lines] == [str(row["cust_id"]) for row in rows]


def test_a_small_ack_window_still_sends_everything_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "MAX_UNACKED", 7)  # the oldest ack is awaited every few sends
    topic = topic_prefix + "windowed"
    asyncio.run(ensure_topics(kafka_bootstrap, {topic: 1}))
    rows = _write_rows(tmp_path / "rows.jsonl")
    records = replay.read_records(tmp_path / "rows.jsonl", key_column="cust_id")
    assert asyncio.run(replay.produce_file(kafka_bootstrap, topic, records)) == ROWS
    assert [json.loads(value) for _, value in consume(kafka_bootstrap, topic, expect=ROWS)] == rows
