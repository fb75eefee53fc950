"""Uploaded datasets: parse the bytes, profile the columns, keep a bounded number in memory.

``POST /datasets`` takes CSV, TSV, JSON lines or Parquet, either as the raw body (its
``Content-Type`` says which) or as the ``file`` field of a ``multipart/form-data`` form (the part's
content type or file name says which). A body whose type says nothing more precise than
``application/octet-stream`` is read as Parquet if it starts with Parquet's magic bytes, else as CSV.
Values are read as written; :func:`~tracer.blueprints.profiling.profile_dataset` decides the kinds.

An upload is streamed to a temporary file as it arrives (:func:`receive_upload`), within the route's
limit, and parsed from there in a thread: the worker never holds the raw bytes of a large file.
Upload progress is the client's to report (it streams the body and counts what it sent; the worker
received the same, less what sits in socket buffers), so there is no server-side upload progress
endpoint: it would need an upload id known before the ``POST`` and tell the client nothing new.

The store keeps at most ``max_datasets`` datasets and ``max_bytes`` uploaded bytes, evicting the
least recently used; a request for an evicted dataset gets 404 saying so.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from tracer.agents.api.errors import ApiError
from tracer.agents.api.protection import body_limit_of, too_large
from tracer.blueprints.profiling import DatasetProfile

__all__ = ["FORMATS", "DatasetStore", "StoredDataset", "Upload", "parse_dataset", "receive_upload"]

FORMATS: dict[str, str] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/octet-stream": "sniff",
}
"""Accepted content types, and the format each means."""
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_PARQUET_MAGIC = b"PAR1"
MAX_COLUMNS = 2_000
_REMEMBERED_EVICTIONS = 1_024
_READ_CHUNK = 65_536


@dataclass(frozen=True)
class StoredDataset:
    """One uploaded dataset, parsed and profiled."""

    id: str
    name: str
    format: str
    size_bytes: int
    frame: pd.DataFrame
    profile: DatasetProfile
    uploaded_at: int = field(default_factory=lambda: int(time.time() * 1000))
    """Epoch milliseconds."""


def _format_of(content_type: str, filename: str | None) -> str:
    if filename:
        for suffix, kind in _SUFFIXES.items():
            if filename.lower().endswith(suffix):
                return kind
    known = FORMATS.get(content_type.lower())
    if known is None:
        accepted = ", ".join(sorted({*FORMATS, "multipart/form-data"}))
        raise ApiError(
            415,
            "unsupported_media_type",
            f"can't read a {content_type or 'typeless'} body; send one of {accepted}",
        )
    return known


def _blank(source: bytes | Path) -> bool:
    """Whether the upload holds nothing but whitespace (a file is read until its first other byte)."""
    if isinstance(source, bytes):
        return not source.strip()
    with source.open("rb") as file:
        while chunk := file.read(_READ_CHUNK):
            if chunk.strip():
                return False
    return True


def _head(source: bytes | Path, size: int) -> bytes:
    if isinstance(source, bytes):
        return source[:size]
    with source.open("rb") as file:
        return file.read(size)


def parse_dataset(
    source: bytes | Path, content_type: str, filename: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Parse an upload (its bytes, or the file it was streamed to) into a frame; returns it with the
    format read. ApiError 415/422 if it can't be."""
    kind = _format_of(content_type, filename)
    if kind == "sniff":
        kind = "parquet" if _head(source, len(_PARQUET_MAGIC)) == _PARQUET_MAGIC else "csv"
    if _blank(source):
        raise ApiError(
            422, "empty_dataset", "the upload is empty; send a file with a header row and data rows"
        )
    readable = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        if kind == "parquet":
            frame = pd.read_parquet(readable)
        elif kind == "jsonl":
            frame = pd.read_json(readable, lines=True, dtype=False)
        else:
            frame = pd.read_csv(readable, sep="\t" if kind == "tsv" else ",", low_memory=False)
    except Exception as error:  # pandas and pyarrow raise many types for malformed files
        raise ApiError(
            422, "unreadable_dataset", f"could not read the upload as {kind}: {type(error).__name__}: {error}"
        ) from None
    if frame.empty or len(frame.columns) == 0:
        raise ApiError(
            422, "empty_dataset", f"the {kind} upload has no data rows; send a header row and data"
        )
    if len(frame.columns) > MAX_COLUMNS:
        raise ApiError(
            422, "too_many_columns", f"{len(frame.columns)} columns; at most {MAX_COLUMNS} are read"
        )
    if frame.columns.duplicated().any():
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ApiError(
            422, "duplicate_columns", f"columns appear twice: {', '.join(duplicated)}; rename them"
        )
    frame.columns = [str(column) for column in frame.columns]
    return frame, kind


@dataclass(frozen=True)
class Upload:
    """An upload streamed to a temporary file: where, how many bytes, its content type and file name."""

    path: Path
    size: int
    content_type: str
    filename: str | None


async def _copy(read: Callable[[int], Awaitable[bytes]], file: Any, limit: int) -> int:
    size = 0
    while chunk := await read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        file.write(chunk)  # a page-cache write of 64 kB: microseconds, not worth a thread
    return size


async def _stream_to(request: web.Request, file: Any) -> tuple[int, str, str | None]:
    limit = body_limit_of(request)
    if request.content_type != "multipart/form-data":
        return await _copy(request.content.read, file, limit), request.content_type, None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "file":
                continue
            size = await _copy(part.read_chunk, file, limit)
            content_type = part.headers.get("Content-Type", "application/octet-stream").split(";")[0]
            return size, content_type.strip(), part.filename
    except (ValueError, AssertionError, HttpProcessingError) as error:
        raise ApiError(400, "bad_multipart", f"the multipart form could not be read: {error}") from None
    raise ApiError(422, "missing_file", "the multipart form has no 'file' field; send the dataset as 'file'")


@contextlib.asynccontextmanager
async def receive_upload(request: web.Request, folder: Path | None = None) -> AsyncIterator[Upload]:
    """Stream the upload (the raw body, or a form's ``file`` field) to a temporary file in ``folder``
    (the system's by default), within the route's limit; the file is removed on leaving the block."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(prefix="upload-", suffix=".part", dir=folder, delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            size, content_type, filename = await _stream_to(request, handle)
        yield Upload(path, size, content_type, filename)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


class DatasetStore:
    """Uploaded datasets by id, least recently used evicted first past the bounds."""

    def __init__(self, *, max_datasets: int = 16, max_bytes: int = 512 * 1_048_576) -> None:
        self.max_datasets = max_datasets
        self.max_bytes = max_bytes
        self._datasets: OrderedDict[str, StoredDataset] = OrderedDict()
        self._evicted: OrderedDict[str, None] = OrderedDict()

    def add(
        self, frame: pd.DataFrame, profile: DatasetProfile, *, file_format: str, size_bytes: int
    ) -> StoredDataset:
        """Keep a parsed and profiled dataset under a new id; evicts old datasets past the bounds."""
        dataset_id = "ds_" + secrets.token_hex(6)
        stored = StoredDataset(dataset_id, profile.name, file_format, size_bytes, frame, profile)
        self._datasets[dataset_id] = stored
        while len(self._datasets) > 1 and (
            len(self._datasets) > self.max_datasets or self.total_bytes > self.max_bytes
        ):
            evicted, _ = self._datasets.popitem(last=False)
            self._evicted[evicted] = None
            if len(self._evicted) > _REMEMBERED_EVICTIONS:
                self._evicted.popitem(last=False)
        return stored

    @property
    def total_bytes(self) -> int:
        """Uploaded bytes of the datasets kept."""
        return sum(dataset.size_bytes for dataset in self._datasets.values())

    def get(self, dataset_id: str) -> StoredDataset:
        """The dataset; ApiError 404 if there is none (saying whether it was evicted)."""
        stored = self._datasets.get(dataset_id)
        if stored is None:
            why = (
                f"dataset {dataset_id!r} was evicted to make room for newer uploads (this worker keeps "
                f"{self.max_datasets}); upload it again"
                if dataset_id in self._evicted
                else f"no dataset {dataset_id!r}; upload one with POST /datasets"
            )
            raise ApiError(404, "dataset_not_found", why)
        self._datasets.move_to_end(dataset_id)
        return stored

    def all(self) -> list[StoredDataset]:
        """The datasets kept, least recently used first."""
        return list(self._datasets.values())

    def delete(self, dataset_id: str) -> None:
        """Forget a dataset; ApiError 404 if there is none."""
        self.get(dataset_id)
        del self._datasets[dataset_id]

    def __contains__(self, dataset_id: object) -> bool:
        return dataset_id in self._datasets

    def __len__(self) -> int:
        return len(self._datasets)
