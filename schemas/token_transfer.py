"""The on-chain token-transfer contract that ``whale_behavior`` reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tracer.schemas.base import EpochMillis, InboundModel, NonEmptyStr

__all__ = ["TokenTransfer"]


class TokenTransfer(InboundModel):
    """One transfer of one token between two addresses, as an indexer writes it.

    >>> TokenTransfer(ts=1696723200000, from_address="0xa1", to_address="0xbinance1", token="ETH",
    ...               amount=120.5, usd_value=198_000, to_exchange=True).to_exchange
    True
    """

    ts: EpochMillis
    from_address: NonEmptyStr = Field(description="The sending address: the holder the prediction is about.")
    to_address: NonEmptyStr = Field(description="The receiving address.")
    token: NonEmptyStr = Field(description="The token's symbol or contract address.")
    amount: Annotated[float, Field(ge=0, description="Tokens moved, in whole units.")]
    usd_value: (
        Annotated[float, Field(ge=0, description="The transfer's value in USD at the time.")] | None
    ) = None
    to_exchange: bool = Field(description="Whether the destination is a known exchange deposit address.")
    tx_hash: str | None = None
