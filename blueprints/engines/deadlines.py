"""Predictions that settle when the stream's time passes their deadline, soonest first.

For recipes that label themselves from what did, or did not, happen within a window after a
prediction (``customer_lifetime_value``: the spend in the horizon; ``player_churn``: no session in
the window). The clock is the latest event time seen, so a late record never turns it back.

>>> deadlines = Deadlines()
>>> deadlines.add(10.0, "A", "A@0"); deadlines.add(5.0, "B", "B@0")
>>> deadlines.passed(7.0), deadlines.passed(3.0), deadlines.passed(11.0), len(deadlines)
([('B', 'B@0')], [], [('A', 'A@0')], 0)
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

__all__ = ["Deadlines"]


@dataclass
class Deadlines:
    """A heap of ``(deadline, entity, prediction key)`` and the stream's clock."""

    due: list[tuple[float, str, str]] = field(default_factory=list)
    now_s: float = float("-inf")

    def add(self, deadline_s: float, entity: str, key: str) -> None:
        heapq.heappush(self.due, (deadline_s, entity, key))

    def passed(self, time_s: float) -> list[tuple[str, str]]:
        """Move the clock to ``time_s`` (never back); ``(entity, key)`` of every deadline now behind it."""
        self.now_s = max(self.now_s, time_s)
        due, out = self.due, []
        while due and due[0][0] < self.now_s:
            _, entity, key = heapq.heappop(due)
            out.append((entity, key))
        return out

    def __len__(self) -> int:
        return len(self.due)
