"""Task bases: what every recipe of a kind of question shares, so a recipe is only what is its own.

A recipe on a task base declares its inputs (with synonyms), its label column, its semantic
features (:meth:`TaskBlueprint.features`: a function of one canonical record), its output and its
sample. The base supplies the rest: no per-entity state, the label read from its column, the
default online model (which also learns from every usable column of the user's data: context
features, :mod:`~tracer.blueprints.context`), and a generic output built from the score.

- :class:`BinaryClassification`: a probability, a risk level, the drivers pushing it up and a
  confidence. The label column may say ``yes``/``no``, ``1``/``0`` or words such as
  ``bad``/``good``: :attr:`BinaryClassification.positive_labels` and ``negative_labels``.
- :class:`Regression`: a predicted value from a numeric target column.

A recipe with state of its own (a customer's previous snapshot, a series) overrides
:meth:`~tracer.blueprints.base.Blueprint.new_state` and ``featurize``, as the classic recipes do.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, Field
from river import linear_model, optim

from tracer.blueprints.base import Blueprint, Features, OnlineModel, Params, Record
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode
from tracer.blueprints.protocols import offers_experience, offers_explaining
from tracer.schemas.base import OutboundModel

__all__ = [
    "BinaryClassification",
    "BinaryOutput",
    "Regression",
    "RegressionOutput",
    "RiskLevel",
    "TaskBlueprint",
    "default_binary_model",
    "driver_name",
]

RiskLevel = Literal["low", "medium", "high", "critical"]
RISK_THRESHOLDS: tuple[tuple[float, RiskLevel], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))
CONFIDENCE_RAMP_LABELS = 100
"""Labels after which a model counts as half experienced in ``confidence``."""
DRIVER_MIN_LOGIT = 0.1
"""A feature must add at least this much to the logit to be named as a driver."""
MAX_DRIVERS = 3

OutputT = TypeVar("OutputT", bound=BaseModel)


class BinaryOutput(OutboundModel):
    """What every yes/no blueprint answers besides its probability (a recipe adds that field)."""

    risk_level: RiskLevel
    drivers: list[str] = Field(description="Features pushing the probability up, strongest first.")
    confidence: float = Field(ge=0, le=1, description="|2p - 1| x n / (n + 100), n labels learned.")


class RegressionOutput(OutboundModel):
    """What every regression blueprint answers besides its value (a recipe adds that field)."""

    confidence: float = Field(ge=0, le=1, description="n / (n + 100), n labels learned.")


def default_binary_model(log1p: tuple[str, ...] = ()) -> OnlineModel:
    """The default classifier: scaled numbers and one-hot categories into an online logistic
    regression (deterministic: zero-initialised, no sampling). Context deciles give it bends."""
    return RiverBinaryClassifier(
        ScaleAndEncode(log1p=log1p)
        | linear_model.LogisticRegression(optimizer=optim.SGD(0.03), l2=1e-4, intercept_lr=0.03),
        mini_batch_learning=False,
    )


def _experience(model: OnlineModel) -> float:
    learned = float(model.n_learned) if offers_experience(model) else 0.0
    return learned / (learned + CONFIDENCE_RAMP_LABELS)


class TaskBlueprint(Blueprint[OutputT, None], Generic[OutputT]):
    """A recipe whose features are a function of one record: no state, context learned."""

    required_inputs = ()
    learns_context = True
    log1p_features: ClassVar[tuple[str, ...]] = ()
    """Heavy-tailed semantic features the model takes the log of before scaling."""

    def features(self, record: Record, params: Params) -> Features:
        """The recipe's semantic features of one record (the context is added by the runtime)."""
        return {}

    def new_state(self, params: Params) -> None:
        return None

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        return self.features(record, params)

    def _label_value(self, record: Record) -> Any:
        column = self.label.column
        return None if column is None else record.get(column.name)


class BinaryClassification(TaskBlueprint[OutputT]):
    """A yes/no question: the output's headline is the probability of yes (``label`` says of what)."""

    task = "binary"
    positive_labels: ClassVar[frozenset[str]] = frozenset({"yes", "y", "true", "t", "1", "1.0"})
    negative_labels: ClassVar[frozenset[str]] = frozenset({"no", "n", "false", "f", "0", "0.0"})

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        return default_binary_model(self.log1p_features)

    def label_of(self, record: Record, params: Params) -> float | None:
        value = self._label_value(record)
        if value is None:
            return None
        if isinstance(value, (bool, int, float)):
            return float(bool(value))
        text = str(value).strip().lower()
        if text in self.positive_labels:
            return 1.0
        return 0.0 if text in self.negative_labels else None

    def postprocess(self, score: float, features: Features, model: OnlineModel, params: Params) -> OutputT:
        probability = min(max(score, 0.0), 1.0)
        risk: RiskLevel = next((level for cut, level in RISK_THRESHOLDS if probability >= cut), "low")
        values: dict[str, Any] = {
            self.output.headline: probability,
            "risk_level": risk,
            "drivers": _drivers(features, model),
            "confidence": abs(2.0 * probability - 1.0) * _experience(model),
        }
        return self.output.model.model_validate(values)  # type: ignore[return-value]


class Regression(TaskBlueprint[OutputT]):
    """A number to predict: the output's headline is the predicted value."""

    task = "regression"

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        return RiverRegressor(
            ScaleAndEncode(log1p=self.log1p_features)
            | linear_model.LinearRegression(optimizer=optim.SGD(0.01), l2=1e-4, intercept_lr=0.01)
        )

    def label_of(self, record: Record, params: Params) -> float | None:
        value = self._label_value(record)
        return None if value is None else float(value)

    def postprocess(self, score: float, features: Features, model: OnlineModel, params: Params) -> OutputT:
        values = {self.output.headline: score, "confidence": _experience(model)}
        return self.output.model.model_validate(values)  # type: ignore[return-value]


def driver_name(feature: str, value: float | str | None, rising: bool) -> str:
    """How a feature pushing a score up is named: ``contract=Month-to-month`` for a category,
    ``tenure_low`` for a context decile or a number below its usual (``rising`` False)."""
    column, _, part = feature.partition("#")
    if part == "bin" and isinstance(value, str):
        return f"{column}_{'high' if int(value[1:]) >= 5 else 'low'}"
    if isinstance(value, str):
        return f"{feature}={value}"
    return f"{feature}_{'high' if rising else 'low'}"


def _drivers(features: Features, model: OnlineModel) -> list[str]:
    """The features pushing the logit up by at least DRIVER_MIN_LOGIT, strongest first, as
    ``name=value`` for categories and ``name_high``/``name_low`` for numbers."""
    if not offers_explaining(model):
        return []
    shares = model.contributions(features)
    pushing = sorted(
        ((share, name) for name, share in shares.items() if share >= DRIVER_MIN_LOGIT), reverse=True
    )
    if not pushing:
        return []
    scaled = model.scaled_values(features)
    names: list[str] = []
    for _, feature in pushing:
        name = driver_name(feature, features.get(feature), scaled.get(feature, 0.0) > 0)
        if name not in names:
            names.append(name)
        if len(names) == MAX_DRIVERS:
            break
    return names
