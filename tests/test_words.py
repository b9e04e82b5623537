"""disburse.words: one function tells an event wherever it is shown; what watch and the audit
write differently (the milestone named, who acted, the consequence explained) is a parameter."""

from __future__ import annotations

from disburse import words
from disburse.audit.render import _entry_text
from disburse.council import PROGRAM_MANAGER_ROLE, Money

MID = bytes.fromhex("3f2a" + "00" * 28 + "9c01")
ORACLE = "0x" + "55" * 20
EVIDENCE, OTHER = b"\x02" * 32, b"\x03" * 32


def test_a_milestone_is_named_by_its_reference_and_short_id():
    assert words.milestone_name(MID, "PO-1/M1") == "milestone PO-1/M1 (0x3f2a…9c01)"
    assert words.milestone_name(MID, None) == "milestone 0x3f2a…9c01"


def test_watch_names_the_milestone_and_explains_the_audit_does_neither():
    subject = words.milestone_name(MID, "PO-1/M1") + " "
    assert words.frozen(subject=subject, by=" by the council", explain=True) == (
        "milestone PO-1/M1 (0x3f2a…9c01) frozen by the council: nobody can release it"
    )
    assert words.frozen(by=" by 0xabc") == "frozen by 0xabc"
    assert words.disputed(ORACLE, EVIDENCE, OTHER, explain=True) == (
        f"disputed: oracle {ORACLE} attested 0x0303…0303 against 0x0202…0202; the council decides"
    )
    assert words.attested(ORACLE, EVIDENCE, 2, explain=True).endswith("(committee epoch 2)")
    assert words.attested(ORACLE, EVIDENCE, 2).endswith("(epoch 2)")


def test_the_audit_timeline_tells_an_event_with_the_same_function():
    entry = ("disputed", 1, 2, b"t", ORACLE, None, EVIDENCE, OTHER)
    assert _entry_text(entry, Money()) == words.disputed(ORACLE, EVIDENCE, OTHER)
    frozen = ("frozen", 1, 2, b"t", "0xabc", 4, None, None)
    assert _entry_text(frozen, Money()) == words.frozen(
        by=" by the council (proposal #4, executed by 0xabc)"
    )


def test_roles_are_named_or_shown_by_their_hash():
    assert words.role_granted(PROGRAM_MANAGER_ROLE, "0xabc", by=" by 0xdef") == (
        "program manager role granted to 0xabc by 0xdef"
    )
    assert words.role_name(b"\xab" * 32) == "role 0xabab…abab"
