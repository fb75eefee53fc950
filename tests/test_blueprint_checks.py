"""The common checks, run over every registered blueprint, with ids like ``customer_churn:check_pickle``.

A new blueprint is checked as soon as it is registered: every check builds its data from the
blueprint's own ``sample()``. A check a blueprint is known to fail is declared in
``EXPECTED_FAILURES`` with the reason, and runs as a strict xfail (fixing it fails the suite
until the entry is removed).
"""

from __future__ import annotations

import copy
import functools
import math
import pickle
import random
import re
from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import pytest
from pydantic import ValidationError

import tracer.blueprints as blueprints_package
import tracer.online_models as online_models_package
from tests.seed_churn import SeedChurn
from tracer.blueprints import registry
from tracer.blueprints.base import Blueprint, Features, OnlineModel, Params, Record
from tracer.blueprints.inputs import blueprint_inputs, canonical_record, resolve_columns
from tracer.blueprints.recipes.customer_churn import ChurnOutput, ChurnState, CustomerChurn
from tracer.blueprints.recipes.price_movement import PriceMovement, PriceMovementState
from tracer.online_models import Deployment, Scored

AnyBlueprint = type[Blueprint[Any, Any]]

EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    # "blueprint_id": {"check_name": "why it fails, and the issue that tracks it"},
}
"""Checks a blueprint is known to fail, with the reason. Keep this short."""

INPUTS_WITHOUT_SYNONYMS: dict[str, dict[str, str]] = {
    # "blueprint_id": {"input_name": "why no other column name makes sense"},
}
"""Required inputs that need no synonym, with the reason (``check_docs`` asks for one otherwise)."""

SAMPLE_ROWS = 240
BATCH_ROWS = 64
SEED = 11


@functools.cache
def _sample(blueprint: AnyBlueprint) -> pd.DataFrame:
    return blueprint().sample(SAMPLE_ROWS, SEED)


def _rows(blueprint: AnyBlueprint) -> list[dict[str, Any]]:
    return [dict(row) for row in _sample(blueprint).to_dict("records")]


def _run(deployment: Deployment[Any], rows: list[dict[str, Any]]) -> list[Scored[Any]]:
    """Score each row, then learn what it reveals: the progressive loop of ``replay``."""
    out = []
    for row in rows:
        scored = deployment.score(row)
        deployment.learn_from([scored])
        out.append(scored)
    return out


def _optional_columns(blueprint: AnyBlueprint) -> dict[str, str]:
    resolution = resolve_columns(blueprint, _sample(blueprint).columns)
    optional = {spec.name for spec in blueprint_inputs(blueprint)} - {
        s.name for s in blueprint.required_inputs
    }
    return {name: column for name, column in resolution.columns.items() if name in optional and column}


# -- the checks ------------------------------------------------------------------------------------


def check_input_not_mutated(blueprint: AnyBlueprint) -> None:
    """Scoring, learning and featurizing leave the user's rows and the canonical records as they were."""
    rows = _rows(blueprint)
    before = copy.deepcopy(rows)
    deployment = Deployment(blueprint)
    _run(deployment, rows[: SAMPLE_ROWS // 2])
    deployment.learn_from(s for s in deployment.score_many(rows[SAMPLE_ROWS // 2 :]) if isinstance(s, Scored))
    assert repr(rows) == repr(before)
    resolution = resolve_columns(blueprint, rows[0])
    instance, params = blueprint(), blueprint.resolve_params()
    state = instance.new_state(params)
    for row in rows:
        record = canonical_record(resolution, row)
        snapshot = dict(record)
        instance.featurize(record, state, params)
        assert record == snapshot


def check_column_order(blueprint: AnyBlueprint) -> None:
    """The order of the columns (and of the keys of a row) changes nothing."""
    rows = _rows(blueprint)
    shuffled = random.Random(SEED)
    reordered = []
    for row in rows:
        keys = list(row)
        shuffled.shuffle(keys)
        reordered.append({key: row[key] for key in keys})
    expected = [s.score for s in _run(Deployment(blueprint), rows)]
    assert [s.score for s in _run(Deployment(blueprint), reordered)] == expected
    frame = _sample(blueprint)
    report = Deployment(blueprint).replay(frame[list(reversed(frame.columns))])
    assert report.metrics == Deployment(blueprint).replay(frame).metrics


def check_missing_optional(blueprint: AnyBlueprint) -> None:
    """Optional columns may be absent, blank in some rows, or appear and vanish mid-stream."""
    frame = _sample(blueprint)
    for column in _optional_columns(blueprint).values():
        report = Deployment(blueprint).replay(frame.drop(columns=[column]))
        assert report.n_errors == 0, (column, report.example_errors)
    blanked = _rows(blueprint)
    rng = random.Random(SEED)
    optional = list(_optional_columns(blueprint).values())
    for row in blanked:
        for column in optional:
            draw = rng.random()
            if draw < 0.2:
                row[column] = None
            elif draw < 0.3:
                del row[column]
            elif draw < 0.35:
                row[column] = "" if isinstance(row[column], str) else math.nan
    results = Deployment(blueprint).score_many(blanked)
    assert all(isinstance(result, Scored) for result in results), [
        r for r in results if not isinstance(r, Scored)
    ]
    _run(Deployment(blueprint), blanked)


def check_pickle(blueprint: AnyBlueprint) -> None:
    """A pickled deployment, unpickled mid-stream, goes on exactly like the original."""
    rows = _rows(blueprint)
    original = Deployment(blueprint)
    _run(original, rows[: SAMPLE_ROWS // 2])
    clone = pickle.loads(pickle.dumps(original))
    left = _run(original, rows[SAMPLE_ROWS // 2 :])
    right = _run(clone, rows[SAMPLE_ROWS // 2 :])
    assert [s.output.model_dump() for s in left] == [s.output.model_dump() for s in right]
    assert clone.counters() == original.counters()


def check_deterministic(blueprint: AnyBlueprint) -> None:
    """The same seed and the same data give the same predictions; sample() is seeded too."""
    first = [s.score for s in _run(Deployment(blueprint, seed=7), _rows(blueprint))]
    second = [s.score for s in _run(Deployment(blueprint, seed=7), _rows(blueprint))]
    assert first == second
    assert blueprint().sample(50, 3).equals(blueprint().sample(50, 3))
    assert not blueprint().sample(50, 3).equals(blueprint().sample(50, 4))


def check_output_schema(blueprint: AnyBlueprint) -> None:
    """Every output is the declared model, validates against it, and its headline is within range."""
    spec = blueprint.output
    assert spec.headline in spec.model.model_fields
    for scored in _run(Deployment(blueprint), _rows(blueprint)):
        output = scored.output
        assert isinstance(output, spec.model)
        assert spec.model.model_validate(output.model_dump()) == output
        spec.model.model_validate_json(output.model_dump_json())
        headline = getattr(output, spec.headline)
        assert math.isfinite(headline)
        if spec.range is not None:
            assert spec.range[0] <= headline <= spec.range[1], headline


def check_docs(blueprint: AnyBlueprint) -> None:
    """Docs a person needs are there: use case, data requirements, input descriptions, synonyms."""
    assert re.fullmatch(r"[a-z][a-z0-9_]*", blueprint.id)
    for text in (blueprint.name, blueprint.category, blueprint.use_case, blueprint.data_requirements,
                 blueprint.label.description, blueprint.output.description):  # fmt: skip
        assert text and text.strip()
    inputs = blueprint_inputs(blueprint)
    names = [spec.name for spec in inputs]
    assert len(names) == len(set(names))
    assert blueprint.entity_input in names
    assert blueprint.time_input is None or blueprint.time_input in names
    exempt = INPUTS_WITHOUT_SYNONYMS.get(blueprint.id, {})
    for spec in inputs:
        assert spec.description.strip(), spec.name
        for stand_in in spec.stand_ins:
            assert stand_in.description.strip(), stand_in.name
    for spec in blueprint.required_inputs:
        assert spec.synonyms or spec.name in exempt, f"{spec.name} has no synonyms"
    for param in blueprint.parameters:
        assert param.description.strip(), param.name
        assert param.allowed is None or param.default in param.allowed, param.name
    assert registry.get(blueprint.id) is blueprint


def check_sample(blueprint: AnyBlueprint) -> None:
    """sample() gives the rows asked for, in users' column names, and replays without errors."""
    frame = _sample(blueprint)
    assert len(frame) == SAMPLE_ROWS
    resolve_columns(blueprint, frame.columns)
    report = Deployment(blueprint).replay(frame)
    assert report.n_errors == 0, report.example_errors
    assert report.n_rows == report.n_scored == SAMPLE_ROWS
    assert report.n_learned > 0


def check_batch_matches_rows(blueprint: AnyBlueprint) -> None:
    """score_many scores every row with the model as of the batch start, as row-by-row scoring would."""
    rows = _rows(blueprint)
    warm, batch = rows[: SAMPLE_ROWS - BATCH_ROWS], rows[SAMPLE_ROWS - BATCH_ROWS :]
    batched = Deployment(blueprint)
    _run(batched, warm)
    single = pickle.loads(pickle.dumps(batched))
    learned = batched.labels_learned
    results = batched.score_many(batch)
    assert batched.labels_learned == learned
    expected = [single.score(row).score for row in batch]
    assert [r.score for r in results if isinstance(r, Scored)] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    counts = batched.counters()
    assert counts["events_seen"] == counts["predictions"] + counts["errors"]


def check_feature_params(blueprint: AnyBlueprint) -> None:
    """``feature_params`` tells the truth: every other parameter, at each of its allowed values, leaves
    every record's features as they are at the defaults (challengers rely on it to share features)."""
    declared = blueprint.feature_params
    if declared is None:
        return  # nothing claimed: challengers with other params featurize on their own
    names = {spec.name for spec in blueprint.parameters}
    assert declared <= names, f"not parameters: {sorted(declared - names)}"
    rows = _rows(blueprint)
    expected = [s.features for s in _run(Deployment(blueprint), rows)]
    for spec in blueprint.parameters:
        for value in () if spec.name in declared else spec.allowed or ():
            varied = [s.features for s in _run(Deployment(blueprint, {spec.name: value}), rows)]
            assert varied == expected, f"{spec.name}={value!r} changes the features"


def check_challenger_models(blueprint: AnyBlueprint) -> None:
    """Every challenger pipeline a blueprint offers scores and learns its sample, the same on every run,
    and pickles; a name it doesn't offer is refused with the ones it does."""
    rows = _rows(blueprint)
    for name in blueprint.challenger_models:
        runs = []
        for _ in range(2):
            deployment = Deployment(blueprint, seed=3)
            deployment.model = deployment.blueprint.make_challenger_model(name, deployment.params, 3)
            runs.append([s.score for s in _run(deployment, rows)])
        assert runs[0] == runs[1] and all(math.isfinite(score) for score in runs[0])
        assert deployment.labels_learned > 0
        clone = pickle.loads(pickle.dumps(deployment))
        assert [clone.score(row).score for row in rows[:5]] == [
            deployment.score(row).score for row in rows[:5]
        ]
    with pytest.raises(KeyError, match="no challenger model 'nope'"):
        blueprint().make_challenger_model("nope", blueprint.resolve_params(), 0)


def check_scratch_state(blueprint: AnyBlueprint) -> None:
    """``scratch_state`` gives a row the features a full copy of the state would, and the state it
    was taken from stays exactly as it was (HTTP predictions rely on it)."""
    rows = _rows(blueprint)
    deployment = Deployment(blueprint)
    _run(deployment, rows[: SAMPLE_ROWS // 2])
    bp, params, before = deployment.blueprint, deployment.params, pickle.dumps(deployment.state)
    for row in rows[SAMPLE_ROWS // 2 :]:
        record = deployment._canonical(row, None)
        scratch = bp.featurize(record, bp.scratch_state(deployment.state, record), params)
        assert scratch == bp.featurize(record, copy.deepcopy(deployment.state), params)
    assert pickle.dumps(deployment.state) == before


def check_context_profile(blueprint: AnyBlueprint) -> None:
    """A blueprint that learns context profiles its sample once, never learns from its label's column,
    and says why each column it left out was left out; one that doesn't, profiles nothing."""
    deployment = Deployment(blueprint)
    deployment.replay(_sample(blueprint))
    if not blueprint.learns_context:
        assert deployment.context is None
        return
    assert deployment.context is not None and deployment.context.rows_profiled == SAMPLE_ROWS
    described = deployment.context.describe()
    label = blueprint.label.column
    if label is not None:
        label_column = resolve_columns(blueprint, _sample(blueprint).columns).columns.get(label.name)
        assert label_column is None or described["left_out"].get(label_column) == "the label"
        assert label_column not in described["used"]
    assert all(reason for reason in described["left_out"].values())


CHECKS: tuple[Callable[[AnyBlueprint], None], ...] = (
    check_input_not_mutated,
    check_column_order,
    check_missing_optional,
    check_pickle,
    check_deterministic,
    check_output_schema,
    check_docs,
    check_sample,
    check_batch_matches_rows,
    check_feature_params,
    check_challenger_models,
    check_scratch_state,
    check_context_profile,
)


def _cases() -> list[Any]:
    cases = []
    for blueprint in registry.list():
        for check in CHECKS:
            reason = EXPECTED_FAILURES.get(blueprint.id, {}).get(check.__name__)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            cases.append(pytest.param(blueprint, check, id=f"{blueprint.id}:{check.__name__}", marks=marks))
    return cases


@pytest.mark.parametrize(("blueprint", "check"), _cases())
def test_blueprint_check(blueprint: AnyBlueprint, check: Callable[[AnyBlueprint], None]) -> None:
    check(blueprint)


def test_expected_failures_name_real_blueprints_and_checks() -> None:
    checks = {check.__name__ for check in CHECKS}
    for blueprint_id, failures in EXPECTED_FAILURES.items():
        registry.get(blueprint_id)
        assert set(failures) <= checks, set(failures) - checks


# -- the checks can fail ----------------------------------------------------------------------------


class MutatingChurn(CustomerChurn):
    def featurize(self, record: Record, state: ChurnState, params: Params) -> Features:
        features = super().featurize(record, state, params)
        cast(dict[str, Any], record)["total_value"] = 0.0
        return features


class NoisyChurn(CustomerChurn):
    def featurize(self, record: Record, state: ChurnState, params: Params) -> Features:
        return {**super().featurize(record, state, params), "noise": random.random()}


class UnpicklableChurn(CustomerChurn):
    def new_state(self, params: Params) -> ChurnState:
        state: Any = {}
        state["hook"] = lambda: None
        return cast(ChurnState, state)


class OutOfRangeChurn(CustomerChurn):
    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> ChurnOutput:
        output = super().postprocess(score, features, model, params)
        return ChurnOutput.model_construct(**{**output.model_dump(), "churn_probability": score + 1.0})


class ChurnClaimingParamFreeFeatures(CustomerChurn):
    feature_params = frozenset()  # churnDefinition does change them


class MarketSharingItsState(PriceMovement):
    def scratch_state(self, state: PriceMovementState, record: Record) -> PriceMovementState:
        return state  # featurize then moves the symbol's history


class UndocumentedChurn(CustomerChurn):
    use_case = " "


class ChurnWithRequiredBlanks(SeedChurn):
    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        frame = super().sample(n_rows, seed)
        frame.loc[frame.index[::7], "total_spend"] = math.nan
        return frame


@pytest.mark.parametrize(
    ("broken", "check"),
    [(MutatingChurn, check_input_not_mutated), (NoisyChurn, check_deterministic), (NoisyChurn, check_pickle),
     (UnpicklableChurn, check_pickle), (OutOfRangeChurn, check_output_schema), (UndocumentedChurn, check_docs),
     (ChurnWithRequiredBlanks, check_sample), (ChurnClaimingParamFreeFeatures, check_feature_params),
     (MarketSharingItsState, check_scratch_state)],
    ids=lambda item: getattr(item, "__name__", str(item)),
)  # fmt: skip
def test_the_checks_catch_broken_blueprints(
    broken: AnyBlueprint, check: Callable[[AnyBlueprint], None]
) -> None:
    with pytest.raises((AssertionError, pickle.PicklingError, AttributeError, ValidationError)):
        check(broken)


def test_public_surface() -> None:
    assert set(blueprints_package.__all__) == {
        "Blueprint", "BlueprintNotFound", "ColumnResolution", "Dtype", "Features", "InputError",
        "InputSpec", "InvalidValueError", "LabelSpec", "MissingInputsError", "OnlineModel",
        "OutputKind", "OutputSpec", "ParamSpec", "ParameterError", "Params", "Record",
        "RiverBinaryClassifier", "RiverRegressor", "ScaleAndEncode", "StandIn", "Task",
        "TracerError", "canonical_frame", "canonical_record", "categories", "get", "ids",
        "registry", "resolve_columns",
        # what a model may offer beyond its two verbs (tracer.blueprints.protocols)
        "BlockExplaining", "Experienced", "Explaining", "FrameLearning", "FrameScoring",
        "MiniBatchChoice", "RowLearning", "RowScoring", "SequenceLearning",
    }  # fmt: skip
    assert set(online_models_package.__all__) >= {
        "BinaryMetrics", "Captured", "Deployment", "MIN_FRAME_ROWS", "RegressionMetrics", "ReplayReport",
        "Scored",
    }  # fmt: skip
    for package in (blueprints_package, online_models_package):
        for name in package.__all__:
            assert hasattr(package, name), name
