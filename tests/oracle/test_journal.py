"""The write-ahead journal.

Journal.open
├── new file: WAL, synchronous=FULL, user_version = SCHEMA_VERSION, mode 0600
├── newer schema version: refused, naming both versions
└── not a journal (other SQLite database, not SQLite at all): refused
record_evidence
├── first time: a row in `received`
├── same milestone and hash again (any spelling): the same row, nothing added
└── malformed id: refused
set_evidence_state
├── legal transition: moves, reasons replaced
├── same state again: allowed (a resumed node repeats its last step)
├── illegal transition / final state: refused, row unchanged
└── unknown id: refused
begin_attestation
├── new (milestone, epoch): a row in `signed`
├── same hash again: the existing row, unchanged
├── different hash, same (milestone, epoch): refused, even racing from two threads
└── evidence that does not exist or does not match: refused
mark_sending / mark_sent / mark_confirmed / mark_failed: legal paths; confirmed and failed final
unfinished_attestations: exactly the rows neither confirmed nor failed
cursor: round trip, survives reopening
api keys: salted hashes only; right, wrong, revoked keys
durability: a process killed with SIGKILL right after a commit loses nothing
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oracle.errors import JournalError
from oracle.journal import (
    API_KEY_PREFIX,
    SCHEMA_VERSION,
    AttestationRow,
    EvidenceRow,
    Journal,
    Submitter,
)

ROOT = Path(__file__).resolve().parents[2]
MILESTONE = "0x" + "11" * 32
OTHER_MILESTONE = "0x" + "12" * 32
HASH_A = "0x" + "aa" * 32
HASH_B = "0x" + "bb" * 32
SIGNATURE = "0x" + "5a" * 64
TX = "0x" + "7c" * 32


def _mid(i: int) -> str:
    return "0x" + i.to_bytes(32, "big").hex()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    with Journal.open(path) as j:
        yield j


def _evidence(
    journal: Journal, milestone: str = MILESTONE, digest: str = HASH_A, body: str = "{}"
) -> EvidenceRow:
    return journal.record_evidence(
        milestone_id=milestone, evidence_hash=digest, submitter="inspectorate", body=body
    )


def _attestation(journal: Journal, milestone: str = MILESTONE, epoch: int = 1) -> AttestationRow:
    row = _evidence(journal, milestone)
    return journal.begin_attestation(
        milestone_id=milestone,
        epoch=epoch,
        evidence_id=row.id,
        evidence_hash=row.evidence_hash,
        signature=SIGNATURE,
    )


# Opening


def test_the_journal_runs_in_wal_mode_with_full_synchronous_commits(
    journal: Journal, path: Path
) -> None:
    # synchronous is a property of the connection, so it is read from the journal's own.
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # WAL mode is stored in the file: any other reader sees it as well.
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_journal_records_its_schema_version_in_user_version(
    journal: Journal, path: Path
) -> None:
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_reopening_a_journal_keeps_its_rows(path: Path) -> None:
    with Journal.open(path) as first:
        row = _evidence(first)
    with Journal.open(path) as second:
        assert second.evidence(row.id) == row


def test_a_journal_with_a_newer_schema_version_is_refused_with_a_clear_message(
    path: Path,
) -> None:
    Journal.open(path).close()
    with sqlite3.connect(path) as other:
        other.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError) as refused:
        Journal.open(path)
    message = str(refused.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert "newer" in message
    assert "upgrade the node" in message
    assert str(path) in message


def test_a_sqlite_database_that_is_not_a_journal_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE something (x)")
    with pytest.raises(JournalError, match="not an oracle journal"):
        Journal.open(path)


def test_a_file_that_is_not_sqlite_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just text that is long enough" * 10)
    with pytest.raises(JournalError, match="not a usable SQLite journal"):
        Journal.open(path)


def test_journal_files_are_readable_by_the_node_user_only(journal: Journal, path: Path) -> None:
    _evidence(journal)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert {p.name for p in files} >= {path.name, path.name + "-wal"}
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_a_closed_journal_refuses_work_with_a_journal_error(path: Path) -> None:
    journal = Journal.open(path)
    journal.close()
    with pytest.raises(JournalError):
        _evidence(journal)
    with pytest.raises(JournalError):
        journal.get_cursor("watcher")


# Evidence


def test_recorded_evidence_starts_received_with_no_reasons(journal: Journal) -> None:
    row = _evidence(journal, body='{"claims":{}}')
    assert (row.milestone_id, row.evidence_hash, row.submitter) == (
        MILESTONE,
        HASH_A,
        "inspectorate",
    )
    assert row.body == '{"claims":{}}'
    assert row.state == "received"
    assert row.reasons == ()
    assert journal.evidence(row.id) == row


def test_recording_the_same_evidence_again_returns_the_same_row_and_adds_none(
    journal: Journal,
) -> None:
    first = _evidence(journal)
    journal.set_evidence_state(first.id, "verified")
    again = journal.record_evidence(
        milestone_id=bytes.fromhex(MILESTONE[2:]),
        evidence_hash=HASH_A.upper().replace("0X", "0x"),
        submitter="someone-else",
        body="{}",
    )
    assert again.id == first.id
    assert again.state == "verified"  # resubmitting does not reset the row
    assert again.submitter == "inspectorate"
    assert journal.evidence_for_milestone(MILESTONE) == [again]


def test_different_evidence_for_a_milestone_is_a_separate_row(journal: Journal) -> None:
    a = _evidence(journal, digest=HASH_A)
    b = _evidence(journal, digest=HASH_B)
    other = _evidence(journal, milestone=OTHER_MILESTONE, digest=HASH_A)
    assert len({a.id, b.id, other.id}) == 3
    assert journal.evidence_for_milestone(MILESTONE) == [a, b]


@pytest.mark.parametrize(
    "milestone",
    ["11" * 32, "0x" + "11" * 31, "0x" + "zz" * 32, b"\x11" * 31],
    ids=["no-0x", "31-bytes", "not-hex", "short-bytes"],
)
def test_a_malformed_milestone_id_is_refused_and_nothing_is_recorded(
    journal: Journal, milestone: str | bytes
) -> None:
    with pytest.raises(JournalError, match="milestone id must be 32 bytes"):
        journal.record_evidence(
            milestone_id=milestone, evidence_hash=HASH_A, submitter="s", body="{}"
        )
    assert journal.evidence_in_states(["received"]) == []


@pytest.mark.parametrize(
    "path_",
    [
        ["verified", "signed", "submitted", "confirmed"],
        ["rejected"],
        ["rejected", "verified", "signed", "confirmed"],
        ["verified", "failed", "signed", "failed"],
    ],
    ids=["happy", "rejected", "re-verified", "failed-then-retried"],
)
def test_evidence_follows_legal_transitions(journal: Journal, path_: list[str]) -> None:
    row = _evidence(journal)
    for state in path_:
        row = journal.set_evidence_state(row.id, state)  # type: ignore[arg-type]
        assert row.state == state
    assert journal.evidence(row.id).state == path_[-1]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["verified", "signed", "submitted", "confirmed"], "received"),
        (["verified", "signed", "submitted", "confirmed"], "failed"),
        (["verified", "signed", "submitted", "confirmed"], "verified"),
        ([], "confirmed"),
        ([], "signed"),
        (["rejected"], "signed"),
        (["verified"], "received"),
    ],
    ids=[
        "confirmed-to-received",
        "confirmed-to-failed",
        "confirmed-to-verified",
        "received-to-confirmed",
        "received-to-signed",
        "rejected-to-signed",
        "verified-to-received",
    ],
)
def test_evidence_refuses_illegal_transitions_and_stays_put(
    journal: Journal, before: list[str], after: str
) -> None:
    row = _evidence(journal)
    for state in before:
        row = journal.set_evidence_state(row.id, state)  # type: ignore[arg-type]
    with pytest.raises(JournalError, match=f"cannot go from {row.state} to {after}"):
        journal.set_evidence_state(row.id, after)  # type: ignore[arg-type]
    assert journal.evidence(row.id) == row


def test_setting_the_current_evidence_state_again_is_allowed_and_replaces_reasons(
    journal: Journal,
) -> None:
    row = _evidence(journal)
    journal.set_evidence_state(row.id, "rejected", ["document 'report.pdf' missing"])
    again = journal.set_evidence_state(row.id, "rejected", ["deadline passed"])
    assert again.state == "rejected"
    assert again.reasons == ("deadline passed",)


def test_verification_reasons_are_stored_and_cleared_when_verified(journal: Journal) -> None:
    row = _evidence(journal)
    reasons = ["claim units_delivered: 40 < 50", "approvals: 1 of 2 inspectors signed — ü"]
    rejected = journal.set_evidence_state(row.id, "rejected", reasons)
    assert journal.evidence(row.id).reasons == tuple(reasons) == rejected.reasons
    assert journal.set_evidence_state(row.id, "verified").reasons == ()


def test_unknown_evidence_ids_are_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no evidence with id 99"):
        journal.evidence(99)
    with pytest.raises(JournalError, match="no evidence with id 99"):
        journal.set_evidence_state(99, "verified")


def test_evidence_in_states_lists_exactly_the_rows_in_those_states(journal: Journal) -> None:
    received = _evidence(journal, digest=HASH_A)
    verified = journal.set_evidence_state(_evidence(journal, digest=HASH_B).id, "verified")
    rejected = journal.set_evidence_state(
        _evidence(journal, milestone=OTHER_MILESTONE).id, "rejected"
    )
    assert journal.evidence_in_states(("received", "verified")) == [received, verified]
    assert journal.evidence_in_states(["rejected"]) == [rejected]
    with pytest.raises(JournalError, match="unknown evidence states"):
        journal.evidence_in_states(["lost"])  # type: ignore[list-item]


# Attestations


def test_beginning_an_attestation_records_it_as_signed(journal: Journal) -> None:
    row = _attestation(journal, epoch=3)
    assert row.state == "signed"
    assert (row.milestone_id, row.epoch, row.evidence_hash, row.signature) == (
        MILESTONE,
        3,
        HASH_A,
        SIGNATURE,
    )
    assert (row.tx_hash, row.nonce, row.error) == (None, None, None)
    assert journal.attestation(row.id) == row


def test_beginning_the_same_attestation_again_returns_the_existing_row_unchanged(
    journal: Journal,
) -> None:
    first = _attestation(journal)
    sending = journal.mark_sending(first.id, 7)
    again = journal.begin_attestation(
        milestone_id=bytes.fromhex(MILESTONE[2:]),
        epoch=1,
        evidence_id=first.evidence_id,
        evidence_hash=bytes.fromhex(HASH_A[2:]),
        signature=bytes.fromhex(SIGNATURE[2:]),
    )
    assert again == sending
    assert journal.attestations_for_milestone(MILESTONE) == [sending]


def test_a_second_hash_for_the_same_milestone_and_epoch_is_refused(journal: Journal) -> None:
    first = _attestation(journal)
    other = _evidence(journal, digest=HASH_B)
    with pytest.raises(JournalError) as refused:
        journal.begin_attestation(
            milestone_id=MILESTONE,
            epoch=1,
            evidence_id=other.id,
            evidence_hash=HASH_B,
            signature=SIGNATURE,
        )
    assert HASH_A in str(refused.value)
    assert HASH_B in str(refused.value)
    assert journal.attestations_for_milestone(MILESTONE) == [first]


def test_a_second_hash_is_refused_even_after_the_first_attestation_failed(
    journal: Journal,
) -> None:
    first = _attestation(journal)
    journal.mark_failed(first.id, "reverted: Escrow_NotCommitteeMember")
    other = _evidence(journal, digest=HASH_B)
    with pytest.raises(JournalError, match="already attested"):
        journal.begin_attestation(
            milestone_id=MILESTONE,
            epoch=1,
            evidence_id=other.id,
            evidence_hash=HASH_B,
            signature=SIGNATURE,
        )


def test_the_same_milestone_may_be_attested_again_in_a_new_epoch(journal: Journal) -> None:
    first = _attestation(journal, epoch=1)
    other = _evidence(journal, digest=HASH_B)
    second = journal.begin_attestation(
        milestone_id=MILESTONE,
        epoch=2,
        evidence_id=other.id,
        evidence_hash=HASH_B,
        signature=SIGNATURE,
    )
    assert second.id != first.id
    assert journal.attestations_for_milestone(MILESTONE) == [first, second]
    assert journal.attestations_for_evidence(other.id) == [second]


def test_an_attestation_of_evidence_the_journal_does_not_hold_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no evidence with id 5"):
        journal.begin_attestation(
            milestone_id=MILESTONE,
            epoch=1,
            evidence_id=5,
            evidence_hash=HASH_A,
            signature=SIGNATURE,
        )


def test_an_attestation_whose_hash_is_not_its_evidence_hash_is_refused(journal: Journal) -> None:
    row = _evidence(journal, digest=HASH_A)
    with pytest.raises(JournalError, match=f"evidence {row.id} is {HASH_A}"):
        journal.begin_attestation(
            milestone_id=MILESTONE,
            epoch=1,
            evidence_id=row.id,
            evidence_hash=HASH_B,
            signature=SIGNATURE,
        )
    assert journal.attestations_for_milestone(MILESTONE) == []


@pytest.mark.parametrize(
    ("epoch", "signature", "match"),
    [
        (2**16, SIGNATURE, "does not fit uint16"),
        (-1, SIGNATURE, "does not fit uint16"),
        (1, "0x" + "5a" * 65, "compact signature"),
        (1, b"\x01" * 65, "compact signature"),
    ],
    ids=["epoch-too-big", "epoch-negative", "65-byte-hex", "65-bytes"],
)
def test_a_malformed_attestation_is_refused(
    journal: Journal, epoch: int, signature: str | bytes, match: str
) -> None:
    row = _evidence(journal)
    with pytest.raises(JournalError, match=match):
        journal.begin_attestation(
            milestone_id=MILESTONE,
            epoch=epoch,
            evidence_id=row.id,
            evidence_hash=HASH_A,
            signature=signature,
        )


def test_an_attestation_goes_through_sending_and_sent_to_confirmed(journal: Journal) -> None:
    row = _attestation(journal)
    sending = journal.mark_sending(row.id, 12)
    assert (sending.state, sending.nonce, sending.tx_hash) == ("sending", 12, None)
    sent = journal.mark_sent(row.id, bytes.fromhex(TX[2:]))
    assert (sent.state, sent.nonce, sent.tx_hash) == ("sent", 12, TX)
    confirmed = journal.mark_confirmed(row.id)
    assert confirmed.state == "confirmed"
    assert journal.attestation(row.id) == confirmed


def test_a_relayed_attestation_is_sent_without_nonce_or_transaction(journal: Journal) -> None:
    row = _attestation(journal)
    journal.mark_sending(row.id, None)
    sent = journal.mark_sent(row.id, None)
    assert (sent.state, sent.nonce, sent.tx_hash) == ("sent", None, None)


@pytest.mark.parametrize(
    ("nonce", "tx_hash"),
    [(-1, None), (True, None), (1, "relayed"), (1, "0x1234")],
    ids=["negative-nonce", "bool-nonce", "word-for-hash", "short-hash"],
)
def test_malformed_nonces_and_transaction_hashes_are_refused(
    journal: Journal, nonce: int, tx_hash: str | None
) -> None:
    row = _attestation(journal)
    with pytest.raises(JournalError):
        journal.mark_sending(row.id, nonce, tx_hash=tx_hash)
    assert journal.attestation(row.id) == row


def test_sending_again_after_a_dropped_transaction_replaces_nonce_and_hash(
    journal: Journal,
) -> None:
    row = _attestation(journal)
    journal.mark_sending(row.id, 3, tx_hash=TX)
    journal.mark_sent(row.id, TX)
    again = journal.mark_sending(row.id, 4)
    assert (again.state, again.nonce, again.tx_hash) == ("sending", 4, None)


def test_an_attestation_found_on_chain_is_confirmed_from_any_unfinished_state(
    journal: Journal,
) -> None:
    signed = _attestation(journal, epoch=1)
    sending = journal.mark_sending(_attestation(journal, epoch=2).id, 1)
    assert journal.mark_confirmed(signed.id).state == "confirmed"
    assert journal.mark_confirmed(sending.id).state == "confirmed"


@pytest.mark.parametrize(
    ("final", "move"),
    [
        (final, move)
        for final in ("confirmed", "failed")
        for move in ("sending", "sent", "confirmed", "failed")
        if move != final  # repeating the final step is the idempotent case, tested below
    ],
)
def test_a_finished_attestation_never_moves_again(journal: Journal, final: str, move: str) -> None:
    row = _attestation(journal)
    row = (
        journal.mark_confirmed(row.id) if final == "confirmed" else journal.mark_failed(row.id, "x")
    )
    steps: dict[str, Callable[[], AttestationRow]] = {
        "sending": lambda: journal.mark_sending(row.id, 1),
        "sent": lambda: journal.mark_sent(row.id, TX),
        "confirmed": lambda: journal.mark_confirmed(row.id),
        "failed": lambda: journal.mark_failed(row.id, "late error"),
    }
    with pytest.raises(JournalError, match=f"cannot go from {final} to {move}"):
        steps[move]()
    assert journal.attestation(row.id) == row


def test_confirming_a_confirmed_attestation_again_is_a_no_op(journal: Journal) -> None:
    row = journal.mark_confirmed(_attestation(journal).id)
    assert journal.mark_confirmed(row.id).state == "confirmed"


def test_an_attestation_cannot_be_sent_before_it_is_marked_sending(journal: Journal) -> None:
    row = _attestation(journal)
    with pytest.raises(JournalError, match="cannot go from signed to sent"):
        journal.mark_sent(row.id, TX)


def test_a_failed_attestation_keeps_its_error(journal: Journal) -> None:
    row = _attestation(journal)
    failed = journal.mark_failed(row.id, "Escrow_MilestoneNotRegistered(17, Cancelled)")
    assert failed.state == "failed"
    assert journal.attestation(row.id).error == "Escrow_MilestoneNotRegistered(17, Cancelled)"


def test_unknown_attestation_ids_are_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no attestation with id 4"):
        journal.mark_confirmed(4)
    with pytest.raises(JournalError, match="no attestation with id 4"):
        journal.attestation(4)


def test_unfinished_attestations_are_exactly_those_neither_confirmed_nor_failed(
    journal: Journal,
) -> None:
    expected = []
    for i, final in enumerate(["signed", "sending", "sent", "confirmed", "failed"] * 2):
        row = _attestation(journal, milestone=_mid(i + 1))
        if final in ("sending", "sent", "confirmed"):
            row = journal.mark_sending(row.id, i)
        if final in ("sent", "confirmed"):
            row = journal.mark_sent(row.id, TX)
        if final == "confirmed":
            row = journal.mark_confirmed(row.id)
        if final == "failed":
            row = journal.mark_failed(row.id, "reverted")
        if final in ("signed", "sending", "sent"):
            expected.append(row)
    assert journal.unfinished_attestations() == expected
    assert [r.state for r in expected] == ["signed", "sending", "sent"] * 2


# Cursors and releases


def test_an_unset_cursor_reads_as_none(journal: Journal) -> None:
    assert journal.get_cursor("watcher") is None


def test_a_cursor_round_trips_and_survives_reopening(path: Path) -> None:
    with Journal.open(path) as journal:
        journal.set_cursor("watcher", 100)
        journal.set_cursor("watcher", 5_000_123)
        journal.set_cursor("relay", 7)
        assert journal.get_cursor("watcher") == 5_000_123
    with Journal.open(path) as reopened:
        assert reopened.get_cursor("watcher") == 5_000_123
        assert reopened.get_cursor("relay") == 7


def test_a_negative_cursor_is_refused(journal: Journal) -> None:
    journal.set_cursor("watcher", 10)
    with pytest.raises(JournalError, match="non-negative"):
        journal.set_cursor("watcher", -1)
    assert journal.get_cursor("watcher") == 10


def test_due_releases_are_those_whose_time_has_come_until_dropped(journal: Journal) -> None:
    journal.schedule_release(milestone_id=MILESTONE, releasable_at=200)
    journal.schedule_release(milestone_id=OTHER_MILESTONE, releasable_at=100)
    assert journal.due_releases(99) == []
    assert journal.due_releases(200) == [(OTHER_MILESTONE, 100), (MILESTONE, 200)]
    journal.schedule_release(milestone_id=MILESTONE, releasable_at=300)
    assert journal.due_releases(200) == [(OTHER_MILESTONE, 100)]
    journal.drop_release(OTHER_MILESTONE)
    journal.drop_release(OTHER_MILESTONE)  # dropping twice is harmless
    assert journal.due_releases(1_000) == [(MILESTONE, 300)]


# API keys


def test_api_keys_are_stored_only_as_salted_hashes(journal: Journal, path: Path) -> None:
    key = journal.add_api_key("inspectorate")
    assert key.startswith(API_KEY_PREFIX)
    assert len(key) > 40
    stored = journal._db.execute("SELECT salt, key_hash FROM api_keys").fetchone()
    assert (
        stored["key_hash"]
        == hashlib.sha256(bytes.fromhex(stored["salt"]) + key.encode()).hexdigest()
    )
    assert stored["key_hash"] != hashlib.sha256(key.encode()).hexdigest()
    secret_part = key[len(API_KEY_PREFIX) :].encode()
    # Before closing (the row is in the WAL) and after (checkpointed into the database).
    for stage in ("open", "closed"):
        if stage == "closed":
            journal.close()
        for file in path.parent.iterdir():
            data = file.read_bytes()
            assert key.encode() not in data, (stage, file)
            assert secret_part not in data, (stage, file)


def test_two_keys_get_different_salts(journal: Journal) -> None:
    journal.add_api_key("a")
    journal.add_api_key("b")
    salts = [r["salt"] for r in journal._db.execute("SELECT salt FROM api_keys")]
    assert len(set(salts)) == 2


def test_the_right_key_authenticates_its_submitter(journal: Journal) -> None:
    alice = journal.add_api_key("alice")
    bob = journal.add_api_key("bob")
    assert journal.authenticate(alice) == "alice"
    assert journal.authenticate(bob) == "bob"


@pytest.mark.parametrize(
    "wrong",
    ["", "ok_", "not-a-key", "WRONG", "tail"],
    ids=["empty", "prefix-only", "no-prefix", "case-changed", "truncated"],
)
def test_a_wrong_key_authenticates_nobody(journal: Journal, wrong: str) -> None:
    key = journal.add_api_key("alice")
    candidate = {"WRONG": key.upper(), "tail": key[:-1]}.get(wrong, wrong)
    assert journal.authenticate(candidate) is None


def test_a_revoked_key_authenticates_nobody(journal: Journal) -> None:
    key = journal.add_api_key("alice")
    journal.revoke_api_key("alice")
    journal.revoke_api_key("alice")  # revoking twice is harmless
    assert journal.authenticate(key) is None
    assert journal.api_keys()[0].revoked_at is not None


def test_a_revoked_submitter_gets_a_new_key_and_the_old_one_stays_dead(journal: Journal) -> None:
    old = journal.add_api_key("alice")
    journal.revoke_api_key("alice")
    new = journal.add_api_key("alice")
    assert new != old
    assert journal.authenticate(new) == "alice"
    assert journal.authenticate(old) is None


def test_a_second_key_for_a_submitter_with_a_live_key_is_refused(journal: Journal) -> None:
    key = journal.add_api_key("alice")
    with pytest.raises(JournalError, match="revoke it first"):
        journal.add_api_key("alice")
    assert journal.authenticate(key) == "alice"


@pytest.mark.parametrize("name", ["", " alice", "a/b", "x" * 129, "-dash"])
def test_malformed_submitter_names_are_refused(journal: Journal, name: str) -> None:
    with pytest.raises(JournalError, match="submitter name"):
        journal.add_api_key(name)


def test_revoking_an_unknown_submitter_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no API key for submitter 'ghost'"):
        journal.revoke_api_key("ghost")


# Durability and concurrency


def test_a_row_committed_just_before_sigkill_is_there_after_reopening(path: Path) -> None:
    writer = textwrap.dedent(
        """
        import os, signal, sys
        from oracle.journal import Journal
        journal = Journal.open(sys.argv[1])
        row = journal.record_evidence(
            milestone_id="0x" + "11" * 32, evidence_hash="0x" + "aa" * 32,
            submitter="inspectorate", body='{"k":1}',
        )
        journal.set_cursor("watcher", 4242)
        print(row.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", writer, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    # The process never closed the journal: the rows live only in the write-ahead log.
    assert Path(str(path) + "-wal").stat().st_size > 0
    with Journal.open(path) as reopened:
        row = reopened.evidence(int(done.stdout.strip()))
        assert (row.milestone_id, row.evidence_hash, row.body) == (MILESTONE, HASH_A, '{"k":1}')
        assert reopened.get_cursor("watcher") == 4242


def test_two_threads_can_use_one_journal_at_once(journal: Journal) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(offset: int) -> None:
        try:
            start.wait()
            for i in range(60):
                milestone = _mid(offset + i)
                row = _evidence(journal, milestone=milestone)
                attestation = journal.begin_attestation(
                    milestone_id=milestone,
                    epoch=1,
                    evidence_id=row.id,
                    evidence_hash=HASH_A,
                    signature=SIGNATURE,
                )
                journal.mark_sending(attestation.id, i)
                journal.mark_sent(attestation.id, TX)
                journal.set_cursor(f"thread-{offset}", i)
                key = journal.add_api_key(f"s{offset + i}")
                assert journal.authenticate(key) == f"s{offset + i}"
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in (1_000, 2_000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(journal.unfinished_attestations()) == 120
    assert {r.state for r in journal.unfinished_attestations()} == {"sent"}
    assert journal.get_cursor("thread-1000") == journal.get_cursor("thread-2000") == 59


def _race_two_hashes(journal: Journal, milestone: str) -> dict[str, object]:
    """Two threads begin attestations of two different hashes for one milestone and epoch at
    the same instant; returns what each got (a row or the JournalError)."""
    rows = {d: _evidence(journal, milestone=milestone, digest=d) for d in (HASH_A, HASH_B)}
    outcomes: dict[str, object] = {}
    start = threading.Barrier(2)

    def attest(digest: str) -> None:
        start.wait()
        try:
            outcomes[digest] = journal.begin_attestation(
                milestone_id=milestone,
                epoch=1,
                evidence_id=rows[digest].id,
                evidence_hash=digest,
                signature=SIGNATURE,
            )
        except JournalError as exc:
            outcomes[digest] = exc

    threads = [threading.Thread(target=attest, args=(d,)) for d in (HASH_A, HASH_B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_racing_threads_never_attest_two_hashes_for_one_milestone_and_epoch(
    journal: Journal,
) -> None:
    for round_ in range(20):
        milestone = _mid(round_ + 1)
        outcomes = _race_two_hashes(journal, milestone)
        won = [d for d, o in outcomes.items() if isinstance(o, AttestationRow)]
        lost = [d for d, o in outcomes.items() if isinstance(o, JournalError)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert "already attested" in str(outcomes[lost[0]])
        assert [a.evidence_hash for a in journal.attestations_for_milestone(milestone)] == won


# Schema version 1 (before issue 11) is migrated in place when opened.

_V1_SCHEMA = """
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY, milestone_id TEXT NOT NULL, evidence_hash TEXT NOT NULL,
    submitter TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    UNIQUE (milestone_id, evidence_hash)
) STRICT;
CREATE TABLE attestations (
    id INTEGER PRIMARY KEY, milestone_id TEXT NOT NULL, epoch INTEGER NOT NULL,
    evidence_id INTEGER NOT NULL REFERENCES evidence (id), evidence_hash TEXT NOT NULL,
    signature TEXT NOT NULL, state TEXT NOT NULL, tx_hash TEXT, nonce INTEGER, error TEXT,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (milestone_id, epoch)
) STRICT;
CREATE TABLE cursor (name TEXT PRIMARY KEY, block INTEGER NOT NULL, updated_at INTEGER NOT NULL)
    STRICT;
CREATE TABLE releases (
    milestone_id TEXT PRIMARY KEY, releasable_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE api_keys (
    submitter TEXT PRIMARY KEY, salt TEXT NOT NULL, key_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL, revoked_at INTEGER
) STRICT;
"""


def test_a_version_1_journal_is_migrated_in_place_keeping_every_row(path: Path) -> None:
    import hashlib

    path.parent.mkdir(parents=True, exist_ok=True)
    legacy_key = "ok_" + "L" * 43
    salt = b"\x01" * 16
    with sqlite3.connect(path) as db:
        db.executescript(_V1_SCHEMA)
        db.execute(
            "INSERT INTO evidence VALUES (1, ?, ?, 'inspectorate', '{}', 'confirmed', '[]', 1, 2)",
            (MILESTONE, HASH_A),
        )
        db.execute(
            "INSERT INTO attestations VALUES (1, ?, 1, 1, ?, ?, 'confirmed', NULL, NULL, NULL,"
            " 1, 2)",
            (MILESTONE, HASH_A, "0x" + "11" * 64),
        )
        db.execute("INSERT INTO cursor VALUES ('escrow-events', 42, 3)")
        db.execute(
            "INSERT INTO api_keys VALUES ('ministry', ?, ?, 4, NULL)",
            (salt.hex(), hashlib.sha256(salt + legacy_key.encode()).hexdigest()),
        )
        db.execute(f"PRAGMA application_id = {0x4F524A4E}")
        db.execute("PRAGMA user_version = 1")
    with Journal.open(path) as journal:
        assert journal.evidence(1).state == "confirmed"
        assert journal.attestation(1).state == "confirmed"
        assert journal.attestation(1).confirmed_block is None
        assert journal.get_cursor("escrow-events") == 42
        legacy = journal.authenticate_submitter(legacy_key)
        assert legacy is not None and legacy.unscoped, "an old key keeps working, unscoped"
        journal.mark_confirmed(1, block=7, block_hash=b"\x07" * 32)
        assert journal.confirmed_above(6)[0].id == 1
        journal.queue_relayed([(b"\x01" * 32, b"\x02" * 32, 1, "0x" + "aa" * 20, b"\x03" * 64)])
        scoped = journal.add_api_key("shipyard", role="contractor", programs=[3])
        assert journal.authenticate_submitter(scoped) == Submitter(
            "shipyard", "contractor", (3,), None
        )
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    with Journal.open(path) as again:  # opening a migrated journal changes nothing more
        assert len(again.relayed_queue()) == 1
        assert again.attestation(1).confirmed_block == 7


def test_api_keys_keep_their_scope_and_refuse_a_malformed_one(journal: Journal) -> None:
    key = journal.add_api_key(
        "inspectorate", role="inspector", programs=[2, 1, 2], milestones=[MILESTONE]
    )
    found = journal.authenticate_submitter(key)
    assert found == Submitter("inspectorate", "inspector", (1, 2), (MILESTONE.lower(),))
    assert journal.authenticate(key) == "inspectorate"
    (row,) = journal.api_keys()
    assert (row.role, row.programs, row.milestones) == ("inspector", (1, 2), (MILESTONE.lower(),))
    for bad in (
        {"role": "Inspector"},
        {"programs": []},
        {"programs": [0]},
        {"milestones": ["0x1"]},
    ):
        with pytest.raises(JournalError):
            journal.add_api_key("other", **bad)  # type: ignore[arg-type]
    assert [r.submitter for r in journal.api_keys()] == ["inspectorate"]
