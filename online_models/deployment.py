"""A deployment at run time: one blueprint with its parameters, live model, feature state and captures.

It drives every blueprint through the same steps, synchronously, with no Kafka in sight:

1. resolve the row's columns (once per distinct set of column names) and build the canonical record;
2. ask the blueprint which earlier predictions this record settles (``self_labels``, before the
   features, so the state doesn't yet hold this record), then ``featurize`` it (updating state);
3. score with the live model and ``postprocess`` into the blueprint's typed output;
4. capture the features under the prediction key, so the label that arrives later is learned
   from what the model saw when it predicted (no leakage).

``score_many`` does the same for a micro-batch: canonicalise and featurize row by row, then one
batch prediction (``predict_rows``, or ``predict_many`` over a DataFrame; for batches of at least
``MIN_FRAME_ROWS``), so every row in the batch is scored by the model as it was at the batch
start, and one ``postprocess_many`` (a blueprint that explains with the model, as churn's risk
vectors do, reads the batch's explanations from the same matrices). A bad row never raises
there: its :class:`~tracer.blueprints.errors.InputError` (reason code included) takes its slot.

Captured features wait in an insertion-ordered dict of at most ``max_pending`` entries (the
oldest is evicted past that) and expire ``pending_ttl_s`` seconds of event time after their
record's time. Evictions, expiries and replaced captures are counted in ``counters()``, never
dropped silently.

>>> from tracer.blueprints.recipes.customer_churn import CustomerChurn
>>> deployment = Deployment(CustomerChurn, {"predictionWindow": "60_days"})
>>> report = deployment.replay(CustomerChurn().sample(3000, seed=7))
>>> report.n_rows == report.n_scored + report.n_errors, round(report.metrics["auc"], 2)
(True, 0.73)
>>> output = deployment.predict_one({
...     "cust_id": "c-1", "snapshot_date": "2023-06-30", "signup_date": "2023-04-01",
...     "last_login": "2023-06-02", "total_spend": 30.0, "plan": "basic", "support_tickets": 6,
...     "feature_usage": 20})
>>> output.risk_classification, output.risk_vectors
('medium', ['long_inactivity', 'low_usage', 'new_account'])
>>> output.intervention_protocols
['engagement_campaign', 'product_training', 'onboarding_assistance']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import pandas as pd
from pydantic import BaseModel

from tracer.blueprints.base import Blueprint, Features, OnlineModel, Params
from tracer.blueprints.context import CONTEXT_KEY, ContextProfile
from tracer.blueprints.dates import TimeFormat
from tracer.blueprints.errors import InputError
from tracer.blueprints.inputs import ColumnResolution, check_mapping
from tracer.blueprints.protocols import FrameScoring, offers_frame_scoring, offers_row_scoring
from tracer.online_models.learning import MIN_FRAME_ROWS, Learning
from tracer.online_models.reading import ColumnReading
from tracer.online_models.reading import scoring_error as _scoring_error
from tracer.online_models.replay import ReplayReport, replay
from tracer.online_models.scored import Captured, RowId, Scored

__all__ = ["MIN_FRAME_ROWS", "Captured", "Deployment", "ReplayReport", "RowId", "Scored"]

OutputT = TypeVar("OutputT", bound=BaseModel)


class Deployment(ColumnReading, Learning, Generic[OutputT]):
    """One blueprint deployed with its parameters: score records, learn labels, replay datasets.

    ``blueprint`` is a Blueprint class or instance; ``params`` its business parameters;
    ``column_mapping`` maps input names to the user's column names where synonyms don't find them.
    At most ``max_pending`` captures wait for labels, each for ``pending_ttl_s`` of event time (by
    default the blueprint's ``label_ttl_s``).
    The same ``seed`` and the same records give the same predictions; the whole deployment pickles.

    Scoring: ``predict_one`` / ``score`` (one raw row), ``score_many`` (a micro-batch),
    ``score_records`` (rows already canonical). Learning: ``learn_one`` / ``learn_many`` (a label
    for a Scored, a Captured, a prediction key or the raw row), ``learn_from`` (whatever scored rows
    carry or reveal), or the two halves a stream uses, ``take`` / ``outcomes`` then
    ``learn_captured``. Evaluation: ``replay``. Bookkeeping: ``counters``, ``expire``,
    ``replace_model``, ``model_version``.
    """

    def __init__(
        self,
        blueprint: type[Blueprint[OutputT, Any]] | Blueprint[OutputT, Any],
        params: Params | None = None,
        *,
        column_mapping: Mapping[str, str] | None = None,
        seed: int = 42,
        max_pending: int = 100_000,
        pending_ttl_s: float | None = None,
        context: ContextProfile | None = None,
    ) -> None:
        self.blueprint: Blueprint[OutputT, Any] = blueprint() if isinstance(blueprint, type) else blueprint
        self.params: dict[str, Any] = type(self.blueprint).resolve_params(params)
        self.column_mapping = dict(column_mapping or {})
        check_mapping(self.blueprint, self.column_mapping)
        self.seed = seed
        self.max_pending = max_pending
        self.pending_ttl_s = pending_ttl_s if pending_ttl_s is not None else self.blueprint.label_ttl_s
        self.model: OnlineModel = self.blueprint.make_model(self.params, seed)
        self.state: Any = self.blueprint.new_state(self.params)
        self.model_version = 1
        self.events_seen = 0
        self.predictions = 0
        self.labels_learned = 0
        self.labels_unmatched = 0
        self.errors: Counter[str] = Counter()
        self.pending_expired = 0
        self.pending_evicted = 0
        self.pending_superseded = 0
        self.watermark_s: float | None = None
        """The latest event time seen (the blueprint's time input), the clock for TTLs."""
        self._pending: dict[str, Captured] = {}
        self._resolutions: dict[tuple[Any, ...], ColumnResolution] = {}
        self.context: ContextProfile | None = context
        """Which of the user's other columns the model learns from (``Blueprint.learns_context``):
        profiled once, from a dataset (:meth:`profile`) or the stream's first ``PROFILE_ROWS`` rows."""
        self._profile_rows: list[Mapping[str, Any]] = []
        self.time_formats: dict[str, TimeFormat] = {}
        """How each date column is written (``day_first``, ``decimal_year``...), decided once: from the
        whole column of a dataset, or a stream's first value (numbers only: ``auto`` for strings)."""
        self.anonymous_rows = 0
        """Rows scored without an entity id, each its own entity (keyed ``row-N``)."""

    # -- pickling: everything but the resolution cache -------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_resolutions"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("context", None)  # checkpoints from before context features
        state.setdefault("_profile_rows", [])
        state.setdefault("anonymous_rows", 0)
        state.setdefault("time_formats", {})
        self.__dict__.update(state)

    # -- scoring -------------------------------------------------------------------------------------------

    def _prepare(
        self, record: dict[str, Any]
    ) -> tuple[str, tuple[tuple[str, float], ...], Features, float | None]:
        """Key, revealed labels, features and time of one canonical record (updates the feature state)."""
        blueprint, params = self.blueprint, self.params
        if record.get(blueprint.entity_input, "") is None:  # no id column: each row is its own entity
            self.anonymous_rows += 1
            key = f"row-{self.anonymous_rows}"
        else:
            key = blueprint.prediction_key(record)
        revealed = tuple(blueprint.self_labels(record, self.state, params))
        features = blueprint.featurize(record, self.state, params)
        context = record.get(CONTEXT_KEY)
        if context:
            features = {**context, **features}  # a semantic feature wins over a column of the same name
        time_input = blueprint.time_input
        time_s = record.get(time_input) if time_input is not None else None
        if time_s is not None and (self.watermark_s is None or time_s > self.watermark_s):
            self.watermark_s = time_s
        return key, revealed, features, time_s if time_s is not None else self.watermark_s

    def _capture(self, key: str, features: Features, score: float, time_s: float | None) -> None:
        pending = self._pending
        if pending.pop(key, None) is not None:
            self.pending_superseded += 1
        pending[key] = Captured(key, features, score, time_s, self.model_version)
        if len(pending) > self.max_pending:
            del pending[next(iter(pending))]
            self.pending_evicted += 1

    def _fail(self, error: Exception, row: RowId) -> InputError:
        failure = error if isinstance(error, InputError) else _scoring_error(error, row)
        self.errors[str(failure.reason)] += 1
        return failure

    def score(self, record: Mapping[str, Any], *, row: RowId = None) -> Scored[OutputT]:
        """Score one raw row (the user's column names) and capture its features. Raises InputError."""
        self.events_seen += 1
        try:
            canonical = self._canonical(record, row)
            key, revealed, features, time_s = self._prepare(canonical)
            score = self.model.predict_one(features)
            output = self.blueprint.postprocess(score, features, self.model, self.params)
            label = self.blueprint.label_of(canonical, self.params)
        except Exception as error:
            raise self._fail(error, row) from error
        self._capture(key, features, score, time_s)
        self.predictions += 1
        return Scored(key, output, features, score, label, time_s, row, revealed)

    def peek(self, record: Mapping[str, Any], *, row: RowId = None) -> Scored[OutputT]:
        """Score one raw row as :meth:`score` would, changing nothing: the features come from a scratch
        copy of the feature state (``Blueprint.scratch_state``), no outcome is settled, nothing is
        captured for a label and no counter moves.

        For requests from outside the stream (HTTP): the stream's state stays a function of its log,
        so a replay after a crash still ends where an uninterrupted run ends, and a request can't
        settle (and so steal) a self-labelled prediction or supersede a captured one. Raises InputError.
        """
        blueprint, params = self.blueprint, self.params
        try:
            canonical = self._canonical(record, row, observe=False)
            features = blueprint.featurize(canonical, blueprint.scratch_state(self.state, canonical), params)
            context = canonical.get(CONTEXT_KEY)
            if context:
                features = {**context, **features}
            score = self.model.predict_one(features)
            output = blueprint.postprocess(score, features, self.model, params)
            label = blueprint.label_of(canonical, params)
        except InputError:
            raise
        except Exception as error:
            raise _scoring_error(error, row) from error
        time_input = blueprint.time_input
        time_s = canonical.get(time_input) if time_input is not None else None
        return Scored(blueprint.prediction_key(canonical), output, features, score, label, time_s, row, ())

    def predict_one(self, record: Mapping[str, Any]) -> OutputT:
        """The blueprint's typed output for one raw row (its features are captured for learning)."""
        return self.score(record).output

    def score_many(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        row_ids: Sequence[RowId] | None = None,
        outputs: bool = True,
    ) -> list[Scored[OutputT] | InputError]:
        """Score a micro-batch with the model as of the batch start; a bad row's error takes its slot.

        ``outputs=False`` skips the blueprint's ``postprocess`` (each ``Scored.output`` is None): for a
        challenger, whose score is compared with live's and whose output is never published.
        """
        return self.score_records(self.canonical_many(rows, row_ids=row_ids), outputs=outputs)

    def canonical_many(
        self, rows: Iterable[Mapping[str, Any]], *, row_ids: Sequence[RowId] | None = None
    ) -> list[tuple[RowId, dict[str, Any] | InputError]]:
        """Each raw row as its canonical record (or its InputError), with its row id: what
        ``score_records`` takes. Challengers with the same column mapping can share them."""
        rows = rows if isinstance(rows, list) else list(rows)
        ids = row_ids if row_ids is not None else range(len(rows))
        return list(zip(ids, self.canonical_rows(rows, ids), strict=False))

    def score_records(
        self, items: Sequence[tuple[RowId, dict[str, Any] | InputError]], *, outputs: bool = True
    ) -> list[Scored[OutputT] | InputError]:
        """``score_many`` for rows already canonical (as :func:`canonical_frame` gives them), with row ids.

        An InputError in place of a record is counted as a dead letter and returned in its slot.
        """
        self.events_seen += len(items)
        slots: list[Scored[OutputT] | InputError | None] = []
        prepared: list[
            tuple[int, RowId, dict[str, Any], str, tuple[tuple[str, float], ...], Features, Any]
        ] = []
        for row, item in items:
            if isinstance(item, InputError):
                slots.append(self._fail(item, row))
                continue
            try:
                key, revealed, features, time_s = self._prepare(item)
            except Exception as error:
                slots.append(self._fail(error, row))
                continue
            prepared.append((len(slots), row, item, key, revealed, features, time_s))
            slots.append(None)
        blueprint, params, model = self.blueprint, self.params, self.model
        # a small batch row by row (each postprocess reuses its row's transform); a larger one as one
        # batch prediction and one postprocess_many (which reads the batch's explanations)
        scores: list[float] | None = None
        built: list[OutputT] | None = None
        if not self._by_row(len(prepared)):
            batch = [entry[5] for entry in prepared]
            scores = self._predict_batch(batch)
            if outputs:
                built = self._postprocess_many(scores, batch)
        for index, (slot, row, record, key, revealed, features, time_s) in enumerate(prepared):
            try:
                score = model.predict_one(features) if scores is None else scores[index]
                if built is not None:
                    output = built[index]
                elif outputs:
                    output = blueprint.postprocess(score, features, model, params)
                else:
                    output = cast(OutputT, None)
                label = blueprint.label_of(record, params)
            except Exception as error:
                slots[slot] = self._fail(error, row)
                continue
            self._capture(key, features, score, time_s)
            self.predictions += 1
            slots[slot] = Scored(key, output, features, score, label, time_s, row, revealed)
        return [slot for slot in slots if slot is not None]

    def shares_features(self, other: Deployment[Any]) -> bool:
        """Whether ``other`` featurizes every record as this does: the same blueprint and column
        mapping, and the same value of every parameter featurizing reads (``Blueprint.feature_params``)."""
        if type(self.blueprint) is not type(other.blueprint) or self.column_mapping != other.column_mapping:
            return False
        read = self.blueprint.feature_params
        if read is None:
            return self.params == other.params
        return all(self.params.get(name) == other.params.get(name) for name in read)

    def score_alongside(
        self, scored: Sequence[Scored[Any]], records: Sequence[dict[str, Any]] | None = None
    ) -> list[Scored[OutputT]]:
        """This model's scores for rows another deployment that :meth:`shares_features` has prepared:
        their keys, features and times, captured here under this model's score.

        For a challenger featurized as live is: it skips canonicalising and featurizing again (its own
        feature state is not updated) and builds no output (``output`` is None). The outcomes are the
        preparer's, unless ``records`` (the canonical record of each scored row) are given: then they
        are this deployment's own, from its parameters and label state (``self_labels``, ``label_of``),
        for a challenger whose parameters differ outside the features. A row whose outcome fails here
        is counted as an error and left out.
        """
        features = [item.features for item in scored]
        scores = self._predict_batch(features)
        blueprint, params, state = self.blueprint, self.params, self.state
        out: list[Scored[OutputT]] = []
        for index, (item, score) in enumerate(zip(scored, scores, strict=True)):
            revealed, label = item.revealed, item.label
            if records is not None:
                try:
                    revealed = tuple(blueprint.self_labels(records[index], state, params))
                    label = blueprint.label_of(records[index], params)
                except Exception as error:
                    self._fail(error, item.row)
                    continue
            self._capture(item.key, item.features, score, item.time_s)
            out.append(Scored(item.key, cast(OutputT, None), item.features, score, label, item.time_s,
                              item.row, revealed))  # fmt: skip
        self.events_seen += len(scored)
        self.predictions += len(out)
        return out

    def _by_row(self, rows: int) -> bool:
        """Whether a batch of ``rows`` is scored row by row rather than as a batch."""
        return rows < MIN_FRAME_ROWS or not offers_frame_scoring(self.model)  # once per model type

    def _postprocess_many(self, scores: list[float], features: list[Features]) -> list[OutputT] | None:
        """The batch's outputs at once, or None when that fails (each row then tries on its own)."""
        try:
            built = self.blueprint.postprocess_many(scores, features, self.model, self.params)
        except Exception:
            return None
        return built if len(built) == len(scores) else None

    def _predict_batch(self, features: list[Features]) -> list[float]:
        if self._by_row(len(features)):
            return [self.model.predict_one(x) for x in features]
        model = self.model
        if offers_row_scoring(model):  # the River adapters: no DataFrame
            return model.predict_rows(features)
        return cast(FrameScoring, model).predict_many(pd.DataFrame.from_records(features))  # see _by_row

    # -- housekeeping ------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many predictions wait for their label."""
        return len(self._pending)

    def replace_model(self, model: OnlineModel | None = None) -> int:
        """Swap in ``model`` (a fresh one by default), bump and return ``model_version``. State and captures stay."""
        self.model = model if model is not None else self.blueprint.make_model(self.params, self.seed)
        self.model_version += 1
        return self.model_version

    def counters(self) -> dict[str, int]:
        """Conservation and bookkeeping counts: ``events_seen == predictions + sum(errors)``."""
        return {
            "events_seen": self.events_seen,
            "predictions": self.predictions,
            "errors": sum(self.errors.values()),
            **{f"errors_{reason}": n for reason, n in sorted(self.errors.items())},
            "labels_learned": self.labels_learned,
            "labels_unmatched": self.labels_unmatched,
            "pending": len(self._pending),
            "pending_expired": self.pending_expired,
            "pending_evicted": self.pending_evicted,
            "pending_superseded": self.pending_superseded,
        }

    # -- replay ------------------------------------------------------------------------------------------

    def replay(
        self, frame: pd.DataFrame, *, batch_size: int = 1, progress: Callable[[int, int], None] | None = None
    ) -> ReplayReport:
        """Progressive validation over a dataset, in time order: see :func:`tracer.online_models.replay.replay`."""
        return replay(self, frame, batch_size=batch_size, progress=progress)
