"""A stop of the scoring service is bounded: a loop that does not finish is named, with stacks."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.test_api_unit import CHURN
from tracer.agents import scoring
from tracer.agents.metrics import TracerMetrics
from tracer.agents.scoring import ScoringService
from tracer.agents.settings import Settings


def _service(tmp_path: Path) -> ScoringService:
    settings = Settings(app_id="unit-stop", data_dir=tmp_path, broker="127.0.0.1:9")
    return ScoringService(settings, [CHURN], secret="s" * 32, metrics=TracerMetrics())


def test_a_stuck_loop_is_named_and_the_stop_goes_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(scoring, "LOOPS_STOP_S", 0.05)
    service = _service(tmp_path)

    async def stop_with_the_scorer_stuck() -> None:
        service._router_done.set()  # the router finished its batch; the scorer never does
        await service.on_stop()

    with caplog.at_level(logging.ERROR, logger=scoring.__name__):
        asyncio.run(stop_with_the_scorer_stuck())
    assert "the scorer loop did not stop within 0 s" in caplog.text
    assert "router" not in caplog.text
    assert "TASKS" in capsys.readouterr().err, "every task's stack is written out"


def test_a_clean_stop_waits_for_both_loops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = _service(tmp_path)

    async def stop_while_the_loops_finish() -> bool:
        stopping = asyncio.ensure_future(service.on_stop())
        service._router_done.set()
        await asyncio.sleep(0.01)
        waited_for_scorer = not stopping.done()
        service._scorer_done.set()
        await stopping
        return waited_for_scorer

    with caplog.at_level(logging.ERROR, logger=scoring.__name__):
        assert asyncio.run(stop_while_the_loops_finish()), "the stop waits for the scorer's batch"
    assert not caplog.records


def test_a_batch_polled_across_a_rebalance_keeps_only_what_was_fetched_from_the_seek(tmp_path: Path) -> None:
    """Recovery step 2: the consumer fetched from the committed offset (ahead of the last checkpoint
    to reach the broker) while the assignment read the checkpoints; scoring that would skip the gap.
    The dropped partition is sought again, so nothing is lost even when its first batch was not
    stale at all (retention had deleted the sought offset, and the log now starts after it)."""
    from aiokafka import TopicPartition

    class _Message:
        def __init__(self, offset: int) -> None:
            self.offset = offset

    class _Consumer:
        def __init__(self, assigned: set[TopicPartition]) -> None:
            self.assigned = assigned
            self.seeks: list[tuple[TopicPartition, int]] = []

        def assignment(self) -> set[TopicPartition]:
            return self.assigned

        def seek(self, tp: TopicPartition, offset: int) -> None:
            assert tp in self.assigned, "aiokafka refuses to seek a partition that is not assigned"
            self.seeks.append((tp, offset))

    service = _service(tmp_path)
    stale, fresh, unsought = (TopicPartition("routed", p) for p in range(3))
    service.sought = {stale: 8102, fresh: 5250}
    batch = {stale: [_Message(o) for o in range(10954, 10960)], fresh: [_Message(o) for o in range(5250, 5256)],
             unsought: [_Message(7)]}  # fmt: skip
    consumer = _Consumer({stale, fresh, unsought})
    kept = service._fetched_since_seek(batch, consumer)  # type: ignore[arg-type]
    assert kept == {fresh: batch[fresh], unsought: batch[unsought]}
    assert consumer.seeks == [(stale, 8102)], "the dropped partition is read again from the sought offset"

    revoked_since = _Consumer({fresh, unsought})  # a revoke ran between the poll and the batch lock
    assert service._fetched_since_seek(batch, revoked_since) == kept  # type: ignore[arg-type]
    assert revoked_since.seeks == [], "a partition no longer assigned is not sought"


def test_a_failed_commit_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """Step 4 runs beside the loop; a commit refused because a rebalance came first must not end it."""
    from aiokafka.errors import CommitFailedError

    class _Consumer:
        async def commit(self, offsets: object) -> None:
            raise CommitFailedError("the group has already rebalanced")

    with caplog.at_level(logging.WARNING, logger=scoring.__name__):
        asyncio.run(ScoringService._commit(_Consumer(), {}))  # type: ignore[arg-type]
    assert "committing the routed offsets failed" in caplog.text
