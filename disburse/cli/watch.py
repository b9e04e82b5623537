"""`disburse watch`: every escrow and council event in plain words, as it happens.

    block 123 12:01:03  milestone PO-1/M1 (0x3f2a…9c01) verified: 2 attestations agree on 0xab…

Events are read in block ranges the node accepts, both contracts merged in chain order; a line
with the date (UTC) comes first and whenever the date changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from web3 import Web3
from web3.contract import Contract
from web3.types import EventData, LogReceipt

from disburse import words as event_words
from disburse._format import duration_words as show_duration
from disburse._format import ref_text, short, when
from disburse.chain.events import EventDecoder
from disburse.cli._session import reports_errors
from disburse.cli.council import Council
from disburse.council import ChainWords, Money


class EventWords:
    """Decodes the escrow's and the council's logs and says each in one line of plain words."""

    def __init__(
        self,
        escrow: Contract,
        council: Contract,
        words: ChainWords,
        describe: Callable[[str, bytes], str],
    ) -> None:
        self.escrow = escrow
        self.council = council
        self.words = words
        self.describe = describe
        self._decoder = EventDecoder([escrow, council])

    def decode(self, log: LogReceipt) -> EventData | None:
        """The decoded event, or None for a log of no known event."""
        return self._decoder.decode(log)

    # ------------------------------------------------------------------ words

    def who(self, address: str) -> str:
        checked = Web3.to_checksum_address(address)
        if checked == self.council.address:
            return "the council"
        if checked == self.escrow.address:
            return "the escrow"
        return checked

    def milestone(self, milestone_id: bytes) -> str:
        return event_words.milestone_name(bytes(milestone_id), self.words.ref(bytes(milestone_id)))

    def money_of_program(self, program_id: int) -> Money:
        return self.words.money(int(program_id))

    def money_of_milestone(self, milestone_id: bytes) -> Money:
        program = self.words.program_of(bytes(milestone_id))
        return self.words.money(program) if program is not None else Money()

    def line(self, event: EventData) -> str:
        """One event in plain words."""
        name = event["event"]
        a = event["args"]
        says = getattr(self, f"_{name}", None)
        if says is not None:
            return str(says(a))
        source = "council" if event["address"] == self.council.address else "escrow"
        shown = ", ".join(
            f"{k} {short(bytes(v)) if isinstance(v, bytes | bytearray) else v}"
            for k, v in a.items()
        )
        return f"{source} event {name}({shown})"

    # Escrow: programs.

    def _ProgramCreated(self, a: Any) -> str:  # noqa: N802 (named after the event)
        money = self.money_of_program(a["programId"])
        return (
            f"program {a['programId']} created by {self.who(a['manager'])}, paying in "
            f"{money.symbol} ({a['token']}), treasury {a['treasury']}, challenge window "
            f"{show_duration(int(a['challengeWindow']))}"
        )

    def _ProgramFunded(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"program {a['programId']} funded with {money.show(a['amount'])} "
            f"by {self.who(a['funder'])}"
        )

    def _ProgramClosed(self, a: Any) -> str:  # noqa: N802
        return f"program {a['programId']} closed: no more funding or milestones"

    def _RemainderWithdrawn(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"program {a['programId']} paid its remainder of {money.show(a['amount'])} back to "
            f"treasury {a['treasury']}"
        )

    def _ProgramManagerChanged(self, a: Any) -> str:  # noqa: N802
        return (
            f"program {a['programId']} handed to manager {self.who(a['newManager'])} (was "
            f"{self.who(a['previousManager'])}) by the council"
        )

    def _ProgramTreasuryChanged(self, a: Any) -> str:  # noqa: N802
        return (
            f"program {a['programId']} treasury changed to {self.who(a['newTreasury'])} (was "
            f"{self.who(a['previousTreasury'])}) by the council"
        )

    def _ChallengeWindowSet(self, a: Any) -> str:  # noqa: N802
        window = show_duration(int(a["challengeWindow"]))
        return f"program {a['programId']} challenge window set to {window} by the council"

    def _ProgramDescribed(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"program {a['programId']} is {a['title']!r} of {a['organisation']} "
            f"({a['category']}, fiscal year {a['fiscalYear']}), baseline "
            f"{money.show(a['baseline'])}"
        )

    def _BaselineChanged(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"program {a['programId']} baseline set to {money.show(a['baseline'])} (was "
            f"{money.show(a['previous'])}) by the council"
        )

    # Escrow: milestones.

    def _MilestoneRegistered(self, a: Any) -> str:  # noqa: N802
        mid = bytes(a["milestoneId"])
        self.words.learn(mid, bytes(a["externalRef"]), int(a["programId"]))
        money = self.money_of_program(a["programId"])
        name = event_words.milestone_name(mid, ref_text(bytes(a["externalRef"])))
        return (
            f"{name} registered in program "
            f"{a['programId']}: {money.show(a['amount'])} to {a['beneficiary']}, due "
            f"{when(int(a['deadline']))}, evidence specification "
            f"{short(bytes(a['evidenceSpecHash']))}"
        )

    def _MilestoneAmended(self, a: Any) -> str:  # noqa: N802
        mid = bytes(a["milestoneId"])
        money = self.money_of_milestone(mid)
        return (
            f"{self.milestone(mid)} amended: {money.show(a['amount'])} to {a['beneficiary']}, due "
            f"{when(int(a['deadline']))}, evidence specification "
            f"{short(bytes(a['evidenceSpecHash']))}"
        )

    def _AttestationRecorded(self, a: Any) -> str:  # noqa: N802
        return event_words.attested(
            a["oracle"],
            a["evidenceHash"],
            a["epoch"],
            subject=f"{self.milestone(a['milestoneId'])} ",
            explain=True,
        )

    def _MilestoneVerified(self, a: Any) -> str:  # noqa: N802
        count = int(a["attestations"])
        return (
            f"{self.milestone(a['milestoneId'])} verified: {count} attestation"
            f"{'s agree' if count != 1 else ' agrees'} on {short(bytes(a['evidenceHash']))}"
        )

    def _MilestoneDisputed(self, a: Any) -> str:  # noqa: N802
        return event_words.disputed(
            a["oracle"],
            a["evidenceHash"],
            a["conflictingHash"],
            subject=f"{self.milestone(a['milestoneId'])} ",
            explain=True,
        )

    def _MilestoneReleased(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"{self.milestone(a['milestoneId'])} released: {money.show(a['amount'])} paid to "
            f"{a['beneficiary']} by program {a['programId']}"
        )

    def _MilestoneExpired(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"{self.milestone(a['milestoneId'])} expired: {money.show(a['amount'])} back to "
            f"program {a['programId']}'s available balance"
        )

    def _MilestoneFrozen(self, a: Any) -> str:  # noqa: N802
        subject = f"{self.milestone(a['milestoneId'])} "
        return event_words.frozen(subject=subject, by=" by the council", explain=True)

    def _MilestoneUnfrozen(self, a: Any) -> str:  # noqa: N802
        subject = f"{self.milestone(a['milestoneId'])} "
        return event_words.unfrozen(subject=subject, by=" by the council", explain=True)

    def _MilestoneCancelled(self, a: Any) -> str:  # noqa: N802
        money = self.money_of_program(a["programId"])
        return (
            f"{self.milestone(a['milestoneId'])} cancelled by the council: "
            f"{money.show(a['amount'])} back to program {a['programId']}'s available balance"
        )

    def _MilestoneForceReleased(self, a: Any) -> str:  # noqa: N802
        return (
            f"{self.milestone(a['milestoneId'])} force-released by the council without an oracle "
            f"quorum, reason {short(bytes(a['reasonHash']))}"
        )

    def _BeneficiaryReplaced(self, a: Any) -> str:  # noqa: N802
        return (
            f"{self.milestone(a['milestoneId'])}: beneficiary {a['previous']} replaced by "
            f"{a['beneficiary']} (council)"
        )

    def _DisputeResolved(self, a: Any) -> str:  # noqa: N802
        return (
            f"dispute on {self.milestone(a['milestoneId'])} resolved by the council for evidence "
            f"{short(bytes(a['evidenceHash']))}: Verified, its challenge window starts again"
        )

    # Escrow: committee, roles, pause.

    def _CommitteeUpdated(self, a: Any) -> str:  # noqa: N802
        oracles = ", ".join(str(o) for o in a["oracles"])
        return (
            f"oracle committee epoch {a['epoch']}: {oracles}, quorum {a['quorum']}; "
            "attestations of earlier epochs stop counting"
        )

    def _RoleGranted(self, a: Any) -> str:  # noqa: N802
        by = f" by {self.who(a['sender'])}"
        return event_words.role_granted(a["role"], self.who(a["account"]), by=by)

    def _RoleRevoked(self, a: Any) -> str:  # noqa: N802
        by = f" by {self.who(a['sender'])}"
        return event_words.role_revoked(a["role"], self.who(a["account"]), by=by)

    def _Paused(self, a: Any) -> str:  # noqa: N802
        return event_words.paused(self.who(a["account"]))

    def _Unpaused(self, a: Any) -> str:  # noqa: N802
        return event_words.unpaused(self.who(a["account"]))

    # Council.

    def _ProposalCreated(self, a: Any) -> str:  # noqa: N802
        call = self.describe(str(a["target"]), bytes(a["data"]))
        return (
            f"council proposal {a['proposalId']} by {a['proposer']}: {call}; "
            f"“{a['description']}”; expires {when(int(a['expiry']))}"
        )

    def _ProposalApproved(self, a: Any) -> str:  # noqa: N802
        count = int(a["approvals"])
        return (
            f"council proposal {a['proposalId']} approved by {a['member']} "
            f"({count} approval{'s' if count != 1 else ''})"
        )

    def _ApprovalRevoked(self, a: Any) -> str:  # noqa: N802
        count = int(a["approvals"])
        return (
            f"council proposal {a['proposalId']}: approval revoked by {a['member']} "
            f"({count} approval{'s' if count != 1 else ''} left)"
        )

    def _ProposalExecuted(self, a: Any) -> str:  # noqa: N802
        return f"council proposal {a['proposalId']} executed by {a['executor']}"

    def _MemberAdded(self, a: Any) -> str:  # noqa: N802
        return event_words.member_added(a["member"])

    def _MemberRemoved(self, a: Any) -> str:  # noqa: N802
        return event_words.member_removed(a["member"], explain=True)

    def _ThresholdChanged(self, a: Any) -> str:  # noqa: N802
        return event_words.threshold_changed(a["previous"], a["threshold"])

    def _EmergencyPause(self, a: Any) -> str:  # noqa: N802
        return f"emergency brake pulled by council member {a['member']}: the escrow is paused"


def watch(
    ctx: typer.Context,
    from_block: Annotated[
        int | None,
        typer.Option("--from-block", min=0, help="first block to show [default: the head]"),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow/--no-follow", help="keep following new blocks, or stop at the head"),
    ] = True,
    poll: Annotated[
        float, typer.Option("--poll", min=0.05, help="seconds between looks for new blocks")
    ] = 1.0,
) -> None:
    """Print every escrow and council event in plain words as it happens (times in UTC).
    Ctrl-C stops."""
    reports_errors(_watch)(ctx, from_block, follow, poll)


def _watch(ctx: typer.Context, from_block: int | None, follow: bool, poll: float) -> None:
    c = Council.open(ctx)
    client = c.client
    lag = client.profile.confirmations
    words = EventWords(c.escrow, c.council, c.words, c.describe)
    next_block = from_block if from_block is not None else max(0, client.block_number() - lag)
    day: str | None = None
    try:
        while True:
            head = client.block_number() - lag
            while next_block <= head:
                end = min(next_block + client.profile.log_range_cap - 1, head)
                logs = [
                    *client.contract_logs(c.escrow.address, from_block=next_block, to_block=end),
                    *client.contract_logs(c.council.address, from_block=next_block, to_block=end),
                ]
                logs.sort(key=lambda log: (log["blockNumber"], log["logIndex"]))
                for log in logs:
                    event = words.decode(log)
                    if event is None:
                        continue
                    stamp = datetime.fromtimestamp(c.block_time(log["blockNumber"]), tz=UTC)
                    if stamp.strftime("%Y-%m-%d") != day:
                        day = stamp.strftime("%Y-%m-%d")
                        typer.echo(f"— {day} (UTC) —")
                    typer.echo(
                        f"block {log['blockNumber']} {stamp.strftime('%H:%M:%S')}  "
                        f"{words.line(event)}"
                    )
                next_block = end + 1
            if not follow:
                return
            time.sleep(poll)
    except KeyboardInterrupt:
        typer.echo(f"stopped; the next block to watch is {next_block}", err=True)
