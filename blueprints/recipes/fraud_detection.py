"""``fraud_detection``: is this card transaction fraudulent (issue 18, financial risk).

One row per transaction; the outcome (``is_fraud``, a chargeback) usually arrives days later on
``tracer.labels``, and unlabelled traffic is scored all the same. Inputs (any of their synonyms):
the amount (``amt``, ``transaction_amount``; the only required one), the card (``cc_num``,
``card_number``, ``account_id``...), the time (``trans_date_trans_time``, ``unix_time``...), the
transaction id (``trans_num``; keys the label), the merchant, its category (``category``, ``mcc``)
and, when given, the country, channel and device. Every other usable column is context.

Features, per card from a bounded state (:data:`MAX_CARDS` cards, the least recently seen forgotten):

==========================  ================================================================
``amount``                  the amount (logged before scaling)
``amount_vs_card_usual``    z-score of the log amount against the card's running mean and std
                            (from its 3rd transaction; recent ones weigh most)
``transactions_last_hour``  the card's earlier transactions, decayed with a 1 h (``_day``: 24 h)
``transactions_last_day``   time constant: a burst shows as a count near its size
``minutes_since_previous``  since the card's previous transaction
``card_history``            transactions seen for the card
``new_merchant``,           1 when the card had not used this merchant (category, country,
``new_category``...         device) in its remembered history, from its 5th transaction
``night_hour``              1 between 00:00 and 06:00 of the timestamp as written
``merchant_category``,      one-hot
``channel``
``anomaly_score``           0..1, the unsupervised part (below)
==========================  ================================================================

The model. Unsupervised: :class:`~tracer.blueprints.engines.anomaly.RarityDetector` (online
histogram outlier score) on the one-sided signals (amount above the card's usual, overall size,
burst, rapid repeat, new merchant or category, night), learned from every transaction, labelled or
not, so ``anomaly_score`` means something from the first event. Supervised: the default online
logistic regression on the features above plus ``anomaly_score`` and the context. The headline
blends them by experience (:class:`~tracer.blueprints.engines.anomaly.PriorBlendedClassifier`):
with ``n`` labels learned, ``fraud_probability = w * p_model + (1 - w) * anomaly_score ** k``,
``w = n / (n + 2000)``; ``k`` makes the 2% most unusual transactions read 0.5 or more before
any label (held for review).

Output ``FraudOutput``: ``fraud_probability``, ``anomaly_score``, ``risk_classification``,
``risk_vectors`` (plain words: ``amount_far_above_card_usual``, ``burst_of_transactions``,
``new_merchant_category``...: what the model weighs, then what is unusual), ``recommended_protocol``
(``approve`` / ``step_up_authentication`` / ``hold_for_review`` / ``decline``) and ``confidence``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field
from river import linear_model, optim

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    Record,
)
from tracer.blueprints.engines.anomaly import PriorBlendedClassifier, RarityDetector
from tracer.blueprints.engines.models import ScaleAndEncode
from tracer.blueprints.tasks import (
    RISK_THRESHOLDS,
    BinaryOutput,
    RiskLevel,
    distinct_names,
    driver_name,
    pushing_features,
)

__all__ = ["FraudDetection", "FraudOutput", "FraudState", "generate"]

MAX_CARDS = 200_000
"""Cards remembered; past it, the tenth seen least recently are forgotten (a returning one starts anew)."""
MAX_KNOWN = 128
"""Merchants, categories, countries and devices remembered per card; past it none are added."""
MIN_HISTORY, NEW_AFTER = 3, 5
ALERT_SHARE, RAMP_LABELS = 0.02, 2000.0
PRIOR_POWER = math.log(0.5) / math.log(1.0 - ALERT_SHARE)
LOGGED = (
    "amount",
    "transactions_last_hour",
    "transactions_last_day",
    "minutes_since_previous",
    "card_history",
)
VECTOR_NAMES = {
    "amount_vs_card_usual": ("amount_far_above_card_usual", "amount_below_card_usual"),
    "amount": ("large_amount", "small_amount"), "transactions_last_hour": ("burst_of_transactions", "quiet_card"),
    "transactions_last_day": ("many_transactions_today", "quiet_card"),
    "minutes_since_previous": ("long_dormant_card", "rapid_repeat_transaction"),
    "card_history": ("established_card", "new_card"), "night_hour": ("night_time_transaction", "daytime"),
    "new_merchant": ("new_merchant_for_card", "known_merchant"),
    "new_category": ("new_merchant_category", "usual_category"),
    "new_country": ("new_country_for_card", "usual_country"), "new_device": ("new_device_for_card", "usual_device"),
    "anomaly_score": ("unusual_pattern", "usual_pattern"),
}  # fmt: skip
NOVELTY = (("merchant", "m:", "new_merchant"), ("merchant_category", "c:", "new_category"),
           ("country", "k:", "new_country"), ("device", "d:", "new_device"))  # fmt: skip
SIGNAL_FLAGS = ("new_merchant", "new_category", "night_hour")
LOG_LARGE_AMOUNT = math.log1p(20_000.0)
FLAGS = (("amount_vs_card_usual", 2.0), ("transactions_last_hour", 1.5), ("new_category", 1.0), ("night_hour", 1.0),
         ("new_country", 1.0), ("new_device", 1.0), ("new_merchant", 1.0))  # fmt: skip
"""What is named as unusual on its own, at or above these values, when the model names nothing more."""

Seen = tuple[float | None, int, float, float, float, float, frozenset[str]]
"""A card: last time (s), transactions, EW mean and variance of log amount, decayed counts (1 h, 24 h), known names."""


@dataclass
class FraudState:
    """Per-card memory and the anomaly detector; ``learns`` False on a scratch copy (it only scores)."""

    cards: dict[str, Seen] = field(default_factory=dict)
    detector: RarityDetector = field(default_factory=lambda: RarityDetector(7))
    learns: bool = True


def _spec(name: str, dtype: Any, description: str, *synonyms: str) -> InputSpec:
    return InputSpec(name, dtype, description, synonyms)


AMOUNT = _spec("amount", "numeric", "The transaction amount.", "amt", "transaction_amount", "transactionamt",
               "trans_amount", "txn_amount", "purchase_amount", "payment_amount", "amount_usd")  # fmt: skip
CARD = _spec("card_id", "id", "The card or account paying; the state is kept per card.", "card", "card_number",
             "cc_num", "card_num", "card_hash", "pan_hash", "card1", "account_id", "customer_id", "nameorig")  # fmt: skip
TIME = _spec("timestamp", "timestamp", "When the transaction happened.", "trans_date_trans_time", "unix_time",
             "transaction_time", "transaction_date", "transaction_datetime", "trans_time", "txn_time", "event_time")  # fmt: skip
TRANSACTION = _spec("transaction_id", "id", "The transaction; its label arrives under it.", "trans_num",
                    "transactionid", "txn_id", "tx_id", "transaction_ref", "authorization_id")  # fmt: skip
MERCHANT = _spec("merchant", "id", "Who was paid.", "merchant_id", "merchant_name", "namedest", "payee")
CATEGORY = _spec("merchant_category", "categorical", "The merchant's category.", "category", "mcc",
                 "merchant_category_code", "merchant_type")  # fmt: skip
COUNTRY = _spec(
    "country", "categorical", "Where (country or region).", "merchant_country", "location", "ip_country"
)
CHANNEL = _spec("channel", "categorical", "How: online, in store, ATM...", "entry_mode", "pos_entry_mode")
DEVICE = _spec("device", "categorical", "The device or terminal.", "device_id", "device_type", "terminal_id")
FRAUD = _spec("fraud", "boolean", "Whether it was fraud: 1/0, yes/no, true/false.", "is_fraud", "isfraud",
              "fraudulent", "is_fraudulent", "fraud_flag", "fraud_label", "class", "chargeback", "is_chargeback")  # fmt: skip


class FraudOutput(BinaryOutput):
    """What ``fraud_detection`` says about one transaction."""

    fraud_probability: Annotated[float, Field(ge=0, le=1, description="P(fraud), blended (module docs).")]
    anomaly_score: Annotated[float, Field(ge=0, le=1, description="Share of recent traffic less unusual.")]


class FraudDetection(Blueprint[FraudOutput, FraudState]):
    """Transaction Fraud Detection: the probability that a card transaction is fraud, from the first event."""

    id = "fraud_detection"
    name = "Transaction Fraud Detection"
    category = "financial_risk"
    label_ttl_s = 120 * 86_400.0  # chargebacks come weeks later
    use_case = (
        "Card issuers, acquirers and shops: score every transaction for fraud as it happens, labels or not."
    )
    task = "binary"
    required_inputs = (AMOUNT,)
    optional_inputs = (CARD, TIME, TRANSACTION, MERCHANT, CATEGORY, COUNTRY, CHANNEL, DEVICE, FRAUD)
    learns_context = True
    feature_params = frozenset()
    label = LabelSpec(
        "The 'fraud' column (1/0, yes/no, true/false), or chargebacks on tracer.labels.", column=FRAUD
    )
    output = OutputSpec(FraudOutput, "probability", "Likelihood that the transaction is fraudulent.",
                        headline="fraud_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "transaction_id"
    time_input = "timestamp"
    protocols = by_risk(
        low="approve", medium="step_up_authentication", high="hold_for_review", critical="decline"
    )
    data_requirements = (
        "One row per card transaction with its amount; a card id and a timestamp give the per-card "
        "velocity, amount and novelty features, a merchant and its category the novelty ones. Labels "
        "(fraud 1/0) may come in the row or days later; without any, the anomaly score still ranks."
    )

    def new_state(self, params: Params) -> FraudState:
        return FraudState()

    def scratch_state(self, state: FraudState, record: Record) -> FraudState:
        """The record's card only, and the detector to score with (not learn: ``learns`` False)."""
        card = record.get("card_id")
        seen = state.cards.get(str(card)) if card is not None else None
        return FraudState({} if seen is None else {str(card): seen}, state.detector, learns=False)

    def featurize(self, record: Record, state: FraudState, params: Params) -> Features:
        amount = max(float(record["amount"]), 0.0)
        now: float | None = record.get("timestamp")
        features: Features = {"amount": amount}
        log_amount = math.log1p(amount)
        for name in ("merchant_category", "channel"):
            if record.get(name) is not None:
                features[name] = str(record[name])
        if now is not None:
            features["night_hour"] = float(now % 86_400.0 < 6 * 3600.0)
        card = record.get("card_id")
        if card is not None:
            self._card_features(str(card), now, log_amount, record, state, features)
        get = features.get
        z, burst, gap = (
            get("amount_vs_card_usual"),
            get("transactions_last_hour"),
            get("minutes_since_previous"),
        )
        up = None if z is None else max(float(z), 0.0)
        signals = (
            None if up is None else up / (up + 2.0),
            min(log_amount / LOG_LARGE_AMOUNT, 1.0),
            None if burst is None else float(burst) / (float(burst) + 1.0),
            None if gap is None else math.exp(-float(gap) / 30.0),
            *(None if (flag := get(name)) is None else float(flag) for name in SIGNAL_FLAGS),
        )
        detector = state.detector
        features["anomaly_score"] = (
            detector.score_and_learn(signals) if state.learns else detector.score_one(signals)
        )
        return features

    @staticmethod
    def _card_features(
        card: str, now: float | None, log_amount: float, record: Record, state: FraudState, features: Features
    ) -> None:
        seen = state.cards.get(card)
        last, n, mean, var, hour, day, known = seen or (None, 0, log_amount, 0.0, 0.0, 0.0, frozenset())
        if n:
            if now is not None and last is not None and now >= last:
                gap = now - last
                hour, day = hour * math.exp(-gap / 3600.0), day * math.exp(-gap / 86_400.0)
                features["minutes_since_previous"] = gap / 60.0
            features["transactions_last_hour"], features["transactions_last_day"] = hour, day
        features["card_history"] = float(n)
        if n >= MIN_HISTORY:
            features["amount_vs_card_usual"] = (log_amount - mean) / max(math.sqrt(var), 0.25)
        fresh = []
        for key, tag, feature in NOVELTY:
            value = record.get(key)
            if value is not None:
                name = tag + str(value)
                new = name not in known
                if n >= NEW_AFTER:
                    features[feature] = float(new)
                if new:
                    fresh.append(name)
        if fresh and len(known) < MAX_KNOWN:
            known = known.union(fresh)
        alpha = 1.0 / min(n + 1, 50)
        delta = log_amount - mean
        newest = now if last is None or (now is not None and now > last) else last
        state.cards[card] = (newest, n + 1, mean + alpha * delta, (1 - alpha) * (var + alpha * delta * delta),
                             hour + 1.0, day + 1.0, known)  # fmt: skip
        if len(state.cards) > MAX_CARDS:
            _forget_oldest(state.cards)

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """Deterministic (zero-initialised, no sampling): ``seed`` changes nothing."""
        logistic = linear_model.LogisticRegression(optimizer=optim.SGD(0.03), l2=1e-4, intercept_lr=0.03)
        return PriorBlendedClassifier(ScaleAndEncode(log1p=LOGGED) | logistic, prior_key="anomaly_score",
                                      prior_power=PRIOR_POWER, ramp_labels=RAMP_LABELS)  # fmt: skip

    def label_of(self, record: Record, params: Params) -> float | None:
        value = record.get("fraud")
        return None if value is None else float(value)

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> FraudOutput:
        probability = min(max(score, 0.0), 1.0)
        risk: RiskLevel = next((level for cut, level in RISK_THRESHOLDS if probability >= cut), "low")
        n = float(getattr(model, "n_learned", 0))
        return FraudOutput(
            fraud_probability=probability, anomaly_score=float(features.get("anomaly_score", 0.5)),
            risk_classification=risk, risk_vectors=_vectors(features, model),
            recommended_protocol=self.protocols[risk], confidence=abs(2.0 * probability - 1.0) * n / (n + 100.0),
        )  # fmt: skip

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Card transactions in the columns of a common card-fraud export (Sparkov's): see :func:`generate`."""
        return generate(n_rows, seed)[0]


def _vectors(features: Features, model: OnlineModel) -> list[str]:
    """What the model weighs towards fraud, strongest first, then what is unusual in itself; three at most."""

    def name_of(feature: str, rising: bool) -> str:
        pair = VECTOR_NAMES.get(feature)
        if pair is not None:
            return pair[0] if rising else pair[1]
        return driver_name(feature, features.get(feature), rising)

    ranked = pushing_features(features, model)
    ranked += [(0.0, name, True) for name, cut in FLAGS if float(features.get(name, 0.0)) >= cut]
    return distinct_names(ranked, name_of, 3)


def _forget_oldest(cards: dict[str, Seen]) -> None:
    """Forget the tenth of the cards seen least recently (never-dated first, ties by id): any run forgets the same."""
    count = len(cards) // 10
    for card in heapq.nsmallest(count, cards, key=lambda c: (cards[c][0] or -math.inf, c)):
        del cards[card]


CATEGORIES = ("grocery_pos", "gas_transport", "home", "kids_pets", "entertainment", "food_dining", "personal_care",
              "health_fitness", "travel", "shopping_pos", "grocery_net", "shopping_net", "misc_pos", "misc_net")  # fmt: skip
FRAUD_CATEGORIES = (11, 13, 0, 9, 8)  # shopping_net, misc_net, grocery_pos, shopping_pos, travel
EPISODES_PER_CARD_DAY = 0.009
PLANTED = (-6.4, 1.1, 0.9, 1.3, 1.4, 0.6)
"""The planted logit: intercept, + amount z above the card's true usual, + earlier transactions in the last hour
(at most 3), + a category new to the card (from its 5th), + night, + an online (``_net``) category."""


def generate(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Transactions of cards with their own usual amount, categories, merchants and rhythm (daytime,
    about 1.3 a day), sorted by time, and each one's true fraud probability (the planted model's).

    Fraud comes in episodes (about 1 per card per 110 days): a burst of 1-7 transactions minutes
    apart, amounts about 2.6 card standard deviations above its usual, mostly online or shopping
    categories, at night more often than not. The label is drawn from :data:`PLANTED`'s logit of
    the transaction as the generator knows it (true usual amount, exact last-hour count), so
    ``roc_auc(labels, probabilities)`` is the ceiling a learner can reach. About 2% of categories
    and 1% of merchants are missing; ``gender`` and ``city_pop`` are context with no effect.
    """
    rng = np.random.default_rng(seed)
    n_cards = max(8, n_rows // 60)
    rates = rng.lognormal(math.log(1.2), 0.5, n_cards)
    days = 1.15 * n_rows / float(rates.sum()) + 2.0
    start = pd.Timestamp("2023-01-01").timestamp()
    columns: dict[str, list[Any]] = {key: [] for key in ("time", "card", "amount", "category", "merchant")}
    usual: list[tuple[float, float]] = []
    for card in range(n_cards):
        mu, sigma = float(rng.normal(math.log(45.0), 0.6)), float(rng.uniform(0.35, 0.8))
        usual.append((mu, sigma))
        favourites, weights = rng.choice(14, 4, replace=False), rng.dirichlet(np.full(4, 2.0))
        n = int(rng.poisson(rates[card] * days))
        hours = np.where(
            rng.random(n) < 0.97, np.clip(rng.normal(14, 3.5, n), 6, 23.99), rng.uniform(0, 6, n)
        )
        categories = np.where(
            rng.random(n) < 0.95, favourites[rng.choice(4, n, p=weights)], rng.integers(0, 14, n)
        )
        merchants = (categories * 7 + card + rng.integers(0, 3, n)) % 40
        times = start + np.floor(rng.uniform(0, days, n)) * 86_400.0 + hours * 3600.0
        amounts = np.exp(rng.normal(mu, sigma, n))
        for _ in range(int(rng.poisson(EPISODES_PER_CARD_DAY * days))):
            k = min(1 + int(rng.poisson(2.0)), 7)
            hour = rng.uniform(0, 6) if rng.random() < 0.55 else rng.uniform(6, 24)
            t0 = start + math.floor(rng.uniform(0, days)) * 86_400.0 + hour * 3600.0
            times = np.append(times, t0 + np.cumsum(np.r_[0.0, rng.exponential(360.0, k - 1)]))
            amounts = np.append(amounts, np.exp(mu + sigma * rng.normal(2.6, 0.8, k)))
            picked = np.where(rng.random(k) < 0.8, rng.choice(FRAUD_CATEGORIES, k), rng.integers(0, 14, k))
            categories = np.append(categories, picked)
            merchants = np.append(merchants, rng.integers(0, 40, k))
        for key, values in (
            ("time", times),
            ("amount", amounts),
            ("category", categories),
            ("merchant", merchants),
        ):
            columns[key].extend(values.tolist())
        columns["card"].extend([card] * len(times))
    order = np.argsort(np.asarray(columns["time"]), kind="stable")[:n_rows]
    rows = {key: np.asarray(values)[order] for key, values in columns.items()}
    probability = _planted(rows, usual)
    cards = rows["card"]
    merchant_names = [
        f"merchant_{int(c):02d}{int(m):02d}" for c, m in zip(rows["category"], rows["merchant"], strict=True)
    ]
    frame = pd.DataFrame({
        "trans_date_trans_time": pd.to_datetime(rows["time"], unit="s").strftime("%Y-%m-%d %H:%M:%S"),
        "cc_num": 4_000_000_000_000_000 + cards * 7919 + seed % 1000,
        "merchant": [None if hole else name for hole, name in zip(rng.random(len(cards)) < 0.01, merchant_names, strict=True)],
        "category": np.where(rng.random(len(cards)) < 0.02, None, np.asarray(CATEGORIES)[rows["category"]]),
        "amt": rows["amount"].round(2),
        "gender": np.asarray(["F", "M"])[(cards * 31 + seed) % 2],
        "city_pop": np.round(np.exp(8.0 + 2.0 * np.sin(cards * 12.9898 + seed) ** 2)),
        "trans_num": [f"{int(a):016x}{int(b):016x}" for a, b in rng.integers(0, 2**62, (len(cards), 2))],
        "is_fraud": (rng.random(len(cards)) < probability).astype(int),
    })  # fmt: skip
    return frame, probability


def _planted(rows: dict[str, np.ndarray], usual: list[tuple[float, float]]) -> np.ndarray:
    """Each transaction's true fraud probability, from what the generator knows of its card."""
    b0, b_amount, b_burst, b_new, b_night, b_net = PLANTED
    logits = np.empty(len(rows["time"]))
    history: dict[int, tuple[list[float], set[int]]] = {}
    for i, (time, card, amount, category) in enumerate(
        zip(rows["time"], rows["card"], rows["amount"], rows["category"], strict=True)
    ):
        times, used = history.setdefault(int(card), ([], set()))
        mu, sigma = usual[int(card)]
        burst = sum(1 for t in times[-3:] if time - t <= 3600.0)
        new = len(times) >= NEW_AFTER and int(category) not in used
        night = time % 86_400.0 < 6 * 3600.0
        logits[i] = (b0 + b_amount * max((math.log(amount) - mu) / sigma, 0.0) + b_burst * burst + b_new * new
                     + b_night * night + b_net * CATEGORIES[int(category)].endswith("_net"))  # fmt: skip
        times.append(float(time))
        used.add(int(category))
    return 1.0 / (1.0 + np.exp(-logits))
