"""The DeFi pool-snapshot contract that ``yield_optimization`` reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tracer.schemas.base import EpochMillis, InboundModel, NonEmptyStr

__all__ = ["PoolSnapshot"]


class PoolSnapshot(InboundModel):
    """One snapshot of one yield pool (a lending market, an AMM or a farm), e.g. hourly.

    >>> PoolSnapshot(ts=1696723200000, protocol="aave-v3", pool="aave-v3:USDC", apy=4.2, tvlUsd=2.5e8,
    ...              utilization=0.81, rewardTokenPrice=95.0).apy
    4.2
    """

    ts: EpochMillis
    protocol: NonEmptyStr
    pool: NonEmptyStr
    apy: Annotated[float, Field(ge=-100, le=1e5, description="Total APY quoted now, in percent.")]
    tvlUsd: Annotated[float, Field(ge=0, description="Total value locked in the pool, in USD.")]
    utilization: Annotated[
        float, Field(ge=0, le=1, description="Borrowed / supplied (0 for a pool that lends nothing).")
    ]
    rewardTokenPrice: Annotated[
        float, Field(ge=0, description="USD price of the pool's reward token (0: none).")
    ]
    apyBase: Annotated[float, Field(ge=-100, le=1e5)] | None = None
    apyReward: Annotated[float, Field(ge=0, le=1e5)] | None = None
