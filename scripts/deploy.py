"""Deploys the escrow (and, on a local network, a settlement token) and writes the deployment file.

    brownie run scripts/deploy.py [--network NAME]

Settings come from the environment:
    DISBURSE_ORACLES   comma-separated committee addresses (optional; set later by the admin)
    DISBURSE_QUORUM    matching attestations needed (required with DISBURSE_ORACLES)
    DISBURSE_MANAGERS  comma-separated program-manager addresses (optional)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brownie import MilestoneEscrow, SettlementToken, accounts, chain, network

from disburse.deployment import Deployment, default_path, save

LOCAL_NETWORKS = {"development"}


def is_local() -> bool:
    active = network.show_active() or ""
    return active in LOCAL_NETWORKS or active.startswith("dev")


def deploy(
    *,
    deployer: Any,
    admin: str,
    oracles: Sequence[str] = (),
    quorum: int = 0,
    managers: Sequence[str] = (),
    with_token: bool,
    evm_version: str,
) -> tuple[Deployment, Any, Any]:
    """Deploys and configures; returns the deployment record, the escrow and the token."""
    token = None
    if with_token:
        token = SettlementToken.deploy("Yen Deposit Token", "JPYT", 18, {"from": deployer})
    escrow = MilestoneEscrow.deploy(deployer, {"from": deployer})
    block = escrow.tx.block_number
    if oracles:
        escrow.setCommittee(list(oracles), quorum, {"from": deployer})
    for manager in managers:
        escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), manager, {"from": deployer})
    if str(admin) != str(deployer):
        escrow.grantRole(escrow.DEFAULT_ADMIN_ROLE(), admin, {"from": deployer})
        escrow.renounceRole(escrow.DEFAULT_ADMIN_ROLE(), deployer, {"from": deployer})
    record = Deployment(
        network=network.show_active() or "unknown",
        chain_id=chain.id,
        escrow=escrow.address,
        token=token.address if token is not None else None,
        admin=str(admin),
        deployment_block=block,
        evm_version=evm_version,
    )
    return record, escrow, token


def _addresses(name: str) -> list[str]:
    return [a.strip() for a in os.environ.get(name, "").split(",") if a.strip()]


def main() -> None:
    deployer = accounts[0]
    oracles = _addresses("DISBURSE_ORACLES")
    quorum = int(os.environ.get("DISBURSE_QUORUM", "0"))
    if oracles and not quorum:
        raise SystemExit("DISBURSE_QUORUM must be set with DISBURSE_ORACLES")
    record, escrow, _token = deploy(
        deployer=deployer,
        admin=str(deployer),
        oracles=oracles,
        quorum=quorum,
        managers=_addresses("DISBURSE_MANAGERS"),
        with_token=is_local(),
        evm_version=os.environ.get("EVM_VERSION", "cancun"),
    )
    path = Path(default_path(record.network))
    save(record, path)
    print(f"escrow {escrow.address} at block {record.deployment_block}; written to {path}")
