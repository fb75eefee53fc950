"""Signed checkpoints of a deployment's model and feature state.

A checkpoint is the pickled deployment, the source offsets it has learned through and its model
version, sealed with HMAC-SHA256 under a secret the operator configures. ``open_checkpoint``
checks the signature *before* it unpickles anything: bytes whose signature fails are refused
loudly with :class:`CheckpointRefused`, so untrusted bytes are never unpickled.

Wire layout (all integers big-endian)::

    b"TRC1" | u32 header length | header JSON | payload (pickle) | 32-byte HMAC over everything before it

The header carries ``deployment``, ``model_version``, ``offsets`` ({"topic:partition": next offset})
and ``created_at`` (ms), so a reader can see where a checkpoint stands without unpickling it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import struct
from dataclasses import dataclass
from typing import Any

__all__ = ["MAGIC", "Checkpoint", "CheckpointRefused", "open_checkpoint", "peek_header", "seal_checkpoint"]

MAGIC = b"TRC1"
_DIGEST_BYTES = 32


class CheckpointRefused(Exception):
    """A checkpoint failed its signature check or is malformed; it was not unpickled."""


@dataclass(frozen=True)
class Checkpoint:
    """An opened checkpoint: the restored object and where it stands."""

    deployment: str
    model_version: int
    offsets: dict[str, int]
    created_at: int
    state: Any


def _secret_bytes(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < 16:
        raise ValueError("the checkpoint secret must be at least 16 bytes (set TRACER_CHECKPOINT_SECRET)")
    return key


def seal_checkpoint(
    state: object,
    *,
    deployment: str,
    model_version: int,
    offsets: dict[str, int],
    created_at: int,
    secret: str | bytes,
) -> bytes:
    """Pickle ``state`` and sign it together with where it stands. Returns the checkpoint bytes."""
    header = json.dumps(
        {
            "deployment": deployment,
            "model_version": model_version,
            "offsets": offsets,
            "created_at": created_at,
        },
        sort_keys=True,
    ).encode()
    body = (
        MAGIC
        + struct.pack(">I", len(header))
        + header
        + pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    )
    return body + hmac.new(_secret_bytes(secret), body, hashlib.sha256).digest()


def _split(blob: bytes) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    if len(blob) < len(MAGIC) + 4 + _DIGEST_BYTES or not blob.startswith(MAGIC):
        raise CheckpointRefused("not a Tracer checkpoint (bad magic or too short)")
    (length,) = struct.unpack(">I", blob[4:8])
    body, signature = blob[:-_DIGEST_BYTES], blob[-_DIGEST_BYTES:]
    if 8 + length > len(body):
        raise CheckpointRefused("checkpoint header length runs past the end")
    try:
        header = json.loads(blob[8 : 8 + length])
    except ValueError as error:
        raise CheckpointRefused(f"checkpoint header is not JSON: {error}") from error
    return header, body[8 + length :], body, signature


def peek_header(blob: bytes) -> dict[str, Any]:
    """The checkpoint's header (deployment, version, offsets), without verifying or unpickling."""
    return _split(blob)[0]


def open_checkpoint(blob: bytes, *, secret: str | bytes) -> Checkpoint:
    """Verify the signature, then unpickle. Raises :class:`CheckpointRefused` if the signature fails."""
    header, payload, body, signature = _split(blob)
    expected = hmac.new(_secret_bytes(secret), body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise CheckpointRefused(
            f"checkpoint of deployment {header.get('deployment')!r} failed its HMAC signature check: "
            "refusing to unpickle it (wrong TRACER_CHECKPOINT_SECRET, or the bytes were altered)"
        )
    return Checkpoint(
        deployment=str(header["deployment"]),
        model_version=int(header["model_version"]),
        offsets={str(k): int(v) for k, v in header["offsets"].items()},
        created_at=int(header["created_at"]),
        state=pickle.loads(payload),  # safe: the signature was verified above
    )
