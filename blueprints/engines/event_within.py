"""Predictions settled by an entity's next event within a horizon, or by the stream's clock.

For self-labelled questions of the form "will this entity do X within the horizon": a prediction
about entity E at time t settles 1.0 at E's first event of the awaited kind at or before
``t + horizon``, and 0.0 once any record of the stream is later than ``t + horizon`` without one.

>>> book = EventWithin()
>>> book.expire(0.0, 10.0), book.add("a", "a@0", 0.0), book.add("b", "b@1", 1.0)
([], None, None)
>>> book.settle("a", 5.0), book.expire(12.0, 10.0), book.open_count()
([('a@0', 1.0)], [('b@1', 0.0)], 0)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["EventWithin"]


@dataclass
class EventWithin:
    """Open predictions by entity and in time order (the records must come in time order)."""

    max_open: int = 200_000
    """Open predictions kept in all; the oldest are dropped (and counted in ``dropped``) beyond that."""
    open: dict[str, dict[str, float]] = field(default_factory=dict)  # entity -> key -> time
    queue: deque[tuple[float, str, str]] = field(default_factory=deque)  # (time, entity, key)
    dropped: int = 0

    def expire(self, now: float, horizon: float) -> list[tuple[str, float]]:
        """0.0 for every open prediction made before ``now - horizon``."""
        labels: list[tuple[str, float]] = []
        queue = self.queue
        while queue and queue[0][0] + horizon < now:
            _, entity, key = queue.popleft()
            if self._close(entity, key):
                labels.append((key, 0.0))
        return labels

    def settle(self, entity: str, now: float) -> list[tuple[str, float]]:
        """1.0 for every open prediction of ``entity`` made at or before ``now`` (call ``expire`` first)."""
        keys = self.open.pop(entity, None)
        return [] if keys is None else [(key, 1.0) for key, then in keys.items() if then <= now]

    def add(self, entity: str, key: str, now: float) -> None:
        """Open a prediction; drop the oldest beyond ``max_open``."""
        self.open.setdefault(entity, {})[key] = now
        self.queue.append((now, entity, key))
        while len(self.queue) > self.max_open:
            _, old_entity, old_key = self.queue.popleft()
            self.dropped += self._close(old_entity, old_key)

    def open_count(self) -> int:
        return sum(len(keys) for keys in self.open.values())

    def _close(self, entity: str, key: str) -> bool:
        keys = self.open.get(entity)
        if keys is None or keys.pop(key, None) is None:
            return False
        if not keys:
            del self.open[entity]
        return True
