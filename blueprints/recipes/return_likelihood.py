"""``return_likelihood``: will this order line be returned (issue 19, e-commerce and retail).

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per order line (an item
of an order), scored when the order is placed; its outcome (returned or kept) arrives weeks later on
``tracer.labels``, after the return window closes (a long label TTL). Every other column of the line
is learned from (context features: channel, customer age, brand...). The recipe reads, where it
finds them (all optional; synonyms in brackets):

- the line (``order_item_id``, ``line_item_id``, ``order_line``...), its product category
  (``product_category``, ``department``, ``product_type``...) and size or variant (``size``,
  ``variant``, ``item_size``...);
- its unit price (``price``, ``item_price``, ``sale_price``...), discount (``discount_pct``,
  ``markdown``...: a fraction or a percent), quantity (``qty``) and the lines in the order
  (``basket_size``, ``items_in_order``);
- the customer's past return rate (``return_rate``, ``past_return_rate``...: a fraction or a
  percent), or their past orders and returns to compute it from;
- delivery days (``shipping_days``, ``days_to_deliver``...) and the payment method.

The features, as a returns analyst reads a line (heavy-tailed ones logged before scaling):

==========================  ===================================================================
``unit_price``              the price; ``line_value``: price x quantity
``discount``                a fraction (``35`` is read as 35%); ``deep_discount``: 1 from 40%
``customer_return_rate``    given, or past returns / past orders; ``first_order``: 1 with none
``delivery_days``           as given; ``late_delivery``: 1 after 7 days
``quantity``, ``items_in_order``  as given
``product_category``, ``size_variant``, ``payment_method``  the values, one-hot
==========================  ===================================================================

Label: the ``returned`` column (``is_returned``, ``return_flag``, ``was_returned``,
``return_status``...): yes/no, 1/0, true/false or words such as ``returned``/``kept``.

Output (:class:`ReturnOutput`): ``return_probability``, ``risk_classification``, ``risk_vectors``
(what pushes the return risk up, e.g. ``product_category=Dresses``, ``customer_return_rate_high``),
``recommended_protocol`` (no_action, size_guidance, quality_check, confirm_with_customer) and
``confidence``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OutputSpec, Params, Record
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

__all__ = ["ReturnLikelihood", "ReturnOutput", "as_fraction", "planted_logit"]

LATE_DAYS = 7.0
DEEP_DISCOUNT = 0.4

LINE = InputSpec("order_line_id", "id", "The order line (an item of an order) the row is about.",
                 ("order_item_id", "line_item_id", "order_line", "order_line_number", "line_id",
                  "order_item", "item_line_id"))  # fmt: skip
CATEGORY = InputSpec("product_category", "categorical", "The product's category or department.",
                     ("category", "product_type", "department", "item_category", "category_name",
                      "product_group", "merchandise_category"))  # fmt: skip
SIZE = InputSpec("size_variant", "categorical", "The size or variant ordered.",
                 ("size", "variant", "product_size", "item_size", "size_label", "variant_name", "size_ordered"))  # fmt: skip
PRICE = InputSpec("unit_price", "numeric", "The item's price.",
                  ("price", "item_price", "sale_price", "selling_price", "unit_sale_price", "price_paid"))  # fmt: skip
DISCOUNT = InputSpec("discount", "numeric", "The discount on the item: a fraction or a percent.",
                     ("discount_pct", "discount_percent", "discount_rate", "markdown", "markdown_pct",
                      "promo_discount", "discount_applied"))  # fmt: skip
QUANTITY = InputSpec("quantity", "numeric", "Units of the item on the line.",
                     ("qty", "units", "quantity_ordered", "item_quantity", "units_ordered"))  # fmt: skip
ITEMS = InputSpec("items_in_order", "numeric", "Lines or items in the whole order.",
                  ("basket_size", "order_items", "lines_in_order", "items_per_order", "order_size",
                   "num_items_in_order"))  # fmt: skip
RETURN_RATE = InputSpec("customer_return_rate", "numeric", "The customer's past return rate: a fraction or a percent.",
                        ("return_rate", "past_return_rate", "historical_return_rate", "prior_return_rate",
                         "returns_ratio", "return_percentage"))  # fmt: skip
PAST_RETURNS = InputSpec("past_returns", "numeric", "Items the customer returned before.",
                         ("prior_returns", "previous_returns", "num_prior_returns", "returns_count",
                          "returned_items_count"))  # fmt: skip
PAST_ORDERS = InputSpec("past_orders", "numeric", "Orders (or items) the customer bought before.",
                        ("prior_orders", "previous_orders", "num_prior_orders", "orders_count",
                         "order_count", "purchase_count"))  # fmt: skip
DELIVERY = InputSpec("delivery_days", "numeric", "Days from order to delivery.",
                     ("days_to_deliver", "shipping_days", "delivery_time_days", "days_to_delivery",
                      "transit_days", "delivery_duration", "shipping_time"))  # fmt: skip
PAYMENT = InputSpec("payment_method", "categorical", "How the order was paid.",
                    ("payment_type", "pay_method", "payment_mode", "payment_option", "tender_type"))  # fmt: skip
RETURNED = InputSpec(
    "returned", "categorical", "Whether the line was returned: yes/no, 1/0, true/false or returned/kept.",
    ("is_returned", "return_flag", "was_returned", "item_returned", "returned_flag",
     "is_return", "returned_item", "product_returned"),
)  # fmt: skip


def as_fraction(value: float) -> float:
    """A rate or discount as a fraction in 0..1: ``35`` is 35%, ``0.35`` stays.

    >>> as_fraction(35.0), as_fraction(0.35), as_fraction(-2.0)
    (0.35, 0.35, 0.0)
    """
    return min(max(value / 100.0 if value > 1.0 else value, 0.0), 1.0)


class ReturnOutput(BinaryOutput):
    """What ``return_likelihood`` says about one order line."""

    return_probability: Annotated[float, Field(ge=0, le=1, description="P(the line is returned).")]


class ReturnLikelihood(BinaryClassification[ReturnOutput]):
    """Return Likelihood: the probability that an order line is sent back, to act before it ships."""

    id = "return_likelihood"
    name = "Return Likelihood"
    category = "ecommerce_retail"
    use_case = "Online retailers: score each order line for return risk and act before it ships."
    optional_inputs = (LINE, CATEGORY, SIZE, PRICE, DISCOUNT, QUANTITY, ITEMS, RETURN_RATE, PAST_RETURNS,
                       PAST_ORDERS, DELIVERY, PAYMENT, RETURNED)  # fmt: skip
    positive_labels = BinaryClassification.positive_labels | {"returned", "return", "refunded", "exchanged"}
    negative_labels = BinaryClassification.negative_labels | {
        "kept",
        "not_returned",
        "not returned",
        "delivered",
    }
    protocols = by_risk(
        low="no_action", medium="size_guidance", high="quality_check", critical="confirm_with_customer"
    )
    label = LabelSpec("The 'returned' column: yes/no, 1/0, true/false or returned/kept.", column=RETURNED)
    output = OutputSpec(ReturnOutput, "probability", "Likelihood that the order line is returned.",
                        headline="return_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "order_line_id"
    log1p_features = ("unit_price", "line_value", "quantity", "items_in_order", "delivery_days")
    data_requirements = (
        "One row per order line with its outcome (returned or kept) to learn from, or outcomes arriving "
        "later as labels, after the return window; every usable column is learned from. Category, size, "
        "price, discount, the customer's past return rate, delivery days and payment method add the "
        "features returns analysts read first."
    )

    def features(self, record: Record, params: Params) -> Features:
        features: Features = {}
        price, quantity = record["unit_price"], record["quantity"]
        if price is not None:
            features["unit_price"] = max(price, 0.0)
            features["line_value"] = max(price, 0.0) * max(quantity if quantity is not None else 1.0, 0.0)
        for name in ("quantity", "items_in_order", "delivery_days"):
            if record[name] is not None:
                features[name] = max(record[name], 0.0)
        if record["delivery_days"] is not None:
            features["late_delivery"] = float(record["delivery_days"] > LATE_DAYS)
        if record["discount"] is not None:
            discount = as_fraction(record["discount"])
            features["discount"] = discount
            features["deep_discount"] = float(discount >= DEEP_DISCOUNT)
        orders, returns = record["past_orders"], record["past_returns"]
        if record["customer_return_rate"] is not None:
            features["customer_return_rate"] = as_fraction(record["customer_return_rate"])
        elif orders is not None and returns is not None and orders > 0:
            features["customer_return_rate"] = min(max(returns / orders, 0.0), 1.0)
        if orders is not None:
            features["first_order"] = float(orders <= 0)
        for name in ("product_category", "size_variant", "payment_method"):
            if record[name] is not None:
                features[name] = record[name]
        return features

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Fashion and home order lines whose return odds rise with the category (dresses, jeans,
        shoes), an edge size, the price, a deep discount, the customer's past return rate, a first
        order, slow delivery, paying later or on delivery, a large basket and ordering on the web
        rather than the app (a column the recipe doesn't read: context) (:func:`planted_logit`).
        About 3% of values are missing; new customers have no return rate."""
        rng = np.random.default_rng(seed)
        category = rng.choice(list(CATEGORY_LIFT), n_rows, p=[0.18, 0.14, 0.14, 0.2, 0.12, 0.1, 0.12])
        sized = np.isin(category, ["Dresses", "Jeans", "Shoes", "Tops"])
        past_orders = rng.poisson(rng.exponential(6.0, n_rows))
        tendency = rng.beta(1.5, 6.0, n_rows)
        past_returns = rng.binomial(past_orders, tendency)
        rows: dict[str, Any] = {
            "Order Item ID": [f"OI{seed % 1000:03d}-{i:07d}" for i in range(n_rows)],
            "Category": category,
            "Size": np.where(sized, rng.choice(["XS", "S", "M", "L", "XL"], n_rows, p=[0.1, 0.25, 0.3, 0.25, 0.1]),
                             "One Size"),
            "Unit Price": (rng.lognormal(3.6, 0.6, n_rows) * np.where(category == "Home", 1.6, 1.0)).round(2),
            "Discount %": rng.choice([0, 0, 0, 10, 20, 30, 50, 70], n_rows),
            "Items in Order": 1 + rng.poisson(1.5, n_rows),
            "Past Orders": past_orders,
            "Return Rate": np.where(past_orders > 0, (past_returns / np.maximum(past_orders, 1)).round(3), np.nan),
            "Shipping Days": rng.integers(1, 12, n_rows),
            "Payment Method": rng.choice(list(PAYMENT_LIFT), n_rows, p=[0.55, 0.2, 0.15, 0.1]),
            "Channel": rng.choice(["App", "Web"], n_rows, p=[0.45, 0.55]),
            "Customer Age": rng.integers(18, 75, n_rows),
        }  # fmt: skip
        frame = pd.DataFrame(rows)
        frame["Returned"] = np.where(
            rng.random(n_rows) < 1.0 / (1.0 + np.exp(-planted_logit(frame))), "Yes", "No"
        )
        holes = rng.random((n_rows, 2)) < 0.03
        frame.loc[holes[:, 0], "Shipping Days"] = math.nan
        frame.loc[holes[:, 1], "Payment Method"] = None
        return frame


CATEGORY_LIFT = {"Dresses": 1.1, "Jeans": 0.7, "Shoes": 0.6, "Tops": 0.3, "Accessories": -0.9, "Electronics": -0.3,
                 "Home": -0.6}  # fmt: skip
PAYMENT_LIFT = {"Card": 0.0, "PayPal": 0.1, "Buy Now Pay Later": 0.6, "Cash on Delivery": 0.8}


def planted_logit(frame: pd.DataFrame) -> np.ndarray:
    """The log-odds :meth:`ReturnLikelihood.sample` draws ``Returned`` from, read from its columns (NaN
    where a value it reads was blanked): the ceiling a model of the sample can reach."""
    rate = frame["Return Rate"].fillna(0.0)
    logit = (-3.3 + frame["Category"].map(CATEGORY_LIFT) + 0.5 * frame["Size"].isin(["XS", "XL"])
             + 0.4 * np.log(frame["Unit Price"] / 40.0) + 1.2 * frame["Discount %"] / 100.0
             + 3.5 * rate + 0.5 * (frame["Past Orders"] == 0) + 0.12 * np.maximum(frame["Shipping Days"] - 3, 0)
             + frame["Payment Method"].map(PAYMENT_LIFT) + 0.3 * np.log(frame["Items in Order"])
             + 0.3 * (frame["Channel"] == "Web"))  # fmt: skip
    return np.asarray(logit, dtype=np.float64)
