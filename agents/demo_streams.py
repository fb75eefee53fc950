"""The demo's churn story, as data: a history to train on and a live stream with one planted change.

Customers of a subscription product arrive all the time (so the mix of old and new accounts does
not drift by itself as the stream goes on) and are seen once a month until they cancel. Engagement
drives churn, and it shows in the columns a CRM exports: inactive customers, slow usage and support
trouble precede a cancellation. The bundled stream is one a model can learn well from its history.

The planted change: half-way through the live stream, the ``basic`` plan's price goes up by 60%.
From then on basic customers are billed more (their spend per day rises) and more of them cancel.
That is the one place the drift detectors should speak up.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from tracer.agents.replay import Record
from tracer.blueprints.recipes.price_movement import PriceMovement

__all__ = [
    "HISTORY_START",
    "LIVE_START",
    "PRICE_RISE",
    "churn_frame",
    "live_stream",
    "prediction_key",
]

DAY_S = 86_400.0
HISTORY_START = datetime(2023, 1, 1, tzinfo=UTC)
LIVE_START = datetime(2023, 10, 1, tzinfo=UTC)
"""The history covers the months before the live stream: different customers, earlier dates."""
PRICE_RISE = 1.6
"""The basic plan's price after the planted change, relative to before."""
FEES = {"basic": 15.0, "pro": 49.0, "enterprise": 199.0}
PLANS, PLAN_WEIGHTS = ("basic", "pro", "enterprise"), (0.5, 0.35, 0.15)
MAX_MONTHS = 8


def _iso(epoch_s: float, *, with_time: bool) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ" if with_time else "%Y-%m-%d")


def churn_frame(
    n_rows: int, *, seed: int, start: datetime, days: int, price_change_at: float | None = None
) -> pd.DataFrame:
    """``n_rows`` monthly customer snapshots dated from ``start`` over about ``days`` days, in time
    order, with the outcome (``churned``: cancelled within 30 days). With ``price_change_at`` (a
    fraction of the period), the basic plan's price rises by :data:`PRICE_RISE` from then on."""
    begin = start.timestamp()
    end = begin + days * DAY_S
    change = begin + price_change_at * days * DAY_S if price_change_at is not None else math.inf
    # Enough customers for n_rows snapshots in the period (about 3.4 each), arriving uniformly from
    # MAX_MONTHS before it, so the period starts with the same mix of account ages it keeps.
    # A first draw tells how many snapshots a customer gives in the period; the second draws enough.
    customers = int(n_rows / 3.0 * (days + 30 * MAX_MONTHS) / days)
    for _ in range(2):
        rng = np.random.default_rng(seed)
        rows: list[dict[str, Any]] = []
        for customer in range(1, customers + 1):
            rows.extend(_customer(rng, customer, seed, begin - 30 * MAX_MONTHS * DAY_S, end, change))
        frame = pd.DataFrame.from_records(rows)
        frame = frame[(frame["_as_of"] >= begin) & (frame["_as_of"] < end)]
        customers = int(customers * n_rows * 1.03 / max(len(frame), 1)) + 1
    frame = frame.sort_values(["_as_of", "cust_id"], kind="stable").head(n_rows)
    if len(frame) < n_rows:
        raise ValueError(f"only {len(frame)} snapshots in {days} days; ask for fewer rows or more days")
    return frame.drop(columns=["_as_of"]).reset_index(drop=True)


def _customer(
    rng: np.random.Generator, customer: int, seed: int, first_from: float, end: float, change: float
) -> list[dict[str, Any]]:
    plan = str(rng.choice(PLANS, p=PLAN_WEIGHTS))
    taste = float(rng.lognormal(0.0, 0.15))
    first = float(rng.uniform(first_from, end))
    signup = first - float(rng.uniform(0, 60)) * DAY_S
    engagement = float(rng.normal(0.0, 1.0))
    trend = -float(rng.uniform(0.3, 0.8)) if rng.random() < 0.3 else float(rng.normal(0.0, 0.1))
    troubled = bool(rng.random() < 0.15)
    usage = tickets = spend = 0.0
    rows: list[dict[str, Any]] = []
    for month in range(MAX_MONTHS):
        as_of = first + month * 30 * DAY_S
        if as_of >= end:
            break
        if month:
            engagement += trend + float(rng.normal(0.0, 0.15))
        raised = plan == "basic" and as_of >= change
        usage += float(rng.poisson(math.exp(2.5 + 0.6 * engagement)))
        tickets += float(rng.poisson(0.2 + 0.8 * troubled + 0.5 * max(0.0, -engagement)))
        spend += FEES[plan] * taste * (PRICE_RISE if raised else 1.0)
        tenure_days = (as_of - signup) / DAY_S
        inactive_days = min(float(rng.exponential(math.exp(1.5 - 1.3 * engagement))), tenure_days)
        logit = (-2.6 - 2.0 * engagement + 1.0 * troubled + 0.4 * (plan == "basic") + 1.6 * raised
                 - 0.3 * math.log(tenure_days / 30.0 + 1.0))  # fmt: skip
        churned = bool(rng.random() < 1.0 / (1.0 + math.exp(-logit)))
        rows.append({
            "_as_of": as_of, "cust_id": f"C{seed % 1000:03d}-{customer:06d}",
            "snapshot_date": _iso(as_of, with_time=False), "signup_date": _iso(signup, with_time=False),
            "last_login": _iso(as_of - inactive_days * DAY_S, with_time=True),
            "plan": plan if rng.random() > 0.03 else None, "total_spend": round(spend, 2),
            "support_tickets": tickets if rng.random() > 0.03 else math.nan,
            "feature_usage": usage if rng.random() > 0.03 else math.nan, "churned": churned,
        })  # fmt: skip
        if churned:
            break
    return rows


def prediction_key(cust_id: str, snapshot_date: str) -> str:
    """The key of a churn prediction, which its delayed outcome joins on: customer @ as-of epoch ms."""
    return f"{cust_id}@{int(pd.Timestamp(snapshot_date, tz='UTC').value // 1_000_000)}"


def live_stream(
    rows: int, seed: int, *, days: int = 120
) -> tuple[list[Record], dict[str, tuple[bool, float]]]:
    """The live customer activity rows in time order (three malformed ones among them, as real
    producers send), and each prediction key's outcome with the row's days since the last login
    (the simple rule a churn model is compared with); the price rise lands half-way."""
    frame = churn_frame(rows, seed=seed, start=LIVE_START, days=days, price_change_at=0.5)
    inactive = pd.to_datetime(frame["snapshot_date"], utc=True) - pd.to_datetime(
        frame["last_login"], utc=True
    )
    outcomes = {
        prediction_key(str(key), str(date)): (bool(churned), float(days_inactive))
        for key, date, churned, days_inactive in zip(
            frame["cust_id"],
            frame["snapshot_date"],
            frame["churned"],
            inactive.dt.total_seconds() / DAY_S,
            strict=True,
        )
    }
    records = [
        Record(str(row["cust_id"]).encode(), json.dumps(row).encode())
        for row in json.loads(frame.drop(columns=["churned"]).to_json(orient="records", date_format="iso"))
    ]
    for position, bad in zip(
        range(150, rows, 400), (b"{oops", b'{"cust_id": "C-404"}', b'["not", "a", "row"]'), strict=False
    ):
        records.insert(position, Record(b"broken", bad))
    return records, outcomes


def market_stream(history_rows: int, live_rows: int, seed: int) -> tuple[pd.DataFrame, list[Record]]:
    """One market from ``price_movement``'s generator: its first ``history_rows`` snapshots are the
    history a deployment trains on, the next ``live_rows`` the live stream (so the live stream goes on
    where the history stops, with no change the story does not tell; without the optional 24 h volume,
    which the generator lets grow with the stream), with a few malformed messages,
    as real producers send: not JSON, and a snapshot without a price."""
    frame = PriceMovement().sample(history_rows + live_rows, seed=seed).drop(columns=["volume"])
    history, live = frame.head(history_rows), frame.iloc[history_rows:]
    records = [
        Record(str(row["symbol"]).encode(), json.dumps(row).encode())
        for row in json.loads(live.to_json(orient="records"))
    ]
    for position, bad in zip(
        range(200, live_rows, 450), (b"{oops", b'{"symbol": "BTCUSDT", "ts": 1}', b"\xff\xfe"), strict=False
    ):
        records.insert(position, Record(b"broken", bad))
    return history.reset_index(drop=True), records
