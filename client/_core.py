"""What the sync and async clients share: the requests each verb makes, answers to errors, retries, uploads.

A verb is a :class:`Call` (method, path, JSON body or query, how to parse the answer); the two
clients differ only in how they send it. Retries: 429 and 503 only (the API refuses those before
doing anything, or says the broker or owner is away), waiting ``Retry-After`` when the API gives it
(capped), otherwise an exponential backoff with jitter.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import random
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from tracer.client.errors import TracerError, error_for_status
from tracer.client.models import (
    BlueprintSummary,
    Composite,
    Dataset,
    DatasetSummary,
    Deployment,
    DeploymentProgress,
    DeploymentSummary,
    ModelVersion,
    Prediction,
    Suggestion,
)

__all__ = ["DEFAULT_URL", "RETRY_STATUSES", "Call", "ProgressRelay", "Upload", "raise_for", "retry_delay"]

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:6066"
"""A worker's default web port on this machine."""
RETRY_STATUSES = frozenset({429, 503})
UPLOAD_CHUNK = 1_048_576
FileLike = str | os.PathLike[str] | bytes | IO[bytes]
Progress = Callable[[int, int | None], None]
"""``on_progress(sent_bytes, total_bytes or None)``, called after each chunk of an upload."""
DeployProgress = Callable[[int, int | None], None]
"""``on_progress(rows_done, rows_total or None)``, called as a deployment's training replay goes on."""
PROGRESS_INTERVAL_S = 0.25
"""How often ``deploy(on_progress=...)`` asks ``GET /deployments/{id}/progress`` while it trains."""
_TYPES = {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".jsonl": "application/x-ndjson",
          ".ndjson": "application/x-ndjson", ".parquet": "application/vnd.apache.parquet"}  # fmt: skip


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, str] | None = None


def segment(value: Any) -> str:
    """An id for a URL path: a model, dataset or deployment object's ``id``, or the string, quoted."""
    return quote(str(getattr(value, "id", value)), safe="")


def _none(_: Any) -> None:
    return None


def raise_for(response: httpx.Response) -> None:
    """Raise the API's error for an error answer (its ``{error, detail}``, status and hints)."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        code, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        code, detail = f"http_{response.status_code}", response.text[:500] or response.reason_phrase
    raise error_for_status(
        response.status_code,
        code,
        detail,
        request_id=response.headers.get("X-Request-Id"),
        retry_after=_retry_after(response),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def retry_delay(attempt: int, error: TracerError, backoff_s: float, max_backoff_s: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the API's Retry-After, else a jittered backoff."""
    if error.retry_after is not None:
        return min(error.retry_after, max_backoff_s)
    return float(min(max_backoff_s, backoff_s * 2.0**attempt) * (0.5 + random.random() / 2))


# -- uploads ---------------------------------------------------------------------------------------


class Upload:
    """A file to upload: a path (streamed from disk), bytes, or a binary file object.

    A path or bytes can be sent again on a retry; a file object only if it can seek.
    """

    def __init__(self, file: FileLike, *, name: str | None = None, content_type: str | None = None) -> None:
        self.file = file
        self.path: Path | None = None
        self._start: int | None = None
        if isinstance(file, bytes):
            self.size: int | None = len(file)
            default_name = None
        elif isinstance(file, str | os.PathLike):
            self.path = Path(file)
            self.size = self.path.stat().st_size
            default_name = self.path.name
        else:
            default_name = os.path.basename(str(getattr(file, "name", ""))) or None
            self.size = _remaining(file)
            self._start = file.tell() if file.seekable() else None
        self.name = name or default_name
        self.content_type = content_type or _content_type(self.name)

    @property
    def retryable(self) -> bool:
        """Whether the same bytes can be sent again (a path, bytes, or a file object that can seek)."""
        return self.path is not None or isinstance(self.file, bytes) or self._start is not None

    def request(self) -> tuple[dict[str, str], dict[str, str]]:
        """The query (the name) and the headers of the upload request."""
        headers = {"Content-Type": self.content_type}
        if self.size is not None:
            headers["Content-Length"] = str(self.size)  # streamed, yet not chunked
        return ({"name": self.name} if self.name else {}), headers

    def _rewind(self) -> None:
        if self._start is not None and not isinstance(self.file, bytes | str | os.PathLike):
            self.file.seek(self._start)

    def chunks(self, on_progress: Progress | None) -> Iterator[bytes]:
        """The bytes, a chunk at a time, reporting progress."""
        self._rewind()
        sent = 0
        if isinstance(self.file, bytes):
            for start in range(0, len(self.file), UPLOAD_CHUNK):
                chunk = self.file[start : start + UPLOAD_CHUNK]
                sent += len(chunk)
                yield chunk
                if on_progress is not None:
                    on_progress(sent, self.size)
            return
        with _Opened(self) as file:
            while chunk := file.read(UPLOAD_CHUNK):
                sent += len(chunk)
                yield chunk
                if on_progress is not None:
                    on_progress(sent, self.size)

    async def achunks(self, on_progress: Progress | None) -> AsyncIterator[bytes]:
        """The same, reading the file in a thread so the event loop keeps running."""
        if isinstance(self.file, bytes):
            for chunk in self.chunks(on_progress):
                yield chunk
            return
        self._rewind()
        sent = 0
        with _Opened(self) as file:
            while chunk := await asyncio.to_thread(file.read, UPLOAD_CHUNK):
                sent += len(chunk)
                yield chunk
                if on_progress is not None:
                    on_progress(sent, self.size)


class _Opened:
    """The upload's file: opened from its path (and closed), or the caller's object (left open)."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.owned: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self.upload.path is not None:
            self.owned = self.upload.path.open("rb")
            return self.owned
        return self.upload.file  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None:
            self.owned.close()


def _remaining(file: IO[bytes]) -> int | None:
    try:
        if not file.seekable():
            return None
        here = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


def _content_type(name: str | None) -> str:
    if name:
        suffix = Path(name).suffix.lower()
        if suffix in _TYPES:
            return _TYPES[suffix]
        guessed, _ = mimetypes.guess_type(name)
        if guessed:
            return guessed
    return "application/octet-stream"


def uploads(file: FileLike | list[FileLike] | tuple[FileLike, ...]) -> tuple[list[FileLike], bool]:
    """The files of ``upload_data``'s argument, and whether it was one (not a list)."""
    if isinstance(file, list | tuple):
        return list(file), False
    return [file], True


# -- deploy progress -------------------------------------------------------------------------------


def new_deployment_id(blueprint: Any) -> str:
    """An id like the API's default (``<blueprint>-<random>``), chosen by the client so that it can poll
    the deployment's progress before the ``POST`` answers."""
    name = re.sub(r"[^a-z0-9.-]+", "-", str(getattr(blueprint, "id", blueprint)).lower()).strip("-.")
    return f"{name[:50] or 'deployment'}-{secrets.token_hex(3)}"


def read_progress(response: httpx.Response) -> DeploymentProgress | None:
    """A progress answer, or None for any other (a 404 before the ``POST`` arrived, a 429...)."""
    if response.status_code != 200:
        return None
    try:
        return DeploymentProgress.from_json(response.json())
    except (ValueError, KeyError, TypeError):
        return None


class ProgressRelay:
    """Turns the polled progress of a deploy into ``on_progress(done, total)`` calls: each new value
    once, ``done`` never going back, and a last call with ``(rows, rows)`` once the deployment is live."""

    def __init__(self, on_progress: DeployProgress) -> None:
        self.on_progress = on_progress
        self.last: tuple[int, int | None] | None = None

    def seen(self, progress: DeploymentProgress | None) -> None:
        """One poll's answer (None: nothing to report)."""
        if progress is None or progress.phase in ("failed", "stopped"):
            return
        self._report(progress.done, progress.total)

    def finish(self, deployment: Deployment) -> None:
        """The ``POST`` answered: report its validation's rows as all done."""
        rows = (deployment.validation or {}).get("rows")
        if isinstance(rows, int):
            self._report(rows, rows)

    def _report(self, done: int, total: int | None) -> None:
        if self.last is not None:
            done = max(done, self.last[0])
            if (done, total) == self.last:
                return
        self.last = (done, total)
        self.on_progress(done, total)


# -- the verbs -------------------------------------------------------------------------------------


def _blueprints(data: Any) -> list[BlueprintSummary]:
    return [BlueprintSummary.from_json(item) for item in data["blueprints"]]


def _suggestions(data: Any) -> list[Suggestion]:
    return [Suggestion.from_json(item) for item in data["suggestions"]]


def _versions(data: Any) -> list[ModelVersion]:
    return [ModelVersion.from_json(item) for item in data["versions"]]


def _query(**values: str | None) -> dict[str, str] | None:
    given = {name: value for name, value in values.items() if value is not None}
    return given or None


def list_blueprints(category: str | None, search: str | None) -> Call[list[BlueprintSummary]]:
    return Call("GET", "/blueprints", _blueprints, params=_query(category=category, search=search))


def get_blueprint(blueprint_id: Any) -> Call[dict[str, Any]]:
    return Call("GET", f"/blueprints/{segment(blueprint_id)}", dict)


def analyze(dataset: Any) -> Call[list[Suggestion]]:
    return Call("POST", f"/datasets/{segment(dataset)}/analyze", _suggestions)


def list_datasets() -> Call[list[DatasetSummary]]:
    return Call(
        "GET", "/datasets", lambda data: [DatasetSummary.from_json(item) for item in data["datasets"]]
    )


def get_dataset(dataset: Any) -> Call[Dataset]:
    return Call("GET", f"/datasets/{segment(dataset)}", Dataset.from_json)


def delete_dataset(dataset: Any) -> Call[None]:
    return Call("DELETE", f"/datasets/{segment(dataset)}", _none)


def deploy(
    blueprint: Any,
    dataset: Any,
    parameters: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> Call[Deployment]:
    body: dict[str, Any] = {"blueprint": str(getattr(blueprint, "id", blueprint))}
    if dataset is not None:
        body["dataset"] = str(getattr(dataset, "id", dataset))
    if parameters:
        body["params"] = dict(parameters)
    body.update({name: value for name, value in options.items() if value is not None})
    return Call("POST", "/deployments", Deployment.from_json, json=body)


def deployment_progress(model: Any) -> Call[DeploymentProgress]:
    return Call("GET", f"/deployments/{segment(model)}/progress", DeploymentProgress.from_json)


def list_deployments() -> Call[list[DeploymentSummary]]:
    return Call(
        "GET",
        "/deployments",
        lambda data: [DeploymentSummary.from_json(item) for item in data["deployments"]],
    )


def get_deployment(model: Any) -> Call[Deployment]:
    return Call("GET", f"/deployments/{segment(model)}", Deployment.from_json)


def stop_deployment(model: Any) -> Call[Deployment]:
    return Call("DELETE", f"/deployments/{segment(model)}", Deployment.from_json)


def predict(model: Any, row: Mapping[str, Any]) -> Call[Prediction]:
    return Call("POST", f"/deployments/{segment(model)}/predict", Prediction.from_json, json=row)


def versions(model: Any) -> Call[list[ModelVersion]]:
    return Call("GET", f"/deployments/{segment(model)}/versions", _versions)


def rollback(model: Any, to_version: int | None) -> Call[ModelVersion]:
    body = {"to_version": to_version} if to_version is not None else {}
    return Call("POST", f"/deployments/{segment(model)}/rollback", ModelVersion.from_json, json=body)


def promote(model: Any, shadow: str) -> Call[ModelVersion]:
    return Call(
        "POST", f"/deployments/{segment(model)}/promote", ModelVersion.from_json, json={"shadow": shadow}
    )


def create_composite(
    designation: str,
    components: Sequence[Any],
    objective: str,
    entity: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Call[Composite]:
    body: dict[str, Any] = {
        "designation": designation,
        "components": [str(getattr(component, "id", component)) for component in components],
        "objective": objective,
    }
    if entity is not None:
        body["entity"] = entity
    if overrides:
        body["overrides"] = dict(overrides)
    return Call("POST", "/composites", Composite.from_json, json=body)


def get_composite(composite_id: str) -> Call[Composite]:
    return Call("GET", f"/composites/{segment(composite_id)}", Composite.from_json)


def list_composites() -> Call[list[Composite]]:
    return Call("GET", "/composites", lambda data: [Composite.from_json(c) for c in data["composites"]])


def analyze_composite(composite: Any, row: Mapping[str, Any]) -> Call[dict[str, Any]]:
    return Call("POST", f"/composites/{segment(composite)}/analyze", dict, json=row)
