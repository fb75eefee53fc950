"""A refused checkpoint, without Kafka: where the silent rebuild stops, what it publishes (nothing),
what the model ends as (what an uninterrupted run ends as), and how it is reported (issue 24, part 2).
The same story on a real broker is ``tests/integration/test_refused_checkpoint.py``."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.test_api_unit import CHURN
from tracer.agents import checkpointing
from tracer.agents.api.health import degradations
from tracer.agents.metrics import TracerMetrics
from tracer.agents.recovery import Owned, Refusal, published_through, rebuild_split, refusal
from tracer.agents.routing import HEADER_KEY, HEADER_KIND, HEADER_SOURCE, KIND_ROW, KIND_TICK
from tracer.agents.scoring import ScoringService
from tracer.agents.settings import Settings
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models.checkpoint import CheckpointRefused, open_checkpoint, seal_checkpoint
from tracer.online_models.live import LiveDeployment

SECRET, OTHER = "s" * 32, "o" * 32
ROUTED = "tracer.routed:3"


def _sealed(offset: int, secret: str = SECRET) -> bytes:
    return seal_checkpoint({"any": "state"}, deployment="churn", model_version=1,
                           offsets={ROUTED: offset}, created_at=1_700_000_000_000, secret=secret)  # fmt: skip


def _refused(blob: bytes) -> CheckpointRefused:
    with pytest.raises(CheckpointRefused) as refused:
        open_checkpoint(blob, secret=OTHER)
    return refused.value


# -- the pure parts -----------------------------------------------------------------------------


def test_the_split_puts_what_lies_below_the_mark_first_and_leaves_out_empty_parts() -> None:
    items = [(offset, f"e{offset}") for offset in (7, 8, 10, 11)]
    assert rebuild_split(10, items) == [(True, items[:2]), (False, items[2:])]
    assert rebuild_split(12, items) == [(True, items)]
    assert rebuild_split(7, items) == [(False, items)]
    assert rebuild_split(0, items) == [(False, items)]
    assert rebuild_split(5, []) == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"offsets": {ROUTED: 812}}, 812),
        ({"offsets": {"tracer.routed:4": 812}}, 0),  # another partition's mark is not this one's
        ({"offsets": {ROUTED: "812"}}, 0),  # an untrusted header: only a plain int counts
        ({"offsets": {ROUTED: -3}}, 0),
        ({"offsets": [812]}, 0),
        ({}, 0),
    ],
)
def test_the_mark_is_the_routed_offset_the_header_names(header: dict[str, object], expected: int) -> None:
    assert published_through(header, ROUTED) == expected


def test_a_checkpoint_under_another_key_is_refused_for_its_signature_and_keeps_its_mark() -> None:
    blob = _sealed(812)
    why = refusal("churn", blob, _refused(blob), ROUTED)
    assert (why.reason, why.published_through, why.created_at_ms) == ("signature", 812, 1_700_000_000_000)
    assert "HMAC" in why.error


def test_altered_bytes_are_refused_for_their_signature_too() -> None:
    blob = bytearray(_sealed(812))
    blob[-40] ^= 0xFF  # in the payload
    why = refusal("churn", bytes(blob), _refused(bytes(blob)), ROUTED)
    assert (why.reason, why.published_through) == ("signature", 812)


def test_a_checkpoint_without_a_readable_header_has_no_mark() -> None:
    blob = b"TRC1" + b"\xff" * 60
    why = refusal("churn", blob, _refused(blob), ROUTED)
    assert (why.reason, why.published_through, why.created_at_ms) == ("malformed", 0, None)


def test_the_refusal_says_which_checkpoint_why_and_how_far_the_rebuild_is() -> None:
    why = Refusal("churn", "signature", "failed its HMAC signature check", 812, 1_700_000_000_000)
    owned = Owned(LiveDeployment(CHURN), next_offset=500, rebuild_until=812)
    text = why.describe(owned)
    assert "checkpoint of churn" in text and "routed offset 812" in text and "refused (signature" in text
    assert "312 routed records left" in text
    owned.next_offset = 812
    assert "rebuilt; no checkpoint sealed since" in why.describe(owned)


def test_a_checkpoint_sealed_before_the_rebuild_fields_existed_opens_with_nothing_to_rebuild() -> None:
    owned = Owned(LiveDeployment(CHURN), next_offset=40)
    del owned.__dict__["rebuild_until"], owned.__dict__["silent"]  # as an older Owned was pickled
    restored = pickle.loads(pickle.dumps(owned))
    assert (restored.rebuild_until, restored.silent, restored.rebuilding) == (0, False, 0)


# -- the scorer, with a publisher that records what it is handed ---------------------------------


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def append(self, topic: str, value: bytes, **_: Any) -> None:
        self.sent.append((topic, value))

    async def send_after(self, topic: str, value: bytes, **_: Any) -> None:
        self.sent.append((topic, value))

    def predicted(self) -> list[int]:
        return [json.loads(v)["source"]["offset"] for t, v in self.sent if t == "tracer.predictions"]


@dataclass
class _Message:
    key: bytes
    offset: int
    headers: list[tuple[str, bytes]]
    value: bytes
    timestamp: int = 1_700_000_000_000


def _log(rows: int) -> list[_Message]:
    """A routed log of churn rows (source offset = routed offset) with a tick at the end."""
    frame = CustomerChurn().sample(rows, seed=5)
    values = [
        json.dumps(row).encode() for row in json.loads(frame.to_json(orient="records", date_format="iso"))
    ]
    log = [
        _Message(b"churn", i, [(HEADER_KIND, KIND_ROW), (HEADER_SOURCE, f"unit.customers:0:{i}".encode()),
                               (HEADER_KEY, str(i).encode())], value)
        for i, value in enumerate(values)
    ]  # fmt: skip
    return [*log, _Message(b"churn", rows, [(HEADER_KIND, KIND_TICK), (HEADER_SOURCE, b"")], b"")]


def _service(tmp_path: Path, owned: Owned) -> tuple[ScoringService, _Publisher]:
    settings = Settings(app_id="unit-refused", data_dir=tmp_path, broker="127.0.0.1:9")
    service = ScoringService(settings, [CHURN], secret=SECRET, metrics=TracerMetrics())
    publisher = _Publisher()
    service.publisher = publisher  # type: ignore[assignment]
    service.owned["churn"] = owned
    return service, publisher


def _score(service: ScoringService, log: list[_Message], poll: int = 170) -> None:
    from aiokafka import TopicPartition

    async def run() -> None:
        for start in range(0, len(log), poll):
            await service._score_partition(TopicPartition("tracer.routed", 0), log[start : start + poll])

    asyncio.run(run())


def test_a_silent_rebuild_publishes_only_past_the_mark_and_ends_as_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    log = _log(700)
    calm, calm_sent = _service(tmp_path, Owned(LiveDeployment(CHURN)))
    _score(calm, log, poll=300)
    rebuilt, rebuilt_sent = _service(tmp_path, Owned(LiveDeployment(CHURN), rebuild_until=450))
    _score(rebuilt, log)

    assert calm_sent.predicted() == list(range(700))
    assert rebuilt_sent.predicted() == list(range(450, 700)), "nothing below the mark is published again"
    calm_owned, rebuilt_owned = calm.owned["churn"], rebuilt.owned["churn"]
    assert rebuilt_owned.accepted == calm_owned.accepted == 700
    assert rebuilt_owned.next_offset == calm_owned.next_offset == 701
    assert rebuilt_owned.live.live.counters() == calm_owned.live.live.counters()
    probe = CustomerChurn().sample(30, seed=77).to_dict(orient="records")
    predict = [copy.deepcopy(o.live.live).predict_one for o in (calm_owned, rebuilt_owned)]
    assert [predict[0](r).model_dump() for r in probe] == [predict[1](r).model_dump() for r in probe]
    metrics = rebuilt.metrics.render().decode()
    assert 'tracer_silent_rebuild_events_total{deployment="churn"} 450.0' in metrics
    assert 'tracer_silent_rebuild_remaining_messages{deployment="churn"} 0.0' in metrics


def test_a_refused_checkpoint_is_one_warning_a_metric_and_a_degradation_until_one_is_sealed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service, publisher = _service(tmp_path, Owned(LiveDeployment(CHURN)))
    service.owned.clear()
    partition = checkpointing.routed_partition("churn", service.settings.partitions)
    blob = seal_checkpoint({"any": "state"}, deployment="churn", model_version=1,
                           offsets={f"{service.routed_topic}:{partition}": 450}, created_at=1, secret=OTHER)  # fmt: skip

    async def latest(*_: Any, **__: Any) -> dict[str, bytes]:
        return {"churn": blob}

    monkeypatch.setattr(checkpointing, "read_compacted", latest)
    with caplog.at_level(logging.INFO, logger=checkpointing.__name__):
        assert asyncio.run(service.restore(["churn"])) == {"churn": 0}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "REFUSED checkpoint of churn" in warnings[0].getMessage()
    assert not publisher.sent, "the versions the refused checkpoint's owner published are not published again"
    assert service.owned["churn"].rebuild_until == 450
    metrics = service.metrics.render().decode()
    assert 'tracer_checkpoints_refused_total{deployment="churn",reason="signature"} 1.0' in metrics
    (problem,) = degradations(service)
    assert "checkpoint of churn" in problem and "450 routed records left" in problem

    _score(service, _log(700))
    assert publisher.predicted() == list(range(450, 700))
    assert "rebuilt; no checkpoint sealed since" in degradations(service)[0]
    asyncio.run(service.checkpoint("churn"))
    assert degradations(service) == [], "a checkpoint sealed past the rebuild ends the degradation"


def test_a_first_start_is_quiet_and_not_degraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service, _ = _service(tmp_path, Owned(LiveDeployment(CHURN)))
    service.owned.clear()

    async def nothing(*_: Any, **__: Any) -> dict[str, bytes]:
        return {}

    monkeypatch.setattr(checkpointing, "read_compacted", nothing)
    with caplog.at_level(logging.WARNING):
        asyncio.run(service.restore(["churn"]))
    assert not caplog.records and degradations(service) == []
    assert service.owned["churn"].rebuild_until == 0
    assert "tracer_checkpoints_refused_total{" not in service.metrics.render().decode()


def test_a_rebuild_carried_over_a_restart_still_degrades_the_worker(tmp_path: Path) -> None:
    service, _ = _service(tmp_path, Owned(LiveDeployment(CHURN), next_offset=100, rebuild_until=450))
    assert degradations(service) == [
        "churn is rebuilding silently after a refused checkpoint: 350 routed records left before it "
        "publishes again"
    ]


def test_a_malformed_latest_checkpoint_rebuilds_silently_up_to_an_earlier_ones_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint too broken to show a header has no mark of its own; the deployment's earlier
    checkpoints still in the topic (not compacted away yet) were written after their outputs were
    acknowledged too, so the largest of their marks is a safe place to publish from."""
    service, publisher = _service(tmp_path, Owned(LiveDeployment(CHURN)))
    service.owned.clear()
    partition = checkpointing.routed_partition("churn", service.settings.partitions)
    routed = f"{service.routed_topic}:{partition}"
    older = [seal_checkpoint({"any": "state"}, deployment="churn", model_version=1, offsets={routed: offset},
                             created_at=1, secret=OTHER) for offset in (200, 300)]  # fmt: skip

    async def history(*_: Any, earlier: Any = None) -> dict[str, bytes]:
        for blob in [*older, b"not a checkpoint at all"]:
            earlier("churn", blob)  # replaced by the malformed one below
        return {"churn": b"TRC1" + b"\xff" * 60}

    monkeypatch.setattr(checkpointing, "read_compacted", history)
    asyncio.run(service.restore(["churn"]))
    assert service.owned["churn"].rebuild_until == 300
    metrics = service.metrics.render().decode()
    assert 'tracer_checkpoints_refused_total{deployment="churn",reason="malformed"} 1.0' in metrics
    _score(service, _log(700))
    assert publisher.predicted() == list(range(300, 700))
