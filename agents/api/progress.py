"""How far a deployment being created has come, for ``GET /deployments/{deployment_id}/progress``.

``POST /deployments`` with a dataset replay-trains the model before it answers, which takes seconds to
minutes. While it runs, :func:`~tracer.agents.api.deploy.create_deployment` records its phase here
(``queued`` while it waits for a training slot, ``training`` with the rows replayed so far out of the
dataset's, ``publishing`` while it writes the registry and installs the model, then ``live``, or
``failed``), and the SDKs poll this endpoint while their ``POST`` is in flight (the client picks the
deployment's id, so it knows what to poll before the answer). The replay reports from its thread
through a lock; the board keeps the last :data:`MAX_TRACKED` deployments (finished ones are
forgotten first). A deployment the board no longer tracks answers from what the worker knows of
it: ``live`` with its validation rows, or ``stopped``; an id nobody knows is a 404 (a client
polling before its ``POST`` arrived keeps polling). The view is in :mod:`~tracer.agents.api.lifecycle`.

Uploads have no such endpoint: the client streams the body and counts what it has sent (the
worker received the same bytes, less what sits in the sockets' buffers), so it reports upload
progress itself (``upload_data(on_progress=...)``, ``uploadData({onProgress})``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tracer.agents.api.models import DeploymentProgress, ProgressPhase

__all__ = ["FINISHED", "MAX_TRACKED", "ProgressBoard"]

MAX_TRACKED = 256
"""Deployments whose progress the board keeps; past it, the oldest finished ones are forgotten."""
FINISHED: frozenset[ProgressPhase] = frozenset({"live", "failed", "stopped"})


class ProgressBoard:
    """Progress of the deployments being created, by id: written from training threads, read by views."""

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self.max_tracked = max_tracked
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, DeploymentProgress] = OrderedDict()

    def start(self, deployment: str, total: int | None, phase: ProgressPhase = "queued") -> None:
        """Track a deployment from nothing done (``total``: rows to replay, if it trains on a dataset)."""
        with self._lock:
            self._entries.pop(deployment, None)
            self._entries[deployment] = DeploymentProgress(
                deployment=deployment, phase=phase, done=0, total=total
            )
            self._evict()

    def advance(self, deployment: str, done: int, total: int | None = None) -> None:
        """Rows replayed so far (never goes back), while queued or training; the phase becomes
        ``training``. Thread-safe."""
        with self._lock:
            entry = self._entries.get(deployment)
            if entry is None or entry.phase not in ("queued", "training"):
                return
            update: dict[str, Any] = {"phase": "training", "done": max(entry.done, done)}
            if total is not None:
                update["total"] = total
            self._entries[deployment] = entry.model_copy(update=update)

    def phase(self, deployment: str, phase: ProgressPhase) -> None:
        """Move a tracked deployment to ``phase`` (``live``: everything counted is done)."""
        with self._lock:
            entry = self._entries.get(deployment)
            if entry is None:
                return
            update: dict[str, Any] = {"phase": phase}
            if phase == "live" and entry.total is not None:
                update["done"] = entry.total
            self._entries[deployment] = entry.model_copy(update=update)

    def reporter(self, deployment: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for a replay (as ``online_models`` replays call it)."""

        def report(done: int, total: int) -> None:
            self.advance(deployment, done, total)

        return report

    def get(self, deployment: str) -> DeploymentProgress | None:
        """The deployment's progress, if tracked."""
        with self._lock:
            return self._entries.get(deployment)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _evict(self) -> None:
        while len(self._entries) > self.max_tracked:
            finished = next((key for key, e in self._entries.items() if e.phase in FINISHED), None)
            self._entries.pop(finished if finished is not None else next(iter(self._entries)))
