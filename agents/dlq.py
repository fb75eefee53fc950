"""Dead letters a user can act on: summarise, show and replay ``tracer.dlq`` (issue 26).

The CLI (:mod:`tracer.agents.cli_dlq`) and the HTTP API (:mod:`tracer.agents.api.dlq_views`) share
this module: reading the dead-letter topic, the summary and the pretty-printing.

**Summary**: counts by deployment, reason and *field* (the column or input the error names, see
:func:`reason_field`), with the first and last time seen and one example each.

The replay is :mod:`tracer.agents.dlq_replay`'s.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, Field, ValidationError

from tracer.schemas import DeadLetter, ReasonCode

__all__ = [
    "Letter",
    "SummaryRow",
    "coordinates",
    "parse_since",
    "read_letters",
    "reason_field",
    "render_letter",
    "summarize",
]

EXAMPLE_CHARS = 300
"""Characters of an example's raw input and error text a summary shows."""

_COLUMN = re.compile(r"""column (?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")""")
_MISSING_INPUT = re.compile(r"^\s+- (\S+) \(looked for", re.MULTILINE)
_LOCATION = re.compile(r"^([A-Za-z_][\w.]*): (?:Field required|.*\(got )")
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


# -- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One dead letter and where it sits on the dead-letter topic."""

    partition: int
    offset: int
    letter: DeadLetter

    @property
    def field(self) -> str | None:
        return reason_field(self.letter.error)


async def read_letters(
    bootstrap: str,
    topic: str,
    *,
    deployment: str | None = None,
    since_ms: int | None = None,
) -> tuple[list[Letter], int]:
    """Every dead letter on ``topic`` now (read to the end offsets at the start), optionally of one
    deployment and from ``since_ms`` on; and how many records could not be read as a dead letter."""
    from tracer.agents.topics import missing_topics

    if await missing_topics(bootstrap, [topic]):
        return [], 0
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()  # without a group, a subscribed consumer is assigned every partition
    letters: list[Letter] = []
    unreadable = 0
    try:
        partitions: list[TopicPartition] = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        if since_ms is not None:  # a letter is written when its input fails: its Kafka time is about its ts
            starts = await consumer.offsets_for_times({tp: max(0, since_ms - 60_000) for tp in partitions})
            for tp in partitions:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
        else:
            await consumer.seek_to_beginning(*partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= ends[tp] or message.value is None:
                        continue
                    try:
                        letter = DeadLetter.model_validate_json(message.value)
                    except ValidationError:
                        unreadable += 1
                        continue
                    if deployment is not None and letter.deployment != deployment:
                        continue
                    if since_ms is not None and letter.ts < since_ms:
                        continue
                    letters.append(Letter(tp.partition, message.offset, letter))
        letters.sort(key=lambda item: (item.letter.ts, item.partition, item.offset))
        return letters, unreadable
    finally:
        await consumer.stop()


def reason_field(error: str) -> str | None:
    """The column or input a dead letter's error names, if it names one.

    >>> reason_field("column 'plan', row 3: 'basic' is not a number")
    'plan'
    >>> reason_field("customer_churn: missing required input(s):\\n  - total_value (looked for: spend)\\nRename")
    'total_value'
    >>> reason_field("key: Field required"), reason_field("not JSON: expected value at line 1 column 1")
    ('key', None)
    """
    found = _COLUMN.search(error)
    if found:
        return found.group(1) if found.group(1) is not None else found.group(2)
    missing = _MISSING_INPUT.findall(error)
    if missing:
        return ",".join(missing)
    located = _LOCATION.match(error)
    return located.group(1) if located else None


def coordinates(letter: DeadLetter) -> str:
    """The original input's ``topic:partition:offset``."""
    source = letter.source
    return f"{source.topic}:{source.partition}:{source.offset}"


# -- summary -------------------------------------------------------------------------------------------


class SummaryRow(BaseModel):
    """Dead letters of one deployment, reason and field."""

    deployment: str | None = Field(description="None for inputs no deployment took (unrouted).")
    reason: ReasonCode
    field: str | None = Field(description="The column or input the error names, if any.")
    count: int
    first_seen: int = Field(description="Epoch ms of the first letter.")
    last_seen: int = Field(description="Epoch ms of the last letter.")
    example_source: str = Field(description="topic:partition:offset of the example's input.")
    example_error: str
    example_raw: str = Field(description="The example's input, decoded where it is text, shortened.")


class DeadLetterSummary(BaseModel):
    """``GET /deadletters/summary``: dead letters by deployment, reason and field, most first."""

    letters: int
    unreadable: int = Field(description="Records of the dead-letter topic that are not dead letters.")
    rows: list[SummaryRow]


def summarize(letters: Iterable[Letter]) -> list[SummaryRow]:
    """Counts by (deployment, reason, field), first/last seen and the first letter as example; most
    letters first."""
    rows: dict[tuple[str | None, ReasonCode, str | None], SummaryRow] = {}
    for item in letters:
        letter = item.letter
        group = (letter.deployment, letter.reason, item.field)
        row = rows.get(group)
        if row is None:
            rows[group] = SummaryRow(
                deployment=letter.deployment, reason=letter.reason, field=item.field, count=1,
                first_seen=letter.ts, last_seen=letter.ts, example_source=coordinates(letter),
                example_error=_shorten(letter.error), example_raw=_shorten(raw_text(letter.raw)),
            )  # fmt: skip
        else:
            row.count += 1
            row.first_seen = min(row.first_seen, letter.ts)
            row.last_seen = max(row.last_seen, letter.ts)
    return sorted(rows.values(), key=lambda r: (-r.count, r.deployment or "", r.reason.value, r.field or ""))


def render_summary(summary: DeadLetterSummary) -> str:
    """The summary as a table, for a person."""
    if not summary.rows:
        return "no dead letters" + (
            f" ({summary.unreadable} unreadable records)" if summary.unreadable else ""
        )
    lines = [
        f"{'deployment':<18} {'reason':<18} {'field':<20} {'count':>7}  {'first seen (UTC)':<19}  last seen"
    ]
    for row in summary.rows:
        lines.append(
            f"{row.deployment or '(unrouted)':<18} {row.reason.value:<18} {row.field or '-':<20} {row.count:>7}  "
            f"{_when(row.first_seen):<19}  {_when(row.last_seen)}"
        )
        lines.append(f"    e.g. {row.example_source}: {row.example_error.splitlines()[0]}")
        lines.append(f"         {row.example_raw}")
    total = sum(row.count for row in summary.rows)
    lines.append(
        f"{total} dead letters" + (f", {summary.unreadable} unreadable records" if summary.unreadable else "")
    )
    return "\n".join(lines)


# -- show ----------------------------------------------------------------------------------------------


def raw_text(raw: bytes) -> str:
    """Raw bytes for a person: pretty JSON if JSON, the text if UTF-8, else base64."""
    try:
        return json.dumps(json.loads(raw), sort_keys=True, ensure_ascii=False)
    except ValueError:
        pass
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()


def render_letter(item: Letter, dlq_topic: str) -> str:
    """One dead letter, pretty-printed: where it is, why, and its input decoded where it is text."""
    letter = item.letter
    key = "-" if letter.key is None else letter.key.decode(errors="replace")
    if letter.key_bytes is not None:
        key += f"… ({letter.key_bytes} bytes)"
    lines = [
        f"── {dlq_topic}[{item.partition}]@{item.offset}  {_when(letter.ts)} UTC",
        f"deployment: {letter.deployment or '(unrouted)'}   reason: {letter.reason.value}   "
        f"field: {item.field or '-'}",
        f"input: {coordinates(letter)}   key: {key}",
        "error: " + letter.error.replace("\n", "\n       "),
    ]
    size = f"{letter.raw_bytes} bytes, first {len(letter.raw)} kept, sha256 {letter.raw_sha256}" if (
        letter.truncated) else f"{len(letter.raw)} bytes"  # fmt: skip
    try:
        body = json.dumps(json.loads(letter.raw), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        body = raw_text(letter.raw)
    lines.append(f"raw ({size}):")
    lines.extend("  " + line for line in body.splitlines() or [""])
    return "\n".join(lines)


# -- time ----------------------------------------------------------------------------------------------


def parse_since(text: str, *, now_ms: int | None = None) -> int:
    """Epoch ms from an ISO time (UTC if it has no zone) or a relative one (``90s``, ``15m``, ``1h``,
    ``2d``, ``1w``: that long ago). Raises ValueError.

    >>> parse_since("1h", now_ms=7_200_000), parse_since("1970-01-01T00:00:01Z")
    (3600000, 1000)
    """
    relative = _RELATIVE.match(text)
    if relative:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return now - int(float(relative.group(1)) * _UNITS_S[relative.group(2)] * 1000)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO time (2024-05-01T12:00) nor a duration (15m, 1h, 2d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _shorten(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
