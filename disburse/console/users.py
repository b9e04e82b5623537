"""The console's accounts, sessions and login log, in one SQLite file.

- Passwords are hashed with scrypt (memory-hard: n=2**14, r=8, p=1, a 16-byte random salt each)
  and compared in constant time; nothing here ever logs or returns a password.
- A session is a random 32-byte token in the browser's cookie; the file keeps only its SHA-256,
  so a copy of the file lets nobody in. A session unused for `idle_s` has ended.
- Failed logins are slowed down: after `THROTTLE_AFTER` failures for a name, or from a client
  address, within `THROTTLE_WINDOW_S`, every further attempt is refused without looking at the
  password until a delay that doubles with each failure (at most `THROTTLE_MAX_S`) has passed.
- Every login, failure, refusal, logout and expiry is a row of the login log.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from eth_utils.address import is_hex_address, to_checksum_address

from disburse.chain.errors import DisburseError

Role = Literal["overseer", "auditor", "manager"]
ROLES: Final = get_args(Role)
Outcome = Literal["ok", "bad-password", "unknown-user", "throttled", "logout", "expired"]
FAILURES: Final = ("bad-password", "unknown-user")

NAME: Final = re.compile(r"[a-z0-9._-]{1,64}")
PASSWORD_MIN: Final = 8
PASSWORD_MAX: Final = 1024
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
TOKEN_BYTES: Final = 32

THROTTLE_AFTER: Final = 5
THROTTLE_WINDOW_S: Final = 15 * 60
THROTTLE_BASE_S: Final = 2
THROTTLE_MAX_S: Final = 15 * 60
CLIENT_MAX: Final = 128
"""A client address longer than this is cut (it is only ever logged and counted)."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    managers TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    sso INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS login_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    name TEXT NOT NULL,
    client TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_log_name ON login_log (name, time);
CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions (last_seen);
CREATE INDEX IF NOT EXISTS login_log_client ON login_log (client, time);
"""


class UserError(DisburseError, ValueError):
    """A request about accounts that cannot be done as asked; the message names the problem."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    managers: tuple[str, ...]
    """Checksummed addresses whose programs a manager sees (empty for other roles)."""
    created: int


@dataclass(frozen=True)
class LogEntry:
    time: int
    name: str
    client: str
    outcome: Outcome


@dataclass(frozen=True)
class Throttled:
    """A login refused before its password was looked at; try again after `retry_after` s."""

    retry_after: int


def check_name(name: str) -> str:
    """The account name, or UserError saying what a name may be."""
    if not NAME.fullmatch(name):
        raise UserError(
            f"an account name is 1 to 64 characters of a-z, 0-9, '.', '_' and '-', "
            f"not {name[:80]!r}"
        )
    return name


def check_role(role: str) -> Role:
    if role == "overseer":
        return "overseer"
    if role == "auditor":
        return "auditor"
    if role == "manager":
        return "manager"
    raise UserError(f"a role is one of {', '.join(ROLES)}, not {role[:40]!r}")


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise UserError(
            f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters (this one has "
            f"{len(password)})"
        )
    return password


def check_managers(role: Role, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """A manager's addresses, checksummed and deduplicated; none for the other roles."""
    if role != "manager":
        if addresses:
            raise UserError(f"only a manager has manager addresses, not an {role}")
        return ()
    if not addresses:
        raise UserError("a manager needs at least one manager address (--manager 0x...)")
    out: list[str] = []
    for address in addresses:
        if not is_hex_address(address):
            raise UserError(f"{address[:60]!r} is no address (0x and 40 hex digits)")
        checksummed = str(to_checksum_address(address))
        if checksummed not in out:
            out.append(checksummed)
    return tuple(out)


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_DUMMY_SALT: Final = b"\0" * SALT_BYTES


class UserStore:
    """The accounts file. Opens a connection per operation (the web server calls it from its
    worker threads)."""

    def __init__(
        self, path: Path, *, idle_s: int = 1800, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.idle_s = idle_s
        self.clock = clock
        if not path.exists():  # password hashes and session digests: the owner's alone
            if not path.parent.is_dir():
                raise UserError(f"{path.parent} is no folder: the accounts file cannot be made")
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
        with self._db() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def open_existing(cls, path: Path, **kw: object) -> UserStore:
        """The store at `path`, which must exist (the server never creates an empty one)."""
        if not path.is_file():
            raise UserError(
                f"{path} holds no console accounts: create one with "
                f"`disburse console users add NAME --role overseer --users {path}`"
            )
        return cls(path, **kw)  # type: ignore[arg-type]

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            yield db
        finally:
            db.close()

    def _now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ accounts

    def add(self, name: str, role: str, password: str, managers: tuple[str, ...] = ()) -> Account:
        """A new account; refuses a bad name, role, password or address, or a taken name."""
        check_name(name)
        known = check_role(role)
        addresses = check_managers(known, managers)
        check_password(password)
        salt = secrets.token_bytes(SALT_BYTES)
        account = Account(name, known, addresses, self._now())
        with self._db() as db:
            try:
                db.execute(
                    "INSERT INTO accounts (name, role, salt, hash, managers, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        known,
                        salt,
                        _hash(password, salt),
                        ",".join(addresses),
                        account.created,
                    ),
                )
            except sqlite3.IntegrityError:
                raise UserError(f"an account named {name!r} exists already") from None
        return account

    def remove(self, name: str) -> None:
        """Deletes the account and ends its sessions."""
        check_name(name)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount == 0:
                db.execute("ROLLBACK")
                raise UserError(f"no account is named {name!r}")
            db.execute("DELETE FROM sessions WHERE name = ?", (name,))
            db.execute("COMMIT")

    def passwd(self, name: str, password: str) -> None:
        """A new password; the account's sessions end (whoever knew the old one is out)."""
        check_name(name)
        check_password(password)
        salt = secrets.token_bytes(SALT_BYTES)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            changed = db.execute(
                "UPDATE accounts SET salt = ?, hash = ? WHERE name = ?",
                (salt, _hash(password, salt), name),
            ).rowcount
            if changed == 0:
                db.execute("ROLLBACK")
                raise UserError(f"no account is named {name!r}")
            db.execute("DELETE FROM sessions WHERE name = ?", (name,))
            db.execute("COMMIT")

    def get(self, name: str) -> Account | None:
        if not NAME.fullmatch(name):
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, managers, created FROM accounts WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else _account(row)

    def accounts(self) -> list[Account]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name, role, managers, created FROM accounts ORDER BY name"
            ).fetchall()
        return [_account(r) for r in rows]

    # ------------------------------------------------------------------ logging in

    def throttled(self, name: str, client: str) -> Throttled | None:
        """Whether a login for `name` from `client` must be refused now, and for how long."""
        now = self._now()
        with self._db() as db:
            waits = [
                self._wait(db, column, value, now)
                for column, value in (("name", name[:80]), ("client", client[:CLIENT_MAX]))
            ]
        longest = max(waits)
        return Throttled(longest) if longest > 0 else None

    def _wait(self, db: sqlite3.Connection, column: str, value: str, now: int) -> int:
        """Seconds still to wait for failures of this name or client (0: none)."""
        since = now - THROTTLE_WINDOW_S
        # A name's own login ends its slow-down; a client's does not (one good account must
        # not reset the guessing of others' passwords from the same address).
        last_ok = (
            db.execute(
                "SELECT COALESCE(MAX(time), 0) FROM login_log WHERE name = ? AND outcome = 'ok'",
                (value,),
            ).fetchone()[0]
            if column == "name"
            else 0
        )
        count, last = db.execute(
            f"SELECT COUNT(*), MAX(time) FROM login_log WHERE {column} = ? "  # noqa: S608
            "AND outcome IN ('bad-password', 'unknown-user') AND time >= ? AND time >= ?",
            (value, since, last_ok),
        ).fetchone()
        failures = int(count)
        if failures < THROTTLE_AFTER:
            return 0
        delay = min(THROTTLE_BASE_S * 2 ** (failures - THROTTLE_AFTER), THROTTLE_MAX_S)
        wait: int = max(0, int(last) + delay - now)
        return wait

    def login(self, name: str, password: str, client: str) -> Account | Throttled | None:
        """The account when the password is its own (and a row of the log either way); a
        Throttled refusal, without checking the password, while failures slow this name or
        client down; None for a wrong name or password."""
        client = client[:CLIENT_MAX]
        logged_name = name[:80]
        wait = self.throttled(name, client)
        if wait is not None:
            self.log(logged_name, client, "throttled")
            return wait
        with self._db() as db:
            row = (
                db.execute(
                    "SELECT name, role, managers, created, salt, hash FROM accounts WHERE name = ?",
                    (name,),
                ).fetchone()
                if NAME.fullmatch(name)
                else None
            )
        if row is None:
            _hash(password[:PASSWORD_MAX], _DUMMY_SALT)  # the same time as a known name
            self.log(logged_name, client, "unknown-user")
            return None
        if not hmac.compare_digest(_hash(password[:PASSWORD_MAX], row[4]), row[5]):
            self.log(logged_name, client, "bad-password")
            return None
        self.log(name, client, "ok")
        return _account(row[:4])

    def log(self, name: str, client: str, outcome: Outcome) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO login_log (time, name, client, outcome) VALUES (?, ?, ?, ?)",
                (self._now(), name[:80], client[:CLIENT_MAX], outcome),
            )

    def entries(self, *, limit: int = 100, name: str | None = None) -> list[LogEntry]:
        """The latest rows of the login log, newest first."""
        query = "SELECT time, name, client, outcome FROM login_log"
        args: tuple[object, ...] = ()
        if name is not None:
            query += " WHERE name = ?"
            args = (name,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [LogEntry(*r) for r in rows]

    # ------------------------------------------------------------------ sessions

    def start_session(self, name: str, *, sso: bool = False) -> str:
        """A new session for `name`: the token for the cookie (only its digest is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._now()
        with self._db() as db:
            # sessions idle past their end that nobody presented again: gone, not kept forever
            db.execute("DELETE FROM sessions WHERE last_seen < ?", (now - self.idle_s,))
            db.execute(
                "INSERT INTO sessions (token_sha256, name, created, last_seen, sso) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_digest(token), name, now, now, int(sso)),
            )
        return token

    def session(self, token: str, client: str) -> Account | None:
        """The account of a live session, its idle clock restarted; None for a token that is no
        session (forged, ended, or idle too long: that one is logged as expired and deleted)."""
        if not token or len(token) > 128:
            return None
        digest = token_digest(token)
        now = self._now()
        with self._db() as db:
            row = db.execute(
                "SELECT s.name, s.last_seen, a.role, a.managers, a.created FROM sessions s "
                "JOIN accounts a ON a.name = s.name WHERE s.token_sha256 = ?",
                (digest,),
            ).fetchone()
            if row is None:
                return None
            if now - row[1] > self.idle_s:
                db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest,))
                expired = True
            else:
                db.execute(
                    "UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?", (now, digest)
                )
                expired = False
        if expired:
            self.log(row[0], client, "expired")
            return None
        return _account((row[0], row[2], row[3], row[4]))

    def end_session(self, token: str, client: str, *, log: bool = True) -> bool:
        """Logout: the session is deleted (its cookie opens nothing any more) and logged (not
        when a new login replaces it)."""
        if not token or len(token) > 128:
            return False
        digest = token_digest(token)
        with self._db() as db:
            row = db.execute(
                "SELECT name FROM sessions WHERE token_sha256 = ?", (digest,)
            ).fetchone()
            db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest,))
        if row is None:
            return False
        if log:
            self.log(row[0], client, "logout")
        return True


def _account(row: tuple[object, ...]) -> Account:
    name, role, managers, created = row
    return Account(
        str(name),
        check_role(str(role)),
        tuple(a for a in str(managers).split(",") if a),
        int(str(created)),
    )
