"""The task bases: a recipe states its inputs, features, output and sample; the base does the rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests import test_blueprint_checks as checks
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OutputSpec, Params, Record
from tracer.blueprints.recipes.payment_default import PaymentDefault
from tracer.blueprints.recipes.revenue_forecast import RevenueForecast
from tracer.blueprints.tasks import BinaryClassification, Forecast, Regression, RegressionOutput, driver_name
from tracer.online_models import Deployment

SIZE = InputSpec("size_m2", "numeric", "Floor area.", ("area", "size"))
PRICE = InputSpec("price", "numeric", "Sale price.", ("sale_price",))


class PriceOutput(RegressionOutput):
    price_estimate: float


class HousePrice(Regression[PriceOutput]):
    """A regression recipe in a dozen lines: the price of a flat from its size and its district."""

    id = "house_price"
    name = "House Price"
    category = "tests"
    use_case = "Tests the Regression base."
    optional_inputs = (SIZE, PRICE)
    label = LabelSpec("The sale price.", column=PRICE)
    output = OutputSpec(PriceOutput, "value", "Estimated price.", headline="price_estimate")
    entity_input = "size_m2"
    data_requirements = "One row per sale."

    def features(self, record: Record, params: Params) -> Features:
        return {} if record["size_m2"] is None else {"size_m2": record["size_m2"]}

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        size = rng.uniform(20, 150, n_rows)
        district = rng.choice(["centre", "suburb"], n_rows)
        price = 3.0 * size + 80.0 * (district == "centre") + rng.normal(0, 5, n_rows)
        return pd.DataFrame({"area": size.round(1), "district": district, "sale_price": price.round(1)})


def test_a_regression_recipe_learns_its_features_and_its_context() -> None:
    frame = HousePrice().sample(4000, seed=1)
    deployment = Deployment(HousePrice)
    report = deployment.replay(frame)
    assert report.n_errors == 0 and deployment.context is not None
    assert set(deployment.context.describe()["used"]) == {"district"}
    scored = deployment.score({"area": 100.0, "district": "centre", "sale_price": 380.0})
    assert scored.output.price_estimate == pytest.approx(380.0, rel=0.15)
    assert 0.0 < scored.output.confidence < 1.0


@pytest.mark.parametrize(
    "check", [checks.check_pickle, checks.check_deterministic, checks.check_output_schema, checks.check_sample],
    ids=lambda check: check.__name__,
)  # fmt: skip
def test_the_regression_recipe_passes_the_common_checks(check: Any) -> None:
    check(HousePrice)


def test_the_registered_recipes_sit_on_their_task_bases() -> None:
    assert issubclass(PaymentDefault, BinaryClassification)
    assert issubclass(RevenueForecast, Forecast) and RevenueForecast.value_input == "revenue"
    assert (
        RevenueForecast.sequential
        and RevenueForecast().prediction_key({"date": 1.0, "series_id": "s"}) == "s@1000"
    )


@pytest.mark.parametrize(
    ("feature", "value", "rising", "name"),
    [("contract", "Month-to-month", True, "contract=Month-to-month"), ("tenure#bin", "b2", True, "tenure_low"),
     ("tenure#bin", "b8", False, "tenure_high"), ("income", 3.0, False, "income_low"),
     ("charges", 9.0, True, "charges_high")],
)  # fmt: skip
def test_drivers_are_named_for_people(feature: str, value: float | str, rising: bool, name: str) -> None:
    assert driver_name(feature, value, rising) == name


def test_a_binary_label_in_words_is_read_and_an_unknown_word_is_no_label() -> None:
    blueprint, params = PaymentDefault(), PaymentDefault.resolve_params()
    assert [blueprint.label_of({"defaulted": word}, params) for word in ("bad", "Good", "1", "maybe")] == [
        1.0, 0.0, 1.0, None,
    ]  # fmt: skip
