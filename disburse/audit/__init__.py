"""The overseers' audit: the escrow's and the council's whole history rebuilt from their events,
reconciled against the chain's state, with what deserves a second look flagged.

The package: `model` (the records, no I/O), `rebuild` (decoded events -> model, and the log
reading it uses), `analysis` (flags from the model; reconciliation against the chain), `render`
(text, JSON, CSV); this module holds `run_audit`, which ties them together.

How it reads. Every log of the escrow and of the council from the deployment block (or
`from_block`) to the head at the start of the run is read with one eth_getLogs per block window
for both contracts (so they come in chain order), through the client's `rpc` and within the
profile's block-range cap; windows grow over sparse blocks and shrink over dense ones to hold
about `LOGS_PER_READ` logs. Each response is parsed as it arrives and applied `APPLY_BATCH` logs
at a time, decoded by first topic with the ABIs of the build artifacts (static fields are sliced
from the data, the rest goes through eth_abi). Nothing keeps the raw logs: each one updates
per-program ledgers, per-milestone records (whose timelines are the report itself) and
per-proposal records, so memory grows with the report, not with the logs read. (The raw JSON is
read instead of `ChainClient.contract_logs` because web3's result formatting costs about 90 µs a
log, which would hold the audit near 10,000 events/s, and holds a whole window in memory.)

Who did what. Attestations and disputes name their oracle, funding its funder, role changes their
sender; the escrow's overrides made inside a council execution are attributed to that proposal and
its executor (the council emits ProposalExecuted before it makes the call); releases, expiries and
the other events that name nobody get their transaction's sender (read in batches).

Reconciliation (only when the history starts at the deployment block): at the block the history
ends, every program's balance, commitment, token, window and closed flag, every milestone's
`statusOf`, the program and proposal counts, every proposal's executed flag and calldata hash,
and, per settlement token, `balanceOf(escrow)` against the sum of the programs' balances.

Flags for review, and their thresholds:
- force-release: every milestone the council paid without an oracle quorum.
- dispute: every milestone whose oracles attested different evidence within one epoch.
- oracle-disagreement: a milestone whose attestations carry more than one evidence hash without
  an on-chain dispute (across committee epochs, which the contract does not treat as a dispute).
- window-shortened-before-release: a release (not forced) that came sooner than the program's
  challenge window allowed before the council shortened it, within that earlier window of the
  shortening: released before verification + the earlier window, and at most the earlier window
  after the change. The overseers' time to object was cut short just before money moved.
- short-window-high-value: with a policy (`WindowPolicy`: `disburse audit --high-value AMOUNT
  --min-window DURATION`), a milestone of at least the high value (in its program's token) whose
  challenge window (at its release; for an unpaid one, its program's window now) is shorter than
  the policy's minimum. Cancelled, expired and force-released milestones are not flagged.
  (Releases at the first second the window allows are not flagged: the oracle nodes release
  then by design.)
- overdue: deadline passed without a quorum and nobody called `expire` (stored Registered,
  `statusOf` reads Expired): the amount is still committed.
- expired: `expire` returned the milestone's amount to the program.
- schedule-ahead / schedule-behind: a program whose paid fraction (paid / scheduled, scheduled =
  the amounts of its milestones that were not cancelled) differs from its due fraction (the part
  of the scheduled amounts whose deadline has passed) by more than `SCHEDULE_TOLERANCE` (25
  percentage points by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from web3.exceptions import Web3RPCError

from disburse.audit import model
from disburse.audit.analysis import (
    Schedule,
    _flags,
    _reconcile,
    _schedules,
    shortened_before_release,
    window_below_policy,
)
from disburse.audit.model import (
    FLAG_KINDS,
    SCHEDULE_TOLERANCE,
    AuditError,
    Difference,
    Flag,
    GovernanceEntry,
    Ledger,
    MilestoneRecord,
    ProgramRecord,
    ProposalRecord,
    Reconciliation,
    TokenInfo,
    WindowChange,
    WindowPolicy,
    released_time,
    status_at,
)
from disburse.audit.rebuild import DecodedEvent, _Rebuild, _snake
from disburse.audit.render import AuditReport
from disburse.chain.client import ChainClient
from disburse.chain.deployment import Deployment
from disburse.chain.errors import ChainError


def __getattr__(name: str) -> int:
    """NONE .. EXPIRED (see `disburse.audit.model`): read from the build artifacts on first use,
    so importing the package reads none."""
    if name in model._STATUS_LABELS:
        value: int = getattr(model, name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CANCELLED",
    "DISPUTED",
    "EXPIRED",
    "FLAG_KINDS",
    "FROZEN",
    "NONE",
    "REGISTERED",
    "RELEASED",
    "SCHEDULE_TOLERANCE",
    "VERIFIED",
    "AuditError",
    "AuditReport",
    "DecodedEvent",
    "Difference",
    "Flag",
    "GovernanceEntry",
    "History",
    "Ledger",
    "MilestoneRecord",
    "ProgramRecord",
    "ProposalRecord",
    "Reconciliation",
    "Schedule",
    "TokenInfo",
    "WindowChange",
    "WindowPolicy",
    "_Rebuild",
    "_snake",
    "released_time",
    "run_audit",
    "shortened_before_release",
    "status_at",
    "window_below_policy",
]

# ---------------------------------------------------------------------------------------- entry


class History(Protocol):
    """A stored history of the deployment's events (the ledger index): the block it ends at,
    and its events decoded, in chain order, from the deployment block."""

    @property
    def to_block(self) -> int: ...

    def events(self) -> Iterable[DecodedEvent]: ...


def run_audit(
    client: ChainClient,
    deployment: Deployment,
    *,
    from_block: int | None = None,
    schedule_tolerance: float = SCHEDULE_TOLERANCE,
    window_policy: WindowPolicy | None = None,
    progress: Callable[[int, int], None] | None = None,
    history: History | None = None,
) -> AuditReport:
    """Rebuilds the history from `from_block` (default: the deployment block) to the current head,
    flags what deserves review and reconciles the ledger against the chain's state at the head.
    With `history` (the ledger index), the events come from it instead of the chain, and the
    ledger is reconciled against the chain's state at the block the history ends at."""
    try:
        if history is not None:
            if from_block is not None:
                raise AuditError("--from-block reads the chain: it does not apply to an index")
            to_block = history.to_block
            if to_block > client.block_number():
                raise AuditError(
                    f"the index ends at block {to_block}, beyond the chain's head "
                    f"(block {client.block_number()}): update it with `disburse index`"
                )
        else:
            to_block = client.block_number()
        start = deployment.deployment_block if from_block is None else from_block
        if start > to_block:
            raise AuditError(f"--from-block {start} is beyond the chain's head (block {to_block})")
        partial = start > deployment.deployment_block
        state = _Rebuild(client, deployment, to_block=to_block, partial=partial)
        if history is not None:
            state.apply_events(history.events())
        else:
            state.read(max(start, 0), progress=progress)
        now = client.timestamp(to_block)
        ledger = state.ledger()
        schedules = _schedules(ledger, now)
        flags = _flags(ledger, now, schedules, schedule_tolerance, window_policy)
        if partial:
            reconciliation = Reconciliation(
                checked=False,
                note=f"the history starts at block {start}, after the deployment block "
                f"{deployment.deployment_block}: a partial ledger cannot match the chain's totals",
                differences=(),
            )
        else:
            reconciliation = _reconcile(state, now)
    except Web3RPCError as exc:
        raise ChainError(f"the node refused a request of the audit: {exc}") from None
    return AuditReport(
        chain_id=client.profile.chain_id,
        escrow=state.escrow_address,
        council=state.council_address,
        deployment_block=deployment.deployment_block,
        from_block=start,
        to_block=to_block,
        as_of=now,
        ledger=ledger,
        schedules=schedules,
        flags=flags,
        reconciliation=reconciliation,
        schedule_tolerance=schedule_tolerance,
    )
