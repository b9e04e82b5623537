"""The deployment file: where the escrow lives and from which block its history starts.

`scripts/deploy.py` writes it; every other tool (CLI, oracle, audit) reads it instead of asking
for addresses by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils.address import is_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from disburse.chain.errors import ConfigurationError

DEPLOYMENTS_DIR = Path("deployments")


class DeploymentFileError(ConfigurationError, ValueError):
    """The deployment file is missing or does not describe a deployment."""


class Deployment(BaseModel):
    """Addresses and facts of one deployment, as written by scripts/deploy.py."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    network: str = Field(min_length=1, description="brownie network id the deployment was made on")
    chain_id: int = Field(gt=0, description="EIP-155 chain id, checked against eth_chainId")
    escrow: str = Field(description="MilestoneEscrow address (checksummed)")
    council: str = Field(description="OversightCouncil address, the escrow's only admin")
    token: str | None = Field(
        default=None, description="settlement token deployed with it (local networks only)"
    )
    deployment_block: int = Field(ge=0, description="block of the escrow's deployment")
    evm_version: str = Field(min_length=1, description="EVM version the contracts were built for")

    @field_validator("escrow", "council", "token")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        if value is not None and not is_checksum_address(value):
            raise ValueError(f"{value!r} is not a checksummed address")
        return value


def default_path(network: str) -> Path:
    return DEPLOYMENTS_DIR / f"{network}.json"


def save(deployment: Deployment, path: Path) -> None:
    """Writes the file atomically: a reader never sees half a deployment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(deployment.model_dump(), indent=2) + "\n")
    tmp.replace(path)


def load(path: Path) -> Deployment:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeploymentFileError(
            f"no deployment file at {path}: run `brownie run scripts/deploy.py` first"
        ) from None
    except json.JSONDecodeError as exc:
        raise DeploymentFileError(f"{path} is not JSON: {exc}") from None
    try:
        return Deployment.model_validate(raw)
    except ValidationError as exc:
        raise DeploymentFileError(f"{path} is not a valid deployment file:\n{exc}") from None
