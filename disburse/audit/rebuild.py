"""Decoded events -> the audit's model: the rebuild engine and the log reading it uses."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from web3.contract import Contract
from web3.exceptions import Web3Exception

from disburse._format import duration_hours as duration
from disburse._format import ref_full as ref_text
from disburse._format import short
from disburse.audit import model
from disburse.audit.model import (
    APPLY_BATCH,
    FIRST_SPAN,
    LOGS_PER_READ,
    AuditError,
    GovernanceEntry,
    Ledger,
    MilestoneRecord,
    ProgramRecord,
    ProposalRecord,
    TokenInfo,
    WindowChange,
)
from disburse.chain.client import ChainClient
from disburse.chain.contracts import load_abi
from disburse.chain.deployment import Deployment
from disburse.chain.errors import (
    ArtifactError,
    ChainError,
    ContractRevertError,
)
from disburse.chain.events import AddressBook, EventLayout, event_layouts
from disburse.chain.logs import LogStream, read_ranged
from disburse.council import MilestoneFacts, Money, describe
from disburse.words import (
    member_added,
    member_removed,
    paused,
    role_granted,
    role_revoked,
    threshold_changed,
    unpaused,
)

# ---------------------------------------------------------------------------------------- decoding


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ------------------------------------------------------------------------------------ raw requests


def _batch(client: ChainClient, calls: Sequence[tuple[str, list[Any]]], *, what: str) -> list[Any]:
    """Results of JSON-RPC requests through the client's batches; a refusal is the audit's."""
    try:
        return client.batch(calls, what=what)
    except ChainError as exc:
        if type(exc) is not ChainError:  # unreachable node, wrong chain...: as the client says
            raise
        raise AuditError(str(exc)) from None


# ---------------------------------------------------------------------------------------- rebuild


class DecodedEvent(NamedTuple):
    """One log, decoded: its event's name, its arguments in ABI order (as Python values:
    ints, bytes, checksummed addresses, tuples), where it sits in the chain, and who sent its
    transaction when known."""

    name: str
    args: Sequence[Any]
    block: int
    timestamp: int
    tx_hash: bytes
    log_index: int
    address: str
    sender: str | None = None


class _Rebuild:
    """The state every event updates; one instance per audit run."""

    def __init__(
        self, client: ChainClient, deployment: Deployment, *, to_block: int, partial: bool
    ) -> None:
        self.client = client
        self.deployment = deployment
        self.to_block = to_block
        self.partial = partial
        self.addresses = AddressBook()
        self.escrow_address = self.addresses.of_text(deployment.escrow)
        self.council_address = self.addresses.of_text(deployment.council)
        self.escrow_contract: Contract = client.contract("MilestoneEscrow", self.escrow_address)
        self.council_contract: Contract = client.contract("OversightCouncil", self.council_address)
        self.programs: dict[int, ProgramRecord] = {}
        self.milestones: dict[bytes, MilestoneRecord] = {}
        self.proposals: dict[int, ProposalRecord] = {}
        self.governance: list[GovernanceEntry] = []
        self.tokens: dict[str, TokenInfo] = {}
        self.anomalies: list[str] = []
        self.events = 0
        self.unknown_events = 0
        self._senders: dict[bytes, str] = {}
        self._times: dict[int, int] = {}
        self._exec: tuple[bytes, int, str] | None = None
        self._last_tx: bytes = b""
        self._last_tx_hex = ""
        self._last_block = -1
        self._last_block_hex = ""
        self._last_time = 0
        self._escrow_key = self.escrow_address.lower()
        self._by_address: dict[str, dict[str, tuple[EventLayout, Callable[..., None]]]] = {}
        self._by_name: dict[str, dict[str, Callable[..., None]]] = {}
        for address, contract in (
            (self.escrow_address, "MilestoneEscrow"),
            (self.council_address, "OversightCouncil"),
        ):
            table: dict[str, tuple[EventLayout, Callable[..., None]]] = {}
            for topic, spec in event_layouts(load_abi(contract), self.addresses).items():
                handler = getattr(self, "_on_" + _snake(spec.name), self._other)
                expected = _EXPECTED_FIELDS.get(spec.name)
                if expected is not None and spec.names != expected:
                    raise ArtifactError(
                        f"{contract}.{spec.name} has fields {spec.names}, the audit reads "
                        f"{expected}: rebuild the audit for this ABI"
                    )
                table["0x" + topic.hex()] = (spec, handler)
            self._by_address[address.lower()] = table
            self._by_name[address.lower()] = {spec.name: h for spec, h in table.values()}
        # Events naming nobody: their transaction's sender says who.
        self._needs_sender = {
            topic
            for topic, (spec, _h) in self._by_address[self.escrow_address.lower()].items()
            if spec.name in SENDER_EVENTS
        }

    # ------------------------------------------------------------------ reading

    def read(self, from_block: int, *, progress: Callable[[int, int], None] | None) -> None:
        """Reads and applies the logs of both contracts, one block window at a time. A window
        holds about LOGS_PER_READ logs (it grows over sparse blocks and shrinks over dense ones),
        never more blocks than the profile's cap, and is halved while the node refuses it; its
        response is parsed as it arrives and applied APPLY_BATCH logs at a time, so a window
        denser than planned costs time, not memory."""
        stream = LogStream(self.client, [self.escrow_address, self.council_address])
        with stream:
            read_ranged(
                lambda start, end: self._read_window(stream, start, end),
                from_block,
                self.to_block,
                cap=self.client.profile.log_range_cap,
                first_span=FIRST_SPAN,
                target=LOGS_PER_READ,
                progress=None if progress is None else (lambda end: progress(end, self.events)),
            )

    def _read_window(self, stream: LogStream, start: int, end: int) -> int:
        pending: list[dict[str, Any]] = []
        count = 0
        for log in stream.logs(start, end):
            pending.append(log)
            if len(pending) >= APPLY_BATCH:
                count += self._apply_all(pending)
                pending = []
        return count + self._apply_all(pending)

    def _apply_all(self, logs: list[dict[str, Any]]) -> int:
        self._prefetch(logs)
        for log in logs:
            self._apply(log)
        self._senders.clear()
        self._times.clear()
        return len(logs)

    def _prefetch(self, logs: Sequence[Mapping[str, Any]]) -> None:
        """Senders of the transactions whose events name nobody, and block times the node did
        not put in its logs (anvil does; not every node does), in batched requests."""
        txs: dict[str, None] = {}
        blocks: dict[str, None] = {}
        needs = self._needs_sender
        for log in logs:
            topics = log["topics"]
            if topics and topics[0] in needs and log["address"].lower() == self._escrow_key:
                txs[log["transactionHash"]] = None
            if log.get("blockTimestamp") is None:
                blocks[log["blockNumber"]] = None
        if txs:
            found = _batch(
                self.client,
                [("eth_getTransactionByHash", [tx]) for tx in txs],
                what="eth_getTransactionByHash",
            )
            for tx, reply in zip(txs, found, strict=True):
                if reply:
                    self._senders[bytes.fromhex(tx[2:])] = self.addresses.of_text(reply["from"])
        if blocks:
            found = _batch(
                self.client,
                [("eth_getBlockByNumber", [b, False]) for b in blocks],
                what="eth_getBlockByNumber",
            )
            for number, reply in zip(blocks, found, strict=True):
                if not reply:
                    raise AuditError(f"the node has no block {int(number, 16)}")
                self._times[int(number, 16)] = int(reply["timestamp"], 16)

    def _apply(self, log: Mapping[str, Any]) -> None:
        if log.get("removed"):
            return
        self.events += 1
        topics = log["topics"]
        table = self._by_address.get(log["address"].lower())
        found = table.get(topics[0]) if table is not None and topics else None
        if found is None:
            self.unknown_events += 1
            return
        spec, handler = found
        if log["blockNumber"] != self._last_block_hex:
            self._last_block_hex = log["blockNumber"]
            self._last_block = int(self._last_block_hex, 16)
            stamp = log.get("blockTimestamp")
            self._last_time = int(stamp, 16) if stamp else self._times[self._last_block]
        if log["transactionHash"] != self._last_tx_hex:
            self._last_tx_hex = log["transactionHash"]
            self._last_tx = bytes.fromhex(self._last_tx_hex[2:])
        block = self._last_block
        try:
            values = spec.decode(topics, bytes.fromhex(log["data"][2:]))
        except Exception as exc:  # a log that does not fit its ABI is a finding, not a crash
            self.anomalies.append(
                f"block {block}: {spec.name} log does not decode with the ABI ({exc})"
            )
            return
        handler(values, block, self._last_time, self._last_tx)

    def apply_events(self, events: Iterable[DecodedEvent]) -> Ledger:
        """The seam: applies already decoded events (in chain order) and returns the ledger.
        Events name their transaction's sender when they name nobody (`DecodedEvent.sender`)."""
        for event in events:
            self.events += 1
            table = self._by_name.get(event.address.lower())
            handler = table.get(event.name) if table is not None else None
            if handler is None:
                self.unknown_events += 1
                continue
            if event.sender is not None:
                self._senders[event.tx_hash] = event.sender
            handler(tuple(event.args), event.block, event.timestamp, event.tx_hash)
        self._senders.clear()
        return self.ledger()

    # ------------------------------------------------------------------ helpers

    def _actor(self, tx: bytes) -> tuple[str | None, int | None]:
        """Who made an escrow change: the council's proposal (and its executor) when the change
        happened inside a council execution, else the transaction's sender."""
        if self._exec is not None and self._exec[0] == tx:
            return self._exec[2], self._exec[1]
        return self._senders.get(tx), None

    def token(self, address: str) -> TokenInfo:
        found = self.tokens.get(address)
        if found is None:
            contract = self.client.contract("SettlementToken", address)
            try:
                symbol = str(self.client.call(contract.functions.symbol()))
                decimals = int(self.client.call(contract.functions.decimals()))
            except (ContractRevertError, Web3Exception, ValueError):  # not an ERC-20 with metadata
                symbol, decimals = f"units of {short(address)}", 0
            found = TokenInfo(address, symbol, decimals, Money(symbol, decimals))
            self.tokens[address] = found
        return found

    def ledger(self) -> Ledger:
        """What the rebuild produced, as plain values (every program's token read first, so the
        renderers need no chain)."""
        for program in self.programs.values():
            self.token(program.token)
        return Ledger(
            escrow=self.escrow_address,
            council=self.council_address,
            to_block=self.to_block,
            programs=self.programs,
            milestones=self.milestones,
            proposals=self.proposals,
            governance=self.governance,
            tokens=self.tokens,
            anomalies=self.anomalies,
            events=self.events,
            unknown_events=self.unknown_events,
        )

    def money(self, program_id: int) -> Money:
        program = self.programs.get(program_id)
        return self.token(program.token).money if program else Money()

    def _program(self, program_id: int, block: int) -> ProgramRecord:
        found = self.programs.get(program_id)
        if found is None:
            found = self._program_from_chain(program_id)
            if not self.partial:
                self.anomalies.append(
                    f"block {block}: event for program {program_id}, which was never created"
                )
        return found

    def _program_from_chain(self, program_id: int) -> ProgramRecord:
        """A program created before the audited range, as the chain describes it now."""
        raw = self.client.call(
            self.escrow_contract.functions.program(program_id), block=self.to_block
        )
        record = ProgramRecord(
            program_id=program_id,
            manager=self.addresses.of_text(str(raw[0])),
            token=self.addresses.of_text(str(raw[2])),
            treasury=self.addresses.of_text(str(raw[4])),
            challenge_window=int(raw[3]),
            created_block=None,
            created_time=None,
            closed=bool(raw[1]),
        )
        self.programs[program_id] = record
        self.token(record.token)
        return record

    def _milestone(self, milestone_id: bytes, block: int) -> MilestoneRecord:
        found = self.milestones.get(milestone_id)
        if found is None:
            raw = self.client.call(
                self.escrow_contract.functions.milestone(milestone_id), block=self.to_block
            )
            found = MilestoneRecord(
                milestone_id=milestone_id,
                program_id=int(raw[0]),
                ref=b"",
                beneficiary=self.addresses.of_text(str(raw[1])),
                amount=int(raw[2]),
                deadline=int(raw[3]),
                spec_hash=bytes(raw[4]),
                status=model.REGISTERED,
                registered_in_range=False,
            )
            self.milestones[milestone_id] = found
            if not self.partial:
                self.anomalies.append(
                    f"block {block}: event for milestone {short(milestone_id)}, "
                    "which was never registered"
                )
        return found

    def facts(self, milestone_id: bytes) -> MilestoneFacts | None:
        m = self.milestones.get(bytes(milestone_id))
        if m is None:
            return None
        return MilestoneFacts(
            beneficiary=m.beneficiary, amount=m.amount, ref=ref_text(m.ref) if m.ref else None
        )

    def _governance(
        self, event: str, block: int, time: int, tx: bytes, text: str, by: str | None = None
    ) -> None:
        actor, proposal = self._actor(tx)
        self.governance.append(GovernanceEntry(event, block, time, tx, by or actor, proposal, text))

    # ------------------------------------------------------------------ escrow: programs

    def _on_program_created(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program_id, manager, token, treasury, window = v
        self.programs[program_id] = ProgramRecord(
            program_id, manager, token, treasury, window, block, time
        )
        self.token(token)

    def _on_program_funded(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program = self._program(v[0], block)
        program.funded += v[2]
        program.fundings += 1

    def _on_program_closed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program = self._program(v[0], block)
        program.closed = True
        program.closed_time = time
        if self._actor(tx)[1] is not None:  # closed by the council, not by its manager
            self._governance(
                "program-closed", block, time, tx, f"program {v[0]} closed by the council"
            )

    def _on_remainder_withdrawn(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program_id, treasury, amount = v
        program = self._program(program_id, block)
        program.withdrawn += amount
        if self._actor(tx)[1] is not None:  # the council's; the manager's own is its ledger line
            self._governance(
                "remainder-withdrawn",
                block,
                time,
                tx,
                f"program {program_id}'s remainder of {self.money(program_id).show(amount)} "
                f"paid to treasury {treasury} by the council",
            )

    def _on_program_manager_changed(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        program_id, previous, manager = v
        self._program(program_id, block).manager = manager
        self._governance(
            "program-manager-changed",
            block,
            time,
            tx,
            f"manager of program {program_id} changed from {previous} to {manager}",
        )

    def _on_program_treasury_changed(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        program_id, previous, treasury = v
        self._program(program_id, block).treasury = treasury
        self._governance(
            "program-treasury-changed",
            block,
            time,
            tx,
            f"treasury of program {program_id} changed from {previous} to {treasury}",
        )

    def _on_challenge_window_set(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        program_id, window = v
        program = self._program(program_id, block)
        was = program.challenge_window
        program.challenge_window = window
        program.window_changes.append(WindowChange(time, block, was, window, self._actor(tx)[1]))
        self._governance(
            "challenge-window-set",
            block,
            time,
            tx,
            f"challenge window of program {program_id} set to {duration(window)} "
            f"(was {duration(was)})",
        )

    def _on_baseline_changed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        program_id, previous, baseline = v
        self._program(program_id, block)
        money = self.money(program_id)
        self._governance(
            "baseline-changed",
            block,
            time,
            tx,
            f"baseline of program {program_id} set to {money.show(baseline)} "
            f"(was {money.show(previous)})",
        )

    # ------------------------------------------------------------------ escrow: milestones

    def _on_milestone_registered(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, program_id, beneficiary, amount, deadline, spec, ref = v
        program = self._program(program_id, block)
        program.committed += amount
        program.milestones += 1
        m = MilestoneRecord(
            mid, program_id, ref, beneficiary, amount, deadline, spec, model.REGISTERED
        )
        m.timeline.append(("registered", block, time, tx, program.manager, None, amount, deadline))
        self.milestones[mid] = m

    def _on_milestone_amended(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, beneficiary, amount, deadline, spec = v
        m = self._milestone(mid, block)
        program = self._program(m.program_id, block)
        program.committed += amount - m.amount
        terms = (m.amount, m.deadline, m.beneficiary, deadline, beneficiary)
        m.amount, m.deadline, m.beneficiary, m.spec_hash = amount, deadline, beneficiary, spec
        m.timeline.append(("amended", block, time, tx, program.manager, None, amount, terms))

    def _on_attestation_recorded(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, oracle, evidence, epoch = v
        m = self.milestones.get(mid) or self._milestone(mid, block)
        if evidence not in m.hashes:
            m.hashes = (*m.hashes, evidence)
        m.timeline.append(("attested", block, time, tx, oracle, None, evidence, epoch))

    def _on_milestone_verified(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, evidence, count = v
        m = self.milestones.get(mid) or self._milestone(mid, block)
        m.status = model.VERIFIED
        m.evidence_hash = evidence
        m.verified_time = time
        m.timeline.append(("verified", block, time, tx, None, None, evidence, count))

    def _on_milestone_disputed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, oracle, evidence, conflicting = v
        m = self._milestone(mid, block)
        m.status = model.DISPUTED
        m.disputed = True
        m.timeline.append(("disputed", block, time, tx, oracle, None, evidence, conflicting))

    def _on_dispute_resolved(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, evidence = v
        m = self._milestone(mid, block)
        m.status = model.VERIFIED
        m.evidence_hash = evidence
        m.verified_time = time
        by, proposal = self._actor(tx)
        m.timeline.append(("dispute-resolved", block, time, tx, by, proposal, evidence, None))

    def _on_milestone_frozen(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        m = self._milestone(v[0], block)
        m.status = model.FROZEN
        by, proposal = self._actor(tx)
        m.timeline.append(("frozen", block, time, tx, by, proposal, None, None))

    def _on_milestone_unfrozen(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        m = self._milestone(v[0], block)
        m.status = model.VERIFIED
        by, proposal = self._actor(tx)
        m.timeline.append(("unfrozen", block, time, tx, by, proposal, None, None))

    def _on_milestone_force_released(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, reason = v
        m = self._milestone(mid, block)
        m.forced = True
        by, proposal = self._actor(tx)
        m.timeline.append(("force-released", block, time, tx, by, proposal, reason, None))

    def _on_milestone_released(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, program_id, beneficiary, amount = v
        m = self._milestone(mid, block)
        program = self._program(program_id, block)
        program.paid += amount
        program.committed -= amount
        m.status = model.RELEASED
        if m.forced:
            program.force_paid += amount
        elif m.verified_time is not None:
            m.release_window = program.challenge_window
            m.release_lag = time - (m.verified_time + program.challenge_window)
        by, proposal = self._actor(tx)
        m.timeline.append(("released", block, time, tx, by, proposal, beneficiary, amount))

    def _on_milestone_cancelled(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, program_id, amount = v
        m = self._milestone(mid, block)
        program = self._program(program_id, block)
        program.committed -= amount
        program.returned_cancelled += amount
        m.status = model.CANCELLED
        by, proposal = self._actor(tx)
        m.timeline.append(("cancelled", block, time, tx, by, proposal, amount, None))

    def _on_milestone_expired(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        mid, program_id, amount = v
        m = self._milestone(mid, block)
        program = self._program(program_id, block)
        program.committed -= amount
        program.returned_expired += amount
        m.status = model.EXPIRED
        by, proposal = self._actor(tx)
        m.timeline.append(("expired", block, time, tx, by, proposal, amount, None))

    def _on_beneficiary_replaced(
        self, v: tuple[Any, ...], block: int, time: int, tx: bytes
    ) -> None:
        mid, previous, beneficiary = v
        m = self._milestone(mid, block)
        m.beneficiary = beneficiary
        by, proposal = self._actor(tx)
        m.timeline.append(
            ("beneficiary-replaced", block, time, tx, by, proposal, previous, beneficiary)
        )

    # ------------------------------------------------------------------ escrow: governance

    def _on_committee_updated(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        epoch, oracles, quorum = v
        text = f"oracle committee epoch {epoch}: {', '.join(oracles)} with quorum {quorum}"
        self._governance("committee-updated", block, time, tx, text)

    def _on_paused(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("paused", block, time, tx, paused(v[0]))

    def _on_unpaused(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("unpaused", block, time, tx, unpaused(v[0]))

    def _on_role_granted(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        role, account, sender = v
        self._governance("role-granted", block, time, tx, role_granted(role, account), by=sender)

    def _on_role_revoked(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        role, account, sender = v
        self._governance("role-revoked", block, time, tx, role_revoked(role, account), by=sender)

    # ------------------------------------------------------------------ council

    def _on_proposal_created(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, proposer, target, data, description, expiry = v
        money = Money()
        if target == self.escrow_address and len(data) >= 36:
            m = self.milestones.get(bytes(data[4:36]))
            if m is not None:
                money = self.money(m.program_id)
        try:
            text = describe(
                self.escrow_contract,
                self.council_contract,
                target,
                bytes(data),
                money=money,
                milestone=self.facts,
                program_money=self.money,
            )
        except Exception as exc:  # arguments that do not decode are shown, never fatal
            text = f"call {target} with undecodable data 0x{bytes(data)[:4].hex()} ({exc})"
        self.proposals[proposal_id] = ProposalRecord(
            proposal_id, proposer, target, bytes(data), description, expiry, block, time, tx, text
        )

    def _proposal(self, proposal_id: int, block: int) -> ProposalRecord | None:
        found = self.proposals.get(proposal_id)
        if found is None:
            self.anomalies.append(
                f"block {block}: event for proposal {proposal_id}, whose creation was not read"
            )
        return found

    def _on_proposal_approved(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, member, count = v
        found = self._proposal(proposal_id, block)
        if found is not None:
            found.approvals.append((member, time, block, count))

    def _on_approval_revoked(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, member, count = v
        found = self._proposal(proposal_id, block)
        if found is not None:
            found.revocations.append((member, time, block, count))

    def _on_proposal_executed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        proposal_id, executor = v
        self._exec = (tx, proposal_id, executor)
        found = self._proposal(proposal_id, block)
        if found is not None:
            found.executed = (executor, time, block, tx)

    def _on_member_added(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("member-added", block, time, tx, member_added(v[0]))

    def _on_member_removed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance("member-removed", block, time, tx, member_removed(v[0]))

    def _on_threshold_changed(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        previous, threshold = v
        self._governance(
            "threshold-changed", block, time, tx, threshold_changed(previous, threshold)
        )

    def _on_emergency_pause(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        self._governance(
            "emergency-pause", block, time, tx, f"emergency pause by member {v[0]}", by=v[0]
        )

    def _other(self, v: tuple[Any, ...], block: int, time: int, tx: bytes) -> None:
        """Events the audit has no rule for (e.g. RoleAdminChanged) are counted, not lost."""


# The fields each handler unpacks, in ABI order: a contract change that reorders them stops the
# audit instead of misreading the history.
_EXPECTED_FIELDS: dict[str, tuple[str, ...]] = {
    "ProgramCreated": ("programId", "manager", "token", "treasury", "challengeWindow"),
    "ProgramFunded": ("programId", "funder", "amount"),
    "ProgramClosed": ("programId",),
    "RemainderWithdrawn": ("programId", "treasury", "amount"),
    "ProgramManagerChanged": ("programId", "previousManager", "newManager"),
    "ProgramTreasuryChanged": ("programId", "previousTreasury", "newTreasury"),
    "ChallengeWindowSet": ("programId", "challengeWindow"),
    "ProgramDescribed": (
        "programId",
        "title",
        "organisation",
        "category",
        "fiscalYear",
        "baseline",
    ),
    "BaselineChanged": ("programId", "previous", "baseline"),
    "MilestoneRegistered": (
        "milestoneId",
        "programId",
        "beneficiary",
        "amount",
        "deadline",
        "evidenceSpecHash",
        "externalRef",
    ),
    "MilestoneAmended": ("milestoneId", "beneficiary", "amount", "deadline", "evidenceSpecHash"),
    "AttestationRecorded": ("milestoneId", "oracle", "evidenceHash", "epoch"),
    "MilestoneVerified": ("milestoneId", "evidenceHash", "attestations"),
    "MilestoneDisputed": ("milestoneId", "oracle", "evidenceHash", "conflictingHash"),
    "DisputeResolved": ("milestoneId", "evidenceHash"),
    "MilestoneFrozen": ("milestoneId",),
    "MilestoneUnfrozen": ("milestoneId",),
    "MilestoneForceReleased": ("milestoneId", "reasonHash"),
    "MilestoneReleased": ("milestoneId", "programId", "beneficiary", "amount"),
    "MilestoneCancelled": ("milestoneId", "programId", "amount"),
    "MilestoneExpired": ("milestoneId", "programId", "amount"),
    "BeneficiaryReplaced": ("milestoneId", "previous", "beneficiary"),
    "CommitteeUpdated": ("epoch", "oracles", "quorum"),
    "Paused": ("account",),
    "Unpaused": ("account",),
    "RoleGranted": ("role", "account", "sender"),
    "RoleRevoked": ("role", "account", "sender"),
    "ProposalCreated": ("proposalId", "proposer", "target", "data", "description", "expiry"),
    "ProposalApproved": ("proposalId", "member", "approvals"),
    "ApprovalRevoked": ("proposalId", "member", "approvals"),
    "ProposalExecuted": ("proposalId", "executor"),
    "MemberAdded": ("member",),
    "MemberRemoved": ("member",),
    "ThresholdChanged": ("previous", "threshold"),
    "EmergencyPause": ("member",),
}

SENDER_EVENTS = frozenset(
    {
        "MilestoneReleased",
        "MilestoneExpired",
        "MilestoneFrozen",
        "MilestoneUnfrozen",
        "MilestoneCancelled",
        "MilestoneForceReleased",
        "BeneficiaryReplaced",
        "DisputeResolved",
        "CommitteeUpdated",
        "ChallengeWindowSet",
        "BaselineChanged",
        "ProgramClosed",
        "RemainderWithdrawn",
        "ProgramManagerChanged",
        "ProgramTreasuryChanged",
    }
)
