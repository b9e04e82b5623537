"""The node's settings: one typed object, filled from a YAML/JSON file and ORACLE_* variables.

Required values have no default, so a node missing one refuses to start and names it. Secrets
(the keystore password) never live here: only where to read them from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from disburse.chain.deployment import Deployment, load
from disburse.chain.profile import ChainProfile
from oracle.errors import ConfigError

ENV_PREFIX = "ORACLE_"


class NodeSettings(BaseModel):
    """Everything an oracle node needs to run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="this node's name in logs and metrics")
    rpc_url: str = Field(min_length=1, description="JSON-RPC endpoint of the chain")
    chain_id: int = Field(gt=0, description="expected chain id; checked against eth_chainId")
    deployment_file: Path = Field(description="written by scripts/deploy.py: escrow + start block")
    keystore: Path = Field(description="encrypted keystore of this node's signing key")
    password_file: Path | None = Field(default=None, description="file holding the password")
    password_env: str | None = Field(
        default="ORACLE_KEY_PASSWORD", description="environment variable holding the password"
    )
    data_dir: Path = Field(description="journal, documents and specifications live here")
    api_host: str = Field(default="127.0.0.1", description="API bind address")
    api_port: int = Field(default=8700, ge=1, le=65535, description="API port")
    poll_interval_s: float = Field(default=1.0, gt=0, description="chain polling, seconds")
    tx_type: Literal["legacy", "eip1559"] = "eip1559"
    gas_price_wei: int | None = Field(default=None, ge=0, description="0 on free-gas chains")
    confirmations: int = Field(default=0, ge=0, description="blocks before an event counts")
    log_range_cap: int = Field(default=5_000, gt=0, description="largest eth_getLogs range")
    poa: bool = Field(default=False, description="proof-of-authority headers (Besu QBFT)")
    receipt_timeout_s: float = Field(default=30.0, gt=0, description="wait for a receipt, seconds")
    max_batch_gas: int = Field(
        default=15_000_000,
        ge=1_000_000,
        description="largest gas limit of a batch transaction; well under the block gas limit",
    )
    rpc_batch_cap: int = Field(
        default=200, gt=0, description="largest JSON-RPC batch (Besu: --rpc-http-max-batch-size)"
    )
    submission: Literal["direct", "relay"] = Field(
        default="direct",
        description="direct: send attestations from this node's account; relay: hand the "
        "signature to `relayer_url` (on the relaying node itself, without one: to its own batch)",
    )
    relayer_url: str | None = Field(default=None, description="the relaying node's API base URL")
    relayer_api_key_file: Path | None = Field(default=None, description="API key for the relayer")
    relay_reoffer_s: float = Field(
        default=30.0,
        gt=0,
        description="offer the relayer again a signature the chain has not seen this long after "
        "it was handed over (a relayer killed with it in memory), seconds",
    )
    relay: bool = Field(default=False, description="accept signatures from nodes and batch them")
    batch_size: int = Field(default=50, ge=1, le=500, description="milestones per relayed batch")
    batch_delay_s: float = Field(default=0.5, ge=0, description="wait to fill a batch, seconds")
    release: bool = Field(default=True, description="release milestones whose window passed")
    release_batch_size: int = Field(
        default=100,
        ge=1,
        le=500,
        description="milestones per releaseBatch transaction; 1 sends one release each",
    )
    worker_batch_size: int = Field(
        default=200, ge=1, le=1000, description="evidence taken through each step together"
    )
    max_document_bytes: int = Field(default=10 * 2**20, gt=0, description="largest document")

    @model_validator(mode="after")
    def _consistent(self) -> NodeSettings:
        if self.submission == "relay" and not self.relayer_url and not self.relay:
            raise ValueError(
                "submission 'relay' needs relayer_url (only a relaying node, relay: true, "
                "may leave it out: it batches its own signatures)"
            )
        if (self.password_file is None) == (self.password_env is None):
            raise ValueError("exactly one of password_file and password_env must be set")
        return self

    def profile(self) -> ChainProfile:
        return ChainProfile(
            name=self.name,
            rpc_url=self.rpc_url,
            chain_id=self.chain_id,
            tx_type=self.tx_type,
            gas_price_wei=self.gas_price_wei,
            confirmations=self.confirmations,
            log_range_cap=self.log_range_cap,
            poa=self.poa,
            receipt_timeout_s=self.receipt_timeout_s,
            max_batch_gas=self.max_batch_gas,
            rpc_batch_cap=self.rpc_batch_cap,
        )

    def deployment(self) -> Deployment:
        found = load(self.deployment_file)
        if found.chain_id != self.chain_id:
            raise ConfigError(
                f"{self.deployment_file} is a deployment on chain {found.chain_id}, "
                f"but this node is set for chain {self.chain_id}"
            )
        return found


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    fields = NodeSettings.model_fields
    found: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in fields:
            found[name] = value
    return found


def load_settings(file: Path | None = None, env: Mapping[str, str] | None = None) -> NodeSettings:
    """Settings from `file` (YAML or JSON), then ORACLE_<FIELD> variables over it."""
    values: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = yaml.safe_load(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no settings file at {file}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file} is not YAML or JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file} must hold a mapping of settings")
        values.update(loaded)
    values.update(_from_env(env if env is not None else os.environ))
    try:
        return NodeSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid oracle settings: {problems}") from None


def dump_settings(settings: NodeSettings) -> str:
    return json.dumps(settings.model_dump(mode="json"), indent=2)
