"""disburse.council without a chain: every action encodes to the call it names, every call is
described in words, and bad arguments are refused with a message that names them.

encode(action, args)
├── each of the 20 actions ........... the named function with the given arguments, at the
│                                      escrow (overrides, roles, pause) or the council (members)
├── unknown action ................... ProposalError listing the known actions
├── wrong number of arguments ........ ProposalError naming the parameters
└── a bad value ...................... ProposalError naming the parameter (milestone id, address,
                                       zero address, quorum / threshold range, program, window,
                                       baseline)
describe(target, data)
├── each action ...................... its plain words, with milestone facts when given
├── another contract ................. says so, with the selector
└── an unknown function .............. says so, with the selector
durations, money, reasons, references . parsed and shown as people write them
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3 import Web3

from disburse._format import duration_words as show_duration
from disburse._format import ref_text, short
from disburse.chain.contracts import load_abi
from disburse.chain.errors import DisburseError
from disburse.council import (
    ACTIONS,
    PROGRAM_MANAGER_ROLE,
    MilestoneFacts,
    Money,
    ProposalError,
    describe,
    encode,
    parse_duration,
    reason_hash,
)

W3 = Web3()
ESCROW = W3.eth.contract(
    address=Web3.to_checksum_address("0x" + "e5" * 20), abi=load_abi("MilestoneEscrow")
)
COUNCIL = W3.eth.contract(
    address=Web3.to_checksum_address("0x" + "c0" * 20), abi=load_abi("OversightCouncil")
)
MID = keccak(text="milestone")
EVIDENCE = keccak(text="evidence")
ALICE = Web3.to_checksum_address("0x" + "a1" * 20)
BOB = Web3.to_checksum_address("0x" + "b2" * 20)
JPYT = Money("JPYT", 18)
FACTS = MilestoneFacts(beneficiary=ALICE, amount=12_000_000 * 10**18, ref="PO-7/M3", money=JPYT)


def facts(milestone: bytes) -> MilestoneFacts | None:
    return FACTS if milestone == MID else None


CASES = [
    # action, args, contract, function, decoded args, words (without facts), words with facts
    ("freeze", [MID], ESCROW, "freeze", {"milestoneId": MID}, f"freeze milestone {short(MID)}"),
    ("unfreeze", [MID], ESCROW, "unfreeze", {"milestoneId": MID}, "unfreeze milestone "),
    ("cancel", [MID], ESCROW, "cancel", {"milestoneId": MID}, "cancel milestone "),
    (
        "force-release",
        [MID, reason_hash("outage")],
        ESCROW,
        "forceRelease",
        {"milestoneId": MID, "reasonHash": keccak(text="outage")},
        f"force-release milestone {short(MID)}, reason {short(keccak(text='outage'))}",
    ),
    (
        "replace-beneficiary",
        [MID, BOB.lower()],
        ESCROW,
        "replaceBeneficiary",
        {"milestoneId": MID, "beneficiary": BOB},
        f"replace the beneficiary of milestone {short(MID)} with {BOB}",
    ),
    (
        "resolve-dispute",
        [MID, "0x" + EVIDENCE.hex()],
        ESCROW,
        "resolveDispute",
        {"milestoneId": MID, "evidenceHash": EVIDENCE},
        f"resolve the dispute on milestone {short(MID)} for evidence {short(EVIDENCE)}",
    ),
    (
        "set-committee",
        [[ALICE, BOB], 2],
        ESCROW,
        "setCommittee",
        {"oracles": [ALICE, BOB], "quorum": 2},
        f"set the oracle committee to {ALICE}, {BOB} with quorum 2",
    ),
    (
        "set-window",
        [3, 2 * 86400 + 3600],
        ESCROW,
        "setChallengeWindow",
        {"programId": 3, "challengeWindow": 2 * 86400 + 3600},
        "set the challenge window of program 3 to 2 days 1 h",
    ),
    (
        "set-baseline",
        [3, 1_200_000 * 10**18],
        ESCROW,
        "setBaseline",
        {"programId": 3, "baseline": 1_200_000 * 10**18},
        "set the baseline of program 3 to 1,200,000 tokens",
    ),
    (
        "grant-manager",
        [ALICE],
        ESCROW,
        "grantRole",
        {"role": PROGRAM_MANAGER_ROLE, "account": ALICE},
        f"grant the program manager role to {ALICE}",
    ),
    (
        "revoke-manager",
        [ALICE],
        ESCROW,
        "revokeRole",
        {"role": PROGRAM_MANAGER_ROLE, "account": ALICE},
        f"revoke the program manager role from {ALICE}",
    ),
    ("pause", [], ESCROW, "pause", {}, "pause the escrow"),
    ("unpause", [], ESCROW, "unpause", {}, "unpause the escrow"),
    ("close-program", [4], ESCROW, "closeProgram", {"programId": 4}, "close program 4"),
    (
        "withdraw-remainder",
        [4],
        ESCROW,
        "withdrawRemainder",
        {"programId": 4},
        "pay the uncommitted remainder of program 4 to its treasury",
    ),
    (
        "set-program-manager",
        [4, BOB.lower()],
        ESCROW,
        "setProgramManager",
        {"programId": 4, "manager": BOB},
        f"hand program 4 to manager {BOB}",
    ),
    (
        "set-program-treasury",
        [4, ALICE],
        ESCROW,
        "setProgramTreasury",
        {"programId": 4, "treasury": ALICE},
        f"set the treasury of program 4 to {ALICE}",
    ),
    (
        "add-member",
        [ALICE, 3],
        COUNCIL,
        "addMember",
        {"member": ALICE, "threshold_": 3},
        f"add council member {ALICE}, threshold 3",
    ),
    (
        "remove-member",
        [ALICE, 1],
        COUNCIL,
        "removeMember",
        {"member": ALICE, "threshold_": 1},
        f"remove council member {ALICE}, threshold 1",
    ),
    (
        "change-threshold",
        [2],
        COUNCIL,
        "changeThreshold",
        {"threshold_": 2},
        "change the council threshold to 2",
    ),
]


def test_a_baseline_is_described_in_its_programs_token():
    target, data = encode(ESCROW, COUNCIL, "set-baseline", [3, 1_200_000 * 10**18])
    words = describe(ESCROW, COUNCIL, target, data, program_money=lambda _p: JPYT)
    assert words == "set the baseline of program 3 to 1,200,000 JPYT"


def test_every_action_has_a_case():
    assert sorted(case[0] for case in CASES) == sorted(ACTIONS)


@pytest.mark.parametrize(("action", "args", "contract", "function", "decoded", "words"), CASES)
def test_an_action_encodes_the_call_it_names(action, args, contract, function, decoded, words):
    target, data = encode(ESCROW, COUNCIL, action, args)
    assert target == contract.address
    fn, found = contract.decode_function_input(data)
    assert fn.fn_name == function
    assert {k: bytes(v) if isinstance(v, bytes) else v for k, v in found.items()} == decoded


@pytest.mark.parametrize(("action", "args", "contract", "function", "decoded", "words"), CASES)
def test_an_action_is_described_in_words(action, args, contract, function, decoded, words):
    target, data = encode(ESCROW, COUNCIL, action, args)
    assert describe(ESCROW, COUNCIL, target, data).startswith(words)


def test_milestone_facts_name_the_reference_beneficiary_and_amount():
    def words(action: str, *args: object) -> str:
        target, data = encode(ESCROW, COUNCIL, action, [MID, *args])
        return describe(ESCROW, COUNCIL, target, data, milestone=facts)

    label = f"milestone PO-7/M3 ({short(MID)})"
    reason = keccak(text="outage")
    assert words("force-release", reason) == (
        f"force-release {label} to {ALICE} for 12,000,000 JPYT, reason {short(reason)}"
    )
    assert words("cancel") == f"cancel {label} (12,000,000 JPYT)"
    assert words("freeze") == f"freeze {label}"
    assert words("replace-beneficiary", BOB) == (
        f"replace the beneficiary of {label} with {BOB} (was {ALICE})"
    )


def test_the_money_of_describe_is_used_when_the_facts_have_none():
    plain = MilestoneFacts(beneficiary=ALICE, amount=1500, ref=None)
    target, data = encode(ESCROW, COUNCIL, "cancel", [MID])
    text = describe(
        ESCROW, COUNCIL, target, data, money=Money("EUR", 2), milestone=lambda _m: plain
    )
    assert text == f"cancel milestone {short(MID)} (15 EUR)"


def test_a_call_to_another_contract_is_named_with_its_selector():
    other = "0x" + "99" * 20
    _, data = encode(ESCROW, COUNCIL, "pause", [])
    text = describe(ESCROW, COUNCIL, other, data)
    assert text == (
        f"call contract {Web3.to_checksum_address(other)} (not the escrow or the council), "
        f"selector 0x{data[:4].hex()}"
    )


def test_an_unknown_function_is_named_by_its_selector():
    text = describe(ESCROW, COUNCIL, ESCROW.address, bytes.fromhex("deadbeef"))
    assert text == f"call {ESCROW.address} with unknown function 0xdeadbeef"


def test_other_escrow_functions_are_described_by_name_and_arguments():
    data = bytes.fromhex(ESCROW.functions.release(MID)._encode_transaction_data()[2:])
    assert describe(ESCROW, COUNCIL, ESCROW.address, data) == f"release(milestoneId {short(MID)})"


@pytest.mark.parametrize(
    ("action", "args", "message"),
    [
        ("explode", [], "unknown action 'explode'; known actions: freeze, unfreeze"),
        ("freeze", [], "freeze takes milestone; got 0 argument(s)"),
        ("pause", [MID], "pause takes no arguments; got 1 argument(s)"),
        ("freeze", ["0x12"], "freeze: the milestone must be 32 bytes"),
        ("freeze", [b"\x01" * 31], "freeze: the milestone must be 32 bytes"),
        ("resolve-dispute", [MID, "zz"], "the evidence hash must be 32 bytes"),
        ("replace-beneficiary", [MID, "0x1234"], "beneficiary '0x1234' is not an address"),
        (
            "replace-beneficiary",
            [MID, "0x" + ALICE[2:].swapcase()],  # a typo in a checksummed address
            "is not an address",
        ),
        ("replace-beneficiary", [MID, "0x" + "00" * 20], "must not be the zero address"),
        ("set-committee", [[], 1], "give at least one of the oracles"),
        ("set-committee", [ALICE, 1], "give at least one of the oracles"),
        ("set-committee", [[ALICE, "bob"], 1], "oracle 'bob' is not an address"),
        ("set-committee", [[ALICE], 0], "quorum must be from 1 to 255, got 0"),
        ("change-threshold", [256], "threshold must be from 1 to 255, got 256"),
        ("change-threshold", ["two"], "threshold 'two' is not a whole number"),
        ("set-window", [0, 10], "program must be from 1"),
        ("set-window", [1, -1], "challenge window must be from 0 to"),
        ("close-program", [0], "close-program: program must be from 1"),
        ("set-baseline", [1, 0], "set-baseline: baseline must be from 1 to"),
        ("set-baseline", [1, 2**128], "set-baseline: baseline must be from 1 to"),
        ("set-program-manager", [1, "0x" + "00" * 20], "must not be the zero address"),
        ("set-program-treasury", [1, "treasury"], "treasury 'treasury' is not an address"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(action, args, message):
    with pytest.raises(ProposalError) as caught:
        encode(ESCROW, COUNCIL, action, args)
    assert message in str(caught.value)
    assert isinstance(caught.value, DisburseError)  # the CLI reports it in one line


DURATIONS = [
    ("7d", 7 * 86400),
    ("36h", 36 * 3600),
    ("1d12h", 86400 + 12 * 3600),
    ("90m", 5400),
    ("45s", 45),
    ("3600", 3600),
    ("2w", 14 * 86400),
    (" 1D ", 86400),
    ("0", 0),
]


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_durations_are_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "7x", "7d soon", "-1d", "1.5d"])
def test_a_duration_that_is_not_one_is_refused(text):
    with pytest.raises(ProposalError, match="is not a duration"):
        parse_duration(text)


def test_durations_are_shown_in_words():
    assert show_duration(0) == "0 s"
    assert show_duration(86400) == "1 day"
    assert show_duration(2 * 86400 + 3 * 3600) == "2 days 3 h"
    assert show_duration(90) == "1 min 30 s"


def test_money_is_shown_with_the_tokens_decimals():
    assert Money("JPYT", 18).show(12_000_000 * 10**18) == "12,000,000 JPYT"
    assert Money("JPYT", 18).show(15 * 10**17) == "1.5 JPYT"
    assert Money("YEN", 0).show(1000) == "1,000 YEN"
    assert Money().show(0) == "0 tokens"


def test_a_reason_is_hashed_as_its_utf8_text_and_must_be_written():
    assert reason_hash("oracles offline — site visit") == keccak(
        "oracles offline — site visit".encode()
    )
    with pytest.raises(ProposalError, match="needs a written reason"):
        reason_hash("   ")


def test_a_reference_is_shown_as_the_manager_wrote_it():
    assert ref_text(b"PO-1/M1".ljust(32, b"\0")) == "PO-1/M1"
    raw = b"\xff" * 32
    assert ref_text(raw) == short(raw)
