"""Chain profiles: what differs between the local anvil and a permissioned production network.

Chain id, transaction type, gas price, confirmations and the eth_getLogs range cap come from
here, never from constants in code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChainProfile(BaseModel):
    """How to talk to one chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="a label for logs, e.g. 'anvil' or 'besu-qbft'")
    rpc_url: str = Field(min_length=1, description="JSON-RPC endpoint (http or https)")
    chain_id: int = Field(gt=0, description="checked against eth_chainId at start")
    tx_type: Literal["legacy", "eip1559"] = Field(
        default="eip1559", description="legacy for chains without a base fee market"
    )
    gas_price_wei: int | None = Field(
        default=None, ge=0, description="fixed gas price (0 on free-gas chains); None asks the node"
    )
    priority_fee_wei: int = Field(default=0, ge=0, description="EIP-1559 tip, in wei")
    confirmations: int = Field(default=0, ge=0, description="blocks on top of a receipt's block")
    log_range_cap: int = Field(default=5_000, gt=0, description="largest eth_getLogs range, blocks")
    poa: bool = Field(default=False, description="inject ExtraDataToPOAMiddleware (long extraData)")
    request_timeout_s: float = Field(
        default=10.0, gt=0, description="one JSON-RPC request, seconds"
    )
    receipt_timeout_s: float = Field(default=30.0, gt=0, description="wait for a receipt, seconds")
    poll_interval_s: float = Field(default=0.1, gt=0, description="receipt polling, seconds")
    retries: int = Field(default=5, ge=0, description="retries of an unreachable endpoint")
    backoff_s: float = Field(default=0.2, ge=0, description="first retry delay; doubles each retry")
    gas_multiplier: float = Field(default=1.2, ge=1.0, description="margin over estimated gas")
    fee_bump_percent: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="raise of the fees of a transaction stuck in the pool when it is replaced at "
        "the same nonce, percent (geth and Besu require at least 10)",
    )
    max_fee_bumps: int = Field(
        default=5, ge=0, description="replacements of one stuck transaction before giving up"
    )
    max_batch_gas: int = Field(
        default=15_000_000,
        ge=1_000_000,
        description="largest gas limit of a batch transaction; well under the block gas limit",
    )
    rpc_batch_cap: int = Field(
        default=200, gt=0, description="largest JSON-RPC batch (Besu: --rpc-http-max-batch-size)"
    )
