"""The block-snapshot contract: one block's fee market, as a node or an indexer reports it."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from tracer.schemas.base import InboundModel, NonEmptyStr

__all__ = ["BlockSnapshot"]

Amount = Annotated[float, Field(ge=0)]


class BlockSnapshot(InboundModel):
    """One block of an EIP-1559 chain: its number, time, base fee and gas (fees in gwei or wei, consistently).

    >>> BlockSnapshot(number=19_000_000, timestamp=1705000000, baseFeePerGas=21.5, gasUsed=16e6, gasLimit=30e6).gasUsed
    16000000.0
    """

    number: Annotated[int, Field(ge=0, description="Block number (height).")]
    timestamp: Annotated[int, Field(ge=0, description="Block time, Unix seconds (as the chain records it).")]
    baseFeePerGas: Annotated[float, Field(gt=0, description="The block's base fee per gas.")]
    gasUsed: Amount
    gasLimit: Annotated[float, Field(gt=0, description="The block's gas limit; its target is half of it.")]
    priorityFeePerGas: Amount | None = Field(
        None, description="Median priority fee (tip) per gas in the block."
    )
    transactionCount: Annotated[int, Field(ge=0)] | None = None
    chain: NonEmptyStr | None = Field(None, description="Chain name or id; one fee market per chain.")

    @model_validator(mode="after")
    def _used_within_limit(self) -> Self:
        if self.gasUsed > self.gasLimit:
            raise ValueError(f"gasUsed {self.gasUsed} is above gasLimit {self.gasLimit}")
        return self
