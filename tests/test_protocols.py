"""What a model may offer beyond its two verbs (:mod:`tracer.blueprints.protocols`), and what a
blueprint declares instead of being named by its id outside its own file.

- every engine satisfies exactly the capability Protocols it claims, with the Protocols' very
  parameter names, and the cached ``offers_*`` checks agree with ``isinstance``;
- the runtime routes each model by what it offers: a plain model with only ``predict_one`` and
  ``learn_one`` scores and learns through ``Deployment.score_many`` / ``learn_many``, row by row;
- ``self_labelling`` and ``input_schema`` say what ``deployments_file`` and ``/ml/predict`` used to
  find by id, and no runtime layer holds a registered id as a string constant.
"""

from __future__ import annotations

import ast
import doctest
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from river import linear_model

import tracer.blueprints.protocols as protocols_module
from tracer.agents.api.ml_views import snapshot_deployments
from tracer.agents.deployments_file import check_spec
from tracer.blueprints import registry
from tracer.blueprints.base import Blueprint, Features, OnlineModel, Params
from tracer.blueprints.engines.models import RiverRegressor, hoeffding_tree_classifier
from tracer.blueprints.inputs import resolve_columns
from tracer.blueprints.protocols import (
    BlockExplaining,
    Experienced,
    Explaining,
    FrameLearning,
    FrameScoring,
    MiniBatchChoice,
    RowLearning,
    RowScoring,
    SequenceLearning,
)
from tracer.blueprints.recipes.customer_churn import ChurnOutput, CustomerChurn
from tracer.online_models import MIN_FRAME_ROWS, Deployment, Scored
from tracer.schemas import DeploymentSpec

ROOT = Path(__file__).resolve().parents[1]

CHECKS: dict[type, Callable[[object], bool]] = {
    FrameScoring: protocols_module.offers_frame_scoring,
    RowScoring: protocols_module.offers_row_scoring,
    FrameLearning: protocols_module.offers_frame_learning,
    RowLearning: protocols_module.offers_row_learning,
    SequenceLearning: protocols_module.offers_sequence_learning,
    MiniBatchChoice: protocols_module.offers_mini_batch_choice,
    Explaining: protocols_module.offers_explaining,
    BlockExplaining: protocols_module.offers_block_explaining,
    Experienced: protocols_module.offers_experience,
}
EVERYTHING = frozenset(CHECKS)


def _params(blueprint: type[Blueprint[Any, Any]]) -> Params:
    return blueprint.resolve_params()


def _registered(blueprint_id: str) -> Callable[[], OnlineModel]:
    blueprint = registry.get(blueprint_id)
    return lambda: blueprint().make_model(_params(blueprint), 0)


ENGINES: dict[str, tuple[Callable[[], OnlineModel], frozenset[type]]] = {
    # a recipe's model -> the capabilities its engine claims
    "customer_churn": (_registered("customer_churn"), EVERYTHING),
    "price_movement": (_registered("price_movement"), EVERYTHING),
    "hoeffding_tree": (lambda: hoeffding_tree_classifier(0), EVERYTHING),  # explains {}, but has the verbs
    "river_regressor": (
        lambda: RiverRegressor(linear_model.LinearRegression()),
        EVERYTHING - {SequenceLearning},
    ),
    "price_optimization": (_registered("price_optimization"), frozenset()),
    "revenue_forecast": (_registered("revenue_forecast"), frozenset()),
}


def test_doctests() -> None:
    result = doctest.testmod(protocols_module)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_offers_what_it_claims_and_nothing_else(engine: str) -> None:
    make, claimed = ENGINES[engine]
    model = make()
    assert isinstance(model, OnlineModel)
    offered = {protocol for protocol in CHECKS if isinstance(model, protocol)}
    assert offered == claimed
    for protocol, offers in CHECKS.items():
        assert offers(model) is (protocol in claimed), protocol.__name__
        assert offers(make()) is (protocol in claimed), f"{protocol.__name__}, cached"


@pytest.mark.parametrize("protocol", CHECKS, ids=lambda protocol: protocol.__name__)
def test_each_protocols_verbs_take_what_the_engines_take(protocol: type) -> None:
    """``isinstance`` only checks names: the parameter names must agree too, or a typed call breaks."""
    for engine, (make, claimed) in ENGINES.items():
        if protocol not in claimed:
            continue
        model = make()
        for name, declared in vars(protocol).items():
            if not inspect.isfunction(declared) or name.startswith("_"):
                continue
            expected = list(inspect.signature(declared).parameters)[1:]
            assert list(inspect.signature(getattr(model, name)).parameters) == expected, f"{engine}.{name}"


def test_the_river_adapters_explain_as_the_protocols_say() -> None:
    model = CustomerChurn().make_model(_params(CustomerChurn), 0)
    rows: list[Features] = [
        {"usage_rate": float(i % 7), "plan_type": "pro" if i % 2 else "basic"} for i in range(40)
    ]
    for x in rows:
        model.learn_one(x, float(x["usage_rate"] < 2))
    assert (
        isinstance(model, Explaining)
        and isinstance(model, BlockExplaining)
        and isinstance(model, Experienced)
    )
    assert model.n_learned == len(rows)
    assert set(model.contributions(rows[0])) <= {"usage_rate", "plan_type"}
    assert set(model.scaled_values(rows[0])) == {"usage_rate"}
    assert isinstance(model, RowScoring)
    model.predict_rows(rows)
    assert model.explained_block(rows) is not None


# -- the runtime routes by capability ------------------------------------------------------------


class MeanModel:
    """Only the two verbs: the running mean of the labels (0.5 before any)."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0
        self.calls: list[str] = []

    def predict_one(self, x: Features) -> float:
        self.calls.append("predict_one")
        return self.total / self.count if self.count else 0.5

    def learn_one(self, x: Features, y: float) -> None:
        self.calls.append("learn_one")
        self.total, self.count = self.total + y, self.count + 1


class FrameModel(MeanModel):
    """Batch verbs over a DataFrame only, as the OnlineModel docstring first described them."""

    def predict_many(self, frame: pd.DataFrame) -> list[float]:
        self.calls.append("predict_many")
        return [self.total / self.count if self.count else 0.5] * len(frame)

    def learn_many(self, frame: pd.DataFrame, ys: Sequence[float]) -> None:
        self.calls.append("learn_many")
        self.total, self.count = self.total + sum(ys), self.count + len(ys)


class SequenceModel(FrameModel):
    """Would learn a batch, but says not to; learns a run in one call instead."""

    mini_batch_learning = False

    def learn_sequence(self, rows: Sequence[Features], ys: Sequence[float]) -> None:
        self.calls.append("learn_sequence")
        self.total, self.count = self.total + sum(ys), self.count + len(ys)


def _churn_with(model_type: type[MeanModel]) -> type[CustomerChurn]:
    class ChurnWith(CustomerChurn):
        def make_model(self, params: Params, seed: int) -> OnlineModel:
            return model_type()

    return ChurnWith


def _score_and_learn(
    model_type: type[MeanModel],
) -> tuple[Deployment[ChurnOutput], list[Scored[ChurnOutput]]]:
    rows = CustomerChurn().sample(3 * MIN_FRAME_ROWS, seed=5).to_dict("records")
    deployment = Deployment(_churn_with(model_type))
    results = deployment.score_many(rows)
    scored = [item for item in results if isinstance(item, Scored)]
    assert len(results) == len(rows) and deployment.counters()["errors"] == 0
    learned = deployment.learn_many([(item, item.label) for item in scored if item.label is not None])
    assert deployment.labels_learned == len(learned) >= MIN_FRAME_ROWS
    return deployment, scored


def test_a_model_with_only_the_two_verbs_scores_and_learns_row_by_row() -> None:
    deployment, scored = _score_and_learn(MeanModel)
    model = deployment.model
    assert isinstance(model, MeanModel)
    assert set(model.calls) == {"predict_one", "learn_one"}
    assert model.calls.count("learn_one") == deployment.labels_learned
    for item in scored:
        assert item.score == 0.5  # every row scored by the model as of the batch start
        assert item.output.risk_vectors == []  # it can't explain
        assert item.output.confidence == 0.0  # nor say how much it learned
    assert model.predict_one({}) == pytest.approx(sum(s.label or 0.0 for s in scored) / model.count)


def test_a_model_with_frame_verbs_gets_frames() -> None:
    deployment, _ = _score_and_learn(FrameModel)
    model = deployment.model
    assert isinstance(model, FrameModel)
    assert model.calls == ["predict_many", "learn_many"]


def test_a_model_that_declines_mini_batches_learns_its_sequence() -> None:
    deployment, _ = _score_and_learn(SequenceModel)
    model = deployment.model
    assert isinstance(model, SequenceModel)
    assert model.calls == ["predict_many", "learn_sequence"]


# -- declared, not named: self-labelling and the snapshot form -----------------------------------


@pytest.mark.parametrize("blueprint_id", registry.ids())
def test_self_labelling_is_declared_by_the_blueprints_that_label_themselves(blueprint_id: str) -> None:
    blueprint = registry.get(blueprint_id)
    assert blueprint.self_labelling is (blueprint.self_labels is not Blueprint.self_labels)


@pytest.mark.parametrize("blueprint_id", registry.ids())
def test_an_input_schema_feeds_every_input_of_its_blueprint(blueprint_id: str) -> None:
    blueprint = registry.get(blueprint_id)
    if blueprint.input_schema is None:
        return
    fields = list(blueprint.input_schema.model_fields)
    resolution = resolve_columns(blueprint, fields)
    assert all(resolution.columns[spec.name] is not None for spec in blueprint.inputs())
    assert resolution.unused_columns == ()


def _spec(deployment_id: str, blueprint_id: str, labels: str = "delayed") -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {"id": deployment_id, "blueprint": blueprint_id, "input_topics": ["t"], "key_field": "k",
         "labels": {"mode": labels}}
    )  # fmt: skip


def test_self_labels_are_refused_for_a_blueprint_that_does_not_declare_them() -> None:
    self_labelling = [b for b in registry.ids() if registry.get(b).self_labelling]
    others = [b for b in registry.ids() if b not in self_labelling]
    assert self_labelling and others
    for blueprint_id in self_labelling:
        assert check_spec(_spec("ok", blueprint_id, "self")) == []
    for blueprint_id in others:
        (problem,) = check_spec(_spec("no", blueprint_id, "self"))
        assert problem.startswith("labels.mode: 'self' needs a self-labelling blueprint")
        assert all(name in problem for name in self_labelling)


def test_a_snapshot_goes_to_the_deployments_whose_blueprint_reads_snapshots() -> None:
    deployments = {"churn": "customer_churn", "m2": "price_movement", "m1": "price_movement",
                   "sales": "revenue_forecast"}  # fmt: skip
    specs = {d: _spec(d, b) for d, b in deployments.items()}
    assert snapshot_deployments(specs) == ["m1", "m2"]
    assert snapshot_deployments({"churn": specs["churn"]}) == []


# -- no registered id outside its recipe ---------------------------------------------------------

RUNTIME_LAYERS = ("agents", "online_models", "drift", "schemas", "blueprints")
ALLOWED: dict[tuple[str, str], str] = {
    ("agents/api/models.py", "customer_churn"): "an OpenAPI example of a blueprint id",
    **{
        ("online_models/checkpoint.py", name): "the module a recipe lived in before recipes/ (MOVED_MODULES)"
        for name in ("customer_churn", "revenue_forecast", "price_optimization", "price_movement")
    },
}
"""(file, id) -> why that file must spell the id out."""


def string_constants(source: str) -> list[str]:
    """Every string constant of ``source`` but docstrings and other bare strings (attribute docs)."""
    tree = ast.parse(source)
    bare = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare
    ]


def _runtime_files() -> list[Path]:
    files = [path for layer in RUNTIME_LAYERS for path in sorted((ROOT / layer).rglob("*.py"))]
    # recipes name themselves; a composite's objective names the blueprints it combines, and the demo
    # deploys named blueprints through the API as a user does: all by design
    return [
        path
        for path in files
        if not {"recipes", "objectives"} & set(path.relative_to(ROOT).parts)
        and not path.name.startswith("demo")
    ]


def test_the_scan_sees_code_and_skips_docstrings() -> None:
    source = (
        '"""price_movement"""\n'  # a module docstring
        "X = 1\n"
        '"""price_movement"""\n'  # an attribute's
        "def f():\n"
        '    "price_movement"\n'  # a function's
        '    return "price_movement"\n'  # code
    )
    assert string_constants(source) == ["price_movement"]


def test_no_runtime_layer_names_a_registered_blueprint() -> None:
    ids = set(registry.ids())
    files = _runtime_files()
    assert len(files) > 50 and ROOT / "agents" / "deployments_file.py" in files
    found = {
        (path.relative_to(ROOT).as_posix(), text)
        for path in files
        for text in string_constants(path.read_text())
        if text in ids
    }
    assert found - ALLOWED.keys() == set(), "use a declared attribute of the blueprint, not its id"
    assert ALLOWED.keys() - found == set(), "stale ALLOWED entries"
