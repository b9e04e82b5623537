"""Deploys the escrow (and, on a local network, a settlement token) and writes the deployment file.

    brownie run scripts/deploy.py [--network NAME]

Deploys the escrow, configures it, deploys the oversight council and hands it the escrow's admin
role; the deployer then renounces its own, so that after deployment no single key controls the
escrow: every later change is a council proposal.

Settings come from the environment:
    DISBURSE_COUNCIL     comma-separated council member addresses (required on live networks;
                         on a local network the last three local accounts)
    DISBURSE_THRESHOLD   approvals the council needs (default: a majority of the members)
    DISBURSE_ORACLES     comma-separated committee addresses (optional; later a council proposal)
    DISBURSE_QUORUM      matching attestations needed (required with DISBURSE_ORACLES)
    DISBURSE_MANAGERS    comma-separated program-manager addresses (optional)
    DISBURSE_REGISTRY    "1" also deploys the contractor registry, governed by the council (default
                         off: the escrow does not consult it yet)
    DISBURSE_COOLING_OFF seconds a requested payout change waits after approval (default 72 hours)
    DISBURSE_COUNCIL_DELAY seconds a payout change the council makes alone waits (default 14 days)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brownie import (
    ContractorRegistry,
    MilestoneEscrow,
    OversightCouncil,
    SettlementToken,
    accounts,
    chain,
    network,
)

from disburse.chain.deployment import Deployment, default_path, save

LOCAL_NETWORKS = {"development"}
COOLING_OFF = 72 * 3600
"""Default cooling-off period of a payout-address change the contractor asked for, in seconds."""
COUNCIL_DELAY = 14 * 24 * 3600
"""Default delay of a payout-address change the council makes alone, in seconds."""


def is_local() -> bool:
    active = network.show_active() or ""
    return active in LOCAL_NETWORKS or active.startswith("dev")


def deploy(
    *,
    deployer: Any,
    council_members: Sequence[str],
    threshold: int,
    oracles: Sequence[str] = (),
    quorum: int = 0,
    managers: Sequence[str] = (),
    with_token: bool,
    evm_version: str,
) -> tuple[Deployment, Any, Any, Any]:
    """Deploys and configures; returns the deployment record, the escrow, the council and the
    token (None unless `with_token`)."""
    token = None
    if with_token:
        token = SettlementToken.deploy("Yen Deposit Token", "JPYT", 18, {"from": deployer})
    escrow = MilestoneEscrow.deploy(deployer, {"from": deployer})
    block = escrow.tx.block_number
    if oracles:
        escrow.setCommittee(list(oracles), quorum, {"from": deployer})
    for manager in managers:
        escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), manager, {"from": deployer})
    council = OversightCouncil.deploy(escrow, list(council_members), threshold, {"from": deployer})
    admin_role = escrow.DEFAULT_ADMIN_ROLE()
    escrow.grantRole(admin_role, council, {"from": deployer})
    escrow.renounceRole(admin_role, deployer, {"from": deployer})
    if escrow.hasRole(admin_role, deployer) or not escrow.hasRole(admin_role, council):
        raise RuntimeError("admin hand-over to the council failed")
    record = Deployment(
        network=network.show_active() or "unknown",
        chain_id=chain.id,
        escrow=escrow.address,
        council=council.address,
        token=token.address if token is not None else None,
        deployment_block=block,
        evm_version=evm_version,
    )
    return record, escrow, council, token


def deploy_registry(
    *,
    deployer: Any,
    council: Any,
    cooling_off: int = COOLING_OFF,
    council_delay: int = COUNCIL_DELAY,
) -> Any:
    """Deploys the contractor registry with `council` as its only admin (the registry has no
    other privileged key: the deployer keeps nothing) and returns it."""
    registry = ContractorRegistry.deploy(council, cooling_off, council_delay, {"from": deployer})
    if registry.council() != str(council):
        raise RuntimeError("the registry is not governed by the council")
    return registry


def _addresses(name: str) -> list[str]:
    return [a.strip() for a in os.environ.get(name, "").split(",") if a.strip()]


def main() -> None:
    deployer = accounts[0]
    oracles = _addresses("DISBURSE_ORACLES")
    quorum = int(os.environ.get("DISBURSE_QUORUM", "0"))
    if oracles and not quorum:
        raise SystemExit("DISBURSE_QUORUM must be set with DISBURSE_ORACLES")
    members = _addresses("DISBURSE_COUNCIL")
    if not members:
        if not is_local():
            raise SystemExit("DISBURSE_COUNCIL must name the council members on a live network")
        members = [str(a) for a in accounts[-3:]]
    threshold = int(os.environ.get("DISBURSE_THRESHOLD", str(len(members) // 2 + 1)))
    record, escrow, _council, _token = deploy(
        deployer=deployer,
        council_members=members,
        threshold=threshold,
        oracles=oracles,
        quorum=quorum,
        managers=_addresses("DISBURSE_MANAGERS"),
        with_token=is_local(),
        evm_version=os.environ.get("EVM_VERSION", "cancun"),
    )
    path = Path(default_path(record.network))
    save(record, path)
    print(
        f"escrow {escrow.address} at block {record.deployment_block}, governed by council "
        f"{record.council} ({threshold} of {len(members)}); written to {path}"
    )
    if os.environ.get("DISBURSE_REGISTRY", "0") == "1":
        registry = deploy_registry(
            deployer=deployer,
            council=_council,
            cooling_off=int(os.environ.get("DISBURSE_COOLING_OFF", str(COOLING_OFF))),
            council_delay=int(os.environ.get("DISBURSE_COUNCIL_DELAY", str(COUNCIL_DELAY))),
        )
        # The deployment file gains the registry's address when the escrow is wired to it.
        print(f"contractor registry {registry.address}, governed by council {record.council}")
