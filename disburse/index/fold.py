"""Events -> the derived tables: programs, milestones, attestations, payments, proposals.

One batch of decoded events (in chain order) is folded at a time, inside the transaction that
stores those events and moves the cursor: the rows the batch touches are read, changed in memory,
and written back, so the derived tables always describe exactly the events stored. The money
rules are the audit's (`disburse.audit.rebuild`): registration commits, amendment moves the
commitment, release pays and uncommits, cancellation and expiry return, a withdrawal takes the
remainder; a test checks the index against the audit on the same history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, delete, select

from disburse.audit.model import status_values
from disburse.index import schema


class FoldEvent(NamedTuple):
    """One decoded event as the fold reads it (addresses checksummed, bytes as bytes). A named
    tuple: the indexer makes one per event, and a frozen dataclass costs three times as much."""

    name: str
    values: tuple[Any, ...]
    block: int
    log_index: int
    time: int


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


_PROGRAM_EVENTS = frozenset(
    {
        "ProgramFunded",
        "ProgramClosed",
        "RemainderWithdrawn",
        "ProgramManagerChanged",
        "ProgramTreasuryChanged",
        "ChallengeWindowSet",
        "ProgramDescribed",
        "BaselineChanged",
    }
)
_MILESTONE_EVENTS = frozenset(
    {
        "MilestoneAmended",
        "AttestationRecorded",
        "MilestoneVerified",
        "MilestoneDisputed",
        "DisputeResolved",
        "MilestoneFrozen",
        "MilestoneUnfrozen",
        "MilestoneForceReleased",
        "MilestoneReleased",
        "MilestoneCancelled",
        "MilestoneExpired",
        "BeneficiaryReplaced",
    }
)
_PROPOSAL_EVENTS = frozenset({"ProposalApproved", "ApprovalRevoked", "ProposalExecuted"})


class _Rows:
    """The rows of one table that a batch touches, by key: read once, written back once."""

    def __init__(self, table: Table, key: str) -> None:
        self.table = table
        self.key = key
        self.rows: dict[Any, dict[str, Any]] = {}
        self.stored: set[Any] = set()
        self.changed: set[Any] = set()

    def load(self, conn: Connection, keys: set[Any]) -> None:
        wanted = [k for k in keys if k not in self.rows]
        column = self.table.c[self.key]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for row in conn.execute(select(self.table).where(column.in_(chunk))).mappings():
                self.rows[row[self.key]] = dict(row)
                self.stored.add(row[self.key])

    def get(self, key: Any) -> dict[str, Any] | None:
        row = self.rows.get(key)
        if row is not None:
            self.changed.add(key)
        return row

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row[self.key]] = row
        self.changed.add(row[self.key])

    def flush(self, conn: Connection) -> None:
        keys = list(self.changed)
        if not keys:
            return
        column = self.table.c[self.key]
        replaced = [k for k in keys if k in self.stored]
        for start in range(0, len(replaced), 500):
            conn.execute(delete(self.table).where(column.in_(replaced[start : start + 500])))
        schema.bulk_insert(
            conn, self.table, [schema.row_tuple(self.table, self.rows[k]) for k in keys]
        )
        self.stored.update(keys)
        self.changed.clear()


class Fold:
    """Folds batches of events into the derived tables on one connection."""

    def __init__(self) -> None:
        status = status_values()
        self.registered = status["REGISTERED"]
        self.verified = status["VERIFIED"]
        self.disputed = status["DISPUTED"]
        self.frozen = status["FROZEN"]
        self.released = status["RELEASED"]
        self.cancelled = status["CANCELLED"]
        self.expired = status["EXPIRED"]
        self._handlers: dict[str, Callable[[FoldEvent], None]] = {
            "ProgramCreated": self._program_created,
            "ProgramDescribed": self._program_described,
            "BaselineChanged": self._baseline_changed,
            "ProgramFunded": self._program_funded,
            "ProgramClosed": self._program_closed,
            "RemainderWithdrawn": self._remainder_withdrawn,
            "ProgramManagerChanged": self._manager_changed,
            "ProgramTreasuryChanged": self._treasury_changed,
            "ChallengeWindowSet": self._window_set,
            "MilestoneRegistered": self._registered,
            "MilestoneAmended": self._amended,
            "AttestationRecorded": self._attested,
            "MilestoneVerified": self._verified,
            "MilestoneDisputed": self._disputed,
            "DisputeResolved": self._dispute_resolved,
            "MilestoneFrozen": self._frozen,
            "MilestoneUnfrozen": self._unfrozen,
            "MilestoneForceReleased": self._force_released,
            "MilestoneReleased": self._milestone_released,
            "MilestoneCancelled": self._cancelled,
            "MilestoneExpired": self._expired,
            "BeneficiaryReplaced": self._beneficiary_replaced,
            "ProposalCreated": self._proposal_created,
            "ProposalApproved": self._proposal_approvals,
            "ApprovalRevoked": self._proposal_approvals,
            "ProposalExecuted": self._proposal_executed,
        }
        self.anomalies: list[str] = []

    def apply(self, conn: Connection, batch: Sequence[FoldEvent]) -> None:
        """Folds one batch (chain order) into the tables, on the caller's transaction."""
        self._programs = _Rows(schema.programs, "program_id")
        self._milestones = _Rows(schema.milestones, "milestone_id")
        self._proposals = _Rows(schema.proposals, "proposal_id")
        # In the column order of their tables (schema.bulk_insert).
        self._attestations: list[tuple[Any, ...]] = []
        self._payments: list[tuple[Any, ...]] = []
        self._baselines: list[tuple[Any, ...]] = []
        program_keys: set[int] = set()
        milestone_keys: set[str] = set()
        proposal_keys: set[int] = set()
        for e in batch:
            if e.name in _PROGRAM_EVENTS:
                program_keys.add(e.values[0])
            elif e.name in _MILESTONE_EVENTS:
                milestone_keys.add(_hex(e.values[0]))
            elif e.name == "MilestoneRegistered":
                program_keys.add(e.values[1])
            elif e.name in _PROPOSAL_EVENTS:
                proposal_keys.add(e.values[0])
        self._milestones.load(conn, milestone_keys)
        program_keys.update(m["program_id"] for m in self._milestones.rows.values())
        self._programs.load(conn, program_keys)
        self._proposals.load(conn, proposal_keys)
        for e in batch:
            handler = self._handlers.get(e.name)
            if handler is not None:
                handler(e)
        self._programs.flush(conn)
        self._milestones.flush(conn)
        self._proposals.flush(conn)
        schema.bulk_insert(conn, schema.attestations, self._attestations)
        schema.bulk_insert(conn, schema.payments, self._payments)
        schema.bulk_insert(conn, schema.baselines, self._baselines)

    # ------------------------------------------------------------------ lookups

    def _program(self, program_id: int, e: FoldEvent) -> dict[str, Any] | None:
        found = self._programs.get(program_id)
        if found is None:
            self.anomalies.append(f"block {e.block}: {e.name} of unknown program {program_id}")
        return found

    def _milestone(self, milestone_id: bytes, e: FoldEvent) -> dict[str, Any] | None:
        found = self._milestones.get(_hex(milestone_id))
        if found is None:
            self.anomalies.append(
                f"block {e.block}: {e.name} of unknown milestone {_hex(milestone_id)}"
            )
        return found

    # ------------------------------------------------------------------ programs

    def _program_created(self, e: FoldEvent) -> None:
        program_id, manager, token, treasury, window = e.values
        self._programs.add(
            {
                "program_id": program_id,
                "manager": manager,
                "token": token,
                "treasury": treasury,
                "challenge_window": window,
                "created_block": e.block,
                "created_time": e.time,
                "closed": False,
                "funded": 0,
                "committed": 0,
                "paid": 0,
                "force_paid": 0,
                "withdrawn": 0,
                "returned_cancelled": 0,
                "returned_expired": 0,
                "milestones": 0,
                "title": None,
                "organisation": None,
                "category": None,
                "fiscal_year": None,
                "baseline_original": None,
                "baseline_current": None,
            }
        )

    def _program_described(self, e: FoldEvent) -> None:
        program_id, title, organisation, category, fiscal_year, baseline = e.values
        if (p := self._program(program_id, e)) is not None:
            p.update(
                title=title,
                organisation=organisation,
                category=category,
                fiscal_year=fiscal_year,
                baseline_original=baseline,
                baseline_current=baseline,
            )

    def _baseline_changed(self, e: FoldEvent) -> None:
        program_id, previous, baseline = e.values
        if (p := self._program(program_id, e)) is not None:
            p["baseline_current"] = baseline
        self._baselines.append((e.block, e.log_index, program_id, previous, baseline, e.time))

    def _program_funded(self, e: FoldEvent) -> None:
        if (p := self._program(e.values[0], e)) is not None:
            p["funded"] += e.values[2]

    def _program_closed(self, e: FoldEvent) -> None:
        if (p := self._program(e.values[0], e)) is not None:
            p["closed"] = True

    def _remainder_withdrawn(self, e: FoldEvent) -> None:
        if (p := self._program(e.values[0], e)) is not None:
            p["withdrawn"] += e.values[2]

    def _manager_changed(self, e: FoldEvent) -> None:
        if (p := self._program(e.values[0], e)) is not None:
            p["manager"] = e.values[2]

    def _treasury_changed(self, e: FoldEvent) -> None:
        if (p := self._program(e.values[0], e)) is not None:
            p["treasury"] = e.values[2]

    def _window_set(self, e: FoldEvent) -> None:
        if (p := self._program(e.values[0], e)) is not None:
            p["challenge_window"] = e.values[1]

    # ------------------------------------------------------------------ milestones

    def _registered(self, e: FoldEvent) -> None:
        mid, program_id, beneficiary, amount, deadline, spec, ref = e.values
        if (p := self._program(program_id, e)) is not None:
            p["committed"] += amount
            p["milestones"] += 1
        self._milestones.add(
            {
                "milestone_id": _hex(mid),
                "program_id": program_id,
                "ref": _hex(ref),
                "beneficiary": beneficiary,
                "amount": amount,
                "deadline": deadline,
                "spec_hash": _hex(spec),
                "status": self.registered,
                "registered_block": e.block,
                "registered_time": e.time,
                "attestations": 0,
                "evidence_hash": None,
                "verified_time": None,
                "released_time": None,
                "forced": False,
                "original_amount": amount,
                "original_deadline": deadline,
                "disputed": False,
            }
        )

    def _amended(self, e: FoldEvent) -> None:
        mid, beneficiary, amount, deadline, spec = e.values
        if (m := self._milestone(mid, e)) is None:
            return
        if (p := self._program(m["program_id"], e)) is not None:
            p["committed"] = p["committed"] + amount - m["amount"]
        m.update(beneficiary=beneficiary, amount=amount, deadline=deadline, spec_hash=_hex(spec))

    def _attested(self, e: FoldEvent) -> None:
        mid, oracle, evidence, epoch = e.values
        if (m := self._milestone(mid, e)) is not None:
            m["attestations"] += 1
        self._attestations.append(
            (e.block, e.log_index, _hex(mid), oracle, _hex(evidence), epoch, e.time)
        )

    def _verified(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m.update(status=self.verified, evidence_hash=_hex(e.values[1]), verified_time=e.time)

    def _disputed(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m["status"] = self.disputed
            m["disputed"] = True

    def _dispute_resolved(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m.update(status=self.verified, evidence_hash=_hex(e.values[1]), verified_time=e.time)

    def _frozen(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m["status"] = self.frozen

    def _unfrozen(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m["status"] = self.verified

    def _force_released(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m["forced"] = True

    def _milestone_released(self, e: FoldEvent) -> None:
        mid, program_id, beneficiary, amount = e.values
        m = self._milestone(mid, e)
        forced = bool(m is not None and m["forced"])
        if m is not None:
            m.update(status=self.released, released_time=e.time)
        if (p := self._program(program_id, e)) is not None:
            p["paid"] += amount
            p["committed"] -= amount
            if forced:
                p["force_paid"] += amount
        self._payments.append(
            (e.block, e.log_index, _hex(mid), program_id, beneficiary, amount, e.time, forced)
        )

    def _returned(self, e: FoldEvent, status: int, column: str) -> None:
        mid, program_id, amount = e.values
        if (m := self._milestone(mid, e)) is not None:
            m["status"] = status
        if (p := self._program(program_id, e)) is not None:
            p["committed"] -= amount
            p[column] += amount

    def _cancelled(self, e: FoldEvent) -> None:
        self._returned(e, self.cancelled, "returned_cancelled")

    def _expired(self, e: FoldEvent) -> None:
        self._returned(e, self.expired, "returned_expired")

    def _beneficiary_replaced(self, e: FoldEvent) -> None:
        if (m := self._milestone(e.values[0], e)) is not None:
            m["beneficiary"] = e.values[2]

    # ------------------------------------------------------------------ proposals

    def _proposal_created(self, e: FoldEvent) -> None:
        proposal_id, proposer, target, data, description, expiry = e.values
        self._proposals.add(
            {
                "proposal_id": proposal_id,
                "proposer": proposer,
                "target": target,
                "data": _hex(bytes(data)),
                "description": description,
                "expiry": expiry,
                "created_block": e.block,
                "created_time": e.time,
                "approvals": 0,
                "executed_block": None,
                "executed_time": None,
                "executor": None,
            }
        )

    def _proposal_approvals(self, e: FoldEvent) -> None:
        if (p := self._proposals.get(e.values[0])) is not None:
            p["approvals"] = e.values[2]

    def _proposal_executed(self, e: FoldEvent) -> None:
        if (p := self._proposals.get(e.values[0])) is not None:
            p.update(executed_block=e.block, executed_time=e.time, executor=e.values[1])
