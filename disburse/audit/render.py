"""Text, JSON and CSV renderings of an audit report."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from disburse._format import duration_hours as duration
from disburse._format import ref_full as ref_text
from disburse._format import short, table
from disburse._format import when_iso as when
from disburse.audit.analysis import Schedule, _label
from disburse.audit.model import (
    _ENTRY_FIELDS,
    Entry,
    Flag,
    Ledger,
    MilestoneRecord,
    ProgramRecord,
    ProposalRecord,
    Reconciliation,
    _hex,
    status_at,
)
from disburse.chain.escrow import milestone_statuses
from disburse.council import Money
from disburse.words import attested, disputed, frozen, unfrozen

# ---------------------------------------------------------------------------------------- report


@dataclass
class AuditReport:
    """The rebuilt history, its flags and its reconciliation; renders as text, JSON or CSV."""

    chain_id: int
    escrow: str
    council: str
    deployment_block: int
    from_block: int
    to_block: int
    as_of: int
    ledger: Ledger
    schedules: dict[int, Schedule]
    flags: list[Flag]
    reconciliation: Reconciliation
    schedule_tolerance: float

    @property
    def events(self) -> int:
        return self.ledger.events

    @property
    def ok(self) -> bool:
        return self.reconciliation.ok

    # ------------------------------------------------------------------ shared views

    def programs(self) -> list[ProgramRecord]:
        return sorted(self.ledger.programs.values(), key=lambda p: p.program_id)

    def _flags_by_milestone(self) -> dict[bytes, list[str]]:
        found: dict[bytes, list[str]] = {}
        for f in self.flags:
            if f.milestone_id is not None:
                found.setdefault(f.milestone_id, []).append(f.kind)
        return found

    def totals(self) -> dict[str, dict[str, int]]:
        """Per token: the programs' ledgers added up."""
        out: dict[str, dict[str, int]] = {}
        for p in self.programs():
            row = out.setdefault(p.token, dict.fromkeys(_LEDGER, 0))
            for key in _LEDGER:
                row[key] += _ledger(p)[key]
        return out

    # ------------------------------------------------------------------ JSON

    def head(self) -> dict[str, Any]:
        """Everything but the milestones (which `write_json` streams one by one)."""
        now = self.as_of
        tokens = {
            t.address: {"symbol": t.symbol, "decimals": t.decimals}
            for t in self.ledger.tokens.values()
        }
        return {
            "chain_id": self.chain_id,
            "escrow": self.escrow,
            "council": self.council,
            "deployment_block": self.deployment_block,
            "from_block": self.from_block,
            "to_block": self.to_block,
            "as_of": now,
            "events": self.events,
            "unrecognised_events": self.ledger.unknown_events,
            "amounts": "strings of integers, in each token's smallest unit",
            "tokens": tokens,
            "overall": {
                token: {k: str(v) for k, v in row.items()} for token, row in self.totals().items()
            },
            "programs": [self._program_json(p) for p in self.programs()],
            "proposals": [
                self._proposal_json(p, now)
                for p in sorted(self.ledger.proposals.values(), key=lambda p: p.proposal_id)
            ],
            "governance": [
                {
                    "event": g.event,
                    "block": g.block,
                    "time": g.time,
                    "tx": _hex(g.tx),
                    "by": g.by,
                    "proposal": g.proposal,
                    "text": g.text,
                }
                for g in self.ledger.governance
            ],
            "flags": [
                {
                    "kind": f.kind,
                    "program": f.program_id,
                    "milestone": _hex(f.milestone_id),
                    "message": f.message,
                }
                for f in self.flags
            ],
            "anomalies": list(self.ledger.anomalies),
            "reconciliation": {
                "checked": self.reconciliation.checked,
                "ok": self.reconciliation.ok,
                "note": self.reconciliation.note,
                "programs": self.reconciliation.programs,
                "milestones": self.reconciliation.milestones,
                "tokens": self.reconciliation.tokens,
                "proposals": self.reconciliation.proposals,
                "differences": [
                    {
                        "subject": d.subject,
                        "field": d.field,
                        "rebuilt": d.rebuilt,
                        "on_chain": d.on_chain,
                        "message": d.message,
                    }
                    for d in self.reconciliation.differences
                ],
            },
        }

    def _program_json(self, p: ProgramRecord) -> dict[str, Any]:
        s = self.schedules.get(p.program_id, Schedule(0, 0, 0))
        return {
            "id": p.program_id,
            "manager": p.manager,
            "token": p.token,
            "symbol": self.ledger.token(p.token).symbol,
            "treasury": p.treasury,
            "challenge_window": p.challenge_window,
            "created_block": p.created_block,
            "created_time": p.created_time,
            "closed": p.closed,
            "closed_time": p.closed_time,
            "fundings": p.fundings,
            "milestones": p.milestones,
            **{k: str(v) for k, v in _ledger(p).items()},
            "force_paid": str(p.force_paid),
            "scheduled": str(s.scheduled),
            "due": str(s.due),
            "paid_fraction": s.paid_fraction,
            "due_fraction": s.due_fraction,
        }

    def _proposal_json(self, p: ProposalRecord, now: int) -> dict[str, Any]:
        return {
            "id": p.proposal_id,
            "status": p.status(now),
            "text": p.text,
            "description": p.description,
            "proposer": p.proposer,
            "target": p.target,
            "data": _hex(p.data),
            "expiry": p.expiry,
            "block": p.block,
            "time": p.time,
            "tx": _hex(p.tx),
            "approvals": [
                {"member": m, "time": t, "block": b, "approvals": c} for m, t, b, c in p.approvals
            ],
            "revocations": [
                {"member": m, "time": t, "block": b, "approvals": c} for m, t, b, c in p.revocations
            ],
            "executed": None
            if p.executed is None
            else {
                "executor": p.executed[0],
                "time": p.executed[1],
                "block": p.executed[2],
                "tx": _hex(p.executed[3]),
            },
        }

    def milestone_json(self, m: MilestoneRecord, flags: Sequence[str]) -> dict[str, Any]:
        timeline = []
        for kind, block, time, tx, by, proposal, a, b in m.timeline:
            item: dict[str, Any] = {
                "event": kind,
                "block": block,
                "time": time,
                "tx": _hex(tx),
                "by": by,
            }
            if proposal is not None:
                item["proposal"] = proposal
            names = _ENTRY_FIELDS[kind]
            for name, value in zip(names, (a, b), strict=True):
                if name is not None:
                    item[name] = _json_value(name, value)
            timeline.append(item)
        return {
            "id": _hex(m.milestone_id),
            "program": m.program_id,
            "ref": ref_text(m.ref) if m.ref else None,
            "beneficiary": m.beneficiary,
            "amount": str(m.amount),
            "deadline": m.deadline,
            "evidence_spec_hash": _hex(m.spec_hash),
            "status": milestone_statuses()[status_at(m, self.as_of)],
            "evidence_hash": _hex(m.evidence_hash),
            "verified_time": m.verified_time,
            "registered_in_range": m.registered_in_range,
            "flags": list(flags),
            "timeline": timeline,
        }

    def write_json(self, out: IO[str]) -> None:
        """One JSON document; milestones are encoded one at a time, never all at once."""
        head = json.dumps(self.head())
        out.write(head[:-1] + ', "milestones": [')
        by_milestone = self._flags_by_milestone()
        first = True
        for m in self.ledger.milestones.values():
            if not first:
                out.write(", ")
            first = False
            out.write(json.dumps(self.milestone_json(m, by_milestone.get(m.milestone_id, ()))))
        out.write("]}\n")

    # ------------------------------------------------------------------ CSV

    CSV_COLUMNS: tuple[str, ...] = (
        "milestone_id",
        "program_id",
        "ref",
        "token",
        "beneficiary",
        "amount",
        "deadline",
        "status",
        "registered_at",
        "attestations",
        "oracles",
        "evidence_hash",
        "verified_at",
        "disputed",
        "frozen",
        "released_at",
        "released_by",
        "paid_to",
        "force_released",
        "reason_hash",
        "cancelled_at",
        "expired_at",
        "beneficiary_replaced",
        "flags",
    )

    def write_csv(self, out: IO[str]) -> None:
        """A row per milestone; amounts in the token's smallest unit, times in UTC."""
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.CSV_COLUMNS)
        by_milestone = self._flags_by_milestone()
        for m in self.ledger.milestones.values():
            first: dict[str, Entry] = {}
            oracles: list[str] = []
            for e in m.timeline:
                first.setdefault(e[0], e)
                if e[0] == "attested" and e[4] is not None:
                    oracles.append(e[4])
            released = first.get("released")
            forced = first.get("force-released")
            token = (
                self.ledger.programs[m.program_id].token
                if m.program_id in (self.ledger.programs)
                else ""
            )
            writer.writerow(
                (
                    _hex(m.milestone_id),
                    m.program_id,
                    ref_text(m.ref) if m.ref else "",
                    self.ledger.token(token).symbol if token else "",
                    m.beneficiary,
                    m.amount,
                    when(m.deadline),
                    milestone_statuses()[status_at(m, self.as_of)],
                    when(first["registered"][2]) if "registered" in first else "",
                    len(oracles),
                    ";".join(oracles),
                    _hex(m.evidence_hash) or "",
                    when(m.verified_time) if m.verified_time else "",
                    "yes" if m.disputed else "",
                    "yes" if "frozen" in first else "",
                    when(released[2]) if released else "",
                    (released[4] or "") if released else "",
                    (released[6] or "") if released else "",
                    "yes" if forced else "",
                    _hex(forced[6]) if forced else "",
                    when(first["cancelled"][2]) if "cancelled" in first else "",
                    when(first["expired"][2]) if "expired" in first else "",
                    "yes" if "beneficiary-replaced" in first else "",
                    ";".join(by_milestone.get(m.milestone_id, ())),
                )
            )

    # ------------------------------------------------------------------ text

    def write_text(self, out: IO[str]) -> None:
        w = out.write
        state = self.ledger
        w(
            f"Audit of escrow {self.escrow} and council {self.council} on chain {self.chain_id}\n"
            f"blocks {self.from_block} to {self.to_block} (as of {when(self.as_of)}): "
            f"{self.events:,} events, {len(state.programs):,} programs, "
            f"{len(state.milestones):,} milestones, {len(state.proposals):,} council proposals\n"
        )
        if self.from_block > self.deployment_block:
            w(
                f"partial history: the escrow was deployed at block {self.deployment_block}; "
                "amounts cover the audited blocks only\n"
            )
        w("\nOverall, per settlement token\n")
        header = ("token", *_LEDGER_LABELS)
        rows: list[Sequence[str]] = []
        for token, row in self.totals().items():
            money = state.token(token).money
            rows.append((money.symbol, *(money.show(row[k]) for k in _LEDGER)))
        _table(w, header, rows)

        w("\nPrograms\n")
        rows = []
        for p in self.programs():
            money = state.token(p.token).money
            s = self.schedules.get(p.program_id, Schedule(0, 0, 0))
            ledger = _ledger(p)
            rows.append(
                (
                    str(p.program_id),
                    money.symbol,
                    duration(p.challenge_window) if p.challenge_window else "none",
                    "closed" if p.closed else "open",
                    str(p.milestones),
                    *(money.show(ledger[k]) for k in _LEDGER),
                    _percent(s.paid_fraction),
                    _percent(s.due_fraction),
                )
            )
        _table(
            w,
            ("#", "token", "window", "state", "milestones", *_LEDGER_LABELS, "paid%", "due%"),
            rows,
        )
        for p in self.programs():
            w(
                f"  program {p.program_id}: manager {p.manager}, treasury {p.treasury}, "
                f"created {when(p.created_time)}, {p.fundings} funding(s)\n"
            )

        w("\nMilestones\n")
        by_milestone = self._flags_by_milestone()
        for m in self.ledger.milestones.values():
            money = state.money(m.program_id)
            flags = by_milestone.get(m.milestone_id)
            w(
                f"  program {m.program_id} · {_label(m)} · {money.show(m.amount)} to "
                f"{m.beneficiary} · deadline {when(m.deadline)} · "
                f"{milestone_statuses()[status_at(m, self.as_of)]}"
                + (f" · flags: {', '.join(flags)}" if flags else "")
                + "\n"
            )
            for entry in m.timeline:
                w(f"      {when(entry[2])}  block {entry[1]:<8} {_entry_text(entry, money)}\n")

        w("\nCouncil proposals\n")
        if not state.proposals:
            w("  none\n")
        for q in sorted(state.proposals.values(), key=lambda x: x.proposal_id):
            w(f"  #{q.proposal_id} [{q.status(self.as_of)}] {q.text}\n")
            w(f'      description: "{q.description}"\n')
            w(
                f"      proposed by {q.proposer} on {when(q.time)} (block {q.block}), "
                f"expires {when(q.expiry)}\n"
            )
            for member, time, block, count in q.approvals:
                w(f"      approved by {member} on {when(time)} (block {block}): {count} in all\n")
            for member, time, block, count in q.revocations:
                w(f"      revoked by {member} on {when(time)} (block {block}): {count} left\n")
            if q.executed is not None:
                executor, time, block, _tx = q.executed
                w(f"      executed by {executor} on {when(time)} (block {block})\n")

        w("\nGovernance\n")
        if not state.governance:
            w("  none\n")
        for g in state.governance:
            by = _by(g.by, g.proposal)
            w(f"  {when(g.time)}  block {g.block:<8} {g.text}{by}\n")

        w(f"\nFlags for review ({len(self.flags)})\n")
        if not self.flags:
            w("  none\n")
        for f in self.flags:
            w(f"  {f.kind:<22} {f.message}\n")
        if state.anomalies:
            w(f"\nAnomalies in the event history ({len(state.anomalies)})\n")
            for text in state.anomalies:
                w(f"  {text}\n")

        r = self.reconciliation
        w("\nReconciliation\n")
        if not r.checked:
            w(f"  not checked: {r.note}\n")
        elif r.ok:
            w(
                f"  OK: {r.programs:,} programs, {r.milestones:,} milestones, {r.proposals:,} "
                f"proposals and {r.tokens} token balance(s) match the chain ({r.note})\n"
            )
        else:
            w(f"  FAILED: {len(r.differences)} difference(s) ({r.note})\n")
            for d in r.differences:
                w(f"  - {d.message}\n")


_LEDGER = (
    "funded",
    "committed",
    "paid",
    "refunded",
    "returned_cancelled",
    "returned_expired",
    "available",
    "balance",
)
_LEDGER_LABELS = (
    "funded",
    "committed",
    "paid",
    "refunded",
    "cancelled→available",
    "expired→available",
    "available",
    "balance",
)


def _ledger(p: ProgramRecord) -> dict[str, int]:
    return {
        "funded": p.funded,
        "committed": p.committed,
        "paid": p.paid,
        "refunded": p.withdrawn,
        "returned_cancelled": p.returned_cancelled,
        "returned_expired": p.returned_expired,
        "available": p.available,
        "balance": p.balance,
    }


def _json_value(name: str, value: Any) -> Any:
    if isinstance(value, bytes):
        return _hex(value)
    if name == "amount":
        return str(value)
    if name == "terms":
        amount, deadline, beneficiary, new_deadline, new_beneficiary = value
        return {
            "previous_amount": str(amount),
            "previous_deadline": deadline,
            "previous_beneficiary": beneficiary,
            "deadline": new_deadline,
            "beneficiary": new_beneficiary,
        }
    return value


def _by(by: str | None, proposal: int | None) -> str:
    if proposal is not None:
        return f" by the council (proposal #{proposal}, executed by {by})"
    return f" by {by}" if by else ""


def _entry_text(entry: Entry, money: Money) -> str:
    kind, _block, _time, _tx, by, proposal, a, b = entry
    who = _by(by, proposal)
    if kind == "registered":
        return f"registered by manager {by}: {money.show(a)}, deadline {when(b)}"
    if kind == "amended":
        old_amount, old_deadline, old_beneficiary, deadline, beneficiary = b
        return (
            f"amended by manager {by}: {money.show(old_amount)} → {money.show(a)}, deadline "
            f"{when(old_deadline)} → {when(deadline)}, beneficiary {old_beneficiary} → "
            f"{beneficiary}"
        )
    if kind == "attested":
        return attested(str(by), a, b)
    if kind == "verified":
        return f"verified: {b} matching attestations on evidence {short(a)}"
    if kind == "disputed":
        return disputed(str(by), a, b)
    if kind == "dispute-resolved":
        return f"dispute resolved for evidence {short(a)}{who}"
    if kind == "frozen":
        return frozen(by=who)
    if kind == "unfrozen":
        return unfrozen(by=who)
    if kind == "released":
        return f"released {money.show(b)} to {a}{who}"
    if kind == "force-released":
        return f"force-released, reason hash {_hex(a)}{who}"
    if kind == "cancelled":
        return f"cancelled, {money.show(a)} back to the program{who}"
    if kind == "expired":
        return f"expired, {money.show(a)} back to the program{who}"
    if kind == "beneficiary-replaced":
        return f"beneficiary replaced: {a} → {b}{who}"
    return kind


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(w: Callable[[str], Any], header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """The audit's tables: indented, the first column left-aligned and the amounts right."""
    if not rows:
        w("  none\n")
        return
    text = table(header, rows, align="<" + ">" * (len(header) - 1))
    w("".join(f"  {line}\n" for line in text.split("\n")))
