"""The inputs of the chaos bench: good churn rows, and bad messages of every kind with the reason code
each must be dead-lettered with.

A bad message is one of ``KINDS``: not JSON, JSON that is not an object, wrong types, non-finite
numbers, a missing field, deep nesting, huge strings, and messages past Tracer's 1 MB limit up to the
input topic's own (raised) limit. Each kind names the one reason a worker must give it, so the bench
can check "the right reason" per input offset, not just a count. :func:`kcat_lines` writes them in
the form ``kcat -P -K '\\t' -l`` reads (one ``key<TAB>value`` a line, so no value holds a newline).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.schemas import ReasonCode
from tracer.schemas.decode import MAX_MESSAGE_BYTES

__all__ = ["KINDS", "BadMessage", "bad_messages", "churn_rows", "kcat_lines"]

TOPIC_MAX_BYTES = 4_194_304
"""``max.message.bytes`` of the fuzz input topic: a user's topic may allow more than Tracer's 1 MB."""


@dataclass(frozen=True)
class BadMessage:
    """One bad input: its kind, its bytes, and the reason its dead letter must carry."""

    kind: str
    value: bytes
    reason: ReasonCode


@functools.cache
def churn_rows(n: int, seed: int) -> tuple[bytes, ...]:
    """``n`` rows of the churn sample as JSON (the good inputs), the same for the same seed."""
    frame = CustomerChurn().sample(n, seed=seed)
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    return tuple(json.dumps(row, separators=(",", ":")).encode() for row in records)


def _row(rng: random.Random) -> dict[str, object]:
    return dict(json.loads(churn_rows(64, 0)[rng.randrange(64)]))


def _with(rng: random.Random, **fields: object) -> bytes:
    return json.dumps(_row(rng) | fields).encode()


def _garbage(rng: random.Random) -> bytes:
    alphabet = bytes(b for b in range(256) if b not in b'\n\r{["0123456789-tfn ')
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 300)))


def _truncated(rng: random.Random) -> bytes:
    row = json.dumps(_row(rng)).encode()
    return row[: rng.randint(1, len(row) - 1)]


def _huge_string(rng: random.Random) -> bytes:
    """A string of 1 KB to 900 KB where a number belongs (log-uniform: most are small, a few big)."""
    return _with(rng, total_spend="y" * int(1_000 * 900 ** rng.random()))


def _nested(rng: random.Random) -> bytes:
    depth = rng.randint(2_000, 50_000)
    return _with(rng, total_spend="§").replace(b'"\\u00a7"', b"[" * depth + b"1" + b"]" * depth)


def _oversized(rng: random.Random, limit: int) -> bytes:
    """A message past Tracer's limit and under the topic's (with room for its key and headers)."""
    size = rng.randint(MAX_MESSAGE_BYTES + 1, max(MAX_MESSAGE_BYTES + 2, limit - 4_096))
    return b'{"cust_id":"' + b"x" * (size - 14) + b'"}'


KINDS: dict[str, tuple[ReasonCode, Callable[[random.Random], bytes]]] = {
    "garbage bytes": (ReasonCode.NOT_JSON, _garbage),
    "truncated JSON": (ReasonCode.NOT_JSON, _truncated),
    "JSON array": (ReasonCode.NOT_AN_OBJECT, lambda rng: json.dumps([_row(rng)]).encode()),
    "JSON scalar": (ReasonCode.NOT_AN_OBJECT, lambda rng: rng.choice([b"42", b'"text"', b"true", b"null"])),
    "spend is an object": (ReasonCode.WRONG_TYPE, lambda rng: _with(rng, total_spend={"eur": 3})),
    "spend is a word": (ReasonCode.WRONG_TYPE, lambda rng: _with(rng, total_spend="lots")),
    "churned is a list": (ReasonCode.WRONG_TYPE, lambda rng: _with(rng, churned=[True])),
    "spend is infinite": (ReasonCode.NON_FINITE, lambda rng: _with(rng, total_spend=rng.choice(["inf", "-inf"]))),
    "spend overflows": (ReasonCode.NON_FINITE, lambda rng: _with(rng, total_spend="§").replace(b'"\\u00a7"', b"1e999")),
    "a bad date": (ReasonCode.WRONG_TYPE, lambda rng: _with(rng, signup_date="not a date")),
    "nothing to score": (ReasonCode.MISSING_FIELD, lambda rng: json.dumps({"cust_id": f"c{rng.random()}"}).encode()),
    "deeply nested": (ReasonCode.NOT_JSON, _nested),
    "huge string": (ReasonCode.WRONG_TYPE, _huge_string),
}  # fmt: skip
"""Every kind of bad message, with the reason it must be dead-lettered with and how to make one."""

OVERSIZED_KIND = "past 1 MB"


def bad_messages(n: int, seed: int, *, topic_max_bytes: int = TOPIC_MAX_BYTES) -> list[BadMessage]:
    """``n`` bad messages, every kind in turn (so each appears), the 8th and one in 400 past 1 MB."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    out: list[BadMessage] = []
    for i in range(n):
        if i % 400 == 7:
            out.append(BadMessage(OVERSIZED_KIND, _oversized(rng, topic_max_bytes), ReasonCode.OVERSIZED))
            continue
        kind = kinds[i % len(kinds)]
        reason, make = KINDS[kind]
        out.append(BadMessage(kind, make(rng), reason))
    return out


def kcat_lines(values: list[bytes]) -> bytes:
    """``values`` as ``kcat -K '\\t' -l`` input, keyed ``k<position>`` (no value may hold a newline)."""
    if any(b"\n" in value for value in values):
        raise ValueError("kcat reads one message a line: a value holds a newline")
    return b"".join(b"k%d\t%s\n" % (i, value) for i, value in enumerate(values))
