"""Escrow and council events in plain words: the phrasing `disburse watch` prints and the audit's
milestone timelines and governance list use, one function per event, so that the same event is
told by the same function wherever it is shown.

What differs between the two is passed in, already formatted by the caller:

- `subject`: the milestone the event is about, with a trailing space ("milestone PO-1/M1
  (0x3f2a…9c01) ", from `milestone_name`); watch names it on every line, the audit's timeline
  sits under the milestone's own heading and passes "";
- `by`: who acted, with its leading space, as each writes it (" by the council"; the audit's
  " by the council (proposal #3, executed by 0x…)"); addresses as the caller shows them;
- `explain`: watch tells the person following the chain what the event means from now on
  ("; the council decides"); the audit's records leave it out.

Events whose two texts differ in their words, not only in these forms, are still phrased where
they are shown (`disburse.cli.watch.EventWords`, `disburse.audit.render`, the audit's rebuild):
one wording for each is a change of user-visible text, to be decided on its own.
"""

from __future__ import annotations

from disburse._format import short
from disburse.council import ROLE_NAMES

# ---------------------------------------------------------------------- names


def milestone_name(milestone_id: bytes, ref: str | None) -> str:
    """A milestone as people read it: "milestone PO-1/M1 (0x3f2a…9c01)", or by its shortened id
    alone when it has no reference."""
    mid = short(bytes(milestone_id))
    return f"milestone {ref} ({mid})" if ref else f"milestone {mid}"


def role_name(role: bytes) -> str:
    """An escrow role by name ("program manager"), an unknown one by its shortened hash."""
    return ROLE_NAMES.get(bytes(role), f"role {short(bytes(role))}")


# ---------------------------------------------------------------------- escrow: milestones


def attested(
    oracle: str, evidence: bytes, epoch: int, *, subject: str = "", explain: bool = False
) -> str:
    """An oracle's attestation (AttestationRecorded); `explain` says the epoch is the
    committee's."""
    epoch_text = f"committee epoch {epoch}" if explain else f"epoch {epoch}"
    return f"{subject}attested by oracle {oracle}: evidence {short(bytes(evidence))} ({epoch_text})"


def disputed(
    oracle: str,
    evidence: bytes,
    conflicting: bytes,
    *,
    subject: str = "",
    explain: bool = False,
) -> str:
    """An attestation of other evidence than the one recorded (MilestoneDisputed)."""
    text = (
        f"{subject}disputed: oracle {oracle} attested {short(bytes(conflicting))} against "
        f"{short(bytes(evidence))}"
    )
    return text + ("; the council decides" if explain else "")


def frozen(*, subject: str = "", by: str = "", explain: bool = False) -> str:
    """The council froze the milestone (MilestoneFrozen)."""
    return f"{subject}frozen{by}" + (": nobody can release it" if explain else "")


def unfrozen(*, subject: str = "", by: str = "", explain: bool = False) -> str:
    """The council unfroze the milestone (MilestoneUnfrozen)."""
    return f"{subject}unfrozen{by}" + (": Verified again" if explain else "")


# ---------------------------------------------------------------------- escrow: roles, pause


def role_granted(role: bytes, account: str, *, by: str = "") -> str:
    """RoleGranted."""
    return f"{role_name(role)} role granted to {account}{by}"


def role_revoked(role: bytes, account: str, *, by: str = "") -> str:
    """RoleRevoked."""
    return f"{role_name(role)} role revoked from {account}{by}"


def paused(account: str) -> str:
    """Paused: the escrow stopped (by the account the event names)."""
    return f"escrow paused by {account}"


def unpaused(account: str) -> str:
    """Unpaused."""
    return f"escrow unpaused by {account}"


# ---------------------------------------------------------------------- council


def member_added(member: str) -> str:
    """MemberAdded."""
    return f"council member {member} added"


def member_removed(member: str, *, explain: bool = False) -> str:
    """MemberRemoved."""
    return f"council member {member} removed" + ("; its approvals stop counting" if explain else "")


def threshold_changed(previous: int, threshold: int) -> str:
    """ThresholdChanged."""
    return f"council threshold changed from {previous} to {threshold}"
