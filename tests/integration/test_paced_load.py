"""The benchmark's paced load (``bench/paced_load.py``) on the real broker: kcat sends every record of
the file once, with the key and value ``tracer produce`` would give it, in file order."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracer.agents.replay import read_records
from tracer.agents.topics import ensure_topics

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from paced_load import paced_load

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]


def test_the_paced_load_sends_each_record_once_keyed_as_tracer_produce_would(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = topic_prefix + "paced"
    asyncio.run(ensure_topics(kafka_bootstrap, {topic: 1}))
    rows = [{"cust_id": f"c{i % 13}", "n": i, "note": "a\ttab, escaped by JSON"} for i in range(600)]
    rows[5]["cust_id"] = 7  # a number as key: sent as its text, as tracer produce does
    file = tmp_path / "rows.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in rows))

    load = paced_load(kafka_bootstrap, file, topic, "cust_id", tmp_path / "load.log", 3000.0, ["false"])
    load.wait(timeout=60)

    assert load.tool == "kcat"
    assert [process.returncode for process in load.processes] == [0, 0], (tmp_path / "load.log").read_text()
    read = subprocess.run(
        ["kcat", "-C", "-b", kafka_bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    sent = [tuple(line.split(b"\t", 1)) for line in read.stdout.splitlines()]
    assert sent == [(record.key, record.value) for record in read_records(file, key_column="cust_id")]
