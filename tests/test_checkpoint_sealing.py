"""The scorer seals a large feature state in parts between its slices, and finishes on a drain."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.test_api_unit import CHURN
from tracer.agents.metrics import TracerMetrics
from tracer.agents.recovery import Owned
from tracer.agents.routing import routed_partition
from tracer.agents.scoring import ScoringService
from tracer.agents.settings import Settings
from tracer.online_models import checkpoint
from tracer.online_models.live import LiveDeployment

SECRET = "s" * 32


class _Publisher:
    """Records what the scorer hands over for sending after the outputs before it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.drained = 0

    async def send_after(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value, key))

    async def drain(self) -> None:
        self.drained += 1


def _service(tmp_path: Path, customers: int) -> tuple[ScoringService, _Publisher, Owned]:
    settings = Settings(app_id="unit-seal", data_dir=tmp_path, broker="127.0.0.1:9")
    service = ScoringService(settings, [CHURN], secret=SECRET, metrics=TracerMetrics())
    publisher = _Publisher()
    service.publisher = publisher  # type: ignore[assignment]
    owned = Owned(LiveDeployment(CHURN), next_offset=1234, events_since_checkpoint=10_000)
    state: dict[str, Any] = owned.live.live.state
    state.update({f"C{i:06d}": (float(i), 3.0, 1.5, None) for i in range(customers)})
    service.owned[CHURN.id] = owned
    return service, publisher, owned


def test_a_large_state_is_sealed_a_part_per_slice_as_it_stood(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "PART_ENTRIES", 10_000)
    service, publisher, owned = _service(tmp_path, 25_000)
    state: dict[str, Any] = owned.live.live.state
    as_it_stood = dict(state)

    async def scenario() -> list[int]:
        await service.checkpoint(CHURN.id)
        sent = [len(publisher.sent)]
        state["C999999"] = (0.0, None, None, None)  # the next slices change the state
        for _ in range(3):
            await service._seal_some()
            sent.append(len(publisher.sent))
        return sent

    assert asyncio.run(scenario()) == [0, 0, 0, 1], "sent with its last part, not before"
    assert owned.events_since_checkpoint == 0
    topic, blob, key = publisher.sent[0]
    assert (topic, key) == (service.checkpoint_topic, b"churn")
    opened = checkpoint.open_checkpoint(blob, secret=SECRET)
    partition = routed_partition(CHURN.id, service.settings.partitions)
    assert opened.offsets == {f"{service.routed_topic}:{partition}": 1234}
    assert opened.state.live.live.state == as_it_stood
    assert not service.sealing


def test_a_drain_finishes_the_sealing_first_and_checkpoints_stay_in_order(tmp_path: Path) -> None:
    service, publisher, owned = _service(tmp_path, 25_000)

    async def scenario() -> None:
        await service.checkpoint(CHURN.id)
        owned.next_offset = 2000
        await service.checkpoint(CHURN.id)  # the first is finished and sent before the second begins
        assert len(publisher.sent) == 1
        await service.drain()

    asyncio.run(scenario())
    assert publisher.drained == 1 and not service.sealing
    offsets = [
        list(checkpoint.open_checkpoint(blob, secret=SECRET).offsets.values())
        for _, blob, _ in publisher.sent
    ]
    assert offsets == [[1234], [2000]]
