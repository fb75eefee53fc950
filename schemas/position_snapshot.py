"""The lending-position snapshot contract (``liquidation_risk``'s input events)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tracer.schemas.base import EpochMillis, InboundModel, NonEmptyStr

__all__ = ["PositionSnapshot"]

Price = Annotated[float, Field(gt=0)]
Amount = Annotated[float, Field(ge=0)]


class PositionSnapshot(InboundModel):
    """One lending position (one account on one protocol) at one time: its collateral and its debt, each
    with its asset, amount and oracle price, and the collateral's liquidation threshold.

    >>> PositionSnapshot(ts=1700000000000, protocol="aave-v3", account="0xab", collateralAsset="WETH",
    ...     collateralAmount=10, collateralPrice=2000, liquidationThreshold=0.825, debtAsset="USDC",
    ...     debtAmount=12000, debtPrice=1).liquidationThreshold
    0.825
    """

    ts: EpochMillis
    protocol: NonEmptyStr
    account: NonEmptyStr
    collateralAsset: NonEmptyStr
    collateralAmount: Amount
    collateralPrice: Price
    liquidationThreshold: Annotated[
        float,
        Field(
            gt=0, le=1, description="Share of the collateral's value that may be borrowed before liquidation."
        ),
    ]
    debtAsset: NonEmptyStr
    debtAmount: Amount
    debtPrice: Price
    healthFactor: (
        Annotated[float, Field(ge=0, description="As the protocol reports it, if it does.")] | None
    ) = None
    liquidated: bool | None = Field(default=None, description="True on the snapshot of a liquidation.")
