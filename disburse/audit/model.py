"""The audit's records: what the rebuild produces, as plain values (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from disburse._format import short
from disburse.chain.errors import ArtifactError, DisburseError
from disburse.chain.escrow import milestone_statuses
from disburse.council import Money

# The milestone statuses the audit's rules name, each by the MilestoneStatus label it stands for.
# NONE .. EXPIRED are these labels' ABI values (their index in the compiled enum), read from the
# build artifacts the first time one is used, so a reordered enum cannot misread the history
# and a renamed or removed label stops the audit (ArtifactError) instead.
_STATUS_LABELS: Final = {
    "NONE": "None",
    "REGISTERED": "Registered",
    "VERIFIED": "Verified",
    "DISPUTED": "Disputed",
    "FROZEN": "Frozen",
    "RELEASED": "Released",
    "CANCELLED": "Cancelled",
    "EXPIRED": "Expired",
}


@cache
def status_values() -> dict[str, int]:
    """NONE .. EXPIRED by name: the ABI value of each label in the compiled MilestoneStatus."""
    labels = milestone_statuses()
    missing = [label for label in _STATUS_LABELS.values() if label not in labels]
    if missing:
        raise ArtifactError(
            f"the compiled MilestoneStatus enum ({', '.join(labels)}) has no "
            f"{', '.join(missing)}, which the audit reads statuses by: recompile the contracts "
            "or update disburse.audit.model to the new statuses"
        )
    return {name: labels.index(label) for name, label in _STATUS_LABELS.items()}


def __getattr__(name: str) -> int:
    """NONE .. EXPIRED, read from the build artifacts on first use (importing the package reads
    no artifact), then kept as plain module attributes."""
    if name in _STATUS_LABELS:
        value = status_values()[name]
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SCHEDULE_TOLERANCE: Final = 0.25
LOGS_PER_READ: Final = 20_000
APPLY_BATCH: Final = 2_000
FIRST_SPAN: Final = 16

# Flags, in the order the report lists them.
FLAG_KINDS: Final = (
    "force-release",
    "dispute",
    "oracle-disagreement",
    "window-shortened-before-release",
    "short-window-high-value",
    "overdue",
    "expired",
    "schedule-ahead",
    "schedule-behind",
)


class AuditError(DisburseError):
    """The audit cannot run as asked (a block range the chain does not have, a node error)."""


# ---------------------------------------------------------------------------------------- records

# One timeline entry: (event, block, time, tx hash, by, proposal id, a, b); a and b depend on the
# event (see `_ENTRY_FIELDS`). Tuples keep a 100,000-event report small.
Entry = tuple[str, int, int, bytes, str | None, int | None, Any, Any]

_ENTRY_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "registered": ("amount", "deadline"),
    "amended": ("amount", "terms"),
    "attested": ("evidence_hash", "epoch"),
    "verified": ("evidence_hash", "attestations"),
    "disputed": ("evidence_hash", "conflicting_hash"),
    "dispute-resolved": ("evidence_hash", None),
    "frozen": (None, None),
    "unfrozen": (None, None),
    "released": ("paid_to", "amount"),
    "force-released": ("reason_hash", None),
    "cancelled": ("amount", None),
    "expired": ("amount", None),
    "beneficiary-replaced": ("previous", "beneficiary"),
}


@dataclass(slots=True)
class TokenInfo:
    address: str
    symbol: str
    decimals: int
    money: Money


@dataclass(frozen=True, slots=True)
class WindowChange:
    """A change of a program's challenge window (always the council's: ChallengeWindowSet)."""

    time: int
    block: int
    previous: int
    window: int
    proposal: int | None

    @property
    def shortened(self) -> bool:
        return self.window < self.previous


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """How long a high-value milestone's challenge window must be: `high_value` in a token's own
    units as people write them ("1,000,000"), read with each program token's decimals."""

    high_value: str
    min_window: int
    """Seconds."""

    def threshold(self, decimals: int) -> int:
        """The high value in the token's smallest unit (rounded up for a token with fewer
        decimals than the value is written with)."""
        whole, _, fraction = self.high_value.replace(",", "").strip().partition(".")
        units: int = int(whole or "0") * int(10**decimals)
        if fraction:
            kept = fraction[:decimals].ljust(decimals, "0")
            units += int(kept or "0") + (1 if fraction[decimals:].strip("0") else 0)
        return units


@dataclass(slots=True)
class ProgramRecord:
    program_id: int
    manager: str
    token: str
    treasury: str
    challenge_window: int
    created_block: int | None
    created_time: int | None
    closed: bool = False
    closed_time: int | None = None
    funded: int = 0
    fundings: int = 0
    committed: int = 0
    paid: int = 0
    force_paid: int = 0
    withdrawn: int = 0
    returned_cancelled: int = 0
    returned_expired: int = 0
    milestones: int = 0
    window_changes: list[WindowChange] = field(default_factory=list)
    """Every ChallengeWindowSet of the program, in chain order."""

    @property
    def balance(self) -> int:
        return self.funded - self.paid - self.withdrawn

    @property
    def available(self) -> int:
        return self.balance - self.committed


@dataclass(slots=True)
class MilestoneRecord:
    milestone_id: bytes
    program_id: int
    ref: bytes
    beneficiary: str
    amount: int
    deadline: int
    spec_hash: bytes
    status: int
    timeline: list[Entry] = field(default_factory=list)
    evidence_hash: bytes | None = None
    verified_time: int | None = None
    hashes: tuple[bytes, ...] = ()
    disputed: bool = False
    release_lag: int | None = None
    release_window: int = 0
    forced: bool = False
    registered_in_range: bool = True


@dataclass(slots=True)
class ProposalRecord:
    proposal_id: int
    proposer: str
    target: str
    data: bytes
    description: str
    expiry: int
    block: int
    time: int
    tx: bytes
    text: str
    approvals: list[tuple[str, int, int, int]] = field(default_factory=list)
    revocations: list[tuple[str, int, int, int]] = field(default_factory=list)
    executed: tuple[str, int, int, bytes] | None = None

    def status(self, now: int) -> str:
        if self.executed is not None:
            return "executed"
        return "expired" if now > self.expiry else "open"


@dataclass(frozen=True, slots=True)
class GovernanceEntry:
    """An escrow- or council-wide event: committee, roles, pauses, membership, windows."""

    event: str
    block: int
    time: int
    tx: bytes
    by: str | None
    proposal: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Flag:
    kind: str
    program_id: int | None
    milestone_id: bytes | None
    message: str


@dataclass(frozen=True, slots=True)
class Difference:
    """Where the rebuilt ledger and the chain's state disagree."""

    subject: str
    field: str
    rebuilt: str
    on_chain: str
    message: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    checked: bool
    note: str
    differences: tuple[Difference, ...]
    programs: int = 0
    milestones: int = 0
    tokens: int = 0
    proposals: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(slots=True)
class Ledger:
    """What the rebuild produced, as plain values: the records, the settlement tokens met, the
    anomalies of the event history, the event counts, and the block and time the history ends.
    Flags and renderers read this alone (no chain access)."""

    escrow: str
    council: str
    to_block: int
    programs: dict[int, ProgramRecord] = field(default_factory=dict)
    milestones: dict[bytes, MilestoneRecord] = field(default_factory=dict)
    proposals: dict[int, ProposalRecord] = field(default_factory=dict)
    governance: list[GovernanceEntry] = field(default_factory=list)
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)
    events: int = 0
    unknown_events: int = 0

    def token(self, address: str) -> TokenInfo:
        """The token's metadata as the rebuild read it (a token it never met reads as units)."""
        found = self.tokens.get(address)
        if found is None:
            symbol = f"units of {short(address)}"
            found = TokenInfo(address, symbol, 0, Money(symbol, 0))
        return found

    def money(self, program_id: int) -> Money:
        program = self.programs.get(program_id)
        return self.token(program.token).money if program else Money()


# ---------------------------------------------------------------------------------------- display


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


def status_at(m: MilestoneRecord, now: int) -> int:
    """The status `statusOf` gives at time `now`: a Registered milestone past its deadline reads
    as Expired (the contract's one rule that depends on time)."""
    statuses = status_values()
    if m.status == statuses["REGISTERED"] and now > m.deadline:
        return statuses["EXPIRED"]
    return m.status


def released_time(m: MilestoneRecord) -> int | None:
    """When the milestone was paid (its MilestoneReleased), if it was."""
    for entry in reversed(m.timeline):
        if entry[0] == "released":
            return entry[2]
    return None
