"""The audit's window flags, which replace `release-at-window-end` (it fired on every automated
release: the nodes pay at the first second allowed, by design), and the escrow's program events
the council's new powers emit.

window-shortened-before-release
├── shortened by the council, released sooner than the earlier window allowed ... flagged
├── shortened, but the release waited the earlier window anyway ................ not flagged
├── shortened longer ago than the earlier window ............................... not flagged
├── lengthened ................................................................ not flagged
├── shortened after the release ................................................ not flagged
└── force-released ............................................................. not flagged
short-window-high-value (with --high-value / --min-window)
├── at least the high value, window below the minimum ........................... flagged
├── below the high value, or window at the minimum ............................. not flagged
├── cancelled / expired / force-released ....................................... not flagged
└── no policy given ............................................................ never flagged
on the chain: a council proposal shortening a window, then a release ............ flagged
ProgramManagerChanged / ProgramTreasuryChanged (synthetic logs) ................. program updated,
                                                                                  governance told
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from brownie import accounts, chain, web3
from eth_abi.abi import encode
from eth_utils import keccak

from disburse.audit import (
    CANCELLED,
    EXPIRED,
    REGISTERED,
    RELEASED,
    VERIFIED,
    MilestoneRecord,
    ProgramRecord,
    WindowChange,
    WindowPolicy,
    _Rebuild,
    _snake,
    run_audit,
    shortened_before_release,
    window_below_policy,
)
from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient
from disburse.chain.deployment import load, save
from disburse.chain.events import event_layouts
from disburse.chain.profile import ChainProfile
from disburse.cli.watch import EventWords
from scripts.deploy import deploy
from tests.conftest import DAY, TOKEN_UNIT, evidence, milestone_input
from tests.programs import FACTS

HOUR = 3600
T = 1_800_000_000


def program(window: int = DAY, changes: tuple[WindowChange, ...] = ()) -> ProgramRecord:
    p = ProgramRecord(1, "0xManager", "0xToken", "0xTreasury", window, 1, T - DAY)
    p.window_changes.extend(changes)
    return p


def milestone(
    *,
    status: int = RELEASED,
    verified: int | None = T,
    released: int | None = None,
    amount: int = 10 * TOKEN_UNIT,
    forced: bool = False,
    release_window: int = DAY,
) -> MilestoneRecord:
    m = MilestoneRecord(b"\x01" * 32, 1, b"M1", "0xB", amount, T + 30 * DAY, b"\x02" * 32, status)
    m.verified_time = verified
    m.forced = forced
    m.release_window = release_window
    if released is not None:
        m.timeline.append(("released", 9, released, b"", None, None, "0xB", amount))
    return m


SHORTENED = WindowChange(time=T + 600, block=5, previous=DAY, window=HOUR, proposal=7)


def test_a_release_sooner_than_the_window_before_a_shortening_allowed_is_flagged():
    m = milestone(released=T + 600 + HOUR + 10)
    assert shortened_before_release(m, program(HOUR, (SHORTENED,))) == SHORTENED


@pytest.mark.parametrize(
    ("released", "change"),
    [
        (T + DAY + 5, SHORTENED),  # the release waited the earlier window anyway
        (T + 3 * DAY, WindowChange(T - 2 * DAY, 2, DAY, HOUR, 1)),  # shortened long before
        (T + DAY + 5, WindowChange(T + 600, 5, HOUR, DAY, 7)),  # lengthened
        (T + HOUR + 5, WindowChange(T + 2 * HOUR, 6, DAY, HOUR, 7)),  # shortened after release
    ],
)
def test_a_release_the_earlier_window_would_have_allowed_is_not_flagged(released, change):
    assert shortened_before_release(milestone(released=released), program(HOUR, (change,))) is None


def test_a_force_release_after_a_shortening_is_not_this_flag():
    m = milestone(released=T + 600 + HOUR + 10, forced=True)
    assert shortened_before_release(m, program(HOUR, (SHORTENED,))) is None


def test_an_unreleased_milestone_is_not_flagged_for_a_shortening():
    m = milestone(status=VERIFIED)
    assert shortened_before_release(m, program(HOUR, (SHORTENED,))) is None


POLICY = WindowPolicy(high_value="1,000,000", min_window=7 * DAY)


def test_a_high_value_milestone_with_a_window_below_the_policy_is_flagged():
    big = 1_000_000 * TOKEN_UNIT
    assert window_below_policy(milestone(amount=big), program(), POLICY, 18) == DAY
    unpaid = milestone(status=REGISTERED, amount=big, verified=None)
    assert window_below_policy(unpaid, program(2 * DAY), POLICY, 18) == 2 * DAY


@pytest.mark.parametrize(
    "m",
    [
        milestone(amount=999_999 * TOKEN_UNIT),  # below the high value
        milestone(amount=2_000_000 * TOKEN_UNIT, release_window=7 * DAY),  # at the minimum
        milestone(status=CANCELLED, amount=2_000_000 * TOKEN_UNIT),
        milestone(status=EXPIRED, amount=2_000_000 * TOKEN_UNIT),
        milestone(amount=2_000_000 * TOKEN_UNIT, forced=True),
    ],
)
def test_milestones_the_window_policy_does_not_cover_are_not_flagged(m):
    assert window_below_policy(m, program(), POLICY, 18) is None


def test_the_high_value_is_read_in_each_tokens_decimals():
    assert POLICY.threshold(18) == 1_000_000 * 10**18
    assert POLICY.threshold(0) == 1_000_000
    assert WindowPolicy("0.5", DAY).threshold(0) == 1  # rounded up


# ------------------------------------------------------------------------------ on the chain


@pytest.fixture(scope="module")
def governed(roles, oracles, tmp_path_factory):
    """A deployment whose council shortens program 1's window from a day to an hour; A/M1 is
    verified after that and released an hour later (flagged); program 2 keeps its hour and
    releases B/M1 at once (not flagged: that is what the nodes do)."""
    members = accounts[7:10]
    record, escrow, council, token = deploy(
        deployer=accounts[0],
        council_members=[str(a) for a in members],
        threshold=2,
        oracles=[str(o) for o in oracles[:3]],
        quorum=2,
        managers=[str(roles.manager)],
        with_token=True,
        evm_version="cancun",
    )
    manager = {"from": roles.manager}
    token.mint(roles.manager, 3_000_000 * TOKEN_UNIT, {"from": accounts[0]})
    token.approve(escrow, 3_000_000 * TOKEN_UNIT, manager)
    ids = {}
    for pid, window, ref, amount in ((1, DAY, "A/M1", 2_000_000), (2, HOUR, "B/M1", 10)):
        escrow.createProgram(token, roles.treasury, window, FACTS, manager)
        escrow.fund(pid, amount * TOKEN_UNIT, manager)
        inputs = milestone_input(ref, roles.beneficiary, amount * TOKEN_UNIT)
        escrow.registerMilestone(pid, inputs, manager)
        ids[ref] = milestone_id(pid, external_ref(ref))
    data = escrow.setChallengeWindow.encode_input(1, HOUR)
    pid = council.propose(escrow, data, "shorten", chain.time() + DAY, {"from": members[0]})
    council.approve(pid.return_value, {"from": members[0]})
    council.approveAndExecute(pid.return_value, data, {"from": members[1]})
    # A milestone verified in the second of the change keeps the longer window (the escrow
    # cannot order the two within one timestamp), so verification comes a little later.
    chain.sleep(5)
    chain.mine()
    epoch = escrow.committee()[2]
    for ref in ids:
        for oracle in oracles[:2]:
            escrow.attest(ids[ref], evidence(ref), epoch, 0, {"from": oracle})
    chain.sleep(HOUR + 5)
    chain.mine()
    for ref in ids:
        escrow.release(ids[ref], {"from": roles.outsider})
    path = tmp_path_factory.mktemp("governed") / "deployment.json"
    save(record, path)
    return SimpleNamespace(record=record, escrow=escrow, ids=ids, path=path)


def _client() -> ChainClient:
    return ChainClient(
        ChainProfile(name="test", rpc_url=str(web3.provider.endpoint_uri), chain_id=chain.id)
    )


def test_a_release_soon_after_the_council_shortened_the_window_is_flagged(governed):
    report = run_audit(_client(), load(governed.path))
    flags = {(f.kind, f.milestone_id) for f in report.flags}
    assert ("window-shortened-before-release", bytes(governed.ids["A/M1"])) in flags
    assert not any(f.milestone_id == bytes(governed.ids["B/M1"]) for f in report.flags)
    message = next(f.message for f in report.flags if f.kind == "window-shortened-before-release")
    assert "from 1 day to 1 h (proposal #1)" in message, message
    assert report.reconciliation.ok


def test_the_window_policy_flags_the_high_value_milestone_only(governed):
    policy = WindowPolicy(high_value="1,000,000", min_window=2 * HOUR)
    report = run_audit(_client(), load(governed.path), window_policy=policy)
    flagged = [f.milestone_id for f in report.flags if f.kind == "short-window-high-value"]
    assert flagged == [bytes(governed.ids["A/M1"])]
    assert not any(
        f.kind == "short-window-high-value" for f in run_audit(_client(), load(governed.path)).flags
    )


# ------------------------------------------------------------- new escrow events, synthetic logs

NEW_EVENTS = [
    {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [
            {"name": "programId", "type": "uint256", "indexed": True},
            {"name": f"previous{what}", "type": "address", "indexed": True},
            {"name": f"new{what}", "type": "address", "indexed": True},
        ],
    }
    for name, what in (("ProgramManagerChanged", "Manager"), ("ProgramTreasuryChanged", "Treasury"))
]


def _topic(value: int | str) -> str:
    if isinstance(value, str):
        return "0x" + bytes.fromhex(value[2:]).rjust(32, b"\0").hex()
    return "0x" + encode(["uint256"], [value]).hex()


def test_program_manager_and_treasury_changes_update_the_program_and_are_told(governed, roles):
    state = _Rebuild(_client(), load(governed.path), to_block=web3.eth.block_number, partial=False)
    table = state._by_address[state.escrow_address.lower()]
    for topic, spec in event_layouts(NEW_EVENTS, state.addresses).items():
        table["0x" + topic.hex()] = (spec, getattr(state, "_on_" + _snake(spec.name)))
    state.read(governed.record.deployment_block, progress=None)
    new_manager, new_treasury = str(accounts[5]), str(accounts[6])
    for block, (name, previous, new) in enumerate(
        (
            ("ProgramManagerChanged", str(roles.manager), new_manager),
            ("ProgramTreasuryChanged", str(roles.treasury), new_treasury),
        ),
        start=web3.eth.block_number + 1,
    ):
        signature = f"{name}(uint256,address,address)"
        state._apply(
            {
                "address": state.escrow_address,
                "topics": [
                    "0x" + keccak(text=signature).hex(),
                    _topic(1),
                    _topic(previous),
                    _topic(new),
                ],
                "data": "0x",
                "blockNumber": hex(block),
                "blockTimestamp": hex(T),
                "transactionHash": "0x" + keccak(text=name).hex(),
            }
        )
    assert state.programs[1].manager == new_manager
    assert state.programs[1].treasury == new_treasury
    texts = [g.text for g in state.governance if g.event.startswith("program-")]
    assert texts == [
        f"manager of program 1 changed from {roles.manager} to {new_manager}",
        f"treasury of program 1 changed from {roles.treasury} to {new_treasury}",
    ]
    assert state.anomalies == []


def test_watch_says_a_program_handed_to_another_manager_or_treasury_in_words():
    council, escrow = "0x" + "cc" * 20, "0x" + "ee" * 20
    words = EventWords.__new__(EventWords)
    words.council = SimpleNamespace(address=web3.to_checksum_address(council))
    words.escrow = SimpleNamespace(address=web3.to_checksum_address(escrow))
    a, b = str(accounts[1]), str(accounts[2])
    manager = {
        "event": "ProgramManagerChanged",
        "address": escrow,
        "args": {"programId": 3, "previousManager": a, "newManager": b},
    }
    treasury = {
        "event": "ProgramTreasuryChanged",
        "address": escrow,
        "args": {"programId": 3, "previousTreasury": a, "newTreasury": b},
    }
    assert words.line(manager) == f"program 3 handed to manager {b} (was {a}) by the council"
    assert words.line(treasury) == f"program 3 treasury changed to {b} (was {a}) by the council"
