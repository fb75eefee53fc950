"""Replaying dead letters after a fix: ``tracer dlq replay`` and ``POST /deployments/{id}/deadletters/replay``.

**Replay** (:func:`replay_dead_letters`), for one deployment:

1. read its dead letters (optionally of one reason); several letters of one input (a replay that
   failed again is dead-lettered under the original coordinates) count once, the latest;
2. skip those already replayed (the ledger, below), those whose input is not one of the deployment's
   input topics (labels: their fate is a join), and those whose bytes or key the letter kept only in
   part (``truncated``): they can't be sent back as they were;
3. re-validate the rest with the deployment's *current* spec, through the very code the scorer uses
   (``decode_row``, then ``Deployment.canonical_many`` and ``score_records`` on a scratch
   :class:`~tracer.online_models.live.LiveDeployment` built from the spec, so nothing the worker holds
   changes). ``--map INPUT=COLUMN`` says the letters' column ``COLUMN`` holds ``INPUT`` (a producer
   that sent a renamed column, since fixed): the row is rewritten so that the current spec reads it
   (``COLUMN`` renamed to the column the spec maps ``INPUT`` to, or to ``INPUT``), and the rewritten
   row is what is validated and sent;
4. send those that pass back to their source topic (the deployment's input), keyed as the original,
   with two headers: ``tracer-replay-of`` (the original ``topic:partition:offset``) and
   ``tracer-replay-deployment``. Those still failing are counted by reason, never dead-lettered again.

**Conservation**: the router routes a replayed message to the named deployment only (not to every
deployment reading the topic), and the scorer attributes it to its original coordinates: its
prediction (or its new dead letter) carries the original ``source``. So on the topics, every input
offset still has its fates under its own coordinates, and its latest fate is the one that counts:
``inputs = inputs whose latest fate is a prediction + inputs whose latest fate is a dead letter``.
(The worker's ``tracer_events_*`` counters count messages read, the replayed copy included, and stay
conserved per message: ``consumed = predicted + dead-lettered``.)

**Idempotence**: what was replayed is recorded in a compacted topic, ``tracer.dlq.replayed`` (under
the topic prefix), keyed ``<deployment>/<topic>:<partition>:<offset>`` of the original input, with
where the copy went. A second replay reads it and sends nothing already there. Why a ledger topic,
and not the replay headers of the input topics: those topics are the user's, can be large and have
their own retention (a replayed copy deleted by retention would be sent again), and reading them
all on every replay costs their whole volume; the ledger holds one small record per replayed input
and compaction keeps it so. It is written once the copies are acknowledged: a replay that dies in
between sends those copies again next time (at least once), never none.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, Field

from tracer.agents.dlq import (
    Letter,
    _shorten,
    coordinates,
    read_letters,
)
from tracer.agents.routing import HEADER_REPLAY_DEPLOYMENT, HEADER_REPLAY_OF
from tracer.agents.settings import Topics
from tracer.schemas import DeadLetter, DeploymentSpec, ReasonCode

__all__ = [
    "ReplayPlan",
    "ReplayReport",
    "ReplayRequest",
    "Revalidation",
    "apply_map",
    "check_maps",
    "ledger_key",
    "ledger_topic",
    "parse_maps",
    "plan_replay",
    "read_ledger",
    "render_report",
    "replay_dead_letters",
]


def ledger_topic(topics: Topics) -> str:
    """The compacted topic recording what was replayed (module docstring)."""
    return topics.dlq + ".replayed"


def ledger_key(deployment: str, letter: DeadLetter) -> str:
    """The ledger key of a letter's input for a deployment: one input may be a letter of several."""
    return f"{deployment}/{coordinates(letter)}"


def parse_maps(pairs: Iterable[str]) -> dict[str, str]:
    """``INPUT=COLUMN`` pairs as a dict. Raises ValueError.

    >>> parse_maps(["total_value=spend"])
    {'total_value': 'spend'}
    """
    maps = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ValueError(f"--map {pair!r}: expected INPUT=COLUMN, e.g. total_value=spend")
        maps[name.strip()] = column.strip()
    return maps


def apply_map(row: dict[str, object], maps: Mapping[str, str], spec: DeploymentSpec) -> dict[str, object]:
    """``row`` with each mapped ``COLUMN`` renamed to the column the spec reads ``INPUT`` from (its
    ``column_mapping``, else the input's own name), so that the current spec reads it.

    >>> spec = DeploymentSpec(id="d", blueprint="customer_churn", input_topics=["t"], key_field="id",
    ...                       column_mapping={"total_value": "amount"})
    >>> apply_map({"spend": 3, "plan": "x"}, {"total_value": "spend", "plan_type": "plan"}, spec)
    {'amount': 3, 'plan_type': 'x'}
    """
    out = dict(row)
    for name, column in maps.items():
        target = spec.column_mapping.get(name, name)
        if column in out and column != target:
            out[target] = out.pop(column)
    return out


class ReplayReport(BaseModel):
    """What a replay did (or, dry, would do) for one deployment."""

    deployment: str
    dry_run: bool
    letters: int = Field(description="Inputs with a dead letter of this deployment (and reason).")
    sent: int = Field(description="Sent back to their input topic (would be, in a dry run).")
    already_replayed: int = Field(description="Replayed before: not sent again.")
    still_failing: dict[str, int] = Field(description="Still invalid under the current spec, by reason.")
    not_replayable: dict[str, int] = Field(
        description="Not sent, by why: truncated (only part of the input or key kept), not_an_input (a label)."
    )
    examples: list[str] = Field(description="A few still failing: their input coordinates and error.")


class ReplayRequest(BaseModel):
    """``POST /deployments/{id}/deadletters/replay``."""

    reason: ReasonCode | None = Field(default=None, description="Only dead letters of this reason.")
    map: dict[str, str] = Field(
        default_factory=dict, description="INPUT -> COLUMN: the letters' COLUMN holds INPUT (rows rewritten)."
    )
    dry_run: bool = False


@dataclass
class ReplayPlan:
    """The pure part of a replay: what to send and what not, and why."""

    send: list[tuple[DeadLetter, bytes]]
    """Each letter to replay and the value to send (the original, or rewritten by ``--map``)."""
    report: ReplayReport


class Revalidation:
    """Re-validate raw inputs with a spec through the scorer's own code, on a scratch deployment."""

    def __init__(self, spec: DeploymentSpec) -> None:
        from tracer.online_models.live import LiveDeployment  # the blueprints import pandas

        self.reader = LiveDeployment(spec).live

    def check(self, values: Sequence[bytes]) -> list[tuple[ReasonCode, str] | None]:
        """None for each value the deployment would score, else its reason and error."""
        from tracer.blueprints.errors import InputError
        from tracer.online_models.batch import decode_row
        from tracer.schemas.decode import Rejection

        out: list[tuple[ReasonCode, str] | None] = [None] * len(values)
        rows, where = [], []
        for index, value in enumerate(values):
            row = decode_row(value)
            if isinstance(row, Rejection):
                out[index] = (row.reason, row.error)
            else:
                rows.append(row)
                where.append(index)
        slots = self.reader.score_records(self.reader.canonical_many(rows))
        for index, slot in zip(where, slots, strict=True):
            if isinstance(slot, InputError):
                out[index] = (slot.reason, str(slot))
        return out


def plan_replay(
    letters: Iterable[Letter],
    spec: DeploymentSpec,
    replayed: set[str] | frozenset[str],
    *,
    reason: ReasonCode | None = None,
    maps: Mapping[str, str] | None = None,
    dry_run: bool = False,
    validate: Revalidation | None = None,
) -> ReplayPlan:
    """Which of ``letters`` to send back for ``spec``'s deployment (module docstring, steps 1–3);
    ``replayed`` holds the ledger keys already replayed."""
    latest: dict[str, DeadLetter] = {}
    for item in letters:
        letter = item.letter
        if letter.deployment == spec.id and (reason is None or letter.reason == reason):
            latest[coordinates(letter)] = letter  # letters come in time order: the latest wins
    already = 0
    skipped: Counter[str] = Counter()
    candidates: list[tuple[DeadLetter, bytes]] = []
    for letter in latest.values():
        if ledger_key(spec.id, letter) in replayed:
            already += 1
        elif letter.source.topic not in spec.input_topics:
            skipped["not_an_input"] += 1
        elif letter.truncated or letter.key_bytes is not None:
            skipped["truncated"] += 1
        else:
            candidates.append((letter, _rewritten(letter.raw, maps, spec)))
    checks = (validate or Revalidation(spec)).check([value for _, value in candidates]) if candidates else []
    failing: Counter[str] = Counter()
    examples: list[str] = []
    send = []
    for (letter, value), problem in zip(candidates, checks, strict=True):
        if problem is None:
            send.append((letter, value))
            continue
        failing[problem[0].value] += 1
        if len(examples) < 5:
            examples.append(f"{coordinates(letter)}: {_shorten(problem[1].splitlines()[0])}")
    report = ReplayReport(
        deployment=spec.id, dry_run=dry_run, letters=len(latest), sent=len(send), already_replayed=already,
        still_failing=dict(failing), not_replayable=dict(skipped), examples=examples,
    )  # fmt: skip
    return ReplayPlan(send, report)


def _rewritten(raw: bytes, maps: Mapping[str, str] | None, spec: DeploymentSpec) -> bytes:
    if not maps:
        return raw
    try:
        row = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(row, dict):
        return raw
    return json.dumps(apply_map(row, maps, spec)).encode()


def check_maps(spec: DeploymentSpec, maps: Mapping[str, str]) -> None:
    """Raise ValueError if a ``--map`` names no input of the deployment's blueprint."""
    from tracer.blueprints import registry

    blueprint = registry.get(spec.blueprint)
    names = {i.name for i in blueprint.inputs()} | {s.name for i in blueprint.inputs() for s in i.stand_ins}
    unknown = sorted(set(maps) - names)
    if unknown:
        raise ValueError(
            f"--map: {blueprint.id} has no input {', '.join(map(repr, unknown))}; inputs: {', '.join(sorted(names))}"
        )


async def read_ledger(bootstrap: str, topics: Topics) -> set[str]:
    """The ledger keys of every input replayed so far (none if the ledger does not exist yet)."""
    from tracer.agents.topics import missing_topics, read_compacted

    topic = ledger_topic(topics)
    if await missing_topics(bootstrap, [topic]):
        return set()
    return set(await read_compacted(bootstrap, topic))


async def replay_dead_letters(
    bootstrap: str,
    topics: Topics,
    spec: DeploymentSpec,
    *,
    reason: ReasonCode | None = None,
    maps: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Replay ``spec``'s deployment's dead letters that pass its current spec (module docstring)."""
    from tracer.agents.topics import ensure_topics

    maps = dict(maps or {})
    check_maps(spec, maps)
    replayed = await read_ledger(bootstrap, topics)
    letters, _ = await read_letters(bootstrap, topics.dlq, deployment=spec.id)
    plan = await asyncio.to_thread(
        plan_replay, letters, spec, replayed, reason=reason, maps=maps, dry_run=dry_run
    )
    if dry_run or not plan.send:
        return plan.report
    ledger = ledger_topic(topics)
    await ensure_topics(bootstrap, {ledger: 1}, compacted=[ledger])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        deployment = spec.id.encode()
        sends = [
            await producer.send(
                letter.source.topic,
                value,
                key=letter.key,
                headers=[
                    (HEADER_REPLAY_OF, coordinates(letter).encode()),
                    (HEADER_REPLAY_DEPLOYMENT, deployment),
                ],
            )
            for letter, value in plan.send
        ]
        acks = await asyncio.gather(*sends)
        now = int(time.time() * 1000)
        records = [
            await producer.send(
                ledger,
                json.dumps(
                    {
                        "deployment": spec.id,
                        "source": letter.source.model_dump(),
                        "replayed_at": now,
                        "sent_to": {"topic": ack.topic, "partition": ack.partition, "offset": ack.offset},
                    }
                ).encode(),
                key=ledger_key(spec.id, letter).encode(),
            )
            for (letter, _), ack in zip(plan.send, acks, strict=True)
        ]
        await asyncio.gather(*records)
    finally:
        await producer.stop()
    return plan.report


def render_report(report: ReplayReport) -> str:
    """A replay's outcome, for a person."""
    verb = "would send" if report.dry_run else "sent"
    lines = [
        f"{report.deployment}: {report.letters} inputs with dead letters; {verb} {report.sent} back to their "
        f"input topic; {report.already_replayed} replayed before (not sent again)"
    ]
    if report.still_failing:
        failing = ", ".join(f"{reason} {n}" for reason, n in sorted(report.still_failing.items()))
        lines.append(f"still failing under the current spec (not sent, not dead-lettered again): {failing}")
        lines.extend(f"    {example}" for example in report.examples)
    if report.not_replayable:
        lines.append(
            "not replayable: " + ", ".join(f"{why} {n}" for why, n in sorted(report.not_replayable.items()))
        )
    return "\n".join(lines)
