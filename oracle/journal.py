"""The node's write-ahead journal: every step is written here before it is taken.

One SQLite file in WAL mode with `synchronous=FULL`, so a commit that returned survives a
`kill -9` of the node and a power cut. The node records a step (evidence received, verified,
attestation signed, about to be sent with this nonce) and only then takes it; after a restart,
`unfinished_attestations()` is the work left to finish.

States and the transitions allowed between them:

    evidence:     received -> verified | rejected
                  rejected -> verified              (re-verified, e.g. a missing document arrived)
                  verified -> signed | failed
                  signed   -> submitted | confirmed | failed
                  submitted -> confirmed | failed
                  failed   -> signed                (a new attestation, e.g. in a new epoch)
                  confirmed: final
    attestation:  signed  -> sending | confirmed | failed
                  sending -> sent | confirmed | failed | sending (a new nonce after checking chain)
                  sent    -> confirmed | failed | sending        (the transaction was dropped)
                  confirmed, failed: final

Tables: `evidence`, `attestations` (UNIQUE(milestone_id, epoch): one hash per milestone and
epoch, ever), `cursor` (the watcher's block cursor), `releases` (milestones the releaser waits
on) and `api_keys` (salt and sha256 only). The schema version is `PRAGMA user_version`.

Setting the state a row is already in is allowed and idempotent, so a node that resumes after a
crash can repeat its last step. Hashes, ids and signatures are taken as bytes or "0x" hex and
stored and returned as "0x"-prefixed lowercase hex strings, as the API shows them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, get_args

from disburse.chain.specs import ROLE_PATTERN
from oracle.errors import JournalError

SCHEMA_VERSION: Final = 2
"""Stored in `PRAGMA user_version`; a journal written by a newer node is refused, an older one
is migrated in place when opened (version 1 → 2: API key scopes, the block that confirmed each
attestation, the relaying node's queue)."""

APPLICATION_ID: Final = 0x4F524A4E
"""`PRAGMA application_id` ("ORJN"): marks the file as an oracle journal."""

API_KEY_PREFIX: Final = "ok_"
"""Every API key starts with this, so log redaction and secret scanners can recognise one."""

EvidenceState = Literal[
    "received", "verified", "rejected", "signed", "submitted", "confirmed", "failed"
]
AttestationState = Literal["signed", "sending", "sent", "confirmed", "failed"]

EVIDENCE_STATES: Final[tuple[EvidenceState, ...]] = get_args(EvidenceState)
ATTESTATION_STATES: Final[tuple[AttestationState, ...]] = get_args(AttestationState)

EVIDENCE_TRANSITIONS: Final[Mapping[EvidenceState, frozenset[EvidenceState]]] = {
    "received": frozenset({"verified", "rejected"}),
    "rejected": frozenset({"verified"}),
    "verified": frozenset({"signed", "failed"}),
    "signed": frozenset({"submitted", "confirmed", "failed"}),
    "submitted": frozenset({"confirmed", "failed"}),
    "failed": frozenset({"signed"}),
    "confirmed": frozenset(),
}
ATTESTATION_TRANSITIONS: Final[Mapping[AttestationState, frozenset[AttestationState]]] = {
    "signed": frozenset({"sending", "confirmed", "failed"}),
    "sending": frozenset({"sent", "confirmed", "failed"}),
    "sent": frozenset({"sending", "confirmed", "failed"}),
    "confirmed": frozenset(),
    "failed": frozenset(),
}
UNFINISHED_ATTESTATION_STATES: Final[tuple[AttestationState, ...]] = ("signed", "sending", "sent")

_SUBMITTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_ROLE = re.compile(ROLE_PATTERN)
_HEX = re.compile(r"^0x[0-9a-fA-F]*$")
_BUSY_TIMEOUT_MS: Final = 10_000


@dataclass(frozen=True)
class EvidenceRow:
    """One piece of evidence for one milestone, as the journal holds it."""

    id: int
    milestone_id: str
    """0x-prefixed lowercase hex, as every hash and id in a row."""
    evidence_hash: str
    submitter: str
    body: str
    """The canonical JSON of the evidence bundle."""
    state: EvidenceState
    reasons: tuple[str, ...]
    """Why the evidence is in its state (verification failures, the error that failed it)."""
    created_at: int
    """Unix seconds."""
    updated_at: int
    """Unix seconds."""


@dataclass(frozen=True)
class AttestationRow:
    """This node's attestation for one milestone in one committee epoch."""

    id: int
    milestone_id: str
    epoch: int
    evidence_id: int
    evidence_hash: str
    signature: str
    """EIP-2098 compact signature, r ‖ vs (64 bytes), as 0x hex."""
    state: AttestationState
    tx_hash: str | None
    """None until known, and for an attestation handed to a relayer."""
    nonce: int | None
    """None until known, and for an attestation handed to a relayer."""
    error: str | None
    created_at: int
    """Unix seconds."""
    updated_at: int
    """Unix seconds."""
    confirmed_block: int | None = None
    """The block that holds it (or the chain head when it was found on chain), once confirmed:
    a chain that loses that block may have lost it (see `Node.chain_rolled_back`)."""
    confirmed_block_hash: str | None = None


@dataclass(frozen=True)
class Submitter:
    """Who an API key belongs to and what it may submit (and read)."""

    name: str
    role: str | None
    """The submitter's role (`inspector`, `contractor`, `oracle` for a peer node handing over
    signatures...), matched against a specification's `submitters:`. None: a key from before
    scopes existed, refused wherever a specification names its submitters."""
    programs: tuple[int, ...] | None
    """The programs whose milestones it may submit evidence for; None: any program."""
    milestones: tuple[str, ...] | None
    """The milestones (0x hex) it may submit evidence for; None: any, within `programs`."""

    @property
    def unscoped(self) -> bool:
        return self.role is None and self.programs is None and self.milestones is None


@dataclass(frozen=True)
class ApiKeyRow:
    """A submitter's API key record; the key itself is never stored, only a salted hash."""

    submitter: str
    created_at: int
    revoked_at: int | None
    role: str | None = None
    programs: tuple[int, ...] | None = None
    milestones: tuple[str, ...] | None = None


_SCHEMA: Final = f"""
CREATE TABLE evidence (
    id            INTEGER PRIMARY KEY,
    milestone_id  TEXT    NOT NULL,
    evidence_hash TEXT    NOT NULL,
    submitter     TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ({", ".join(repr(s) for s in EVIDENCE_STATES)})),
    reasons       TEXT    NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (milestone_id, evidence_hash)
) STRICT;
CREATE TABLE attestations (
    id            INTEGER PRIMARY KEY,
    milestone_id  TEXT    NOT NULL,
    epoch         INTEGER NOT NULL CHECK (epoch BETWEEN 0 AND 65535),
    evidence_id   INTEGER NOT NULL REFERENCES evidence (id),
    evidence_hash TEXT    NOT NULL,
    signature     TEXT    NOT NULL,
    state         TEXT    NOT NULL
                  CHECK (state IN ({", ".join(repr(s) for s in ATTESTATION_STATES)})),
    tx_hash       TEXT,
    nonce         INTEGER CHECK (nonce >= 0),
    error         TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    confirmed_block      INTEGER,
    confirmed_block_hash TEXT,
    UNIQUE (milestone_id, epoch)
) STRICT;
CREATE INDEX attestations_unfinished ON attestations (id)
    WHERE state IN ({", ".join(repr(s) for s in UNFINISHED_ATTESTATION_STATES)});
CREATE TABLE cursor (
    name       TEXT    PRIMARY KEY,
    block      INTEGER NOT NULL CHECK (block >= 0),
    updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE releases (
    milestone_id  TEXT    PRIMARY KEY,
    releasable_at INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX releases_due ON releases (releasable_at);
CREATE TABLE api_keys (
    submitter  TEXT    PRIMARY KEY,
    salt       TEXT    NOT NULL,
    key_hash   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    role       TEXT,
    programs   TEXT,
    milestones TEXT
) STRICT;
CREATE TABLE relay_queue (
    milestone_id  TEXT    NOT NULL,
    evidence_hash TEXT    NOT NULL,
    epoch         INTEGER NOT NULL,
    oracle        TEXT    NOT NULL,
    signature     TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (milestone_id, evidence_hash, oracle)
) STRICT;
"""

# Each step takes a journal from the version before it to its own, inside one transaction.
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    2: (
        "ALTER TABLE api_keys ADD COLUMN role TEXT",
        "ALTER TABLE api_keys ADD COLUMN programs TEXT",
        "ALTER TABLE api_keys ADD COLUMN milestones TEXT",
        "ALTER TABLE attestations ADD COLUMN confirmed_block INTEGER",
        "ALTER TABLE attestations ADD COLUMN confirmed_block_hash TEXT",
        "CREATE TABLE relay_queue ("
        " milestone_id TEXT NOT NULL, evidence_hash TEXT NOT NULL, epoch INTEGER NOT NULL,"
        " oracle TEXT NOT NULL, signature TEXT NOT NULL, created_at INTEGER NOT NULL,"
        " PRIMARY KEY (milestone_id, evidence_hash, oracle)) STRICT",
    ),
}


def _now() -> int:
    return int(time.time())


def _fixed_hex(value: bytes | str, *, size: int, name: str) -> str:
    """Normalises `size` bytes given as bytes or "0x" hex to "0x"-prefixed lowercase hex."""
    if isinstance(value, bytes | bytearray):
        if len(value) != size:
            raise JournalError(f"{name} must be {size} bytes, got {len(value)}")
        return "0x" + bytes(value).hex()
    if not isinstance(value, str) or not _HEX.match(value) or len(value) != 2 + 2 * size:
        raise JournalError(f"{name} must be {size} bytes as 0x-prefixed hex, got {value!r}")
    return value.lower()


def _bytes32(value: bytes | str, name: str) -> str:
    return _fixed_hex(value, size=32, name=name)


def _optional_bytes32(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return _fixed_hex(
        value, size=32, name="transaction hash (None for an attestation handed to a relayer)"
    )


def _hash_key(salt: bytes, key: str) -> str:
    return hashlib.sha256(salt + key.encode("utf-8")).hexdigest()


def _submitter(row: sqlite3.Row) -> Submitter:
    programs = row["programs"]
    milestones = row["milestones"]
    return Submitter(
        name=row["submitter"],
        role=row["role"],
        programs=None if programs is None else tuple(int(p) for p in json.loads(programs)),
        milestones=None if milestones is None else tuple(json.loads(milestones)),
    )


def _evidence_row(row: sqlite3.Row) -> EvidenceRow:
    return EvidenceRow(
        id=row["id"],
        milestone_id=row["milestone_id"],
        evidence_hash=row["evidence_hash"],
        submitter=row["submitter"],
        body=row["body"],
        state=row["state"],
        reasons=tuple(json.loads(row["reasons"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _attestation_row(row: sqlite3.Row) -> AttestationRow:
    return AttestationRow(
        id=row["id"],
        milestone_id=row["milestone_id"],
        epoch=row["epoch"],
        evidence_id=row["evidence_id"],
        evidence_hash=row["evidence_hash"],
        signature=row["signature"],
        state=row["state"],
        tx_hash=row["tx_hash"],
        nonce=row["nonce"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        confirmed_block=row["confirmed_block"],
        confirmed_block_hash=row["confirmed_block_hash"],
    )


class Journal:
    """The SQLite journal. Safe to share between threads: one connection behind a lock.

    Open it with `Journal.open(path)`; use it as a context manager or call `close()`.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.RLock()
        self._depth = 0  # nesting of open write transactions (under _lock)

    # Opening and closing

    @classmethod
    def open(cls, path: Path | str) -> Journal:
        """Opens the journal at `path`, creating it (mode 0600) and its directory if needed."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created here rather than by SQLite so that the file, and the -wal and -shm files
            # SQLite gives the same mode, are readable by the node's user only.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise JournalError(f"cannot create journal {path}: {exc.strerror}") from exc
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        connection.row_factory = sqlite3.Row
        journal = cls(path, connection)
        try:
            journal._configure()
            journal._migrate()
        except BaseException:
            connection.close()
            raise
        return journal

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _configure(self) -> None:
        try:
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"{self.path} is not a usable SQLite journal ({exc}); "
                "point the node at its own data directory"
            ) from exc
        if str(mode).lower() != "wal":
            raise JournalError(
                f"journal {self.path} cannot use WAL mode (SQLite answered {mode!r}); "
                "put the data directory on a local file system"
            )

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.path} has schema version {version}, newer than this node "
                    f"understands (version {SCHEMA_VERSION}); upgrade the node, or restore the "
                    "journal from before the upgrade"
                )
            if version == 0:
                tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
                if tables:
                    raise JournalError(
                        f"{self.path} is a SQLite database but not an oracle journal; "
                        "point the node at its own data directory"
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif app_id != APPLICATION_ID:
                raise JournalError(
                    f"{self.path} is a SQLite database but not an oracle journal "
                    f"(application id {app_id:#x}); point the node at its own data directory"
                )
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step]:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {step}")

    # Transactions

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading so that check-then-write is atomic.
        Inside `transaction()` it joins the open transaction instead (one commit for all)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                except sqlite3.Error as exc:
                    # SQLite undid the failed statement alone; the caller decides about the rest.
                    raise JournalError(f"journal {self.path}: {exc}") from exc
                finally:
                    self._depth -= 1
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: cannot begin a write: {exc}") from exc
            self._depth = 1
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise JournalError(f"journal {self.path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Groups the writes made inside it (by this thread) into one transaction: one commit,
        and all or nothing. An error a write raises inside it reaches the caller, who may go on
        with the other writes; an exception leaving the block undoes them all."""
        with self._write():
            yield

    def _rollback(self) -> None:
        # After a failed COMMIT SQLite may already have rolled back; nothing is left to undo then.
        with suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc

    # Evidence

    def record_evidence(
        self,
        *,
        milestone_id: bytes | str,
        evidence_hash: bytes | str,
        submitter: str,
        body: str | bytes,
    ) -> EvidenceRow:
        """Records evidence as received; `body` is its canonical JSON (UTF-8 if bytes).

        The same (milestone, evidence hash) again returns the row already recorded, whatever its
        state, and changes nothing (the first submitter and body are kept).
        """
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise JournalError(f"evidence body is not UTF-8: {exc}") from exc
        milestone = _bytes32(milestone_id, "milestone id")
        digest = _bytes32(evidence_hash, "evidence hash")
        now = _now()
        with self._write() as db:
            db.execute(
                "INSERT INTO evidence (milestone_id, evidence_hash, submitter, body, state,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'received', ?, ?)"
                " ON CONFLICT (milestone_id, evidence_hash) DO NOTHING",
                (milestone, digest, submitter, body, now, now),
            )
            row = db.execute(
                "SELECT * FROM evidence WHERE milestone_id = ? AND evidence_hash = ?",
                (milestone, digest),
            ).fetchone()
        return _evidence_row(row)

    def set_evidence_state(
        self, id: int, state: EvidenceState, reasons: Sequence[str] | None = None
    ) -> EvidenceRow:
        """Moves evidence to `state`; `reasons` (default none) replace the stored ones."""
        if state not in EVIDENCE_STATES:
            raise JournalError(f"unknown evidence state {state!r}; one of {EVIDENCE_STATES}")
        encoded = json.dumps([str(r) for r in reasons or []], ensure_ascii=False)
        with self._write() as db:
            row = db.execute("SELECT state FROM evidence WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise JournalError(f"no evidence with id {id} in the journal")
            current: EvidenceState = row["state"]
            if state != current and state not in EVIDENCE_TRANSITIONS[current]:
                raise JournalError(
                    f"evidence {id} cannot go from {current} to {state}; from {current} it may go "
                    f"to {sorted(EVIDENCE_TRANSITIONS[current]) or 'nowhere (final)'}"
                )
            updated = db.execute(
                "UPDATE evidence SET state = ?, reasons = ?, updated_at = ? WHERE id = ?"
                " RETURNING *",
                (state, encoded, _now(), id),
            ).fetchone()
        return _evidence_row(updated)

    def evidence(self, id: int) -> EvidenceRow:
        """The evidence with this id; JournalError when there is none."""
        with self._read() as db:
            row = db.execute("SELECT * FROM evidence WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise JournalError(f"no evidence with id {id} in the journal")
        return _evidence_row(row)

    def evidence_in_states(self, states: Iterable[EvidenceState]) -> list[EvidenceRow]:
        """Every piece of evidence in one of `states`, oldest first."""
        wanted = tuple(states)
        unknown = [s for s in wanted if s not in EVIDENCE_STATES]
        if unknown:
            raise JournalError(f"unknown evidence states {unknown}; known: {EVIDENCE_STATES}")
        placeholders = ", ".join("?" for _ in wanted)
        with self._read() as db:
            rows = db.execute(
                f"SELECT * FROM evidence WHERE state IN ({placeholders}) ORDER BY id",  # noqa: S608
                wanted,
            ).fetchall()
        return [_evidence_row(r) for r in rows]

    def evidence_for_milestone(self, milestone_id: bytes | str) -> list[EvidenceRow]:
        """Every piece of evidence recorded for the milestone, oldest first."""
        milestone = _bytes32(milestone_id, "milestone id")
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM evidence WHERE milestone_id = ? ORDER BY id", (milestone,)
            ).fetchall()
        return [_evidence_row(r) for r in rows]

    # Attestations

    def begin_attestation(
        self,
        *,
        milestone_id: bytes | str,
        epoch: int,
        evidence_id: int,
        evidence_hash: bytes | str,
        signature: bytes | str,
    ) -> AttestationRow:
        """Records a signed attestation before it is sent.

        The node attests at most one evidence hash per milestone and epoch: beginning the same
        hash again returns the row already recorded (whatever its state) and changes nothing;
        a different hash is refused with JournalError.
        """
        milestone = _bytes32(milestone_id, "milestone id")
        digest = _bytes32(evidence_hash, "evidence hash")
        sig = _fixed_hex(signature, size=64, name="compact signature (r ‖ vs)")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**16:
            raise JournalError(f"epoch {epoch!r} does not fit uint16")
        now = _now()
        with self._write() as db:
            existing = db.execute(
                "SELECT * FROM attestations WHERE milestone_id = ? AND epoch = ?",
                (milestone, epoch),
            ).fetchone()
            if existing is not None:
                if existing["evidence_hash"] != digest:
                    raise JournalError(
                        f"this node already attested evidence {existing['evidence_hash']} for "
                        f"milestone {milestone} in epoch {epoch}; refusing to attest a different "
                        f"hash {digest} (an oracle signs one hash per milestone and epoch)"
                    )
                return _attestation_row(existing)
            evidence = db.execute(
                "SELECT milestone_id, evidence_hash FROM evidence WHERE id = ?", (evidence_id,)
            ).fetchone()
            if evidence is None:
                raise JournalError(f"no evidence with id {evidence_id} in the journal")
            if (evidence["milestone_id"], evidence["evidence_hash"]) != (milestone, digest):
                raise JournalError(
                    f"evidence {evidence_id} is {evidence['evidence_hash']} for milestone "
                    f"{evidence['milestone_id']}, not {digest} for milestone {milestone}"
                )
            row = db.execute(
                "INSERT INTO attestations (milestone_id, epoch, evidence_id, evidence_hash,"
                " signature, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'signed', ?, ?) RETURNING *",
                (milestone, epoch, evidence_id, digest, sig, now, now),
            ).fetchone()
        return _attestation_row(row)

    def mark_sending(
        self, id: int, nonce: int | None, *, tx_hash: bytes | str | None = None
    ) -> AttestationRow:
        """Records that the attestation is about to be sent with `nonce`, so a restarted node
        knows to look on chain before sending again.

        `tx_hash`, when the signed transaction is already built, lets it find the receipt too.
        Both are None for an attestation about to be handed to a relayer. Marking a row that is
        already sending or sent (a dropped transaction, sent again) replaces nonce and hash.
        """
        if nonce is not None and (
            not isinstance(nonce, int) or isinstance(nonce, bool) or nonce < 0
        ):
            raise JournalError(
                f"nonce must be a non-negative integer, got {nonce!r} "
                "(None for an attestation handed to a relayer)"
            )
        return self._move_attestation(
            id, "sending", {"nonce": nonce, "tx_hash": _optional_bytes32(tx_hash)}
        )

    def mark_sent(self, id: int, tx_hash: bytes | str | None) -> AttestationRow:
        """Records that transaction `tx_hash` carrying the attestation reached a node (None:
        the attestation was handed to a relayer)."""
        return self._move_attestation(id, "sent", {"tx_hash": _optional_bytes32(tx_hash)})

    def mark_confirmed(
        self, id: int, *, block: int | None = None, block_hash: bytes | str | None = None
    ) -> AttestationRow:
        """Records that the attestation is on chain, in `block` (with its hash) when known.
        Final; confirming again records the block given then."""
        fields: dict[str, object] = {}
        if block is not None:
            if not isinstance(block, int) or isinstance(block, bool) or block < 0:
                raise JournalError(f"block must be a non-negative integer, got {block!r}")
            fields["confirmed_block"] = block
            fields["confirmed_block_hash"] = (
                None if block_hash is None else _bytes32(block_hash, "block hash")
            )
        return self._move_attestation(id, "confirmed", fields)

    def confirmed_above(self, block: int) -> list[AttestationRow]:
        """Confirmed attestations whose confirming block is above `block`: what a chain that
        kept only blocks up to `block` may have lost."""
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM attestations WHERE state = 'confirmed' AND confirmed_block > ?"
                " ORDER BY id",
                (block,),
            ).fetchall()
        return [_attestation_row(r) for r in rows]

    def confirmed_blocks(self, limit: int = 256) -> list[tuple[int, str]]:
        """(block, hash) of the newest blocks that confirmed an attestation, newest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT DISTINCT confirmed_block, confirmed_block_hash FROM attestations"
                " WHERE state = 'confirmed' AND confirmed_block IS NOT NULL"
                " AND confirmed_block_hash IS NOT NULL"
                " ORDER BY confirmed_block DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def mark_failed(self, id: int, error: str) -> AttestationRow:
        """Records that the attestation failed for good (not for a retryable error). Final."""
        return self._move_attestation(id, "failed", {"error": str(error)})

    def _move_attestation(
        self, id: int, state: AttestationState, fields: dict[str, object]
    ) -> AttestationRow:
        with self._write() as db:
            row = db.execute("SELECT state FROM attestations WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise JournalError(f"no attestation with id {id} in the journal")
            current: AttestationState = row["state"]
            if state != current and state not in ATTESTATION_TRANSITIONS[current]:
                raise JournalError(
                    f"attestation {id} cannot go from {current} to {state}; from {current} it "
                    f"may go to {sorted(ATTESTATION_TRANSITIONS[current]) or 'nowhere (final)'}"
                )
            # Column names come from this module, never from callers.
            assignments = "".join(f", {name} = ?" for name in fields)
            updated = db.execute(
                f"UPDATE attestations SET state = ?, updated_at = ?{assignments}"  # noqa: S608
                " WHERE id = ? RETURNING *",
                (state, _now(), *fields.values(), id),
            ).fetchone()
        return _attestation_row(updated)

    def attestation(self, id: int) -> AttestationRow:
        """The attestation with this id; JournalError when there is none."""
        with self._read() as db:
            row = db.execute("SELECT * FROM attestations WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise JournalError(f"no attestation with id {id} in the journal")
        return _attestation_row(row)

    def attestations_for_evidence(self, evidence_id: int) -> list[AttestationRow]:
        """This node's attestations of the evidence (one per epoch it was attested in), oldest
        first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM attestations WHERE evidence_id = ? ORDER BY id", (evidence_id,)
            ).fetchall()
        return [_attestation_row(r) for r in rows]

    def attestations_for_milestone(self, milestone_id: bytes | str) -> list[AttestationRow]:
        """This node's attestations for the milestone, one per epoch, oldest first."""
        milestone = _bytes32(milestone_id, "milestone id")
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM attestations WHERE milestone_id = ? ORDER BY id", (milestone,)
            ).fetchall()
        return [_attestation_row(r) for r in rows]

    def attestation_for(self, milestone_id: bytes | str, epoch: int) -> AttestationRow | None:
        """This node's attestation for the milestone in `epoch`, if it made one."""
        milestone = _bytes32(milestone_id, "milestone id")
        with self._read() as db:
            row = db.execute(
                "SELECT * FROM attestations WHERE milestone_id = ? AND epoch = ?",
                (milestone, epoch),
            ).fetchone()
        return None if row is None else _attestation_row(row)

    def unfinished_attestations(self) -> list[AttestationRow]:
        """Attestations neither confirmed nor failed, oldest first: the work to resume."""
        placeholders = ", ".join("?" for _ in UNFINISHED_ATTESTATION_STATES)
        with self._read() as db:
            rows = db.execute(
                f"SELECT * FROM attestations WHERE state IN ({placeholders}) ORDER BY id",  # noqa: S608
                UNFINISHED_ATTESTATION_STATES,
            ).fetchall()
        return [_attestation_row(r) for r in rows]

    def handed_over_before(self, cutoff: int) -> list[AttestationRow]:
        """Attestations handed to a relayer (no transaction of this node's own), not confirmed
        nor failed, last handed over before `cutoff` (unix seconds), oldest first: what a
        relayer may have lost."""
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM attestations WHERE state IN ('sending', 'sent')"
                " AND tx_hash IS NULL AND updated_at < ? ORDER BY id",
                (cutoff,),
            ).fetchall()
        return [_attestation_row(r) for r in rows]

    # The relaying node's queue: signatures acknowledged to other nodes, until on chain.

    def queue_relayed(self, items: Sequence[tuple[bytes, bytes, int, str, bytes]]) -> None:
        """Journals signatures handed over by other nodes, (milestone id, evidence hash, epoch,
        oracle address, 64-byte compact signature) each, before they are acknowledged; the same
        (milestone, hash, oracle) again replaces its signature and epoch."""
        now = _now()
        with self._write() as db:
            db.executemany(
                "INSERT INTO relay_queue (milestone_id, evidence_hash, epoch, oracle, signature,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT"
                " (milestone_id, evidence_hash, oracle) DO UPDATE SET epoch = excluded.epoch,"
                " signature = excluded.signature",
                [
                    (
                        _bytes32(m, "milestone id"),
                        _bytes32(h, "evidence hash"),
                        epoch,
                        oracle.lower(),
                        _fixed_hex(sig, size=64, name="compact signature (r ‖ vs)"),
                        now,
                    )
                    for m, h, epoch, oracle, sig in items
                ],
            )

    def relayed_queue(self) -> list[tuple[bytes, bytes, int, str, bytes]]:
        """Every journaled signature still to reach the chain, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT milestone_id, evidence_hash, epoch, oracle, signature FROM relay_queue"
                " ORDER BY created_at, milestone_id"
            ).fetchall()
        return [
            (
                bytes.fromhex(r[0][2:]),
                bytes.fromhex(r[1][2:]),
                int(r[2]),
                str(r[3]),
                bytes.fromhex(r[4][2:]),
            )
            for r in rows
        ]

    def drop_relayed(self, keys: Iterable[tuple[bytes, bytes]]) -> None:
        """Forgets the journaled signatures of these (milestone id, evidence hash) pairs: on
        chain now, or no longer accepted by it."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM relay_queue WHERE milestone_id = ? AND evidence_hash = ?",
                [(_bytes32(m, "milestone id"), _bytes32(h, "evidence hash")) for m, h in keys],
            )

    # Cursors

    def get_cursor(self, name: str) -> int | None:
        """The block stored under `name`, or None when none was stored yet."""
        with self._read() as db:
            row = db.execute("SELECT block FROM cursor WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row["block"])

    def set_cursor(self, name: str, block: int) -> None:
        """Stores `block` under `name`, replacing the previous value."""
        if not isinstance(block, int) or isinstance(block, bool) or block < 0:
            raise JournalError(f"cursor {name!r}: block must be a non-negative integer")
        with self._write() as db:
            db.execute(
                "INSERT INTO cursor (name, block, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET block = excluded.block,"
                " updated_at = excluded.updated_at",
                (name, block, _now()),
            )

    # Releases

    def schedule_release(self, *, milestone_id: bytes | str, releasable_at: int) -> None:
        """Notes that the milestone can be released from `releasable_at` (unix seconds, chain
        time); scheduling it again moves the time."""
        milestone = _bytes32(milestone_id, "milestone id")
        if not isinstance(releasable_at, int) or isinstance(releasable_at, bool):
            raise JournalError(f"releasable_at must be unix seconds, got {releasable_at!r}")
        with self._write() as db:
            db.execute(
                "INSERT INTO releases (milestone_id, releasable_at, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (milestone_id) DO UPDATE SET"
                " releasable_at = excluded.releasable_at, updated_at = excluded.updated_at",
                (milestone, releasable_at, _now()),
            )

    def drop_release(self, milestone_id: bytes | str) -> None:
        """Forgets a scheduled release (released, cancelled, frozen...); no-op if none."""
        milestone = _bytes32(milestone_id, "milestone id")
        with self._write() as db:
            db.execute("DELETE FROM releases WHERE milestone_id = ?", (milestone,))

    def due_releases(self, now: int) -> list[tuple[str, int]]:
        """(milestone id, releasable_at) of every scheduled release due at `now`, earliest
        first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT milestone_id, releasable_at FROM releases WHERE releasable_at <= ?"
                " ORDER BY releasable_at, milestone_id",
                (now,),
            ).fetchall()
        return [(r["milestone_id"], r["releasable_at"]) for r in rows]

    # API keys

    def add_api_key(
        self,
        submitter: str,
        *,
        role: str | None = None,
        programs: Sequence[int] | None = None,
        milestones: Sequence[bytes | str] | None = None,
    ) -> str:
        """Creates an API key for `submitter` and returns it; this is the only time it is seen.

        The key is scoped: to a `role` (matched against a specification's `submitters:`), and
        to `programs` and/or `milestones` (None: any). Only a random salt and
        sha256(salt ‖ key) are stored. A submitter with a live key must have it revoked first;
        a revoked submitter gets a fresh key (with the scope given now).
        """
        if not _SUBMITTER.match(submitter):
            raise JournalError(
                f"submitter name {submitter!r} must be 1-128 characters of letters, digits and "
                "._@-, starting with a letter or digit"
            )
        if role is not None and not _ROLE.fullmatch(role):
            raise JournalError(
                f"role {role!r} must be 1-32 lowercase letters, digits, _ or -, starting with a "
                "letter (e.g. inspector, contractor, oracle)"
            )
        program_list: list[int] | None = None
        if programs is not None:
            program_list = sorted(set(programs))
            if not program_list or any(
                not isinstance(p, int) or isinstance(p, bool) or not 0 < p < 2**256
                for p in program_list
            ):
                raise JournalError("programs must be one or more program ids (1 to 2^256 - 1)")
        milestone_list: list[str] | None = None
        if milestones is not None:
            milestone_list = sorted({_bytes32(m, "milestone id") for m in milestones})
            if not milestone_list:
                raise JournalError("milestones must name at least one milestone id")
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        with self._write() as db:
            row = db.execute(
                "SELECT revoked_at FROM api_keys WHERE submitter = ?", (submitter,)
            ).fetchone()
            if row is not None and row["revoked_at"] is None:
                raise JournalError(
                    f"submitter {submitter!r} already has an API key; revoke it first to issue "
                    "a new one"
                )
            db.execute(
                "INSERT INTO api_keys (submitter, salt, key_hash, created_at, revoked_at, role,"
                " programs, milestones) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)"
                " ON CONFLICT (submitter) DO UPDATE SET"
                " salt = excluded.salt, key_hash = excluded.key_hash,"
                " created_at = excluded.created_at, revoked_at = NULL, role = excluded.role,"
                " programs = excluded.programs, milestones = excluded.milestones",
                (
                    submitter,
                    salt.hex(),
                    _hash_key(salt, key),
                    _now(),
                    role,
                    None if program_list is None else json.dumps([str(p) for p in program_list]),
                    None if milestone_list is None else json.dumps(milestone_list),
                ),
            )
        return key

    def authenticate_submitter(self, key: str) -> Submitter | None:
        """The submitter, with its scope, whose live API key this is, or None (compared as
        `authenticate` does, in constant time over every stored key)."""
        if not isinstance(key, str) or not key.startswith(API_KEY_PREFIX):
            return None
        with self._read() as db:
            rows = db.execute(
                "SELECT submitter, salt, key_hash, revoked_at, role, programs, milestones"
                " FROM api_keys"
            ).fetchall()
        found: Submitter | None = None
        for row in rows:
            matches = hmac.compare_digest(
                _hash_key(bytes.fromhex(row["salt"]), key), row["key_hash"]
            )
            if matches and row["revoked_at"] is None:
                found = _submitter(row)
        return found

    def authenticate(self, key: str) -> str | None:
        """The submitter whose live API key this is, or None.

        Every stored key is compared, in constant time, whether or not an earlier one matched,
        so the time taken says nothing about which keys exist.
        """
        found = self.authenticate_submitter(key)
        return None if found is None else found.name

    def revoke_api_key(self, submitter: str) -> None:
        """Revokes the submitter's key; revoking a revoked key changes nothing."""
        with self._write() as db:
            row = db.execute(
                "SELECT revoked_at FROM api_keys WHERE submitter = ?", (submitter,)
            ).fetchone()
            if row is None:
                raise JournalError(f"no API key for submitter {submitter!r}")
            if row["revoked_at"] is None:
                db.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE submitter = ?", (_now(), submitter)
                )

    def api_keys(self) -> list[ApiKeyRow]:
        """Every submitter with a key, live or revoked, by name (no key material)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT submitter, created_at, revoked_at, role, programs, milestones"
                " FROM api_keys ORDER BY submitter"
            ).fetchall()
        found = []
        for r in rows:
            scope = _submitter(r)
            found.append(
                ApiKeyRow(
                    r["submitter"],
                    r["created_at"],
                    r["revoked_at"],
                    scope.role,
                    scope.programs,
                    scope.milestones,
                )
            )
        return found
