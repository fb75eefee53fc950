"""A blueprint written from scratch: will this order arrive late? (The README's "Adding a blueprint".)"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.base import Features, InputSpec, LabelSpec, OutputSpec, Params, Record
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

ORDER = InputSpec("order_id", "id", "The order.", ("order", "order_number"))
DISTANCE = InputSpec("distance_km", "numeric", "Distance to the customer.", ("distance", "km"))
PROMISED = InputSpec("promised_days", "numeric", "Days promised at checkout.", ("sla_days", "promise"))
LATE = InputSpec("late", "boolean", "Whether it arrived after the promise.", ("was_late", "delayed"))


class LateOutput(BinaryOutput):
    late_probability: Annotated[float, Field(ge=0, le=1, description="P(arrives late).")]


class LateDelivery(BinaryClassification[LateOutput]):
    """Late Delivery Risk: the probability that an order arrives after its promised date."""

    id = "late_delivery"
    name = "Late Delivery Risk"
    category = "ecommerce_retail"
    use_case = "Shops that want to warn customers, or expedite, before a delivery runs late."
    optional_inputs = (ORDER, DISTANCE, PROMISED, LATE)
    label = LabelSpec("The 'late' column.", column=LATE)
    output = OutputSpec(LateOutput, "probability", "Likelihood of a late delivery.",
                        headline="late_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "order_id"
    data_requirements = "One row per order with whether it was late; every other column helps."

    def features(self, record: Record, params: Params) -> Features:
        if record["distance_km"] is None or not record["promised_days"]:
            return {}
        return {"km_per_promised_day": record["distance_km"] / record["promised_days"]}

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Late more often when far for the promise, by the cheap carrier, and on weekends."""
        rng = np.random.default_rng(seed)
        distance, promised = rng.uniform(1, 900, n_rows), rng.integers(1, 6, n_rows)
        carrier, weekend = rng.choice(["fast", "cheap"], n_rows), rng.random(n_rows) < 2 / 7
        logit = -2.0 + 0.006 * distance / promised + 1.2 * (carrier == "cheap") + 0.8 * weekend
        late = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
        return pd.DataFrame({"order": [f"o{i}" for i in range(n_rows)], "distance": distance.round(1),
                             "promise": promised, "carrier": carrier, "weekend": weekend, "was_late": late})  # fmt: skip
