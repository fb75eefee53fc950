"""Deploy the demo's blueprints as the product documents it: upload a history as a dataset, then
``POST /deployments`` with it, so each deployment is replay-trained before it goes live (the worker's
HTTP API, :mod:`tracer.agents.api.deploy`), with a progress bar for the upload and the training.

Each deployment's history is different rows from its live stream: the churn story's earlier months
(:mod:`tracer.agents.demo_streams`), or the blueprint's own sample with another seed, moved to end
before the live stream begins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import click
import pandas as pd

from tracer.agents.demo_streams import HISTORY_START, churn_frame, live_stream, market_stream
from tracer.agents.replay import Record, read_records
from tracer.blueprints import registry
from tracer.client import TracerClient

__all__ = ["Plan", "deploy_all", "plans", "sample_path"]

CHURN_HISTORY_ROWS = 6000
HISTORY_SEED = 101
"""Not a seed any bundled live stream was drawn with: the history is other rows."""
CRYPTO_STREAMS = (
    ("liquidations", "liquidation_risk", "crypto.positions", "position_snapshot.jsonl", "account", 800),
    ("yields", "yield_optimization", "crypto.pools", "pool_snapshot.jsonl", "pool", 1000),
    ("whales", "whale_behavior", "crypto.transfers", "token_transfer.jsonl", "from_address", 1200),
    ("gas", "gas_price_forecast", "crypto.blocks", "block_snapshot.jsonl", "chain", 1200),
)
"""The crypto demo's deployments besides market direction: id, blueprint, topic, file, key, history rows."""
LIVE_NAMES = {
    "gas_price_forecast": {
        "block_number": "number", "base_fee_gwei": "baseFeePerGas", "gas_used": "gasUsed", "gas_limit": "gasLimit",
        "priority_fee_gwei": "priorityFeePerGas", "tx_count": "transactionCount",
    },
}  # fmt: skip
"""Column names of a blueprint's sample -> those of the bundled live stream, where they differ."""
TIME_COLUMNS = {"ts": 1, "timestamp": 1000}
"""Time columns of the bundled streams and their unit in milliseconds."""


def sample_path(name: str) -> Path:
    """Path of a bundled sample file."""
    return Path(str(resources.files("tracer.agents") / "samples" / name))


@dataclass
class Plan:
    """One deployment of the demo: what it is, its live stream, and the history it is trained on."""

    id: str
    blueprint: str
    topic: str
    records: list[Record]
    history: pd.DataFrame
    request: dict[str, Any] = field(default_factory=dict)
    """The rest of :meth:`TracerClient.deploy`'s arguments: parameters, key field, labels, shadows, drift."""
    outcomes: dict[str, tuple[bool, float]] = field(default_factory=dict)
    """Prediction key -> (outcome, baseline score), when the demo knows them (delayed labels)."""


def _earlier(history: pd.DataFrame, live: list[Record]) -> pd.DataFrame:
    """``history`` moved in time to end a minute before the first live record."""
    first = json.loads(live[0].value)
    for column, unit_ms in TIME_COLUMNS.items():
        if column in history.columns and column in first:
            shift = int(history[column].max()) - int(first[column]) + 60_000 // unit_ms
            return history.assign(**{column: history[column].astype("int64") - shift})
    return history


def _blueprint_history(blueprint: str, rows: int, live: list[Record]) -> pd.DataFrame:
    """The blueprint's sample in the live stream's column names (the deployment reads the names the
    dataset it was trained on shows), ending before the live stream begins."""
    sample = registry.get(blueprint)().sample(rows, seed=HISTORY_SEED)
    first = json.loads(live[0].value)
    names = {name for record in live[:100] for name in json.loads(record.value)}
    sample = sample.rename(columns=LIVE_NAMES.get(blueprint, {}))
    sample = sample[[column for column in sample.columns if column in names]]
    if "chain" in first and "chain" not in sample.columns:
        sample = sample.assign(chain=first["chain"])
    return _earlier(sample, live)


def plans(stream: str, prefix: str) -> list[Plan]:
    """The demo's deployments for ``stream`` (business or crypto), reading topics under ``prefix``."""
    history, snapshots = market_stream(12_000, 3_000, seed=7)
    market = Plan(
        "market-direction", "price_movement", f"{prefix}tracer.market.snapshots", snapshots,
        history,
        {"parameters": {"horizonSeconds": 60}, "key_field": "symbol", "labels": {"mode": "self"}},
    )  # fmt: skip
    if stream == "crypto":
        crypto = []
        for deployment, blueprint, topic, file, key, rows in CRYPTO_STREAMS:
            records = read_records(sample_path(file), key_column=key)
            crypto.append(Plan(
                deployment, blueprint, f"{prefix}{topic}", records, _blueprint_history(blueprint, rows, records),
                {"key_field": key, "labels": {"mode": "self"}},
            ))  # fmt: skip
        return [market, *crypto]
    customers, outcomes = live_stream(2500, seed=2024)
    churn = Plan(
        "churn", "customer_churn", f"{prefix}crm.customer_activity", customers,
        churn_frame(CHURN_HISTORY_ROWS, seed=HISTORY_SEED, start=HISTORY_START, days=270),
        {
            "parameters": {"churnDefinition": "cancelled_subscription", "predictionWindow": "30_days"},
            "key_field": "cust_id",
            "labels": {"mode": "delayed", "ttl_seconds": 31_536_000},  # outcomes arrive later, on tracer.labels
            # A challenger starting from the trained model that learns churn as "no login in 30 days".
            "shadows": [{"name": "no-login-rule", "version": 1, "params": {"churnDefinition": "no_login_30_days"}}],
            "drift": {"agreement_window_events": 500},
        },
        outcomes,
    )  # fmt: skip
    return [churn, market]


def deploy_all(
    base_url: str, api_key: str, items: list[Plan], *, bar_file: TextIO | None = None
) -> dict[str, dict[str, Any]]:
    """Upload each plan's history and deploy it trained on it; return each deployment's validation
    (rows and metrics of the training replay). Raises RuntimeError naming the deployment on failure."""
    validations: dict[str, dict[str, Any]] = {}
    with TracerClient(api_key=api_key, base_url=base_url, timeout=120.0) as client:
        for plan in items:
            data = plan.history.to_csv(index=False).encode()
            with click.progressbar(
                length=len(data), label=f"  uploading {plan.id} history", file=bar_file
            ) as bar:
                dataset = client.upload_data(
                    data,
                    name=f"{plan.id}-history.csv",
                    on_progress=lambda sent, _total: bar.update(sent - bar.pos),
                )
            label = f"  training {plan.id} on {len(plan.history)} rows of history"
            with click.progressbar(length=len(plan.history), label=label, file=bar_file) as bar:
                model = client.deploy(
                    plan.blueprint, dataset, id=plan.id, input_topics=[plan.topic],
                    on_progress=lambda done, _total: bar.update(done - bar.pos), **plan.request,
                )  # fmt: skip
            answer = model.deployment.raw
            validation = answer.get("validation") or {}
            validations[plan.id] = {"rows": validation.get("rows", len(plan.history)),
                                    "metrics": validation.get("metrics") or {}}  # fmt: skip
    return validations
