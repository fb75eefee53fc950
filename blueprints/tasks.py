"""Task bases: what every recipe of a kind of question shares, so a recipe is only what is its own.

A recipe on a task base declares its inputs (with synonyms), its label column, its semantic
features (:meth:`TaskBlueprint.features`: a function of one canonical record), its output and its
sample. The base supplies the rest: no per-entity state, the label read from its column, the
default online model (which also learns from every usable column of the user's data: context
features, :mod:`~tracer.blueprints.context`), and a generic output built from the score.

- :class:`BinaryClassification`: a probability, a risk classification, the risk vectors pushing it
  up, the protocol to follow and a confidence. The label column may say ``yes``/``no``, ``1``/``0``
  or words such as ``bad``/``good``: :attr:`BinaryClassification.positive_labels` and
  ``negative_labels``.
- :class:`Regression`: a predicted value from a numeric target column.
- :class:`Forecast`: a value per period of one or more series, each row scored before its value
  is learned (``sequential``); the model is the shared
  :class:`~tracer.blueprints.engines.seasonal_forecaster.SeasonalForecaster`, and
  :meth:`Forecast.outlook` gives the recipe its horizon totals, error, trend and seasonality.

A recipe with state of its own (a customer's previous snapshot, a series) overrides
:meth:`~tracer.blueprints.base.Blueprint.new_state` and ``featurize``, as the classic recipes do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, Field
from river import linear_model, optim

from tracer.blueprints.actions import RiskLevel, by_risk
from tracer.blueprints.base import Blueprint, Features, OnlineModel, Params, ParamSpec, Record
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode
from tracer.blueprints.engines.seasonal_forecaster import (
    DEFAULT_SERIES,
    Outlook,
    SeasonalForecaster,
    Seasonality,
)
from tracer.blueprints.errors import ParameterError
from tracer.blueprints.outputs_explained import explained_row
from tracer.blueprints.protocols import offers_experience, offers_explaining
from tracer.schemas.base import OutboundModel

__all__ = [
    "SEASONALITIES",
    "Z_OF_LEVEL",
    "BinaryClassification",
    "BinaryOutput",
    "Forecast",
    "Regression",
    "RegressionOutput",
    "RiskLevel",
    "TaskBlueprint",
    "confidence_level",
    "default_binary_model",
    "distinct_names",
    "driver_name",
    "pushing_features",
]

RISK_THRESHOLDS: tuple[tuple[float, RiskLevel], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))
CONFIDENCE_RAMP_LABELS = 100
"""Labels after which a model counts as half experienced in ``confidence``."""
DRIVER_MIN_LOGIT = 0.1
"""A feature must add at least this much to the logit to be named as a driver."""
MAX_DRIVERS = 3

OutputT = TypeVar("OutputT", bound=BaseModel)


class BinaryOutput(OutboundModel):
    """What every yes/no blueprint answers besides its probability (a recipe adds that field), in the
    seed's words: a risk classification, the risk vectors, the protocol to follow and a confidence."""

    risk_classification: RiskLevel = Field(description="The probability's band: from 0.25, 0.5 and 0.75 up.")
    risk_vectors: list[str] = Field(description="Features pushing the probability up, strongest first.")
    recommended_protocol: str = Field(description="What to do at this risk level (the recipe's `protocols`).")
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
    protocols: ClassVar[Mapping[RiskLevel, str]] = by_risk(
        low="no_action", medium="monitor", high="review", critical="act_now"
    )
    """The recommended protocol per risk level; a recipe names its own in its domain's words."""
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
            "risk_classification": risk,
            "risk_vectors": _drivers(features, model),
            "recommended_protocol": self.protocols[risk],
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


def pushing_features(
    features: Features, model: OnlineModel, min_logit: float = DRIVER_MIN_LOGIT
) -> list[tuple[float, str, bool]]:
    """``(share, feature, above its usual)`` of each feature that adds at least ``min_logit`` to the
    logit, largest first; empty for a model that can't explain itself. A row of a batch being
    explained (``explaining_batch``) is read from the model's matrices of that batch."""
    ranked = explained_row(features, model, min_logit)
    if ranked is not None:
        return ranked
    if not offers_explaining(model):
        return []
    shares = model.contributions(features)
    pushing = [(share, feature) for feature, share in shares.items() if share >= min_logit]
    if not pushing:
        return []
    scaled = model.scaled_values(features)
    return sorted(
        ((share, feature, scaled.get(feature, 0.0) > 0) for share, feature in pushing), reverse=True
    )


def distinct_names(
    ranked: list[tuple[float, str, bool]], name_of: Callable[[str, bool], str], limit: int
) -> list[str]:
    """The first ``limit`` distinct names of ``ranked`` features (``name_of(feature, rising)``)."""
    names: list[str] = []
    for _, feature, rising in ranked:
        if len(names) == limit:
            break
        name = name_of(feature, rising)
        if name not in names:
            names.append(name)
    return names


def _drivers(features: Features, model: OnlineModel) -> list[str]:
    """The features pushing the logit up by at least DRIVER_MIN_LOGIT, strongest first, as
    ``name=value`` for categories and ``name_high``/``name_low`` for numbers."""
    return distinct_names(
        pushing_features(features, model),
        lambda feature, rising: driver_name(feature, features.get(feature), rising),
        MAX_DRIVERS,
    )


SEASONALITIES: tuple[Seasonality, ...] = ("auto", "none", "weekly", "yearly")
Z_OF_LEVEL: dict[float, float] = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.9600}
"""Two-sided normal quantiles of the coverages a forecast's interval offers (``confidenceLevel``)."""


def confidence_level(interval: str) -> ParamSpec:
    """The ``confidenceLevel`` parameter of a forecast's ``interval`` (an output field's name)."""
    return ParamSpec("confidenceLevel", 0.9, f"Coverage of {interval}.", tuple(Z_OF_LEVEL))


class Forecast(Blueprint[OutputT, None], Generic[OutputT]):
    """A value per period of one or several series, forecast one row ahead and over horizons.

    A recipe names its value input (:attr:`value_input`, also its label), its date (``time_input``),
    its series (``entity_input``) and an optional covariate; the base featurizes a row as the
    forecaster reads it, builds the forecaster (its ``seasonality`` parameter, if the recipe
    declares one) and keys predictions by series and time. The recipe's ``postprocess`` turns
    :meth:`outlook` into its output.
    """

    task = "forecast"
    sequential = True
    time_input = "date"
    entity_input = "series_id"
    drift_exempt_features = ("date_epoch_s",)
    feature_params = frozenset()  # the parameters shape the model and the output, not the features
    value_input: ClassVar[str]
    """The input whose value is forecast (and learned after each row is scored)."""
    covariate_input: ClassVar[str | None] = None
    """An input the forecast scales with (active customers), if any."""
    horizons_days: ClassVar[tuple[float, ...]] = (30.0, 90.0)
    """The horizons :meth:`outlook` totals over; the first is the interval's window."""

    def new_state(self, params: Params) -> None:
        """No feature state: the model keeps each series' history, because it learns from the value."""
        return None

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        """The period's series, its date (epoch seconds) and, when given, the covariate."""
        features: Features = {"series_id": self._series_key(record)}
        date = record.get(self.time_input or "")
        if date is not None:
            features["date_epoch_s"] = float(date)
        covariate = record.get(self.covariate_input or "")
        if covariate is not None:
            features["customer_count"] = float(covariate)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """A :class:`SeasonalForecaster`; it uses no randomness, so ``seed`` changes nothing."""
        wanted = params.get("seasonality", "auto")
        for seasonality in SEASONALITIES:
            if seasonality == wanted:
                return SeasonalForecaster(
                    seasonality, covariate_key="customer_count", interval_days=self.horizons_days[0]
                )
        raise ParameterError(f"{self.id}: seasonality={wanted!r} is not one of {' | '.join(SEASONALITIES)}")

    def label_of(self, record: Record, params: Params) -> float | None:
        """The row's own value."""
        value = record.get(self.value_input)
        return None if value is None else float(value)

    def outlook(self, features: Features, model: OnlineModel) -> Outlook:
        """Totals over :attr:`horizons_days` after the row's period, the error, trend and season."""
        if not isinstance(model, SeasonalForecaster):
            raise TypeError(f"{self.id} needs a SeasonalForecaster, got {type(model).__name__}")
        return model.outlook(features, self.horizons_days)

    @staticmethod
    def half_width(rms_error: float, params: Params) -> float:
        """Half the width of an interval at ``confidenceLevel`` around a forecast with this error."""
        return Z_OF_LEVEL[float(params.get("confidenceLevel", 0.9))] * rms_error

    def prediction_key(self, record: Record) -> str:
        """The series (``all`` without one) and the period's time in milliseconds, if dated."""
        date = record.get(self.time_input or "")
        series = self._series_key(record)
        return series if date is None else f"{series}@{int(date * 1000)}"

    def _series_key(self, record: Record) -> str:
        series = record.get(self.entity_input)
        return str(series) if series is not None and str(series) else DEFAULT_SERIES
