"""A whole system on a LocalChain of the test's own (not brownie's): the contracts deployed from
their build artifacts through the shared client, a funded program with a zero challenge window,
and three oracle node processes (quorum two) pointed at it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract

from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient
from disburse.chain.deployment import Deployment, save
from disburse.chain.localchain import LocalChain
from disburse.chain.profile import ChainProfile
from disburse.chain.specs import spec_hash
from tests.oracle.nodes import NodeProcess, make_node, upload_evidence, wait_for
from tests.programs import FACTS

BUILD = Path(__file__).resolve().parents[2] / "build" / "contracts"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
UNIT = 10**18
AMOUNT = 1_000 * UNIT
QUORUM = 2
SPEC = b"""version: 1
title: Bridge inspection, span 4
required_documents:
  - {name: inspection-report.pdf, media_type: application/pdf}
claims:
  - {name: spans_inspected, kind: number, op: ">=", value: 4}
check_deadline: true
"""
DOCUMENTS = {"inspection-report.pdf": b"%PDF-1.7 inspection report, span 4 of 4\n"}
CLAIMS = {"spans_inspected": 4}
REGISTERED, VERIFIED, RELEASED = 1, 2, 5


def anvil_account(index: int) -> LocalAccount:
    """One of anvil's funded development accounts."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def oracle_account(label: str, index: int) -> LocalAccount:
    return Account.from_key(keccak(text=f"{label}-oracle-{index}"))


def rpc(chain: LocalChain, method: str, params: Sequence[Any] = ()) -> Any:
    """A raw JSON-RPC request (anvil's own methods: automine, dropping transactions…)."""
    reply = requests.post(
        chain.url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
        timeout=10,
    ).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply.get("result")


def client_for(chain: LocalChain, **profile: Any) -> ChainClient:
    settings: dict[str, Any] = {
        "name": "test-driver",
        "rpc_url": chain.url,
        "chain_id": chain.chain_id,
        "retries": 8,
        "backoff_s": 0.1,
    }
    settings.update(profile)
    return ChainClient(ChainProfile(**settings))


def deploy_contract(client: ChainClient, account: LocalAccount, name: str, *args: Any) -> Contract:
    """Deploys a contract from its brownie build artifact, signed locally with the profile's
    transaction type and price."""
    artifact = json.loads((BUILD / f"{name}.json").read_text())
    factory = client.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    constructor = factory.constructor(*args)
    gas = int(
        client.w3.eth.estimate_gas(
            {"from": account.address, "data": constructor.data_in_transaction}
        )
        * 1.2
    )
    params: dict[str, Any] = {
        "from": account.address,
        "nonce": client.next_nonce(account.address),
        "gas": gas,
        "chainId": client.profile.chain_id,
    }
    if client.profile.tx_type == "legacy":
        params["gasPrice"] = client.profile.gas_price_wei or 0
    else:
        base = int(client.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        params["maxFeePerGas"] = 2 * base + 1
        params["maxPriorityFeePerGas"] = 1
    tx = constructor.build_transaction(params)  # type: ignore[arg-type]
    signed = account.sign_transaction(tx)
    tx_hash = client.send_raw(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())
    receipt = client.wait(tx_hash)
    return client.contract(name, receipt["contractAddress"])


@dataclass
class System:
    """The deployed contracts, the program and (once started) the nodes."""

    chain: LocalChain
    client: ChainClient
    admin: LocalAccount
    manager: LocalAccount
    oracles: list[LocalAccount]
    escrow: Contract
    token: Contract
    program: int
    deployment_file: Path
    deployment_block: int
    nodes: list[NodeProcess] = field(default_factory=list)
    registered: int = 0

    def transact(self, account: LocalAccount, fn: Any) -> Any:
        return self.client.transact(account, fn)

    def register(self, count: int, label: str) -> list[bytes]:
        """Registers `count` milestones in one transaction; returns their ids."""
        deadline = int(self.client.timestamp()) + 30 * 86400
        beneficiary = anvil_account(5).address
        refs = [external_ref(f"{label}-{self.registered + i}") for i in range(count)]
        self.registered += count
        inputs = [(ref, beneficiary, AMOUNT, deadline, spec_hash(SPEC)) for ref in refs]
        self.transact(self.manager, self.escrow.functions.registerMilestones(self.program, inputs))
        return [milestone_id(self.program, ref) for ref in refs]

    def status(self, milestone: bytes) -> int:
        return int(self.client.call(self.escrow.functions.statusOf(milestone)))

    def events(self, name: str, milestone: bytes) -> list[Any]:
        return self.client.get_logs(
            getattr(self.escrow.events, name),
            from_block=self.deployment_block,
            to_block=self.client.block_number(),
            argument_filters={"milestoneId": milestone},
        )

    def attesters(self, milestone: bytes) -> list[str]:
        return [e["args"]["oracle"] for e in self.events("AttestationRecorded", milestone)]


def deploy_system(
    chain: LocalChain, *, label: str, profile: dict[str, Any], fund_oracles: bool
) -> System:
    """Escrow and settlement token from the build artifacts, a committee of three oracles with
    quorum two, and a funded program whose challenge window is zero (release at once)."""
    client = client_for(chain, **profile)
    admin, manager, treasury = anvil_account(0), anvil_account(1), anvil_account(2)
    oracles = [oracle_account(label, i) for i in range(3)]
    if fund_oracles:
        for oracle in oracles:
            rpc(chain, "anvil_setBalance", [oracle.address, hex(100 * UNIT)])
    token = deploy_contract(client, admin, "SettlementToken", "Yen Deposit Token", "JPYT", 18)
    escrow = deploy_contract(client, admin, "MilestoneEscrow", admin.address)
    deployment_block = client.block_number()
    client.transact(admin, escrow.functions.setCommittee([o.address for o in oracles], QUORUM))
    role = client.call(escrow.functions.PROGRAM_MANAGER_ROLE())
    client.transact(admin, escrow.functions.grantRole(role, manager.address))
    client.transact(
        manager, escrow.functions.createProgram(token.address, treasury.address, 0, FACTS)
    )
    program = int(client.call(escrow.functions.programCount()))
    funds = 10**6 * UNIT
    client.transact(admin, token.functions.mint(manager.address, funds))
    client.transact(manager, token.functions.approve(escrow.address, funds))
    client.transact(manager, escrow.functions.fund(program, funds))
    return System(
        chain=chain,
        client=client,
        admin=admin,
        manager=manager,
        oracles=oracles,
        escrow=escrow,
        token=token,
        program=program,
        deployment_file=Path(),
        deployment_block=deployment_block,
    )


def write_deployment(system: System, path: Path, *, chain_id: int | None = None) -> Path:
    """The deployment file the nodes read. The admin stands in for the council, which the
    oracle never calls."""
    record = Deployment(
        network=f"localchain-{system.chain.port}",
        chain_id=chain_id if chain_id is not None else system.chain.chain_id,
        escrow=system.escrow.address,
        council=system.admin.address,
        token=system.token.address,
        deployment_block=system.deployment_block,
        evm_version="cancun",
    )
    save(record, path)
    return path


def start_nodes(system: System, root: Path, **settings: Any) -> list[NodeProcess]:
    """Three `oracle run` processes, started together, each with the specification."""
    system.deployment_file = write_deployment(system, root / "deployment.json")
    nodes = [
        make_node(
            name=f"node{i}",
            root=root,
            private_key="0x" + bytes(oracle.key).hex(),
            rpc_url=system.chain.url,
            chain_id=system.chain.chain_id,
            deployment_file=system.deployment_file,
            **settings,
        )
        for i, oracle in enumerate(system.oracles)
    ]
    for node in nodes:
        node.start(wait=False)
    for node in nodes:
        node.wait_healthy(timeout=60)
        with node.http() as http:
            assert http.post("/v1/specs", content=SPEC).status_code == 201
    system.nodes = nodes
    return nodes


def submit(node: NodeProcess, milestone: bytes) -> dict[str, Any]:
    return upload_evidence(node, milestone=milestone, documents=DOCUMENTS, claims=CLAIMS)


def wait_released(system: System, milestones: Sequence[bytes], *, timeout: float) -> None:
    pending = list(milestones)

    def _all_released() -> bool:
        pending[:] = [m for m in pending if system.status(m) != RELEASED]
        return not pending

    try:
        wait_for(_all_released, timeout=timeout, what="every milestone released")
    except AssertionError:
        states = {"0x" + m.hex()[:8]: system.status(m) for m in pending}
        logs = "\n".join(f"--- {n.name}\n{n.logs()[-4000:]}" for n in system.nodes)
        raise AssertionError(f"not released: {states}\n{logs}") from None


def assert_each_paid_once_by_a_quorum(
    system: System, milestones: Sequence[bytes], attesting: dict[bytes, Sequence[int]]
) -> None:
    """Every milestone released exactly once, and attested exactly once by each oracle whose
    node took its evidence (no attestation lost, none doubled), by no other oracle."""
    for milestone in milestones:
        released = system.events("MilestoneReleased", milestone)
        assert len(released) == 1, f"0x{milestone.hex()} released {len(released)} times"
        found = sorted(system.attesters(milestone))
        expected = sorted(system.oracles[i].address for i in attesting[milestone])
        assert found == expected, f"0x{milestone.hex()}: attested by {found}, not {expected}"


def assert_each_paid_once_after_a_crash(
    system: System,
    milestones: Sequence[bytes],
    attesting: dict[bytes, Sequence[int]],
    *,
    balance_before: int,
) -> None:
    """What `assert_each_paid_once_by_a_quorum` checks, judged by the chain's state where a
    `kill -9` of anvil can leave its events short.

    anvil's state dump, taken while it mines, can hold the accounts and storage of a block it
    did not keep (21 of 25 dumps at SIGTERM under load: LocalChain.stop), and `kill -9` leaves
    the last periodic dump, which no one could quiesce: restarted
    from it, the chain has an attestation or a release in its state without the block that
    emitted its event. So "nothing lost" is read from the state (hasAttested for every oracle,
    the beneficiary paid exactly the milestones' amounts), and "nothing doubled" from both: no
    event twice, no oracle that took no evidence, no payment beyond the amounts."""
    escrow, client = system.escrow, system.client
    for milestone in milestones:
        name = f"0x{milestone.hex()}"
        assert system.status(milestone) == RELEASED, f"{name} not released"
        released = system.events("MilestoneReleased", milestone)
        assert len(released) <= 1, f"{name} released {len(released)} times"
        expected = {system.oracles[i].address for i in attesting[milestone]}
        attested = {
            o.address
            for o in system.oracles
            if client.call(escrow.functions.hasAttested(milestone, o.address))
        }
        assert attested == expected, f"{name}: attested by {sorted(attested)}, not {expected}"
        events = system.attesters(milestone)
        assert len(events) == len(set(events)), f"{name}: an attestation event twice: {events}"
        assert set(events) <= expected, f"{name}: attestation events from {events}"
    paid = int(client.call(system.token.functions.balanceOf(anvil_account(5).address)))
    assert paid - balance_before == AMOUNT * len(milestones), "the beneficiary was not paid once"


def saved_state(chain: LocalChain, *, at_least: int) -> bytes:
    """The state file once it holds block `at_least` (anvil rewrites it every second)."""
    assert chain.state_file is not None
    found: list[bytes] = []

    def _saved() -> bool:
        raw = chain.state_file.read_bytes() if chain.state_file.exists() else b""
        try:
            complete = json.loads(raw)["best_block_number"] >= at_least
        except (ValueError, KeyError):
            return False
        if complete:
            found.append(raw)
        return complete

    wait_for(_saved, timeout=10, what=f"block {at_least} in the state file")
    return found[-1]
