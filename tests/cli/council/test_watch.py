"""`disburse watch`: escrow and council events in plain words, in chain order.

watch
├── --from-block N --no-follow ........ every event from N to the head, in order, then exits
├── no --from-block ................... starts at the head
├── a milestone registered before N ... still named by its reference
├── every override .................... its own words (frozen, cancelled, force-released,
│                                       beneficiary replaced, dispute resolved, paused…)
├── every event of both ABIs .......... has words of its own
├── --follow .......................... prints blocks mined while it waits; Ctrl-C exits cleanly
└── network down ...................... one line, exit 2
"""

from __future__ import annotations

import json
import re

from brownie import accounts, chain, web3

import disburse.cli.watch as watch_module
from disburse._format import short
from disburse.chain.contracts import load_abi
from disburse.cli.watch import EventWords
from tests.cli.council.conftest import DAY, DEAD_RPC, attest, evidence, one_error_line

PREFIX = re.compile(r"^block (\d+) (\d\d:\d\d:\d\d)  (.*)$")
DATE = re.compile(r"^— \d{4}-\d\d-\d\d \(UTC\) —$")


def events(output: str, *, strict: bool = True) -> list[tuple[int, str]]:
    """(block, words) of every event line; every other line is a date line (unless not strict:
    brownie's own output of a transaction sent meanwhile lands there too)."""
    found = []
    for line in output.splitlines():
        match = PREFIX.match(line)
        if match is None:
            assert not strict or DATE.match(line), line
            continue
        found.append((int(match.group(1)), match.group(3)))
    return found


def test_watch_prints_a_known_sequence_in_plain_words(cli, deployed, register, program):
    start = web3.eth.block_number + 1
    mid = register("PO-W/1")
    attest(deployed, mid, deployed.oracles[:2], "bundle-w")
    pid = cli.propose("freeze", "--program", program, "PO-W/1", "-d", "site visit pending")
    cli.ok("council", "approve", pid, signer="m0")
    cli.ok("council", "approve", pid, signer="m1")
    out = cli.ok("watch", "--from-block", start, "--no-follow", signer=None)
    m0, m1 = deployed.members[:2]
    o0, o1 = deployed.oracles[:2]
    label = f"milestone PO-W/1 ({short(mid)})"
    hashed = short(evidence("bundle-w"))
    expiry = deployed.council.proposal(pid)[1]
    lines = [words for _block, words in events(out)]
    assert lines[0].startswith(
        f"{label} registered in program {program}: 1,000 JPYT to {accounts[3]}, due "
    )
    assert lines[1:] == [
        f"{label} attested by oracle {o0}: evidence {hashed} (committee epoch 1)",
        f"{label} attested by oracle {o1}: evidence {hashed} (committee epoch 1)",
        f"{label} verified: 2 attestations agree on {hashed}",
        f"council proposal {pid} by {m0}: freeze {label}; “site visit pending”; expires "
        + watch_module.when(expiry),
        f"council proposal {pid} approved by {m0} (1 approval)",
        f"council proposal {pid} approved by {m1} (2 approvals)",
        f"council proposal {pid} executed by {m1}",
        f"{label} frozen by the council: nobody can release it",
    ]
    blocks = [block for block, _words in events(out)]
    assert blocks == sorted(blocks) and blocks[0] == start
    assert DATE.match(out.splitlines()[0])


def test_watch_starts_at_the_head_by_default(cli, deployed, register):
    register("PO-W/2")
    out = cli.ok("watch", "--no-follow", signer=None)
    found = events(out)
    assert [block for block, _ in found] == [web3.eth.block_number]
    assert "PO-W/2" in found[0][1] and "registered" in found[0][1]


def test_a_milestone_registered_before_the_first_block_keeps_its_reference(cli, deployed, register):
    mid = register("PO-W/3")
    start = web3.eth.block_number + 1
    attest(deployed, mid, deployed.oracles[:1], "early")
    out = cli.ok("watch", "--from-block", start, "--no-follow", signer=None)
    assert events(out)[0][1].startswith(f"milestone PO-W/3 ({short(mid)}) attested by oracle")


def test_every_override_and_payment_has_its_own_words(
    cli, deployed, register, verified, disputed, program
):
    start = web3.eth.block_number + 1
    paid = verified("PO-W/paid")
    chain.sleep(DAY + 1)
    deployed.escrow.release(paid, {"from": accounts[0]})
    dropped = register("PO-W/drop")
    cli.decide("cancel", "0x" + dropped.hex(), "-d", "drop")
    forced = register("PO-W/force")
    cli.decide("force-release", "0x" + forced.hex(), "--reason", "outage", "-d", "pay")
    moved = register("PO-W/move")
    cli.decide("replace-beneficiary", "0x" + moved.hex(), str(accounts[4]), "-d", "move")
    argued = disputed("PO-W/argue")
    cli.decide("resolve-dispute", "0x" + argued.hex(), "0x" + evidence("first").hex(), "-d", "ok")
    cli.decide("set-window", program, "2d", "-d", "longer")
    cli.ok("council", "pause", signer="m2")
    out = cli.ok("watch", "--from-block", start, "--no-follow", signer=None)
    text = "\n".join(words for _block, words in events(out))
    for expected in (
        f"milestone PO-W/paid ({short(paid)}) released: 1,000 JPYT paid to {accounts[3]} by "
        f"program {program}",
        f"milestone PO-W/drop ({short(dropped)}) cancelled by the council: 1,000 JPYT back to "
        f"program {program}'s available balance",
        f"milestone PO-W/force ({short(forced)}) force-released by the council without an "
        "oracle quorum, reason ",
        f"milestone PO-W/move ({short(moved)}): beneficiary {accounts[3]} replaced by "
        f"{accounts[4]} (council)",
        f"milestone PO-W/argue ({short(argued)}) disputed: oracle {deployed.oracles[1]} attested",
        f"dispute on milestone PO-W/argue ({short(argued)}) resolved by the council for evidence "
        + short(evidence("first")),
        f"program {program} challenge window set to 2 days by the council",
        "escrow paused by the council",
        f"emergency brake pulled by council member {deployed.members[2]}: the escrow is paused",
    ):
        assert expected in text, expected
    assert " event " not in text  # no event fell back to its raw name


def test_every_event_of_the_escrow_and_the_council_has_words():
    for name in ("MilestoneEscrow", "OversightCouncil"):
        for item in load_abi(name):
            if item["type"] != "event" or item["name"] in (
                "EIP712DomainChanged",
                "RoleAdminChanged",
            ):
                continue
            assert hasattr(EventWords, f"_{item['name']}"), item["name"]


def test_follow_prints_new_blocks_and_ctrl_c_exits_cleanly(cli, deployed, register, monkeypatch):
    naps = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            register("PO-W/live")  # mined while the watcher waits
            return
        raise KeyboardInterrupt

    monkeypatch.setattr(watch_module.time, "sleep", nap)
    result = cli("watch", "--poll", "0.2", signer=None)
    assert result.exit_code == 0, result.output
    assert naps == [0.2, 0.2]
    printed = events(result.stdout, strict=False)
    assert any("PO-W/live" in words and "registered" in words for _, words in printed)
    assert "stopped; the next block to watch is" in result.stderr


def test_watch_with_the_chain_down_is_one_line(cli, quick_profile):
    result = cli("watch", "--no-follow", signer=None, rpc_url=DEAD_RPC, profile=quick_profile)
    assert "did not answer" in one_error_line(result)


def test_watch_with_a_broken_deployment_file_is_one_line(cli, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"network": "x"}))
    cli.deployment = broken
    result = cli("watch", "--no-follow", signer=None)
    assert "is not a valid deployment file" in one_error_line(result)
