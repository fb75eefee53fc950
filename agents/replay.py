"""``tracer produce`` and ``tracer tail``: replay a file into a topic, and pretty-print a topic."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

__all__ = ["MAX_UNACKED", "Record", "produce_file", "read_records", "tail_topic"]

MAX_UNACKED = 10_000
"""Sends ``produce_file`` lets wait for their acknowledgement at once."""


@dataclass(frozen=True)
class Record:
    """One message to send: its key (or None) and its value bytes, kept verbatim."""

    key: bytes | None
    value: bytes


def _json_cell(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def read_records(path: Path, *, key_column: str | None = None) -> list[Record]:
    """Read a CSV or JSONL file into messages. JSONL lines are sent verbatim, malformed ones
    included (a replay must reproduce what producers wrote); CSV rows become JSON objects."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        records = []
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            key = None
            if key_column is not None:
                try:
                    found = json.loads(line).get(key_column)
                    key = None if found is None else str(found).encode()
                except (ValueError, AttributeError):
                    key = None
            records.append(Record(key, line))
        return records
    if suffix == ".csv":
        frame = pd.read_csv(path)
        if key_column is not None and key_column not in frame.columns:
            raise ValueError(
                f"--key {key_column!r} is not a column of {path}; columns: {', '.join(frame.columns)}"
            )
        rows = frame.to_dict(orient="records")
        return [
            Record(
                None if key_column is None else str(row[key_column]).encode(),
                json.dumps({str(k): _json_cell(v) for k, v in row.items()}).encode(),
            )
            for row in rows
        ]
    raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv or .jsonl")


async def produce_file(
    bootstrap: str,
    topic: str,
    records: list[Record],
    *,
    rate_per_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Send ``records`` to ``topic``, paced at ``rate_per_s`` if given; returns how many were acked.

    At most ``MAX_UNACKED`` sends wait for their acknowledgement at a time (the oldest is awaited
    first), so memory stays flat however long the file; a failed send raises.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    started = time.monotonic()
    acked = 0
    try:
        unacked: deque[asyncio.Future[object]] = deque()
        for index, record in enumerate(records):
            if rate_per_s:
                ahead = index / rate_per_s - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            unacked.append(await producer.send(topic, record.value, key=record.key))
            if len(unacked) >= MAX_UNACKED:
                await unacked.popleft()
                acked += 1
            if on_progress and index % 100 == 99:
                on_progress(100)
        await asyncio.gather(*unacked)
        if on_progress:
            on_progress(len(records) % 100)
        return acked + len(unacked)
    finally:
        await producer.stop()


def _pretty(value: bytes | None) -> str:
    if value is None:
        return "(tombstone)"
    try:
        return json.dumps(json.loads(value), indent=2, sort_keys=True)
    except ValueError:
        return repr(value)


async def tail_topic(
    bootstrap: str,
    topic: str,
    emit: Callable[[str], None],
    *,
    from_beginning: bool = True,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
) -> int:
    """Pretty-print messages of ``topic`` through ``emit`` until ``max_messages`` or ``idle_timeout_s``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    last = time.monotonic()
    try:
        while max_messages is None or shown < max_messages:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch and idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                break
            for messages in batch.values():
                for message in messages:
                    last = time.monotonic()
                    key = message.key.decode(errors="replace") if message.key else "-"
                    emit(
                        f"── {message.topic}[{message.partition}]@{message.offset} key={key}\n{_pretty(message.value)}"
                    )
                    shown += 1
                    if max_messages is not None and shown >= max_messages:
                        return shown
        return shown
    finally:
        await consumer.stop()
