"""Checkpoints: signed, verified before unpickling, refused loudly when tampered with."""

from __future__ import annotations

import pickle

import pytest

from tracer.online_models import checkpoint
from tracer.online_models.checkpoint import CheckpointRefused, open_checkpoint, peek_header, seal_checkpoint

SECRET = "correct horse battery staple"


class Boom:
    """Unpickling this would raise: proof that refused bytes are never unpickled."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_explode, ("unpickled!",))


def _explode(message: str) -> None:
    raise AssertionError(message)


def seal(state: object, secret: str = SECRET) -> bytes:
    return seal_checkpoint(
        state, deployment="churn", model_version=3, offsets={"in:0": 42}, created_at=1000, secret=secret
    )


def test_round_trip_restores_state_and_position() -> None:
    opened = open_checkpoint(seal({"weights": [1.0, 2.0]}), secret=SECRET)
    assert opened.state == {"weights": [1.0, 2.0]}
    assert (opened.deployment, opened.model_version, opened.offsets, opened.created_at) == (
        "churn",
        3,
        {"in:0": 42},
        1000,
    )


def test_wrong_secret_is_refused_without_unpickling() -> None:
    blob = seal(Boom())
    with pytest.raises(CheckpointRefused, match="failed its HMAC signature check"):
        open_checkpoint(blob, secret="another secret of enough length")


@pytest.mark.parametrize("position", [0, 10, -40, -1])
def test_any_flipped_byte_is_refused(position: int) -> None:
    blob = bytearray(seal({"a": 1}))
    blob[position] ^= 0x01
    with pytest.raises(CheckpointRefused):
        open_checkpoint(bytes(blob), secret=SECRET)


def test_a_forged_payload_with_a_valid_header_is_refused() -> None:
    genuine = seal({"a": 1})
    forged = genuine[: -32 - len(pickle.dumps({"a": 1}, protocol=pickle.HIGHEST_PROTOCOL))]
    forged += pickle.dumps(Boom()) + genuine[-32:]
    with pytest.raises(CheckpointRefused):
        open_checkpoint(forged, secret=SECRET)


def test_garbage_and_short_secrets_are_refused() -> None:
    with pytest.raises(CheckpointRefused, match="not a Tracer checkpoint"):
        open_checkpoint(b"\x80\x04garbage", secret=SECRET)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        seal({}, secret="short")


def test_header_can_be_read_without_the_secret() -> None:
    assert peek_header(seal(Boom()))["offsets"] == {"in:0": 42}


def test_a_state_pickled_when_owned_lived_in_the_scoring_module_still_loads() -> None:
    """``Owned`` moved from ``tracer.agents.scoring`` to ``tracer.agents.recovery``; the checkpoints
    already on the broker name the old module, and must still restore."""
    from tracer.agents.recovery import Owned
    from tracer.online_models.live import LiveDeployment
    from tracer.schemas import DeploymentSpec

    spec = DeploymentSpec.model_validate(
        {"id": "churn", "blueprint": "customer_churn", "input_topics": ["in"], "key_field": "customer_id"}
    )
    owned = Owned(LiveDeployment(spec), next_offset=17, accepted=5)
    old = pickle.dumps(owned, protocol=2).replace(
        b"ctracer.agents.recovery\nOwned\n", b"ctracer.agents.scoring\nOwned\n"
    )
    assert b"tracer.agents.scoring" in old and b"tracer.agents.recovery" not in old
    restored = pickle.loads(old)
    assert isinstance(restored, Owned)
    assert (restored.next_offset, restored.accepted, restored.live.spec.id) == (17, 5, "churn")


def test_a_large_dict_is_sealed_in_parts_as_it_stood_when_the_sealing_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a checkpoint holds is the state when its sealing began, though the dict it leaves out for
    later steps changes meanwhile; every reference to that dict opens as one dict."""
    monkeypatch.setattr(checkpoint, "PART_ENTRIES", 1_000)
    customers = {f"C{i:05d}": (float(i), None, 2.5) for i in range(2_500)}
    state = {"customers": customers, "again": customers, "weights": [1.0, 2.0]}
    as_it_stood = {key: value for key, value in customers.items()}
    sealing = checkpoint.Sealing(
        state, bulk=(customers, customers.copy()), deployment="churn", model_version=3,
        offsets={"in:0": 42}, created_at=1000, secret=SECRET,
    )  # fmt: skip
    customers["C00007"] = (-1.0, 1.0, 1.0)  # the stream goes on between the steps
    customers["C99999"] = (0.0, 0.0, 0.0)
    del customers["C00001"]
    state["weights"].append(3.0)  # pickled at once, when the sealing began
    assert [sealing.step() for _ in range(3)] == [False, False, True]
    blob = sealing.blob()
    assert blob.startswith(checkpoint.MAGIC_PARTS)

    opened = open_checkpoint(blob, secret=SECRET)
    assert opened.state["customers"] == as_it_stood
    assert list(opened.state["customers"]) == list(as_it_stood), "in the dict's order"
    assert opened.state["again"] is opened.state["customers"]
    assert opened.state["weights"] == [1.0, 2.0]
    assert (opened.deployment, opened.offsets) == ("churn", {"in:0": 42})


def test_a_checkpoint_sealed_in_parts_is_refused_when_any_byte_changes() -> None:
    customers = {f"C{i}": (float(i),) for i in range(50)}
    blob = checkpoint.Sealing(
        {"customers": customers, "boom": Boom()}, bulk=(customers, customers.copy()), deployment="churn",
        model_version=3, offsets={"in:0": 42}, created_at=1000, secret=SECRET,
    ).blob()  # fmt: skip
    assert blob.startswith(checkpoint.MAGIC_PARTS)
    for position in (0, 12, len(blob) // 2, -40, -1):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(CheckpointRefused):
            open_checkpoint(bytes(tampered), secret=SECRET)
    with pytest.raises(CheckpointRefused, match="failed its HMAC signature check"):
        open_checkpoint(blob, secret="another secret of enough length")


def test_a_snapshot_changed_while_it_is_sealed_fails_loudly() -> None:
    """The snapshot must be a copy nothing changes (``Blueprint.snapshot_state``); if it changes all
    the same, the sealing stops with an error rather than writing a mix of two states."""
    customers = {f"C{i}": (float(i),) for i in range(20_000)}
    snapshot = customers.copy()
    sealing = checkpoint.Sealing(
        {"customers": customers}, bulk=(customers, snapshot), deployment="churn", model_version=3,
        offsets={"in:0": 42}, created_at=1000, secret=SECRET,
    )  # fmt: skip
    assert sealing.step() is False
    del snapshot["C19999"]
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        sealing.blob()


def test_a_checkpoint_written_before_recipes_and_engines_moved_still_opens() -> None:
    """Classes pickled under their old modules (``tracer.blueprints.customer_churn``) load from the new."""
    from tracer.blueprints.engines.scale_encode import ScaleAndEncode
    from tracer.blueprints.recipes.customer_churn import CustomerChurn
    from tracer.online_models.checkpoint import MAGIC, MOVED_MODULES, _unpickle

    text = pickle.dumps((CustomerChurn(), ScaleAndEncode()), protocol=0)
    for old, new in MOVED_MODULES.items():
        text = text.replace(f"c{new}\n".encode(), f"c{old}\n".encode())
    assert b"ctracer.blueprints.customer_churn\n" in text and b"ctracer.blueprints.engines" not in text
    blueprint, scaler = _unpickle(MAGIC, text)
    assert type(blueprint) is CustomerChurn and type(scaler) is ScaleAndEncode
