"""A deployment in the stream: the live model, its shadows, its drift monitor and its versions.

:class:`LiveDeployment` is the synchronous core the streaming agents and the HTTP API share. The
agents hand it a batch of routed messages (raw bytes and where they came from) and publish what
it returns; they add no scoring logic of their own. For one batch, in this order:

1. decode each row (a dead letter with a reason code if it isn't a JSON object);
2. score the rows with the live model, as of the batch start (``Deployment.score_records``): every
   row becomes a prediction or a dead letter, so ``rows in = predictions + dead letters``;
3. score the same rows with every shadow, its score only (no output is built for a challenger):
   a shadow whose params featurize as live's do scores live's features
   (``Deployment.shares_features``, ``score_alongside``), any other the canonical records shared
   with live, featurized its own way; track agreement (reports every window);
4. update the data-drift and prediction-drift detectors with the batch;
5. learn: outcomes the rows carry (inline) or reveal (self-labelled), and delayed labels joined to
   the features captured when their prediction was made; errors feed the concept-drift detector,
   and the reaction policy may train a background model and swap it in (a new version);
6. expire captured features older than the label TTL (counted, never silently dropped).

What changes which model is live (drift swaps, promotions, auto-promotion, rollbacks, each recorded
as a new version) it inherits from :class:`~tracer.online_models.lifecycle.ModelLifecycle`.

Everything it holds pickles, so a checkpoint is this object, signed
(:mod:`tracer.online_models.checkpoint`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, cast

from tracer.blueprints import registry
from tracer.blueprints.errors import InputError
from tracer.drift import AgreementTracker, DriftMonitor, ModelKind, PromotionJudge, ReactionAction
from tracer.online_models.batch import BatchResult, DeadLetterOut, PredictionOut, RoutedEvent, decode_row
from tracer.online_models.deployment import Captured, Deployment, Scored
from tracer.online_models.lifecycle import ModelLifecycle
from tracer.online_models.report_history import history_of
from tracer.online_models.shadows import attach_copy, pinned_to, shadow_info
from tracer.online_models.versions import VersionHistory
from tracer.schemas import (
    DeploymentSpec,
    Label,
    ReasonCode,
    ShadowSpec,
)
from tracer.schemas.decode import Rejection, decode
from tracer.schemas.scores import class_error

__all__ = ["BatchResult", "DeadLetterOut", "LiveDeployment", "PredictionOut", "RoutedEvent"]


def _reading_mapping(spec: DeploymentSpec) -> dict[str, str]:
    """The column mapping a deployment reads rows with: the spec's, and an inline label's field."""
    mapping = dict(spec.column_mapping)
    label_column = registry.get(spec.blueprint).label.column
    if spec.labels.mode == "inline" and spec.labels.field and label_column is not None:
        mapping.setdefault(label_column.name, spec.labels.field)
    return mapping


def _error_of(task: str, score: float, label: float) -> float | bool:
    """What concept drift watches: the 0/1 error of a classifier (a multi-class one's top class is
    not the label), the residual of a value."""
    if task == "multiclass":
        return class_error(score, label)
    return (score >= 0.5) != (label >= 0.5) if task == "binary" else score - label


def _model_kind(task: str) -> ModelKind:
    """How shadows are compared and judged: as classifiers, multi-class ones, or regressors."""
    return "classifier" if task == "binary" else "multiclass" if task == "multiclass" else "regressor"


class LiveDeployment(ModelLifecycle):
    """One deployment's models and monitors, driven batch by batch. See the module docstring.

    Shadows are challengers scored next to live. One without ``version`` is a fresh model with the
    deployment's params and its own. One with ``version: N`` runs registered version *N* of this
    deployment: that version's params (``history.records[N-1].params``) merged with its own, starting
    from a deep copy of the model version *N* put live when it was recorded; from then on it learns
    online from the outcomes of the rows it scores, like any shadow (a challenger, not a snapshot).

    Version 1 exists at creation, so ``version: 1`` attaches at once: a copy of the initial live model,
    agreeing 100% with live until live changes. A later version attaches when it is recorded (by a
    promotion, a drift swap or a rollback, in :meth:`_swap`); until then the shadow is *pending*: it
    scores nothing, has no tracker and no reports, can't be promoted, and :meth:`info` shows it as
    ``{"version": N, "pending": True}``. Version *N* is live when it is recorded, so the shadow agrees
    with live until live moves on, then keeps version *N*'s lineage running next to the later ones.
    It also starts from a deep copy of live's feature state (per-entity state, watermark) as it
    stands then, so both featurize the next rows alike. Which shadows are pending follows from
    ``spec`` and ``shadows``, so they survive a pickle round trip and attach later.
    """

    def __init__(self, spec: DeploymentSpec, *, created_at: int | None = None) -> None:
        self.spec = spec
        blueprint = registry.get(spec.blueprint)
        self.task = blueprint.task
        mapping = _reading_mapping(spec)
        self.learns_inline = spec.labels.mode in ("inline", "self")
        self.live = self._deployment(spec.params, mapping)
        self.history = VersionHistory(
            spec, created_at=created_at if created_at is not None else int(time.time() * 1000)
        )
        self.shadows = {
            shadow.name: self._challenger(shadow, mapping)
            for shadow in spec.shadows
            if shadow.version is None
        }
        kind = _model_kind(self.task)
        self.trackers = {name: self._tracker(name) for name in self.shadows}
        self.sequential = blueprint.sequential
        self.monitor = DriftMonitor(  # a multi-class error is 0/1, as a binary one is
            spec.id,
            outcome="binary" if self.task in ("binary", "multiclass") else "regression",
            policy=spec.drift,
            score_name=blueprint.output.headline,
        )
        self.drift_exempt = frozenset(blueprint.drift_exempt_features)
        self.judge = PromotionJudge.from_policy(spec.drift, kind)
        self.background: Any = None
        self._outcomes: list[tuple[Captured, float]] = []
        self._shadow_outcomes: dict[str, list[tuple[Captured, float]]] = {name: [] for name in self.shadows}
        self.position = 0
        self.rows_seen = 0
        self.source_positions: dict[str, int] = {}
        """'topic:partition' -> the offset after the last source message taken: where a version
        made now stands (its ``learned_through``)."""
        self.dead_lettered: Counter[str] = Counter()
        self.attach_version_shadows()

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("source_positions", {})  # pickled before versions recorded where they were made
        self.__dict__.update(state)

    def adopt_column_mapping(self, spec: DeploymentSpec) -> bool:
        """Read rows with ``spec``'s column mapping from now on, live and shadows alike: the spec
        changed since this deployment was checkpointed (a fixed mapping in the deployments file).
        Returns whether it changed anything."""
        if spec.column_mapping == self.spec.column_mapping:
            return False
        self.spec = self.spec.model_copy(update={"column_mapping": dict(spec.column_mapping)})
        mapping = _reading_mapping(self.spec)
        for deployment in (self.live, *self.shadows.values()):
            deployment.column_mapping = dict(mapping)
            deployment._resolutions.clear()
        return True

    def _deployment(self, params: Mapping[str, Any], mapping: Mapping[str, str]) -> Deployment[Any]:
        return Deployment(
            registry.get(self.spec.blueprint),
            params,
            column_mapping=mapping,
            seed=self.spec.seed,
            pending_ttl_s=self.spec.labels.ttl_seconds,
        )

    def _share_context(self) -> None:
        """Shadows learn from live's column profile: once live has taken it, each shadow without one
        gets it, so a shadow promoted to live featurizes as it was scored."""
        context = self.live.context
        if context is not None:
            for shadow in self.shadows.values():
                if shadow.context is None:
                    shadow.context = context

    def _challenger(self, shadow: ShadowSpec, mapping: dict[str, str]) -> Deployment[Any]:
        """A fresh shadow: the deployment's params merged with its own, and its own pipeline if it names one."""
        challenger = self._deployment({**self.spec.params, **shadow.params}, mapping)
        if shadow.model is not None:
            challenger.model = challenger.blueprint.make_challenger_model(
                shadow.model, challenger.params, self.spec.seed
            )
        return challenger

    def _tracker(self, name: str) -> AgreementTracker:
        kind = _model_kind(self.task)
        return AgreementTracker.from_policy(
            name, deployment=self.spec.id, policy=self.spec.drift, live_version=self.model_version, kind=kind
        )

    def attach_version_shadows(self) -> list[str]:
        """(Re)start the shadows pinned to the live version from copies of the live model and feature
        state, with that version's params and their own (class docstring); return their names.

        Runs at creation and whenever a version is recorded. Call it again after training the live
        model outside the stream (a replay at deploy) so version-1 shadows start from that model.
        """
        params = self.history.live.params
        names = []
        for shadow in pinned_to(self.spec, self.model_version):
            self.shadows[shadow.name] = attach_copy(self.live, shadow, params)
            self.trackers[shadow.name] = self._tracker(shadow.name)
            self._shadow_outcomes[shadow.name] = []
            names.append(shadow.name)
        return names

    # -- the batch -------------------------------------------------------------------------------

    def process(self, events: Sequence[RoutedEvent], *, now_ms: int) -> BatchResult:
        """Score one batch, then learn its outcomes: :meth:`score` followed by :meth:`learn_block`."""
        result = self.score(events, now_ms=now_ms)
        learned = self.learn_block(now_ms=now_ms)
        result.alerts += learned.alerts
        result.versions += learned.versions
        result.labels_joined += learned.labels_joined
        return result

    def score(self, events: Sequence[RoutedEvent], *, now_ms: int) -> BatchResult:
        """Steps 1–4 and the joins of step 5 for some events of the open block; learning waits for
        :meth:`learn_block`, so every prediction of a block uses the model as of the block start,
        however the block was split across polls (module docstring)."""
        result = BatchResult()
        rows: list[dict[str, Any]] = []
        row_events: list[RoutedEvent] = []
        last: dict[tuple[str, int], int] = {}
        for event in events:
            source = event.source
            last[source.topic, source.partition] = source.offset
            if event.is_label:
                result.labels += 1
                self._join_label(event, result)
                continue
            row = decode_row(event.value)
            if isinstance(row, Rejection):
                result.dead_letters.append(DeadLetterOut(row.reason, row.error, event))
            else:
                rows.append(row)
                row_events.append(event)
        result.rows = len(events) - result.labels
        positions = self.source_positions
        for (topic, partition), offset in last.items():  # a replayed dead letter carries an older offset
            name = f"{topic}:{partition}"
            positions[name] = max(positions.get(name, 0), offset + 1)
        if rows:
            self._score_rows(rows, row_events, result, now_ms)
        if self.live.watermark_s is not None:
            result.labels_expired = self.live.expire(self.live.watermark_s)
            for shadow in self.shadows.values():
                shadow.expire(self.live.watermark_s)
        for letter in result.dead_letters:
            self.dead_lettered[letter.reason.value] += 1
        history_of(self, self.task).record(result.alerts, result.reports, position=self.position)
        return result

    def _score_rows(
        self, rows: list[dict[str, Any]], events: list[RoutedEvent], result: BatchResult, now_ms: int
    ) -> None:
        start = self.position
        self.position += len(rows)
        self.rows_seen += len(rows)
        records = self.live.canonical_many(rows)  # shadows share the mapping, so the canonical records
        self._share_context()
        slots = self.live.score_records(records)
        scored: list[Scored[Any]] = []
        scored_records: list[dict[str, Any]] = []
        shadowed, predicted = bool(self.shadows), result.predictions.append
        for slot, event, (_, record) in zip(slots, events, records, strict=True):
            if isinstance(slot, InputError):
                result.dead_letters.append(DeadLetterOut(slot.reason, str(slot), event))
                continue
            scored.append(slot)
            if shadowed:
                scored_records.append(cast(dict[str, Any], record))  # a scored row had a record
            predicted(PredictionOut(slot.key, slot.output, slot.score, event.source, event.timestamp_ms))
        live_scores = [item.score for item in scored]
        for name, shadow in self.shadows.items():
            if shadow.shares_features(self.live):  # live's features; its own outcomes if its params differ
                own_outcomes = shadow.params != self.live.params
                shadow_slots = shadow.score_alongside(scored, scored_records if own_outcomes else None)
            else:
                shadow_slots = [
                    slot for slot in shadow.score_records(records, outputs=False) if isinstance(slot, Scored)
                ]
            by_key = {slot.key: slot.score for slot in shadow_slots}
            windows = self.trackers[name].observe_many(
                live_scores, [by_key.get(item.key) for item in scored], start_position=start, ts_ms=now_ms
            )
            for window in windows:
                result.reports.append(window.report)
                if window.alert is not None:
                    result.alerts.append(window.alert)
            if self.learns_inline:
                self._shadow_outcomes[name] += shadow.outcomes(shadow_slots)
        watched = [item.features for item in scored]
        if self.drift_exempt:
            watched = [
                {k: v for k, v in features.items() if k not in self.drift_exempt} for features in watched
            ]
        result.alerts += self.monitor.observe_features_many(watched, start_position=start, ts_ms=now_ms)
        result.alerts += self.monitor.observe_predictions_many(
            live_scores, start_position=start, ts_ms=now_ms
        )
        if self.learns_inline:
            self._outcomes += self.live.outcomes(scored)

    def _join_label(self, event: RoutedEvent, result: BatchResult) -> None:
        label = decode(Label, event.value)
        if isinstance(label, Rejection):
            result.dead_letters.append(DeadLetterOut(label.reason, label.error, event))
            return
        try:
            y = self.live.label_value(label.label)
        except InputError as error:
            result.dead_letters.append(DeadLetterOut(error.reason, str(error), event))
            return
        captured = self.live.take(label.key)
        if captured is None:
            ttl = self.live.pending_ttl_s
            result.dead_letters.append(
                DeadLetterOut(
                    ReasonCode.UNMATCHED_LABEL,
                    f"no prediction with key {label.key!r} is waiting for a label "
                    f"(never made, already labelled, or expired after {ttl:.0f} s)",
                    event,
                )
            )
            return
        self._outcomes.append((captured, y))
        for name, shadow in self.shadows.items():
            shadow_captured = shadow.take(label.key)
            if shadow_captured is not None:
                self._shadow_outcomes[name].append((shadow_captured, y))

    def learn_block(self, *, now_ms: int) -> BatchResult:
        """Step 5: learn every outcome joined since the last call, in log order, then react to drift."""
        result = BatchResult()
        outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            self._learn_live(outcomes, result, now_ms)
        for name, shadow in self.shadows.items():
            shadow_outcomes, self._shadow_outcomes[name] = self._shadow_outcomes[name], []
            if shadow_outcomes:
                shadow.learn_captured(shadow_outcomes)
                live_by_key = {captured.key: captured.score for captured, _ in outcomes}
                for captured, y in shadow_outcomes:
                    if captured.key in live_by_key:
                        self.trackers[name].observe_label(live_by_key[captured.key], captured.score, y)
        self._auto_promote(result, now_ms)
        history_of(self, self.task).record(result.alerts, (), outcomes, position=self.position)
        return result

    def _learn_live(self, pairs: list[tuple[Captured, float]], result: BatchResult, now_ms: int) -> None:
        """Learn outcomes in order, feeding each to concept drift and the reaction policy.

        A swap can fall mid-block: the outcomes up to it are learned by the model it replaces, the
        rest by the model swapped in (as River's DriftRetrainingClassifier would), so the result
        does not depend on where blocks fall. Errors are measured against the score captured at
        prediction time, so learning in segments changes nothing the detector sees.
        """
        result.labels_joined += len(pairs)
        learned = 0
        task, monitor = self.task, self.monitor
        binary = task == "binary"
        if self.background is None and not monitor.reacts:  # alert_only: no swap can fall mid-block
            errors = [
                (c.score >= 0.5) != (y >= 0.5) if binary else _error_of(task, c.score, y) for c, y in pairs
            ]
            result.alerts += monitor.observe_errors(errors, position=self.position, ts_ms=now_ms)
            self.live.learn_captured(pairs)
            return
        for index, (captured, y) in enumerate(pairs):
            if self.background is not None:
                self.background.learn_one(captured.features, y)
            score = captured.score
            error = (score >= 0.5) != (y >= 0.5) if binary else _error_of(task, score, y)
            alerts = monitor.observe_error(error, position=self.position, ts_ms=now_ms)
            if alerts:
                result.alerts += alerts
            action = monitor.action
            if action is ReactionAction.NONE:  # nearly every label: nothing to react to
                continue
            if action in (ReactionAction.SWAP_BACKGROUND, ReactionAction.RESET_LIVE):
                self.live.learn_captured(pairs[learned : index + 1])
                learned = index + 1
            self._react(action, result, now_ms)
        self.live.learn_captured(pairs[learned:])

    # -- serving and operations ------------------------------------------------------------------

    def predict(self, row: Mapping[str, Any]) -> Scored[Any]:
        """Score one row from outside the stream (HTTP) with the live model, as the stream would,
        changing nothing the stream holds (``Deployment.peek``)."""
        return self.live.peek(row)

    def info(self) -> dict[str, Any]:
        """What ``GET /ml/model/info`` shows of this deployment."""
        return {
            "deployment": self.spec.id,
            "blueprint": self.spec.blueprint,
            "model_version": self.model_version,
            "rows_seen": self.rows_seen,
            "counters": self.live.counters(),
            "shadows": shadow_info(self.spec, self.trackers),
            "drift_detections": dict(self.monitor.detections),
            "context": self.live.context.describe() if self.live.context is not None else None,
        }
