"""Fixtures for the contractor registry: the governed deployment of tests/council (escrow, council
of accounts[7..9] with threshold 2, three oracles, a program manager), plus the registry deployed by
`scripts.deploy.deploy_registry` with that council as its admin, contractors with real keys (their
payout requests are EIP-712 signatures), and helpers that run a registry call through the council
and put a contractor in a given status.

Contractor payout keys: `payout_keys` (deterministic, so signatures are the same on every run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from brownie import accounts, chain, web3
from eth_abi.abi import encode
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak
from eth_utils.address import to_checksum_address

from disburse.chain.attestations import to_compact
from scripts.deploy import deploy_registry
from tests.council import conftest as _council
from tests.council.conftest import DAY, Run

# The governed deployment's fixtures, registered here too (a conftest's fixtures reach only its
# own folder).
governed = _council.governed
members = _council.members
propose = _council.propose
run_proposal = _council.run_proposal

COOLING_OFF = 72 * 3600
COUNCIL_DELAY = 14 * DAY
VETTED_FOR = 365 * DAY

# ContractorStatus and PayoutChangeState values.
NONE, ACTIVE, LAPSED, SUSPENDED, DEBARRED = range(5)
STATUS_NAMES = {ACTIVE: "active", LAPSED: "lapsed", SUSPENDED: "suspended", DEBARRED: "debarred"}
NO_CHANGE, REQUESTED, COOLING_OFF_STATE, READY = range(4)

ZERO = "0x0000000000000000000000000000000000000000"
VETTING = keccak(text="vetting record: due-diligence file DD-2026-031")
RENEWED = keccak(text="vetting record: due-diligence file DD-2027-004")
REASON = keccak(text="reason: council minutes 2026-14, item 3")

TYPEHASH = keccak(
    b"PayoutChangeRequest(uint256 contractorId,address newPayout,uint256 nonce,uint256 expiry)"
)
DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


def addr(account: Any) -> str:
    return str(account).lower()


def b32(value: bytes) -> str:
    return repr(bytes(value))


def not_council(caller: Any) -> str:
    return f"Registry_NotCouncil: {addr(caller)}"


def _key(label: str) -> Any:
    account = accounts.add(keccak(text=label).hex())
    if account.balance() < 10**18:
        accounts[0].transfer(account, 10 * 10**18)
    return account


@pytest.fixture(scope="session")
def payout_keys() -> list[Any]:
    """Keys of contractors' payout addresses (the first few are registered by the fixtures)."""
    return [_key(f"test-contractor-payout-{i}") for i in range(8)]


@pytest.fixture(scope="module")
def council(governed: Any) -> Any:
    return governed.council


@pytest.fixture(scope="module")
def escrow(governed: Any) -> Any:
    return governed.escrow


@pytest.fixture(scope="module")
def registry(governed: Any, roles: Any) -> Any:
    return deploy_registry(
        deployer=roles.admin,
        council=governed.council,
        cooling_off=COOLING_OFF,
        council_delay=COUNCIL_DELAY,
    )


@pytest.fixture
def by_council(registry: Any, run_proposal: Callable[..., Run]) -> Callable[..., Run]:
    """Runs `registry.<function>(*args)` through a council proposal (the first two members)."""

    def _call(function: str, *args: Any, approvers: Sequence[Any] | None = None) -> Run:
        data = getattr(registry, function).encode_input(*args)
        return run_proposal(
            data, target=registry, description=f"registry: {function}", approvers=approvers
        )

    return _call


@pytest.fixture
def enroll(registry: Any, by_council: Callable[..., Run]) -> Callable[..., int]:
    """Registers a contractor paid at `payout`, vetted for a year by default; returns its id."""

    def _enroll(payout: Any, *, vetted_for: int = VETTED_FOR) -> int:
        run = by_council("register", payout, VETTING, chain.time() + vetted_for)
        return int(run.executed.events["ContractorRegistered"]["contractorId"])

    return _enroll


@pytest.fixture
def in_status(
    registry: Any, enroll: Callable[..., int], by_council: Callable[..., Run]
) -> Callable[[int, Any], int]:
    """A contractor paid at `payout` whose status reads `status`; returns its id."""

    def _in_status(status: int, payout: Any) -> int:
        if status == LAPSED:
            cid = enroll(payout, vetted_for=DAY)
            chain.sleep(2 * DAY)
            chain.mine()
        else:
            cid = enroll(payout)
        if status == SUSPENDED:
            by_council("suspend", cid, REASON)
        elif status == DEBARRED:
            by_council("debar", cid, REASON)
        assert registry.statusOf(cid) == status
        return cid

    return _in_status


def snapshot(registry: Any, cid: int, *extra: Any) -> tuple[Any, ...]:
    """Everything the registry says about a contractor (and about the addresses `extra`): a
    refused call must leave all of it as it was."""
    return (
        registry.contractorCount(),
        facts(registry, cid),
        change_of(registry, cid),
        registry.council(),
        tuple(registry.contractorOf(a) for a in extra),
        tuple(registry.isPayable(a) for a in extra),
    )


def facts(registry: Any, cid: int) -> tuple[str, int, int, str, int]:
    """A contractor as plain values: (payout, status, vettedUntil, vettingHash hex, nonce)."""
    c = registry.contractor(cid)
    return (str(c[0]), int(c[1]), int(c[2]), str(c[3]), int(c[4]))


def change_of(registry: Any, cid: int) -> tuple[str, int, int, bool, str]:
    """A pending change as plain values: (newPayout, state, effectiveAt, forced, reasonHash hex)."""
    c = registry.payoutChangeOf(cid)
    return (str(c[0]), int(c[1]), int(c[2]), bool(c[3]), str(c[4]))


def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH,
                keccak(text="ContractorRegistry"),
                keccak(text="1"),
                chain_id,
                to_checksum_address(verifying_contract),
            ],
        )
    )


def request_digest(
    *, chain_id: int, registry: str, contractor_id: int, new_payout: str, nonce: int, expiry: int
) -> bytes:
    struct = keccak(
        encode(
            ["bytes32", "uint256", "address", "uint256", "uint256"],
            [TYPEHASH, contractor_id, to_checksum_address(new_payout), nonce, expiry],
        )
    )
    return keccak(b"\x19\x01" + domain_separator(chain_id, registry) + struct)


@pytest.fixture
def signed_request(registry: Any) -> Callable[..., tuple[tuple[Any, ...], tuple[bytes, bytes]]]:
    """A payout-change request signed with `signer`'s key: (request tuple, compact signature).
    Defaults: the contractor's current nonce, an expiry one day ahead, this chain and registry."""

    def _signed(
        signer: Any,
        contractor_id: int,
        new_payout: Any,
        *,
        nonce: int | None = None,
        expiry: int | None = None,
        chain_id: int | None = None,
        verifying_contract: str | None = None,
    ) -> tuple[tuple[Any, ...], tuple[bytes, bytes]]:
        n = nonce if nonce is not None else registry.contractor(contractor_id)[4]
        e = expiry if expiry is not None else chain.time() + DAY
        digest = request_digest(
            chain_id=chain_id if chain_id is not None else chain.id,
            registry=verifying_contract or registry.address,
            contractor_id=contractor_id,
            new_payout=str(new_payout),
            nonce=n,
            expiry=e,
        )
        signed = PrivateKey(bytes.fromhex(signer.private_key[2:])).sign_msg_hash(digest)
        sig = to_compact(signed.r, signed.s, signed.v).as_tuple()
        return (contractor_id, str(new_payout), n, e), sig

    return _signed


def latest_time() -> int:
    return int(web3.eth.get_block("latest")["timestamp"])


def next_block_at(timestamp: int) -> None:
    """The next transaction is mined in a block of exactly `timestamp` (after the latest block)."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
