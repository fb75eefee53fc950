"""Collapse a log line repeated many times into one line a minute, with its count.

While the broker is down, aiokafka's connection loops and Tracer's own retry loops each log the
same error over and over: measured on a local broker, the worker and its router process together
wrote about 10,000 lines a second. :class:`RepeatFilter` lets the first record of each kind through,
drops the repeats for a window (60 s), and lets the first one after the window through with how
many were dropped: "... [repeated 6,812 times in the last 60 s]". A kind is the logger, the level
and the message template (``record.msg`` before its ``%`` arguments are filled in; for a message
that was formatted before logging, its text with every number replaced by ``#``), so "cannot reach
node 1" and "cannot reach node 2" are one kind when they share a template.

The filter goes on the root logger's handlers (:func:`install`): a filter on a logger sees only the
records logged on that very logger, not those its children propagate. Repeats dropped after the last
record of a kind are counted but reported only when that kind is logged again; once the outage
ends, they stay untold.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["REPEAT_WINDOW_S", "RepeatFilter", "install"]

REPEAT_WINDOW_S = 60.0
"""How long repeats of one kind of record are dropped after one is let through."""

_NUMBER = re.compile(r"\d+")
_DECIDED = "_tracer_repeat_filter_passes"
"""The attribute that keeps the filter's answer on a record, for the root's other handlers."""


@dataclass
class _Kind:
    """One kind of record: when one was last let through, and how many were dropped since."""

    passed_at: float
    dropped: int = 0


class RepeatFilter(logging.Filter):
    """Lets through at most one record of each kind per window, the next one with the count dropped.

    ``clock`` gives seconds (monotonic by default; tests pass a fake one). Records of level
    CRITICAL always pass: they are rare and each one matters.
    """

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        decided: bool | None = getattr(record, _DECIDED, None)
        if decided is not None:  # the same record at the root's next handler: the same answer
            return decided
        passes = self._decide(record)
        setattr(record, _DECIDED, passes)
        return passes

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        key = (record.name, record.levelno, _template(record))
        now = self._clock()
        kind = self._kinds.get(key)
        if kind is None:
            self._kinds[key] = _Kind(passed_at=now)
            return True
        if now - kind.passed_at < self.window_s:
            kind.dropped += 1
            return False
        if kind.dropped:
            elapsed_s = now - kind.passed_at
            record.msg = (
                f"{record.getMessage()} [repeated {kind.dropped:,} times in the last {elapsed_s:.0f} s]"
            )
            record.args = ()  # formatted already (mode's formatter turns None into (None,))
        self._kinds[key] = _Kind(passed_at=now)
        return True


def _template(record: logging.LogRecord) -> str:
    """The record's message before formatting; for a message formatted by its caller, its digits masked."""
    if record.args:
        return str(record.msg)
    return _NUMBER.sub("#", str(record.msg))


def install(window_s: float = REPEAT_WINDOW_S) -> RepeatFilter:
    """Put one :class:`RepeatFilter` on every handler of the root logger (once; call it after logging
    is set up) and return it."""
    root = logging.getLogger()
    for handler in root.handlers:
        for existing in handler.filters:
            if isinstance(existing, RepeatFilter):
                return existing
    repeat_filter = RepeatFilter(window_s)
    for handler in root.handlers:
        handler.addFilter(repeat_filter)
    return repeat_filter
