"""SourceMark: the scorer's filter for copies the router wrote twice (at-least-once routing)."""

from __future__ import annotations

import pickle

from tracer.agents.routing import SourceMark


def test_each_source_offset_is_fresh_once_and_partitions_are_independent() -> None:
    marks = SourceMark()
    assert [marks.fresh("crm:0", offset) for offset in (0, 1, 2)] == [True, True, True]
    assert not marks.fresh("crm:0", 1), "a copy routed again after a router restart"
    assert not marks.fresh("crm:0", 2)
    assert marks.fresh("crm:1", 0), "another partition has its own mark"
    assert marks.fresh("crm:0", 3)
    restored = pickle.loads(pickle.dumps(marks))  # marks travel in checkpoints
    assert not restored.fresh("crm:0", 3) and restored.fresh("crm:0", 4)
