"""Build the ``DeadLetter`` record for a message that could not be scored, bounded in size.

A dead letter used to carry its input whole, base64 in JSON: a third larger than the input. An
input near the broker's limit (1 MB by default, and a user's topic may allow more) then made a dead
letter the broker refused, and the loop that published it crashed on every restart (issue 24). So
a dead letter keeps at most ``max_raw_bytes`` of the input (a setting,
``TRACER_DEAD_LETTER_RAW_BYTES``, 64 KiB by default) and, past that, the input's length and sha256
digest, and says it is truncated; its source coordinates still point at the whole input in the
source topic. The key and the error text are bounded too, so a dead letter is never much over
``max_raw_bytes * 4 / 3`` bytes.

>>> import json
>>> letter = json.loads(dead_letter(ReasonCode.NOT_JSON, "not JSON", raw=b"z" * 100_000, key=b"k",
...                                 topic="crm", partition=0, offset=7, max_raw_bytes=16))
>>> letter["truncated"], letter["raw_bytes"], letter["raw"], letter["raw_sha256"][:12]
(True, 100000, 'enp6enp6enp6enp6enp6eg==', '7e9470bdc204')
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from tracer.agents.publisher import PER_RECORD_ERRORS, Origin, is_size_error
from tracer.schemas import DeadLetter, ReasonCode, SourceOffset

__all__ = [
    "DEAD_LETTER_ERROR_CHARS",
    "DEAD_LETTER_KEY_BYTES",
    "DEAD_LETTER_RAW_BYTES",
    "Refusals",
    "dead_letter",
    "letter_key",
]

log = logging.getLogger(__name__)

DEAD_LETTER_RAW_BYTES = 65_536
"""Input bytes a dead letter keeps by default; a longer input is kept as this prefix, its length and
digest. Far under Kafka's default 1 MB ``message.max.bytes``, even in base64."""
DEAD_LETTER_KEY_BYTES = 1_024
"""Key bytes a dead letter keeps; a longer key is kept as this prefix and its length (``key_bytes``)."""
DEAD_LETTER_ERROR_CHARS = 2_000
"""Characters of the error text kept: an error may quote the bad value, which may be the whole input."""


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
    max_raw_bytes: int = DEAD_LETTER_RAW_BYTES,
) -> bytes:
    """The JSON bytes of a dead letter: the input (bounded, see the module docstring), its key, the
    reason and the input's coordinates in its source topic."""
    raw = raw or b""
    truncated = len(raw) > max_raw_bytes
    long_key = key is not None and len(key) > DEAD_LETTER_KEY_BYTES
    error = error or reason.value
    if len(error) > DEAD_LETTER_ERROR_CHARS:
        error = error[: DEAD_LETTER_ERROR_CHARS - 1] + "…"
    letter = DeadLetter(
        reason=reason,
        error=error,
        raw=raw[:max_raw_bytes] if truncated else raw,
        truncated=truncated,
        raw_bytes=len(raw) if truncated else None,
        raw_sha256=hashlib.sha256(raw).hexdigest() if truncated else None,
        key=key[:DEAD_LETTER_KEY_BYTES] if key is not None and long_key else key,
        key_bytes=len(key) if key is not None and long_key else None,
        source=SourceOffset(topic=topic, partition=partition, offset=offset),
        deployment=deployment,
        ts=int(time.time() * 1000),
    )
    return letter.model_dump_json().encode()


def letter_key(key: bytes | None) -> bytes | None:
    """The Kafka key of a dead letter keyed by its input's key: the key, unless it is too long to
    carry (then none: the dead letter goes to its input's partition number)."""
    return key if key is None or len(key) <= DEAD_LETTER_KEY_BYTES else None


class Refusals:
    """What a :class:`~tracer.agents.publisher.Publisher` does with records the broker refused.

    Each refusal is counted (``on_refused(topic, error name, records)``) and logged once per record
    with its input's coordinates. A refused output (a routed copy, a prediction) is replaced by a
    bounded dead letter of its input, sent and awaited here; ``on_dead_lettered`` is called once it is
    acknowledged. A refused dead letter, or a replacement the broker refuses too, is lost: counted by
    ``on_lost(origin, error name)``, never silent.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        dlq: str,
        *,
        on_refused: Callable[[str, str, int], None],
        on_dead_lettered: Callable[[Origin], None],
        on_lost: Callable[[Origin, str], None],
        size_reason: ReasonCode = ReasonCode.PUBLISH_FAILED,
        max_raw_bytes: int = DEAD_LETTER_RAW_BYTES,
    ) -> None:
        self.producer = producer
        self.dlq = dlq
        self.on_refused = on_refused
        self.on_dead_lettered = on_dead_lettered
        self.on_lost = on_lost
        self.size_reason = size_reason
        """The reason of a replacement for a record refused as too large (``oversized`` for a routed
        copy: the input itself is too large to route)."""
        self.max_raw_bytes = max_raw_bytes

    async def __call__(self, topic: str, error: BaseException, origins: list[Origin], count: int) -> None:
        name = type(error).__name__
        self.on_refused(topic, name, count)
        if len(origins) < count:
            log.error("the broker refused %d record(s) for %s (%r)", count - len(origins), topic, error)
        for origin in origins:
            log.error("the broker refused a record for %s from %s:%d:%d (%r)",
                      topic, origin.topic, origin.partition, origin.offset, error)  # fmt: skip
            if topic == self.dlq:
                self.on_lost(origin, name)
            else:
                await self._replace(topic, error, origin)

    async def _replace(self, topic: str, error: BaseException, origin: Origin) -> None:
        reason = self.size_reason if is_size_error(error) else ReasonCode.PUBLISH_FAILED
        text = f"its record for {topic} was refused by the broker ({type(error).__name__}: {error})"
        letter = dead_letter(reason, text, raw=origin.raw, key=origin.key, topic=origin.topic,
                             partition=origin.partition, offset=origin.offset, deployment=origin.deployment,
                             max_raw_bytes=self.max_raw_bytes)  # fmt: skip
        key = origin.deployment.encode() if origin.deployment else letter_key(origin.key)
        try:
            await (await self.producer.send(self.dlq, letter, key=key))
        except PER_RECORD_ERRORS as refused:
            self.on_refused(self.dlq, type(refused).__name__, 1)
            log.error("the dead letter of %s:%d:%d was refused too (%r); its input is lost",
                      origin.topic, origin.partition, origin.offset, refused)  # fmt: skip
            self.on_lost(origin, type(refused).__name__)
            return
        self.on_dead_lettered(origin._replace(reason=reason.value))
