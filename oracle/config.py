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
CHAIN_ENV_PREFIX = "ORACLE_CHAIN_"

MOVED_TO_CHAIN = frozenset(ChainProfile.model_fields) - {"name", "poll_interval_s"}
"""Chain profile fields a node's settings held flat before they moved under `chain:`. (The
node's `poll_interval_s` is its own: how often it polls the chain for new blocks.)"""


class NodeSettings(BaseModel):
    """Everything an oracle node needs to run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="this node's name in logs and metrics")
    chain: ChainProfile = Field(
        description="how to talk to the chain: exactly the file format of `disburse --profile` "
        "(rpc_url, chain_id, tx_type, fees, confirmations, ranges, timeouts, retries…); its "
        "name defaults to the node's"
    )
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

    @model_validator(mode="before")
    @classmethod
    def _nested_chain(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        moved = sorted(k for k in data if k in MOVED_TO_CHAIN)
        if moved:
            raise ValueError(
                f"{', '.join(moved)} moved under chain: (the same format as disburse --profile)"
            )
        chain = data.get("chain")
        if isinstance(chain, dict) and "name" not in chain and isinstance(data.get("name"), str):
            data = {**data, "chain": {"name": data["name"], **chain}}
        return data

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

    def deployment(self) -> Deployment:
        found = load(self.deployment_file)
        if found.chain_id != self.chain.chain_id:
            raise ConfigError(
                f"{self.deployment_file} is a deployment on chain {found.chain_id}, "
                f"but this node is set for chain {self.chain.chain_id}"
            )
        return found


def _from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """ORACLE_<FIELD> for the node's own fields, ORACLE_CHAIN_<FIELD> for its chain profile."""
    fields = NodeSettings.model_fields
    found: dict[str, Any] = {}
    chain: dict[str, Any] = {}
    for key, value in env.items():
        if key.startswith(CHAIN_ENV_PREFIX):
            name = key[len(CHAIN_ENV_PREFIX) :].lower()
            if name in ChainProfile.model_fields:
                chain[name] = value
                continue
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in fields or name in MOVED_TO_CHAIN:
            found[name] = value
    return found, chain


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
    node_env, chain_env = _from_env(env if env is not None else os.environ)
    values.update(node_env)
    if chain_env:
        chain = values.get("chain")
        values["chain"] = {**chain, **chain_env} if isinstance(chain, dict) else chain_env
    try:
        return NodeSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid oracle settings: {problems}") from None


def dump_settings(settings: NodeSettings) -> str:
    return json.dumps(settings.model_dump(mode="json"), indent=2)
