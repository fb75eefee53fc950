"""Decode raw Kafka values into wire models, or say exactly why not.

``decode`` never raises on bad input: it returns the model, or a :class:`Rejection` carrying the
:class:`~tracer.schemas.ReasonCode` and a message that names the field and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tracer.schemas.messages import ReasonCode

__all__ = ["MAX_MESSAGE_BYTES", "Rejection", "decode", "readable_bytes", "reason_for"]

MAX_MESSAGE_BYTES = 1_000_000
"""Values larger than this are dead-lettered as ``oversized`` without being parsed."""

ModelT = TypeVar("ModelT", bound=BaseModel)

_BY_ERROR_TYPE: dict[str, ReasonCode] = {
    "json_invalid": ReasonCode.NOT_JSON,
    "json_type": ReasonCode.NOT_JSON,
    "model_type": ReasonCode.NOT_AN_OBJECT,
    "model_attributes_type": ReasonCode.NOT_AN_OBJECT,
    "dict_type": ReasonCode.NOT_AN_OBJECT,
    "missing": ReasonCode.MISSING_FIELD,
    "finite_number": ReasonCode.NON_FINITE,
}


@dataclass(frozen=True)
class Rejection:
    """Why a message could not be decoded."""

    reason: ReasonCode
    error: str


def reason_for(error: ValidationError) -> Rejection:
    """Map pydantic's first error to a reason code and a message naming the field and value."""
    first = error.errors(include_url=False)[0]
    kind = first["type"]
    reason = _BY_ERROR_TYPE.get(kind)
    if reason is None:
        reason = ReasonCode.WRONG_TYPE if kind.endswith(("_type", "_parsing")) else ReasonCode.INVALID_VALUE
    location = ".".join(str(part) for part in first["loc"]) or "message"
    detail = f"{location}: {first['msg']}"
    if reason not in (ReasonCode.NOT_JSON, ReasonCode.MISSING_FIELD, ReasonCode.NOT_AN_OBJECT):
        detail += f" (got {first.get('input')!r})"
    extra = error.error_count() - 1
    return Rejection(reason, detail + (f"; and {extra} more error(s)" if extra else ""))


def readable_bytes(raw: bytes | None, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes | Rejection:
    """``raw`` if it is worth parsing, else why not: empty, or over ``max_bytes``."""
    if not raw:
        return Rejection(ReasonCode.NOT_JSON, "empty message value")
    if len(raw) > max_bytes:
        return Rejection(
            ReasonCode.OVERSIZED, f"message is {len(raw)} bytes, over the {max_bytes}-byte limit"
        )
    return raw


def decode(
    model: type[ModelT], raw: bytes | None, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> ModelT | Rejection:
    """Parse ``raw`` JSON into ``model``; a :class:`Rejection` if it is empty, too large or invalid.

    >>> from tracer.schemas import MarketSnapshot
    >>> decode(MarketSnapshot, b'{"ts": 1, "symbol": "BTC", "mid": 1, "spreadBp": 1, "vol1m": 1}')
    Rejection(reason=<ReasonCode.MISSING_FIELD: 'missing_field'>, error='rsi14: Field required')
    """
    readable = readable_bytes(raw, max_bytes)
    if isinstance(readable, Rejection):
        return readable
    try:
        return model.model_validate_json(readable)
    except ValidationError as error:
        return reason_for(error)
