"""``whale_behavior``: will this large holder sell (move tokens to an exchange) within the horizon?

Issue 20 (crypto and DeFi). Each on-chain transfer (``ts``, ``from_address``, ``to_address``,
``to_exchange``; optionally ``token``, ``amount``, ``usd_value``) is scored for its SENDER, the
holder. Synonyms: ``block_timestamp``/``block_time`` for the time, ``from``/``sender`` and
``to``/``receiver``/``recipient`` for the addresses, ``is_exchange``/``exchange_deposit`` for the
flag, ``value_usd``/``amount_usd`` for the value. Features, from per-address state (``learns_context``
is off: transfers have a fixed schema, :class:`~tracer.schemas.token_transfer.TokenTransfer`):

- this transfer: its log USD value, whether it goes to an exchange, whether the sender is itself a
  known exchange (an address seen receiving exchange deposits);
- the holder's habits: the share of its past transfers that went to exchanges, its transfers and
  exchange deposits in the last day or so (24 h half-life), hours since its previous transfer and
  since its previous deposit (logged);
- what it received: USD from non-exchange addresses (unlocks, OTC) and withdrawn from exchanges
  (accumulation), both with a 24 h half-life, logged, and hours since each; whether it has deposited
  since it last received; this transfer's log size against the holder's usual.

Model: an online logistic regression on scaled features (the task base's default binary model).
Open predictions are kept by :class:`~tracer.blueprints.engines.event_within.EventWithin`.

Label, self-labelled (:meth:`WhaleBehavior.self_labels`): a prediction about holder H at time t
settles 1.0 at H's first later transfer to an exchange at or before ``t + horizonHours``; 0.0 once
any later transfer in the stream is past ``t + horizonHours`` with no such deposit.

Output: ``sell_probability`` (headline), ``risk_classification``, ``risk_vectors``,
``recommended_protocol`` (no_action / monitor / hedge / reduce_exposure), ``confidence``,
``horizon_hours``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints import tasks
from tracer.blueprints.actions import RiskLevel, by_risk
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
    Task,
)
from tracer.blueprints.engines.event_within import EventWithin
from tracer.blueprints.protocols import offers_experience
from tracer.blueprints.tasks import BinaryOutput, default_binary_model
from tracer.schemas.token_transfer import TokenTransfer

__all__ = ["MAX_PENDING", "WhaleBehavior", "WhaleOutput", "WhaleState", "simulate"]

HALF_LIFE_S = 86_400.0
"""Half-life of the holder's recent activity, deposits and inflows (fixed: features don't read params)."""
MAX_PENDING = 200_000
"""Unsettled predictions kept in all; the oldest are dropped (and counted) beyond that."""
_NEVER_HOURS = 24.0 * 90  # "hours since" for a holder never seen doing it


class WhaleOutput(BinaryOutput):
    """What ``whale_behavior`` says about the sender of one transfer."""

    sell_probability: Annotated[
        float, Field(ge=0, le=1, description="P(an exchange deposit within the horizon).")
    ]
    horizon_hours: Annotated[int, Field(gt=0)]


@dataclass(slots=True)
class _Holder:
    seen_s: float = -math.inf  # last transfer sent
    updated_s: float = -math.inf  # when the decayed sums were last brought to date
    sent: int = 0
    deposits: int = 0
    deposit_s: float = -math.inf
    recent_sent: float = 0.0
    recent_deposits: float = 0.0
    inflow_usd: float = 0.0
    withdrawn_usd: float = 0.0
    mean_log_usd: float = 0.0  # running mean of its transfers' log USD values
    inflow_s: float = -math.inf  # last received from a non-exchange address
    withdrawal_s: float = -math.inf  # last withdrawn from an exchange

    def decay_to(self, ts: float) -> None:
        if self.updated_s > -math.inf and ts > self.updated_s:
            factor = 0.5 ** ((ts - self.updated_s) / HALF_LIFE_S)
            self.recent_sent *= factor
            self.recent_deposits *= factor
            self.inflow_usd *= factor
            self.withdrawn_usd *= factor
        self.updated_s = max(self.updated_s, ts)


@dataclass
class WhaleState:
    """Per-address history for the features; the unsettled predictions per holder and in time order."""

    holders: dict[str, _Holder] = field(default_factory=dict)
    exchanges: set[str] = field(default_factory=set)
    book: EventWithin = field(default_factory=lambda: EventWithin(MAX_PENDING))

    def holder(self, address: str) -> _Holder:
        found = self.holders.get(address)
        if found is None:
            found = self.holders[address] = _Holder()
        return found


def _usd(record: Record) -> float:
    value = record.get("usd_value")
    if value is None:
        value = record.get("amount")
    return max(float(value), 0.0) if value is not None else 0.0


def _hours_since(now: float, then: float) -> float:
    return math.log1p(_NEVER_HOURS if then == -math.inf else min(max(now - then, 0.0) / 3600, _NEVER_HOURS))


ADDRESS_FROM = InputSpec("from_address", "id", "The sending address: the holder the prediction is about.",
                         ("from", "sender", "from_addr", "sender_address", "holder_address", "from_wallet"))  # fmt: skip
ADDRESS_TO = InputSpec("to_address", "id", "The receiving address.",
                       ("to", "receiver", "recipient", "to_addr", "receiver_address", "destination_address"))  # fmt: skip
TO_EXCHANGE = InputSpec("to_exchange", "boolean", "Whether the destination is a known exchange deposit address.",
                        ("is_exchange", "to_cex", "exchange_deposit", "is_exchange_deposit", "to_is_exchange", "cex_deposit"))  # fmt: skip


class WhaleBehavior(Blueprint[WhaleOutput, WhaleState]):
    """Whale sell pressure: the probability that a transfer's sender deposits to an exchange soon."""

    id: ClassVar[str] = "whale_behavior"
    name: ClassVar[str] = "Whale Behavior"
    category: ClassVar[str] = "crypto_defi"
    use_case: ClassVar[str] = (
        "Watch large holders' on-chain transfers and score, at each, the probability that the sender "
        "moves tokens to an exchange (a likely sale) within the horizon; the stream settles each itself."
    )
    task: ClassVar[Task] = "binary"
    required_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("ts", "timestamp", "Transfer time (ms epoch on the wire).",
                  ("block_timestamp", "block_time", "timestamp", "time", "datetime", "tx_time")),
        ADDRESS_FROM, ADDRESS_TO, TO_EXCHANGE,
    )  # fmt: skip
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("token", "categorical", "The token moved.", ("token_symbol", "token_address", "contract_address")),
        InputSpec("amount", "numeric", "Tokens moved.", ("value", "token_amount", "quantity", "amount_tokens")),
        InputSpec("usd_value", "numeric", "The transfer's value in USD.", ("value_usd", "amount_usd", "usd_amount")),
        InputSpec("tx_hash", "id", "The transfer's transaction hash (identifies it; not a feature).",
                  ("transaction_hash", "hash", "tx_id", "transfer_id")),
    )  # fmt: skip
    parameters: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec(
            "horizonHours", 24, "How far ahead a sale (an exchange deposit) is predicted.", (6, 24, 72, 168)
        ),
    )
    feature_params = frozenset()  # horizonHours only settles labels
    self_labelling = True
    input_schema = TokenTransfer
    label_ttl_s = 8 * 86_400.0
    protocols = by_risk(low="no_action", medium="monitor", high="hedge", critical="reduce_exposure")
    label: ClassVar[LabelSpec] = LabelSpec(
        description="1.0 if the sender deposits to an exchange within horizonHours, else 0.0.",
        rule=(
            "self-labelled: the holder's first later transfer to an exchange within horizonHours settles 1; "
            "a later transfer of anyone past the horizon settles 0"
        ),
    )
    output: ClassVar[OutputSpec] = OutputSpec(
        WhaleOutput, "probability", "Probability that the sender moves tokens to an exchange within the horizon.",
        headline="sell_probability", range=(0.0, 1.0),
    )  # fmt: skip
    entity_input: ClassVar[str] = "from_address"
    time_input: ClassVar[str | None] = "ts"
    data_requirements: ClassVar[str] = (
        "A stream of token transfers in time order (an indexer's export), each with its sender, receiver "
        "and whether the receiver is a known exchange; weeks of history for holders' habits."
    )

    def new_state(self, params: Params) -> WhaleState:
        return WhaleState()

    def scratch_state(self, state: WhaleState, record: Record) -> WhaleState:
        """The record's two addresses' histories and the known exchanges; no pending predictions."""
        copied = WhaleState(exchanges=set(state.exchanges))
        for address in (str(record["from_address"]), str(record["to_address"])):
            found = state.holders.get(address)
            if found is not None:
                copied.holders[address] = _Holder(*(getattr(found, name) for name in found.__slots__))
        return copied

    def featurize(self, record: Record, state: WhaleState, params: Params) -> Features:
        """Features of the transfer against its sender's history; then both addresses' histories move on."""
        ts, sender, receiver = float(record["ts"]), str(record["from_address"]), str(record["to_address"])
        deposit, usd = bool(record["to_exchange"]), _usd(record)
        holder = state.holder(sender)
        holder.decay_to(ts)
        features: Features = {
            "log_usd": math.log1p(usd),
            "to_exchange": float(deposit),
            "from_exchange": float(sender in state.exchanges),
            "deposit_share": (holder.deposits + 0.1) / (holder.sent + 1.0),
            "recent_transfers": holder.recent_sent,
            "recent_deposits": holder.recent_deposits,
            "log_hours_since_last": _hours_since(ts, holder.seen_s),
            "log_hours_since_deposit": _hours_since(ts, holder.deposit_s),
            "log_inflow_usd": math.log1p(holder.inflow_usd),
            "log_withdrawn_usd": math.log1p(holder.withdrawn_usd),
            "size_vs_usual": math.log1p(usd) - holder.mean_log_usd if holder.sent else 0.0,
            "log_hours_since_inflow": _hours_since(ts, holder.inflow_s),
            "log_hours_since_withdrawal": _hours_since(ts, holder.withdrawal_s),
            "selling_since_inflow": float(holder.deposit_s > max(holder.inflow_s, holder.withdrawal_s)),
        }
        if record.get("token") is not None:
            features["token"] = str(record["token"])
        holder.mean_log_usd += (math.log1p(usd) - holder.mean_log_usd) / (holder.sent + 1)
        holder.sent += 1
        holder.recent_sent += 1.0
        holder.seen_s = max(holder.seen_s, ts)
        if deposit:
            state.exchanges.add(receiver)
            holder.deposits += 1
            holder.recent_deposits += 1.0
            holder.deposit_s = max(holder.deposit_s, ts)
        else:
            incoming = state.holder(receiver)
            incoming.decay_to(ts)
            if sender in state.exchanges:
                incoming.withdrawn_usd += usd
                incoming.withdrawal_s = max(incoming.withdrawal_s, ts)
            else:
                incoming.inflow_usd += usd
                incoming.inflow_s = max(incoming.inflow_s, ts)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """The default binary model (scaled, deterministic logistic regression): ``seed`` changes nothing."""
        return default_binary_model(("recent_transfers", "recent_deposits"))

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: a transfer carries no outcome of its own; later transfers settle it (``self_labels``)."""
        return None

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> WhaleOutput:
        probability = min(max(score, 0.0), 1.0) if math.isfinite(score) else 0.5
        risk: RiskLevel = next((level for cut, level in tasks.RISK_THRESHOLDS if probability >= cut), "low")
        learned = float(model.n_learned) if offers_experience(model) else 0.0
        drivers = tasks.distinct_names(
            tasks.pushing_features(features, model),
            lambda feature, rising: tasks.driver_name(feature, features.get(feature), rising),
            tasks.MAX_DRIVERS,
        )
        return WhaleOutput(
            sell_probability=probability,
            risk_classification=risk,
            risk_vectors=drivers,
            recommended_protocol=self.protocols[risk],
            confidence=abs(2.0 * probability - 1.0) * learned / (learned + tasks.CONFIDENCE_RAMP_LABELS),
            horizon_hours=int(float(params.get("horizonHours", 24))),
        )

    def self_labels(self, record: Record, state: WhaleState, params: Params) -> list[tuple[str, float]]:
        """Settle 0.0 every prediction whose horizon this transfer's time has passed; settle 1.0 every
        open prediction of the sender if this transfer goes to an exchange; then open this one."""
        ts, sender, book = float(record["ts"]), str(record["from_address"]), state.book
        labels = book.expire(ts, float(params.get("horizonHours", 24)) * 3600.0)
        if bool(record["to_exchange"]):
            labels += book.settle(sender, ts)
        book.add(sender, self.prediction_key(record), ts)
        return labels

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Seeded transfers in an indexer's column names (``ts`` in ms): see :func:`simulate`."""
        return simulate(n_rows, seed)[0]


_TOKENS = (("ETH", 1_650.0), ("WBTC", 45_000.0), ("UNI", 6.0), ("ARB", 1.1), ("USDC", 1.0))
_START_MS = 1_696_723_200_000


def simulate(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Transfers, and the planted sell hazard of each row's sender just after it (the ceiling's score).

    Holders have a fixed sell propensity and activity. An unlock (a transfer from a vesting or
    treasury contract) starts a selling phase with odds 0.7, a random sale more rarely; in it a holder
    transfers four times as often and sends 55 % of transfers to exchanges, in large tranches. An
    exchange withdrawal ends it. Outside it deposits are rare (sigmoid(-3.2 + 0.8 z)).
    """
    rng = np.random.default_rng(seed)
    n_holders = max(30, n_rows // 50)
    holders = [f"0x{v:012x}" for v in rng.integers(1 << 40, 1 << 47, n_holders)]
    exchanges = [f"0xcex{i:02d}deposit" for i in range(6)]
    contracts = ("0xvesting01", "0xtreasury02", "0xotcdesk03")
    propensity = rng.normal(0.0, 1.0, n_holders)
    activity = rng.lognormal(0.4, 0.5, n_holders)  # transfers a day when calm
    balance = rng.lognormal(13.0, 1.0, n_holders)
    selling_until = np.full(n_holders, -np.inf)
    calm_deposit = 1.0 / (1.0 + np.exp(3.2 - 0.8 * propensity))
    rows: list[tuple[Any, ...]] = []
    hazard, times = np.empty(n_rows), np.empty(n_rows)
    t_days = 0.0
    for i in range(n_rows):
        selling = selling_until > t_days
        weight = activity * np.where(selling, 4.0, 1.0)
        total = weight.sum() / 0.85
        t_days += rng.exponential(1.0 / total)
        kind = rng.random()
        token, price = _TOKENS[int(rng.integers(len(_TOKENS)))]
        if kind < 0.85:
            h = min(int(np.searchsorted(np.cumsum(weight), rng.random() * weight.sum())), n_holders - 1)
            if not selling[h] and rng.random() < 0.01 * (1.0 + float(propensity[h] > 0)):
                selling_until[h] = t_days + rng.exponential(1.5)
            deposit = rng.random() < (0.55 if selling_until[h] > t_days else calm_deposit[h])
            usd = balance[h] * rng.uniform(0.05, 0.3) if selling_until[h] > t_days else rng.lognormal(10, 1.2)
            sender = holders[h]
            receiver = (
                exchanges[int(rng.integers(6))]
                if deposit
                else holders[(h + 1 + int(rng.integers(n_holders - 1))) % n_holders]
            )
        else:
            h = int(rng.integers(n_holders))
            deposit, usd, receiver = False, balance[h] * rng.uniform(0.1, 0.5), holders[h]
            if kind < 0.92:  # a withdrawal from an exchange: accumulating
                sender, selling_until[h] = exchanges[int(rng.integers(6))], t_days
            else:
                sender = contracts[int(rng.integers(3))]
                if rng.random() < 0.7:
                    selling_until[h] = t_days + rng.exponential(1.5)
        sell_now = selling_until > t_days
        s = h if sender == holders[h] else -1
        hazard[i] = (
            activity[s] * (4.0 if sell_now[s] else 1.0) * (0.55 if sell_now[s] else calm_deposit[s])
            if s >= 0
            else 0.0
        )
        times[i] = t_days
        rows.append((sender, receiver, token, usd / price, usd, bool(deposit)))
    frame = pd.DataFrame(
        rows, columns=["from_address", "to_address", "token", "amount", "usd_value", "to_exchange"]
    )
    frame.insert(0, "ts", _START_MS + np.maximum.accumulate(np.round(times * 86_400_000).astype(np.int64)))
    frame["ts"] += np.arange(n_rows)  # distinct milliseconds: each key names one transfer
    frame["amount"], frame["usd_value"] = frame["amount"].round(6), frame["usd_value"].round(2)
    frame.loc[rng.random(n_rows) < 0.02, "usd_value"] = np.nan
    frame["tx_hash"] = [f"0x{v:016x}" for v in rng.integers(0, 1 << 62, n_rows)]
    frame["chain"] = "ethereum"
    return frame, hazard
