"""Signed checkpoints of a deployment's model and feature state.

A checkpoint is the pickled deployment, the source offsets it has learned through and its model
version, sealed with HMAC-SHA256 under a secret the operator configures. ``open_checkpoint``
checks the signature *before* it unpickles anything: bytes whose signature fails are refused
loudly with :class:`CheckpointRefused`, so untrusted bytes are never unpickled.

Wire layout (all integers big-endian)::

    b"TRC1" | u32 header length | header JSON | payload (pickle) | 32-byte HMAC over everything before it

or, sealed in steps (:class:`Sealing`, for a state holding a large dict such as a feature state
with an entry per customer)::

    b"TRC2" | u32 header length | header JSON | u32 length | payload (pickle, the dict left out)
          | (u32 length | pickled dict of the next entries of the dict left out)* | 32-byte HMAC

The header carries ``deployment``, ``model_version``, ``offsets`` ({"topic:partition": next offset})
and ``created_at`` (ms), so a reader can see where a checkpoint stands without unpickling it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import pickle
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

__all__ = [
    "MAGIC",
    "MAGIC_PARTS",
    "PART_ENTRIES",
    "Checkpoint",
    "CheckpointRefused",
    "Sealing",
    "open_checkpoint",
    "peek_header",
    "seal_checkpoint",
]

MAGIC = b"TRC1"
MAGIC_PARTS = b"TRC2"
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


PART_ENTRIES = 5_000
"""Entries of the large dict pickled per :meth:`Sealing.step`: about 1.7 ms of churn customers."""
_BULK = "bulk"


class _LeavingOut(pickle.Pickler):
    """Pickles everything but one object, which it writes as a reference for the loader to fill in."""

    def __init__(self, file: io.BytesIO, left_out: object) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._left_out = left_out

    def persistent_id(self, obj: object) -> str | None:
        return _BULK if obj is self._left_out else None


MOVED_MODULES = {
    f"tracer.blueprints.{name}": f"tracer.blueprints.{folder}.{name}"
    for folder, names in (
        ("recipes", ("customer_churn", "revenue_forecast", "price_optimization", "price_movement")),
        ("engines", ("models", "scale_encode", "linear_rows", "logistic_sequence", "seasonal_forecaster",
                     "elasticity_model", "series_statistics")),
    )
    for name in names
}  # fmt: skip
"""Where a module that checkpoints name moved: recipes and engines took folders of their own."""


class _Renaming(pickle.Unpickler):
    """Unpickles classes from where they live now, for checkpoints written before a module moved."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED_MODULES.get(module, module), name)


def _loads(data: bytes) -> Any:
    return _Renaming(io.BytesIO(data)).load()


class _FillingIn(_Renaming):
    def __init__(self, file: io.BytesIO, filling: dict[Any, Any]) -> None:
        super().__init__(file)
        self._filling = filling

    def persistent_load(self, pid: object) -> dict[Any, Any]:
        if pid != _BULK:
            raise pickle.UnpicklingError(f"unknown reference {pid!r} in a checkpoint")
        return self._filling


class Sealing:
    """A checkpoint sealed in steps, so that a large dict in the state does not stall the loop.

    Pickled at once, a churn deployment with 34,886 customers took 12-17 ms in-process (27 ms in a
    worker on the busy bench machine), and each checkpoint held the scorer that long: the stall
    grows with the customers, and the paced churn runs' p99 was 77-93 ms with checkpoints against
    51-67 ms without. In parts: 1.8 ms at the start, then seven steps of 1.5-2.1 ms.

    Made with ``bulk=(live, snapshot)``: ``live`` is a dict inside ``state`` and ``snapshot`` a copy
    of it that nothing changes any more (``Blueprint.snapshot_state``). Everything else is pickled
    at once, here, with ``live`` left out; each :meth:`step` then pickles the next ``PART_ENTRIES``
    entries of ``snapshot``, and the caller goes on with its work in between. The checkpoint is the
    state as it was when this was made, whatever happens to it before the last step. Opened, a dict
    of those entries (in their order) takes ``live``'s place. Without ``bulk``, all is pickled at
    once and :attr:`done` is True from the start.
    """

    def __init__(
        self,
        state: object,
        *,
        bulk: tuple[dict[Any, Any], dict[Any, Any]] | None = None,
        deployment: str,
        model_version: int,
        offsets: dict[str, int],
        created_at: int,
        secret: str | bytes,
    ) -> None:
        header = json.dumps(
            {"deployment": deployment, "model_version": model_version, "offsets": offsets,
             "created_at": created_at},
            sort_keys=True,
        ).encode()  # fmt: skip
        self._mac = hmac.new(_secret_bytes(secret), digestmod=hashlib.sha256)
        self._parts: list[bytes] = []
        self._entries: Iterator[tuple[Any, Any]] = iter(())
        self._left = 0
        if bulk is None:
            self._add(MAGIC, struct.pack(">I", len(header)), header,
                      pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))  # fmt: skip
            return
        live, snapshot = bulk
        self._entries, self._left = iter(snapshot.items()), len(snapshot)
        payload = io.BytesIO()
        _LeavingOut(payload, live).dump(state)
        self._add(MAGIC_PARTS, struct.pack(">I", len(header)), header, _framed(payload.getvalue()))

    def _add(self, *parts: bytes) -> None:
        for part in parts:
            self._mac.update(part)
            self._parts.append(part)

    @property
    def done(self) -> bool:
        return self._left == 0

    def step(self) -> bool:
        """Pickle the next part of the large dict; returns :attr:`done`."""
        if self._left:
            part = dict(islice(self._entries, PART_ENTRIES))
            self._left -= len(part)
            self._add(_framed(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)))
        return self.done

    def blob(self) -> bytes:
        """The checkpoint bytes, every step taken."""
        while not self.step():
            pass
        return b"".join(self._parts) + self._mac.digest()


def _framed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


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
    return Sealing(state, deployment=deployment, model_version=model_version, offsets=offsets,
                   created_at=created_at, secret=secret).blob()  # fmt: skip


def _split(blob: bytes) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    if len(blob) < len(MAGIC) + 4 + _DIGEST_BYTES or blob[:4] not in (MAGIC, MAGIC_PARTS):
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


def _frames(data: bytes) -> list[bytes]:
    """The length-prefixed parts of a TRC2 payload (signature already verified)."""
    frames, at = [], 0
    while at < len(data):
        if at + 4 > len(data):
            raise CheckpointRefused("checkpoint part length runs past the end")
        (length,) = struct.unpack(">I", data[at : at + 4])
        if at + 4 + length > len(data):
            raise CheckpointRefused("checkpoint part runs past the end")
        frames.append(data[at + 4 : at + 4 + length])
        at += 4 + length
    return frames


def _unpickle(magic: bytes, payload: bytes) -> Any:
    """The state of a verified payload: one pickle (TRC1), or a pickle and the parts of its left-out dict."""
    if magic == MAGIC:
        return _loads(payload)
    frames = _frames(payload)
    if not frames:
        raise CheckpointRefused("checkpoint in parts has no payload")
    filling: dict[Any, Any] = {}
    for frame in frames[1:]:
        filling.update(_loads(frame))  # parts in the order of the dict's entries
    return _FillingIn(io.BytesIO(frames[0]), filling).load()


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
        state=_unpickle(blob[:4], payload),  # safe: the signature was verified above
    )
