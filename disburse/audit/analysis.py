"""Flags from the model, and reconciliation against the chain's state."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from disburse._format import duration_hours as duration
from disburse._format import ref_full as ref_text
from disburse._format import short
from disburse._format import when_iso as when
from disburse.audit import model
from disburse.audit.model import (
    FLAG_KINDS,
    Difference,
    Flag,
    Ledger,
    MilestoneRecord,
    ProgramRecord,
    Reconciliation,
    WindowChange,
    WindowPolicy,
    _hex,
    released_time,
    status_at,
)
from disburse.audit.rebuild import _batch, _Rebuild
from disburse.chain.client import FunctionCodec
from disburse.chain.contracts import load_abi
from disburse.chain.escrow import milestone_statuses
from disburse.council import Money
from disburse.words import milestone_name

# ---------------------------------------------------------------------------------------- flags


def shortened_before_release(m: MilestoneRecord, program: ProgramRecord) -> WindowChange | None:
    """The council's shortening of the program's window that let `m` be paid sooner than the
    window before it allowed, within that earlier window of the change; None when there is none
    (or `m` was force-released, or not released)."""
    released = released_time(m)
    if m.forced or released is None or m.verified_time is None:
        return None
    for change in reversed(program.window_changes):
        if change.time > released or not change.shortened:
            continue
        if released - change.time <= change.previous and (
            released < m.verified_time + change.previous
        ):
            return change
    return None


def window_below_policy(
    m: MilestoneRecord, program: ProgramRecord, policy: WindowPolicy, decimals: int
) -> int | None:
    """The challenge window that applies to `m` when it is high-value under `policy` and that
    window is shorter than the policy's minimum; else None."""
    if m.forced or m.status in (model.CANCELLED, model.EXPIRED, model.NONE):
        return None
    if m.amount < policy.threshold(decimals):
        return None
    window = m.release_window if m.status == model.RELEASED else program.challenge_window
    return window if window < policy.min_window else None


@dataclass(frozen=True, slots=True)
class Schedule:
    scheduled: int
    due: int
    paid: int

    @property
    def paid_fraction(self) -> float | None:
        return self.paid / self.scheduled if self.scheduled else None

    @property
    def due_fraction(self) -> float | None:
        return self.due / self.scheduled if self.scheduled else None


def _schedules(state: Ledger, now: int) -> dict[int, Schedule]:
    totals: dict[int, list[int]] = {pid: [0, 0] for pid in state.programs}
    for m in state.milestones.values():
        if m.status == model.CANCELLED:
            continue
        row = totals.setdefault(m.program_id, [0, 0])
        row[0] += m.amount
        if m.deadline <= now:
            row[1] += m.amount
    return {
        pid: Schedule(row[0], row[1], state.programs[pid].paid if pid in state.programs else 0)
        for pid, row in totals.items()
    }


def _flags(
    state: Ledger,
    now: int,
    schedules: Mapping[int, Schedule],
    tolerance: float,
    policy: WindowPolicy | None = None,
) -> list[Flag]:
    flags: list[Flag] = []
    for m in state.milestones.values():
        money = state.money(m.program_id)
        label = _label(m)
        pid = m.program_id
        mid = m.milestone_id
        for entry in m.timeline:
            kind = entry[0]
            if kind == "force-released":
                via = f" (proposal #{entry[5]})" if entry[5] is not None else ""
                flags.append(
                    Flag(
                        "force-release",
                        pid,
                        mid,
                        f"{label} force-released by the council{via} on {when(entry[2])}: "
                        f"{money.show(m.amount)} to {m.beneficiary} without an oracle quorum, "
                        f"reason hash {_hex(entry[6])}",
                    )
                )
            elif kind == "disputed":
                flags.append(
                    Flag(
                        "dispute",
                        pid,
                        mid,
                        f"{label} disputed on {when(entry[2])}: oracle {entry[4]} attested "
                        f"{short(entry[7])} against {short(entry[6])}; now "
                        f"{milestone_statuses()[status_at(m, now)]}",
                    )
                )
        if len(m.hashes) > 1 and not m.disputed:
            by_oracle = "; ".join(
                f"{e[4]} attested {short(e[6])} (epoch {e[7]})"
                for e in m.timeline
                if e[0] == "attested"
            )
            flags.append(
                Flag(
                    "oracle-disagreement",
                    pid,
                    mid,
                    f"{label}: oracles attested {len(m.hashes)} different evidence hashes "
                    f"across committee epochs: {by_oracle}",
                )
            )
        program = state.programs.get(pid)
        change = shortened_before_release(m, program) if program is not None else None
        released = released_time(m)
        if change is not None and released is not None and m.verified_time is not None:
            via = f" (proposal #{change.proposal})" if change.proposal is not None else ""
            flags.append(
                Flag(
                    "window-shortened-before-release",
                    pid,
                    mid,
                    f"{label} released on {when(released)}, {duration(released - change.time)} "
                    f"after the council shortened program {pid}'s challenge window from "
                    f"{duration(change.previous)} to {duration(change.window)}{via}; under the "
                    f"earlier window it could not have been paid before "
                    f"{when(m.verified_time + change.previous)}",
                )
            )
        if policy is not None and program is not None:
            window = window_below_policy(m, program, policy, state.token(program.token).decimals)
            if window is not None:
                flags.append(
                    Flag(
                        "short-window-high-value",
                        pid,
                        mid,
                        f"{label}: {money.show(m.amount)} (at least {policy.high_value}, the "
                        f"policy's high value) with a {duration(window)} challenge window, "
                        f"shorter than the policy's {duration(policy.min_window)}",
                    )
                )
        if m.status == model.REGISTERED and now > m.deadline:
            flags.append(
                Flag(
                    "overdue",
                    pid,
                    mid,
                    f"{label}: deadline {when(m.deadline)} passed without a quorum; "
                    f"{money.show(m.amount)} stays committed until someone calls expire",
                )
            )
        if m.status == model.EXPIRED:
            flags.append(
                Flag(
                    "expired",
                    pid,
                    mid,
                    f"{label} expired (deadline {when(m.deadline)}); "
                    f"{money.show(m.amount)} went back to program {pid}",
                )
            )
    for pid, s in sorted(schedules.items()):
        paid, due = s.paid_fraction, s.due_fraction
        if paid is None or due is None:
            continue
        if abs(paid - due) > tolerance:
            kind = "schedule-ahead" if paid > due else "schedule-behind"
            words = "ahead of" if paid > due else "behind"
            flags.append(
                Flag(
                    kind,
                    pid,
                    None,
                    f"program {pid} has paid {paid:.0%} of its scheduled "
                    f"{state.money(pid).show(s.scheduled)} while {due:.0%} is due by deadline: "
                    f"{abs(paid - due):.0%} {words} schedule (tolerance {tolerance:.0%})",
                )
            )
    return sorted(flags, key=lambda f: FLAG_KINDS.index(f.kind))


def _label(m: MilestoneRecord) -> str:
    return milestone_name(m.milestone_id, ref_text(m.ref) if m.ref else None)


# ---------------------------------------------------------------------------------------- reconcile


def _reconcile(state: _Rebuild, now: int) -> Reconciliation:
    client, at = state.client, hex(state.to_block)
    escrow, council = state.escrow_address, state.council_address
    differences: list[Difference] = []

    def differ(subject: str, what: str, rebuilt: str, on_chain: str, message: str) -> None:
        differences.append(Difference(subject, what, rebuilt, on_chain, message))

    escrow_codec = FunctionCodec(escrow, load_abi("MilestoneEscrow"))
    council_codec = FunctionCodec(council, load_abi("OversightCouncil"))
    token_abi = load_abi("SettlementToken")

    def call(codec: FunctionCodec, name: str, *args: Any) -> tuple[str, list[Any]]:
        encoded = codec.call(name, *args)
        return ("eth_call", [{"to": encoded.to, "data": "0x" + encoded.data.hex()}, at])

    programs = sorted(state.programs.values(), key=lambda p: p.program_id)
    tokens = sorted({p.token for p in programs})
    token_codecs = {t: FunctionCodec(t, token_abi) for t in tokens}
    proposals = sorted(state.proposals.values(), key=lambda p: p.proposal_id)
    calls = [
        call(escrow_codec, "programCount"),
        call(council_codec, "proposalCount"),
        *(call(escrow_codec, "program", p.program_id) for p in programs),
        *(call(token_codecs[t], "balanceOf", escrow) for t in tokens),
        *(call(council_codec, "proposal", p.proposal_id) for p in proposals),
    ]
    results = iter(_batch(client, calls, what="reconciliation eth_call"))

    def number(codec: FunctionCodec, name: str, result: Any) -> int:
        value = codec.decode(name, result)
        return 0 if value is None else int(value)

    count = number(escrow_codec, "programCount", next(results))
    if count != len(programs):
        differ(
            "escrow",
            "programCount",
            str(len(programs)),
            str(count),
            f"the escrow counts {count} programs; the events created {len(programs)}",
        )
    proposal_count = number(council_codec, "proposalCount", next(results))
    if proposal_count != len(proposals):
        differ(
            "council",
            "proposalCount",
            str(len(proposals)),
            str(proposal_count),
            f"the council counts {proposal_count} proposals; the events created {len(proposals)}",
        )
    for p in programs:
        found_view = escrow_codec.decode("program", next(results))
        if found_view is None:
            differ(f"program {p.program_id}", "program", "exists", "none", "no such program")
            continue
        view = escrow_codec.named("program", found_view)
        money = state.money(p.program_id)
        chain_token = state.addresses.of_text(view["token"])
        chain_balance = int(view["balance"])
        chain_committed = int(view["committed"])
        for what, rebuilt, found in (
            ("balance", p.balance, chain_balance),
            (
                "committed",
                p.committed,
                chain_committed,
            ),
        ):
            if rebuilt != found:
                differ(
                    f"program {p.program_id}",
                    what,
                    str(rebuilt),
                    str(found),
                    f"program {p.program_id} {what}: the contract holds {money.show(found)}, "
                    f"the events add up to {money.show(rebuilt)} (differs by "
                    f"{_signed(money, found - rebuilt)}, {found - rebuilt:+d} units)",
                )
        if chain_token != p.token:
            differ(
                f"program {p.program_id}",
                "token",
                p.token,
                chain_token,
                f"program {p.program_id} pays in {chain_token}; the events say {p.token}",
            )
        for what, rebuilt_address, field_name in (
            ("manager", p.manager, "manager"),
            ("treasury", p.treasury, "treasury"),
        ):
            chain_address = state.addresses.of_text(view[field_name])
            if chain_address != rebuilt_address:
                differ(
                    f"program {p.program_id}",
                    what,
                    rebuilt_address,
                    chain_address,
                    f"program {p.program_id}'s {what} is {chain_address} on chain; the events "
                    f"say {rebuilt_address}",
                )
        chain_closed = bool(view["closed"])
        if chain_closed != p.closed:
            differ(
                f"program {p.program_id}",
                "closed",
                str(p.closed),
                str(chain_closed),
                f"program {p.program_id} is {'closed' if chain_closed else 'open'} on chain; "
                f"the events say {'closed' if p.closed else 'open'}",
            )
        chain_window = int(view["challengeWindow"])
        if chain_window != p.challenge_window:
            differ(
                f"program {p.program_id}",
                "challengeWindow",
                str(p.challenge_window),
                str(chain_window),
                f"program {p.program_id} has a {duration(chain_window)} challenge window on "
                f"chain; the events say {duration(p.challenge_window)}",
            )
    for t in tokens:
        held = number(token_codecs[t], "balanceOf", next(results))
        owed = sum(p.balance for p in programs if p.token == t)
        if held != owed:
            info = state.token(t)
            differ(
                f"token {info.symbol}",
                "balanceOf(escrow)",
                str(owed),
                str(held),
                f"token {info.symbol} ({t}): the escrow holds {info.money.show(held)}, but its "
                f"programs' balances add up to {info.money.show(owed)}: "
                f"{info.money.show(abs(held - owed))} ({abs(held - owed)} units) "
                f"{'more' if held > owed else 'less'} than the ledger accounts for",
            )
    for proposal in proposals:
        found_proposal = council_codec.decode("proposal", next(results))
        if found_proposal is None:
            differ(
                f"proposal {proposal.proposal_id}", "proposal", "exists", "none", "no such proposal"
            )
            continue
        stored = council_codec.named("proposal", found_proposal)
        executed = bool(stored["executed"])
        if executed != (proposal.executed is not None):
            differ(
                f"proposal {proposal.proposal_id}",
                "executed",
                str(proposal.executed is not None),
                str(executed),
                f"proposal {proposal.proposal_id} is {_executed(executed)} on chain; the events "
                f"say {_executed(proposal.executed is not None)}",
            )
        if bytes(stored["dataHash"]) != keccak(proposal.data):
            differ(
                f"proposal {proposal.proposal_id}",
                "dataHash",
                _hex(keccak(proposal.data)) or "",
                _hex(bytes(stored["dataHash"])) or "",
                f"proposal {proposal.proposal_id}: the calldata in its event does not hash to the "
                "stored hash",
            )
    # Milestones a batch at a time, so that the calls never outgrow one batch.
    milestones = iter(state.milestones.values())
    while chunk := list(itertools.islice(milestones, state.client.profile.rpc_batch_cap)):
        found_statuses = _batch(
            client,
            [call(escrow_codec, "statusOf", m.milestone_id) for m in chunk],
            what="reconciliation eth_call",
        )
        for m, result in zip(chunk, found_statuses, strict=True):
            found = number(escrow_codec, "statusOf", result)
            expected = status_at(m, now)
            if found != expected:
                labels = milestone_statuses()
                shown = labels[found] if 0 <= found < len(labels) else str(found)
                differ(
                    f"milestone {short(m.milestone_id)}",
                    "statusOf",
                    labels[expected],
                    shown,
                    f"{_label(m)} is {shown} on chain; the events make it {labels[expected]}",
                )
    for text in state.anomalies:
        differ("history", "events", "", "", f"the event history is inconsistent: {text}")
    return Reconciliation(
        checked=True,
        note=f"checked against chain state at block {state.to_block}",
        differences=tuple(differences),
        programs=len(programs),
        milestones=len(state.milestones),
        tokens=len(tokens),
        proposals=len(proposals),
    )


def _executed(done: bool) -> str:
    return "executed" if done else "not executed"


def _signed(money: Money, amount: int) -> str:
    return ("+" if amount >= 0 else "-") + money.show(abs(amount))
