"""The Faust application: one per worker process."""

from __future__ import annotations

import faust

from tracer.agents.settings import Settings

__all__ = ["SESSION_TIMEOUT_S", "make_app"]

SESSION_TIMEOUT_S = 10.0
"""How long the broker waits for a silent member before its partitions move: aiokafka's default,
which the router and scorer groups use, instead of Faust's 60 s. After a ``kill -9`` the dead
member holds a rebalance up for this long, and a worker stopped meanwhile waits for it."""


def make_app(settings: Settings) -> faust.App:
    """A Faust app for ``settings``: raw bytes on the wire (we decode with pydantic), in-memory tables
    backed by changelog topics, and the web server on ``settings.web_port`` for the HTTP API."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.app_id,
        broker=f"kafka://{settings.broker}",
        store="memory://",
        datadir=str(settings.data_dir / settings.app_id),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_enabled,
        web_host="127.0.0.1",
        web_port=settings.web_port if settings.web_enabled else 6066,
        producer_linger_ms=5,
        broker_session_timeout=SESSION_TIMEOUT_S,
        web_router_enabled=False,  # Faust's own /router and /table pages: not part of Tracer's API
        web_tables_enabled=False,
    )
