"""Seed 002's market-snapshot contract."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from tracer.schemas.base import EpochMillis, InboundModel, NonEmptyStr

__all__ = ["MarketSnapshot"]

Price = Annotated[float, Field(gt=0)]


class MarketSnapshot(InboundModel):
    """One top-of-book snapshot of one symbol, as producers write it to ``tracer.market.snapshots``.

    >>> MarketSnapshot(ts=1696723200000, symbol="BTCUSDT", mid=45000, spreadBp=2, vol1m=1e6, rsi14=55).mid
    45000.0
    """

    ts: EpochMillis
    symbol: NonEmptyStr
    mid: Price
    spreadBp: Annotated[float, Field(ge=0, description="Bid-ask spread in basis points of mid.")]
    vol1m: Annotated[float, Field(ge=0, description="Traded volume over the last minute.")]
    rsi14: Annotated[float, Field(ge=0, le=100, description="14-period relative strength index.")]
    bid: Price | None = None
    ask: Price | None = None
    volume: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bid_not_above_ask(self) -> Self:
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise ValueError(f"bid {self.bid} is above ask {self.ask}")
        return self
