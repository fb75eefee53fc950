"""``cart_abandonment``: will this open cart (or shopping session) end in a purchase? (e-commerce, retail)

One row per session event: the session (``session_id``: ``user_session``, ``visit_id``, ``cart_id``...),
its time (``event_time``: ``event_timestamp``, ``hit_timestamp``...), its type (``event_type``:
``event_name``, ``action``...: view, add_to_cart / cart / addtocart, remove_from_cart,
begin_checkout, checkout / purchase / transaction) and, where given, the cart's value (``cart_value``:
``cart_total``, ``basket_value``...), its items (``cart_items``: ``items_in_cart``, ``basket_size``...),
the device (``device_type``...) and the traffic source (``traffic_source``, ``utm_medium``...). Every
other column is learned from too (context features: customer type, product category...).

It labels itself (``self_labelling``): each event's prediction waits in its session. A purchase event
of the session (``checkout``, ``purchase``, ``transaction``, ``order``...) settles them as purchased
(0.0); no event of the session for ``sessionTimeoutMinutes`` settles them as abandoned (1.0), as soon
as any later event of the stream passes the timeout. The purchase event itself is scored but never
learned from (it is the answer). At most ``MAX_SESSIONS`` sessions are followed (the least recently
active are dropped, counted, unsettled), each with at most ``MAX_PENDING_PER_SESSION`` predictions.

Features of an event, against its session so far (heavy-tailed ones logged before scaling):

=====================================  ==========================================================
``event_type``                         the event's type, normalised, one-hot
``session_events``, ``session_minutes`` events so far and minutes since the first
``idle_minutes``                       minutes since the session's previous event
``views``, ``adds``, ``removes``        counts of each kind so far; ``remove_share``: removes / adds
``checkout_started``                   1 once a begin_checkout event has been seen
``cart_value``, ``cart_items``          as given; ``value_vs_peak``: value / the session's peak
``device``, ``traffic_source``          as given, one-hot
=====================================  ==========================================================

Output (:class:`CartOutput`): ``abandonment_probability`` (headline), ``purchase_probability``
(1 - it), ``risk_classification`` (of abandoning), ``risk_vectors``, ``recommended_protocol``
(``no_action``, ``cart_reminder``, ``free_shipping_offer``, ``cart_discount``) and ``confidence``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
)
from tracer.blueprints.protocols import offers_experience
from tracer.blueprints.tasks import (
    BinaryOutput,
    RiskLevel,
    default_binary_model,
    distinct_names,
    driver_name,
    pushing_features,
)

__all__ = ["MAX_PENDING_PER_SESSION", "MAX_SESSIONS", "CartAbandonment", "CartOutput", "CartState",
           "simulate_sessions"]  # fmt: skip

MAX_SESSIONS = 100_000
MAX_PENDING_PER_SESSION = 500
PURCHASE = frozenset({"purchase", "purchased", "checkout", "checkout_complete", "checkout_completed",
                      "transaction", "order", "order_complete", "order_completed", "payment", "buy"})  # fmt: skip
ADD = frozenset({"add_to_cart", "addtocart", "cart", "add", "add_item", "added_to_cart", "add_to_basket"})
REMOVE = frozenset({"remove_from_cart", "removefromcart", "remove", "remove_item", "remove_from_basket"})
VIEW = frozenset({"view", "page_view", "pageview", "product_view", "view_item", "detail"})
CHECKOUT_START = frozenset({"begin_checkout", "initiate_checkout", "checkout_start", "checkout_started"})
RISK: tuple[tuple[float, RiskLevel], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))

SESSION = InputSpec("session_id", "id", "The shopping session or cart the event belongs to.",
                    ("user_session", "sessionid", "session", "visit_id", "cart_id", "basket_id", "ga_session_id"))  # fmt: skip
EVENT_TIME = InputSpec("event_time", "timestamp", "When the event happened.",
                       ("event_timestamp", "event_ts", "hit_timestamp", "hit_time", "event_datetime", "timestamp"))  # fmt: skip
EVENT_TYPE = InputSpec("event_type", "categorical", "view, add_to_cart, remove_from_cart, begin_checkout, purchase...",
                       ("event_name", "event", "action", "hit_type", "interaction", "event_action"))  # fmt: skip
CART_VALUE = InputSpec("cart_value", "numeric", "The cart's value after the event.",
                       ("cart_total", "basket_value", "cart_amount", "basket_total", "cart_subtotal"))  # fmt: skip
CART_ITEMS = InputSpec("cart_items", "numeric", "Items in the cart after the event.",
                       ("items_in_cart", "basket_size", "cart_quantity", "cart_size", "basket_items"))  # fmt: skip
DEVICE = InputSpec("device", "categorical", "The shopper's device: mobile, desktop, tablet.",
                   ("device_type", "device_category", "devicecategory"))  # fmt: skip
TRAFFIC = InputSpec("traffic_source", "categorical", "Where the visit came from: email, search, social...",
                    ("traffic_channel", "traffic_medium", "utm_medium", "referrer", "medium"))  # fmt: skip


class CartOutput(BinaryOutput):
    """What ``cart_abandonment`` says about an open cart after one of its events."""

    abandonment_probability: Annotated[
        float, Field(ge=0, le=1, description="P(no purchase before the timeout).")
    ]
    purchase_probability: Annotated[float, Field(ge=0, le=1, description="1 - abandonment_probability.")]


@dataclass
class _Session:
    first_s: float
    last_s: float
    events: int = 0
    views: int = 0
    adds: int = 0
    removes: int = 0
    checkout_started: bool = False
    peak_value: float = 0.0
    pending: list[str] = field(default_factory=list)


@dataclass
class CartState:
    """Open sessions, least recently active first, and how many were dropped past ``MAX_SESSIONS``."""

    sessions: dict[str, _Session] = field(default_factory=dict)
    dropped: int = 0

    def touch(self, key: str, now: float) -> _Session:
        """``key``'s session, started at ``now`` if new, moved to the most recently active end."""
        session = self.sessions.pop(key, None)
        if session is None:
            session = _Session(now, now)
        self.sessions[key] = session
        while len(self.sessions) > MAX_SESSIONS:
            del self.sessions[next(iter(self.sessions))]
            self.dropped += 1
        return session


def _kind(event: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(event or "").strip().lower())


def _timeout_s(params: Params) -> float:
    return float(params.get("sessionTimeoutMinutes", 30) or 30) * 60.0


class CartAbandonment(Blueprint[CartOutput, CartState]):
    """Cart Abandonment: the probability that an open cart ends without a purchase."""

    id = "cart_abandonment"
    name = "Cart Abandonment Predictor"
    category = "ecommerce_retail"
    use_case = (
        "Online shops: score every shopping-session event with the chance the cart is abandoned, and "
        "step in while the shopper is still there (a reminder, free shipping, a discount)."
    )
    task = "binary"
    required_inputs = (SESSION, EVENT_TIME, EVENT_TYPE)
    optional_inputs = (CART_VALUE, CART_ITEMS, DEVICE, TRAFFIC)
    learns_context = True
    parameters = (ParamSpec("sessionTimeoutMinutes", 30, "Minutes without an event after which a session "
                            "without a purchase counts as abandoned.", (15, 30, 60, 120, 1440)),)  # fmt: skip
    feature_params = frozenset({"sessionTimeoutMinutes"})  # a session resumed after it starts afresh
    self_labelling = True
    label = LabelSpec(
        "1.0 abandoned (no purchase event before sessionTimeoutMinutes of silence), 0.0 purchased.",
        rule="self-labelled: the session's purchase event (0.0) or sessionTimeoutMinutes without an event (1.0)",
        rule_needs=("session_id", "event_time", "event_type"),
    )
    output = OutputSpec(CartOutput, "probability", "Likelihood that the open cart is abandoned.",
                        headline="abandonment_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "session_id"
    time_input = "event_time"
    label_ttl_s = 2 * 86_400.0
    protocols = by_risk(
        low="no_action", medium="cart_reminder", high="free_shipping_offer", critical="cart_discount"
    )
    log1p_features = ("session_events", "session_minutes", "idle_minutes", "views", "adds", "removes",
                      "cart_value", "cart_items")  # fmt: skip
    data_requirements = (
        "A stream of shopping-session events (session id, time, event type), in time order, with the "
        "purchase events themselves: they settle each session's predictions, and a session silent for "
        "sessionTimeoutMinutes counts as abandoned. Cart value and items, device and traffic source help; "
        "every other usable column is learned from."
    )

    def new_state(self, params: Params) -> CartState:
        return CartState()

    def scratch_state(self, state: CartState, record: Record) -> CartState:
        """The record's session only."""
        session = state.sessions.get(str(record["session_id"]))
        return (
            CartState() if session is None else CartState({str(record["session_id"]): copy.deepcopy(session)})
        )

    def self_labels(self, record: Record, state: CartState, params: Params) -> list[tuple[str, float]]:
        """Settle sessions silent past the timeout (abandoned), this session if this is its purchase
        (purchased); then queue this event's prediction in its session (unless it is the purchase)."""
        now, timeout = float(record["event_time"]), _timeout_s(params)
        labels: list[tuple[str, float]] = []
        sessions = state.sessions
        while sessions:
            key = next(iter(sessions))
            if sessions[key].last_s + timeout >= now:
                break
            labels.extend((pending, 1.0) for pending in sessions.pop(key).pending)
        key = str(record["session_id"])
        session = sessions.get(key)
        if session is not None and session.last_s + timeout < now:  # out of order: silent too long
            labels.extend((pending, 1.0) for pending in sessions.pop(key).pending)
            session = None
        if _kind(record["event_type"]) in PURCHASE:
            if session is not None:
                labels.extend((pending, 0.0) for pending in session.pending)
                session.pending.clear()
            return labels
        session = state.touch(key, now)
        session.pending.append(self.prediction_key(record))
        del session.pending[:-MAX_PENDING_PER_SESSION]
        return labels

    def featurize(self, record: Record, state: CartState, params: Params) -> Features:
        now, key, kind = float(record["event_time"]), str(record["session_id"]), _kind(record["event_type"])
        session = state.sessions.get(key)
        if session is not None and session.events and session.last_s + _timeout_s(params) < now:
            session.first_s, session.events = now, 0  # resumed after the timeout: a new visit
            session.views = session.adds = session.removes = 0
            session.checkout_started, session.peak_value = False, 0.0
        session = state.touch(key, now) if session is None or kind not in PURCHASE else session
        idle = (now - session.last_s) / 60.0 if session.events else 0.0
        session.events += 1
        session.views += kind in VIEW
        session.adds += kind in ADD
        session.removes += kind in REMOVE
        session.checkout_started |= kind in CHECKOUT_START
        session.last_s = max(session.last_s, now)
        features: Features = {
            "event_type": kind or "unknown", "session_events": float(session.events),
            "session_minutes": max(now - session.first_s, 0.0) / 60.0, "idle_minutes": max(idle, 0.0),
            "views": float(session.views), "adds": float(session.adds), "removes": float(session.removes),
            "remove_share": session.removes / max(session.adds, 1), "checkout_started": float(session.checkout_started),
        }  # fmt: skip
        value: float | None = record["cart_value"]
        if value is not None:
            session.peak_value = max(session.peak_value, value)
            features["cart_value"] = max(value, 0.0)
            features["value_vs_peak"] = (
                max(value, 0.0) / session.peak_value if session.peak_value > 0 else 1.0
            )
        if record["cart_items"] is not None:
            features["cart_items"] = max(record["cart_items"], 0.0)
        for name in ("device", "traffic_source"):
            if record[name] is not None:
                features[name] = _kind(record[name])
        if kind in PURCHASE:
            state.sessions.pop(key, None)  # the cart is bought: the session is closed
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """The archive's default online logistic regression (deterministic: ``seed`` changes nothing)."""
        return default_binary_model(self.log1p_features)

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: later events of the session settle it (``self_labels``)."""
        return None

    def postprocess(self, score: float, features: Features, model: OnlineModel, params: Params) -> CartOutput:
        p = min(max(score, 0.0), 1.0)
        risk: RiskLevel = next((level for cut, level in RISK if p >= cut), "low")
        learned = float(model.n_learned) if offers_experience(model) else 0.0
        drivers = distinct_names(
            pushing_features(features, model),
            lambda name, rising: driver_name(name, features.get(name), rising),
            3,
        )
        return CartOutput(
            abandonment_probability=p, purchase_probability=1.0 - p, risk_classification=risk,
            risk_vectors=drivers, recommended_protocol=self.protocols[risk],
            confidence=abs(2.0 * p - 1.0) * learned / (learned + 100.0),
        )  # fmt: skip

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Shopping sessions whose purchase odds rise for returning customers, email visits and
        desktops and fall for social visits; buyers add more and wander less, abandoners view more,
        remove items and go idle. ``customer_type`` and ``product_category`` are context columns."""
        return simulate_sessions(n_rows, seed)[0]


def simulate_sessions(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample, and for each row its session's planted purchase probability (known at its first event)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    odds: list[float] = []
    start, clock, number = pd.Timestamp("2024-03-01").timestamp(), 0.0, 0
    while len(rows) < n_rows + 50:
        number += 1
        clock += float(rng.exponential(20.0))  # a new session every 20 s on average
        device = str(rng.choice(["mobile", "desktop", "tablet"], p=[0.6, 0.32, 0.08]))
        source = str(rng.choice(["organic", "paid_search", "email", "social"], p=[0.4, 0.25, 0.15, 0.2]))
        returning = bool(rng.random() < 0.35)
        logit = (-0.9 + 0.9 * returning + 0.9 * (source == "email") - 0.7 * (source == "social")
                 + 0.5 * (device == "desktop") - 0.3 * (device == "mobile"))  # fmt: skip
        p = 1.0 / (1.0 + np.exp(-logit))
        buys = bool(rng.random() < p)
        steps = ["view"] * (1 + int(rng.poisson(2.0 if buys else 3.5)))
        steps += ["add_to_cart"] * (1 + int(rng.poisson(1.5 if buys else 0.6)))
        steps += ["remove_from_cart"] * int(rng.poisson(0.2 if buys else 0.7))
        order = rng.permutation(len(steps) - 1) + 1  # the first event is always a view
        steps = [steps[0]] + [steps[i] for i in order]
        if buys or rng.random() < 0.3:
            steps.append("begin_checkout")
        if buys:
            steps.append("purchase")
        t, value, items = clock, 0.0, 0
        category = str(rng.choice(["fashion", "electronics", "home", "beauty"]))
        for step in steps:
            t += float(rng.exponential(50.0 if buys else 110.0))
            if step == "add_to_cart":
                value, items = value + float(rng.lognormal(3.3, 0.7)), items + 1
            elif step == "remove_from_cart" and items:
                value, items = value * (items - 1) / items, items - 1
            rows.append({"user_session": f"S{seed % 1000:03d}-{number:06d}", "event_time": start + t,
                         "event_type": step, "cart_total": round(value, 2), "items_in_cart": items,
                         "device_type": device, "traffic_source": source,
                         "customer_type": "returning" if returning else "new", "product_category": category})  # fmt: skip
            odds.append(p)
    frame = pd.DataFrame.from_records(rows)
    frame["oracle"] = odds
    frame = frame.sort_values("event_time", kind="stable").head(n_rows).reset_index(drop=True)
    frame["event_time"] = pd.to_datetime(frame["event_time"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    holes = rng.random((len(frame), 2)) < 0.03
    frame.loc[holes[:, 0], "device_type"] = None
    frame.loc[holes[:, 1], "cart_total"] = np.nan
    oracle = frame.pop("oracle").to_numpy()
    return frame, oracle
