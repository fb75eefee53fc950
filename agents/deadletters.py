"""Build the ``DeadLetter`` record for a message that could not be scored."""

from __future__ import annotations

import time

from tracer.schemas import DeadLetter, ReasonCode, SourceOffset

__all__ = ["dead_letter"]


def dead_letter(
    reason: ReasonCode,
    error: str,
    *,
    raw: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    deployment: str | None = None,
) -> bytes:
    """The JSON bytes of a dead letter that keeps the original message whole, with its coordinates."""
    letter = DeadLetter(
        reason=reason,
        error=error or reason.value,
        raw=raw or b"",
        key=key,
        source=SourceOffset(topic=topic, partition=partition, offset=offset),
        deployment=deployment,
        ts=int(time.time() * 1000),
    )
    return letter.model_dump_json().encode()
