"""The ``retrain`` drift reaction end to end through :class:`LiveDeployment` (no Kafka).

The stream is ``customer_churn`` snapshots with inline labels and a concept change planted at event
``DRIFT_AT``. Two inputs carry the signal: ``a``, how long the customer has been inactive
(``log1p(days_inactive) = 2 + 0.7 a``), and ``b``, how much they use the product
(``log1p(usage per 30 days) = 3 + 0.7 b``), both standard normal. Before the change a customer
churns when ``a - TILT * b > 0`` (inactive, light users leave); from ``DRIFT_AT`` on when
``a + TILT * b > 0`` (heavy users now leave too). Both concepts are linear in the features the
churn model sees, so a model trained on either one can be right about it; ``LABEL_NOISE`` of the
labels are flipped at random throughout. Tenure, spend, plan and support tickets are noise.

Blocks are ``BLOCK`` (32) events, which is the concept detector's ADWIN clock: the detectors only
test for a change every 32 errors, so with every row labelled inline each test falls on the last
outcome of a block and ``LiveDeployment.background`` can be read between blocks. At the scorer's
own block size (256) the warning and the confirmation usually land in the same block, so the
background model is never visible from outside; ``test_at_the_scorers_block_size_*`` covers it.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Literal

import pytest

from tracer.drift import ReactionAction, ReactionMachine
from tracer.online_models.batch import Source
from tracer.online_models.live import BatchResult, LiveDeployment, RoutedEvent
from tracer.schemas import DeploymentSpec, DriftAlert, ModelVersion

Reaction = Literal["alert_only", "retrain"]

DRIFT_AT = 5_000
"""The first event labelled by the new concept."""
N_EVENTS = 6_500
STREAM_SEED = 2
TILT = 0.5
"""Weight of usage in the churn rule; its sign flips at ``DRIFT_AT`` (~30% of labels change)."""
LABEL_NOISE = 0.06
BLOCK = 32
SCORER_BLOCK = 256
"""``tracer.agents.scoring.BLOCK_EVENTS``."""
MAX_DETECTION_DELAY = 1_000
"""Bound on events from the drift to the end of the swap block (measured: 120, at both block sizes)."""
ACCURACY_EVENTS = 500
"""Events after the swap over which the retrained and the alert-only models are compared."""
MIN_ACCURACY_GAIN = 0.025
"""Measured 0.044 (0.876 against 0.832) over ``ACCURACY_EVENTS``; 0.056 over 250, 0.023 over 1,000."""
DAY_S = 86_400.0
T0_S = 1_700_000_000
T0_MS = T0_S * 1000
SWAP_EVIDENCE = {"action": "swap_background", "detail": "background model trained since the warning"}


@dataclass(frozen=True)
class Stream:
    events: list[RoutedEvent]
    churned: list[bool]


def churn_stream(n: int = N_EVENTS, *, drift_at: int = DRIFT_AT, seed: int = STREAM_SEED) -> Stream:
    """Snapshots of ``n`` distinct customers, ten minutes apart, labelled inline (module docstring)."""
    rng = random.Random(seed)
    events: list[RoutedEvent] = []
    churned: list[bool] = []
    for i in range(n):
        a, b = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
        tilt = -TILT if i < drift_at else TILT
        churn = (a + tilt * b > 0.0) != (rng.random() < LABEL_NOISE)
        as_of = T0_S + i * 600
        tenure_days = rng.uniform(60.0, 900.0)
        months = tenure_days / 30.0
        row = {
            "cust_id": f"c{i:06d}",
            "snapshot_date": as_of,
            "signup_date": as_of - tenure_days * DAY_S,
            "last_login": as_of - max(math.expm1(2.0 + 0.7 * a), 0.0) * DAY_S,
            "total_spend": round(rng.uniform(10.0, 60.0) * months, 2),
            "plan": rng.choice(["basic", "pro", "enterprise"]),
            "support_tickets": float(rng.randrange(10)),
            "feature_usage": round(math.expm1(3.0 + 0.7 * b) * months, 3),
            "churned": churn,
        }
        source = Source("crm", 0, i)
        events.append(RoutedEvent(json.dumps(row).encode(), None, source, as_of * 1000))
        churned.append(churn)
    return Stream(events, churned)


def churn_spec(reaction: Reaction) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "id": "churn",
            "blueprint": "customer_churn",
            "input_topics": ["crm"],
            "key_field": "cust_id",
            "labels": {"mode": "inline", "field": "churned"},
            "drift": {"reaction": reaction},
        }
    )


def n_learned(model: object) -> int:
    value = getattr(model, "n_learned", None)
    assert isinstance(value, int), f"{model!r} does not count what it learned"
    return value


@dataclass(frozen=True)
class Block:
    """One ``process`` call and the deployment as it stood right after it."""

    start: int
    end: int
    now_ms: int
    result: BatchResult
    model_version: int
    live_model: object
    live_learned: int
    background: object | None


@dataclass
class Run:
    live: LiveDeployment
    blocks: list[Block] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    """Per event: whether the live model's prediction (score >= 0.5) matched the label."""

    @property
    def swaps(self) -> list[Block]:
        return [block for block in self.blocks if block.result.versions]

    @property
    def versions(self) -> list[ModelVersion]:
        return [version for block in self.blocks for version in block.result.versions]

    @property
    def alerts(self) -> list[DriftAlert]:
        return [alert for block in self.blocks for alert in block.result.alerts]

    @property
    def concept_alerts(self) -> list[DriftAlert]:
        return [alert for alert in self.alerts if alert.kind == "concept"]

    def accuracy(self, start: int, stop: int) -> float:
        return sum(self.correct[start:stop]) / (stop - start)


def run_stream(
    stream: Stream, reaction: Reaction, *, block: int = BLOCK, live: LiveDeployment | None = None
) -> Run:
    """Feed the stream block by block, as the scorer does, recording each block's outcome."""
    run = Run(live if live is not None else LiveDeployment(churn_spec(reaction), created_at=T0_MS))
    deployment = run.live
    for start in range(0, len(stream.events), block):
        events = stream.events[start : start + block]
        now_ms = T0_MS + start
        result = deployment.process(events, now_ms=now_ms)
        assert not result.dead_letters, result.dead_letters[:3]
        assert len(result.predictions) == len(events)
        for offset, prediction in enumerate(result.predictions):
            run.scores.append(prediction.score)
            run.correct.append((prediction.score >= 0.5) == stream.churned[start + offset])
        run.blocks.append(
            Block(
                start=start,
                end=start + len(events),
                now_ms=now_ms,
                result=result,
                model_version=deployment.model_version,
                live_model=deployment.live.model,
                live_learned=n_learned(deployment.live.model),
                background=deployment.background,
            )
        )
    return run


@pytest.fixture(scope="module")
def stream() -> Stream:
    return churn_stream()


@pytest.fixture(scope="module")
def retrain(stream: Stream) -> Run:
    return run_stream(stream, "retrain")


@pytest.fixture(scope="module")
def alert_only(stream: Stream) -> Run:
    return run_stream(stream, "alert_only")


def the_swap(run: Run) -> tuple[int, Block]:
    """The index and block of the run's only drift swap."""
    swaps = [(index, block) for index, block in enumerate(run.blocks) if block.result.versions]
    assert len(swaps) == 1, [(block.start, block.result.versions) for _, block in swaps]
    return swaps[0]


# -- the tests ------------------------------------------------------------------------------------


def test_the_planted_change_is_the_only_change(stream: Stream) -> None:
    """Guard on the stream: same rows with or without the change; ~30% of labels differ after it."""
    unchanged = churn_stream(drift_at=N_EVENTS)

    def inputs(events: list[RoutedEvent]) -> list[dict[str, object]]:
        return [{k: v for k, v in json.loads(e.value or b"").items() if k != "churned"} for e in events]

    assert inputs(stream.events) == inputs(unchanged.events)
    assert stream.churned[:DRIFT_AT] == unchanged.churned[:DRIFT_AT]
    after = zip(stream.churned[DRIFT_AT:], unchanged.churned[DRIFT_AT:], strict=True)
    assert 0.2 < sum(x != y for x, y in after) / (N_EVENTS - DRIFT_AT) < 0.4


def test_retrain_starts_a_background_model_at_the_warning_and_swaps_it_in_on_confirmed_drift(
    retrain: Run,
) -> None:
    index, swap = the_swap(retrain)
    assert DRIFT_AT < swap.end <= DRIFT_AT + MAX_DETECTION_DELAY

    # Nothing happens to the model before the drift; version 2 from the swap block on.
    assert all(block.model_version == 1 for block in retrain.blocks[:index])
    assert all(block.model_version == 2 for block in retrain.blocks[index:])
    assert not any(block.result.versions for block in retrain.blocks if block.end <= DRIFT_AT)
    assert retrain.live.model_version == 2

    # The warning opened a background model after the drift, some blocks before the swap.
    warned = [block for block in retrain.blocks[:index] if block.background is not None]
    assert warned, "no background model was ever started"
    assert any(block.end > DRIFT_AT for block in warned)
    assert retrain.blocks[index - 1].background is not None, "the warning was still open at the swap"
    assert swap.background is None, "the swap consumed the background model"

    # The swap is a drift_swap version, published in the batch where it happened, with evidence.
    (version,) = swap.result.versions
    assert (version.deployment, version.version, version.parent_version) == ("churn", 2, 1)
    assert version.reason == "drift_swap"
    assert version.evidence == SWAP_EVIDENCE
    assert version.created_at == swap.now_ms
    assert [record.reason for record in retrain.live.history.records] == ["deploy", "drift_swap"]
    assert retrain.live.history.live == version
    assert version.learned_through == {"crm:0": swap.end}, "made after the swap block's last event"

    # The concept alert that confirmed the drift is in the same batch, raised against version 1,
    # and its figures are the version's metrics.
    (alert,) = [alert for alert in swap.result.alerts if alert.kind == "concept"]
    assert version.metrics == {
        "error_rise": alert.statistic, "threshold": alert.threshold,
        "reference_window_events": float(alert.reference_window_events),
        "current_window_events": float(alert.current_window_events),
    }  # fmt: skip
    assert version.metrics["error_rise"] > version.metrics["threshold"] > 0
    assert alert.model_version == 1
    assert alert.detector == "adwin"
    assert alert.position == swap.end
    assert alert.detected_at == swap.now_ms
    assert alert.statistic > alert.threshold > 0.0, "a rise in the error rate, beyond ADWIN's bound"
    assert all(alert.position > DRIFT_AT for alert in retrain.concept_alerts), "no false alarm before"


def test_the_swapped_in_model_is_the_background_model_and_beats_alert_only_on_the_new_concept(
    retrain: Run, alert_only: Run
) -> None:
    index, swap = the_swap(retrain)
    before = retrain.blocks[index - 1]
    background = before.background
    assert background is not None

    # The very object trained in the background is live now, not the old model nor a fresh one.
    assert swap.live_model is background
    assert swap.live_model is not before.live_model
    started = next(block for block in retrain.blocks if block.background is background)
    assert started.end > DRIFT_AT
    # It learned exactly the outcomes since the warning (the detectors test on block ends here),
    # while the replaced model had learned every outcome of the stream so far.
    assert swap.live_learned == swap.end - started.end
    assert 0 < swap.live_learned < swap.end - DRIFT_AT + BLOCK
    assert n_learned(before.live_model) == swap.end
    assert retrain.live.history.models[1] is before.live_model, "version 1 is kept for a rollback"

    # Both runs scored identically up to the swap block (same stream, same model), then diverge.
    assert retrain.scores[: swap.end] == alert_only.scores[: swap.end]
    assert retrain.scores[swap.end :] != alert_only.scores[swap.end :]

    # On the new concept, the retrained model is clearly right more often than the old one
    # adapting online under alert_only.
    window = (swap.end, swap.end + ACCURACY_EVENTS)
    retrained, adapting = retrain.accuracy(*window), alert_only.accuracy(*window)
    assert retrained - adapting >= MIN_ACCURACY_GAIN, (retrained, adapting)
    assert retrained > 0.85, retrained


def test_alert_only_alerts_on_the_same_drift_but_never_changes_the_model(
    retrain: Run, alert_only: Run
) -> None:
    _, swap = the_swap(retrain)
    concept = alert_only.concept_alerts
    assert concept, "alert_only still raises the concept alert"
    assert concept[0].position == swap.end, "the same detection as the retrain run"
    assert all(alert.position > DRIFT_AT and alert.model_version == 1 for alert in concept)
    assert alert_only.live.model_version == 1
    assert all(block.model_version == 1 for block in alert_only.blocks)
    assert alert_only.versions == []
    assert all(block.background is None for block in alert_only.blocks)
    assert all(block.live_model is alert_only.live.live.model for block in alert_only.blocks)
    assert [record.reason for record in alert_only.live.history.records] == ["deploy"]


def test_the_same_stream_twice_swaps_at_the_same_event_with_identical_versions(
    stream: Stream, retrain: Run
) -> None:
    again = run_stream(stream, "retrain")
    _, first_swap = the_swap(retrain)
    _, second_swap = the_swap(again)
    assert (second_swap.start, second_swap.end) == (first_swap.start, first_swap.end)
    assert [v.model_dump() for v in again.versions] == [v.model_dump() for v in retrain.versions]
    assert [v.model_dump() for v in again.live.history.records] == [
        v.model_dump() for v in retrain.live.history.records
    ]
    assert [a.model_dump() for a in again.alerts] == [a.model_dump() for a in retrain.alerts]
    assert again.scores == retrain.scores


# -- at the scorer's block size -------------------------------------------------------------------


class RecordingMachine(ReactionMachine):
    """A ReactionMachine that also notes at which outcome (1-based) each action was asked for."""

    __slots__ = ("actions", "outcomes")

    def __init__(self, reaction: Reaction) -> None:
        super().__init__(reaction)
        self.outcomes = 0
        self.actions: list[tuple[int, ReactionAction]] = []

    def update(self, *, warning: bool, drift: bool) -> ReactionAction:
        action = super().update(warning=warning, drift=drift)
        self.outcomes += 1
        if action is not ReactionAction.NONE:
            self.actions.append((self.outcomes, action))
        return action


def recorded_run(stream: Stream, block: int) -> tuple[Run, RecordingMachine]:
    live = LiveDeployment(churn_spec("retrain"), created_at=T0_MS)
    machine = RecordingMachine("retrain")
    live.monitor.reaction = machine
    return run_stream(stream, "retrain", block=block, live=live), machine


def warning_and_swap(machine: RecordingMachine) -> tuple[int, int]:
    """The outcomes (1-based) at which the swapped-in background model was started and swapped in."""
    swapped = next(n for n, action in machine.actions if action is ReactionAction.SWAP_BACKGROUND)
    started = max(
        n for n, action in machine.actions if action is ReactionAction.START_BACKGROUND and n < swapped
    )
    assert not [action for n, action in machine.actions if started < n < swapped], (
        "the background model was neither dropped nor restarted in between"
    )
    return started, swapped


def test_at_the_scorers_block_size_the_background_model_is_swapped_in_after_the_drift(
    stream: Stream,
) -> None:
    run, machine = recorded_run(stream, SCORER_BLOCK)
    index, swap = the_swap(run)
    assert DRIFT_AT < swap.end <= DRIFT_AT + MAX_DETECTION_DELAY
    (version,) = swap.result.versions
    assert (version.version, version.reason, version.evidence) == (2, "drift_swap", SWAP_EVIDENCE)
    assert any(alert.kind == "concept" for alert in swap.result.alerts)
    started, swapped = warning_and_swap(machine)
    # Both fall inside one block of 256 (the swap mid-block), so the background model is never
    # visible between blocks here.
    assert DRIFT_AT < started < swapped < swap.end
    assert all(block.background is None for block in run.blocks)
    assert swap.live_model is not run.blocks[index - 1].live_model
    assert 0 < swap.live_learned <= swap.end - started


def test_outcomes_after_a_mid_block_swap_are_learned_by_the_new_model(stream: Stream) -> None:
    run, machine = recorded_run(stream, SCORER_BLOCK)
    _, swap = the_swap(run)
    started, _ = warning_and_swap(machine)
    # As in River's DriftRetrainingClassifier (and as with blocks of 32 above): the background model
    # learns every outcome after the warning; once live, it learns the rest of the block like any
    # live model, so nothing depends on where the block ends.
    assert swap.live_learned == swap.end - started
