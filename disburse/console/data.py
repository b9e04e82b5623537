"""What the pages read: one `IndexReader` per app over the index (opened once), its read API
(`IndexQueries`), the cursor, the chain's head, and the settlement tokens' symbol and decimals.

The console never writes to the index and never sends a transaction: the chain is only asked
for its block number and the tokens' symbol()/decimals() (eth_call), each answer cached.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import httpx
from sqlalchemy import select

from disburse.analytics.alerts import Alert, all_alerts
from disburse.chain.deployment import load
from disburse.console.config import ConsoleConfig
from disburse.index import schema
from disburse.index.queries import IndexQueries
from disburse.index.store import RECONCILIATION_KEY, Cursor, IndexStore, read_cursor
from disburse.report.facts import NOT_RECORDED, TokenFacts, load_facts

T = TypeVar("T")
C = TypeVar("C", Cursor, Cursor | None)
log = logging.getLogger(__name__)

HEAD_TTL_S: Final = 1.0
CURSOR_TTL_S: Final = 0.1
"""The /live streams read the index's cursor at most this often, together."""
SYNC_MAX_S: Final = 0.2
"""A per-cursor answer that took longer than this to compute is refreshed in the background when
the cursor moves, the previous one served meanwhile (pages say which block they show)."""
REFRESH_GAP: Final = 2.0
"""A slow answer is refreshed no sooner than this many times its computing time after the last
(an index that moves every block would otherwise keep a core busy recomputing it)."""
RPC_TIMEOUT_S: Final = 0.5
TOKEN_RETRY_S: Final = 60.0
"""A token the chain could not describe is shown in base units this long before asking again."""
PROGRAMS_MAX: Final = 10_000
"""At most this many programs on one page (the portfolio's rows and treemap)."""
_SYMBOL: Final = "0x95d89b41"
_DECIMALS: Final = "0x313ce567"


@dataclass(frozen=True)
class _Held:
    cursor: Cursor | None
    value: Any
    """The computation's (cursor, answer)."""
    took: float
    done: float
    """When it was computed (the reader's clock)."""


@dataclass(frozen=True)
class Reconciliation:
    ok: bool
    differences: int
    block: int | None


@dataclass(frozen=True)
class Freshness:
    """What the freshness banner says."""

    cursor: Cursor | None
    head: int | None
    reconciliation: Reconciliation | None

    @property
    def lag(self) -> int | None:
        if self.cursor is None or self.head is None:
            return None
        return max(0, self.head - self.cursor.number)


@dataclass(frozen=True)
class ProgramRow:
    """A program's identity and money as the index holds them (one row of `programs`)."""

    program_id: int
    title: str
    organisation: str
    category: str
    fiscal_year: int | None
    manager: str
    token: str
    funded: int
    committed: int
    paid: int
    withdrawn: int
    closed: bool

    @property
    def available(self) -> int:
        return self.funded - self.paid - self.withdrawn


class IndexReader:
    """The console's one handle on the index and the chain."""

    def __init__(
        self,
        config: ConsoleConfig,
        *,
        token: Callable[[str], TokenFacts] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.deployment = load(config.deployment)
        self.store = IndexStore.open_existing(config.index_url, self.deployment)
        self._clock = clock
        self._lock = threading.Lock()
        self._head: tuple[float, int | None] | None = None
        self._cursor: tuple[float, Cursor | None] | None = None
        self._tokens: dict[str, tuple[TokenFacts, float | None]] = {}
        """Each token's facts and until when they hold (None: for good; a fallback is retried)."""
        self._http = httpx.Client(timeout=RPC_TIMEOUT_S)
        self._token_override = token
        self.queries = IndexQueries(self.store, token=self.token)
        self._held: dict[str, _Held] = {}
        self._computing: dict[str, threading.Lock] = {}
        self._refreshing: set[str] = set()

    def close(self) -> None:
        self._http.close()
        self.store.close()

    # ------------------------------------------------------------------ the index

    def cursor(self) -> Cursor | None:
        """The last block the index has read (None before its first)."""
        with self.store.engine.connect() as conn:
            return read_cursor(conn)

    def live_cursor(self) -> Cursor | None:
        """The cursor as the /live streams poll it: read at most once per CURSOR_TTL_S however
        many pages are open (a page's own answers read `cursor()`, exact)."""
        now = self._clock()
        with self._lock:
            if self._cursor is not None and now - self._cursor[0] < CURSOR_TTL_S:
                return self._cursor[1]
        with self.store.engine.connect() as conn:
            found = read_cursor(conn)
        with self._lock:
            self._cursor = (now, found)
        return found

    def reconciliation(self) -> Reconciliation | None:
        """The last reconciliation's result, when one was recorded in the index's meta table
        under "reconciliation" (JSON: ok, differences, block); None otherwise."""
        m = schema.meta
        with self.store.engine.connect() as conn:
            row = conn.execute(select(m.c.value).where(m.c.key == RECONCILIATION_KEY)).first()
        if row is None:
            return None
        try:
            found = json.loads(row[0])
            return Reconciliation(
                bool(found["ok"]), int(found.get("differences", 0)), found.get("block")
            )
        except (ValueError, KeyError, TypeError):
            return None

    def freshness(self) -> Freshness:
        return Freshness(self.cursor(), self.head(), self.reconciliation())

    def programs(self) -> list[ProgramRow]:
        """Every program (id order, at most PROGRAMS_MAX): identity, manager and money; read
        once per cursor (every page asks, to know what its viewer may see)."""
        return list(self.per_cursor("programs", self._programs)[1])

    def _programs(self) -> tuple[Cursor | None, tuple[ProgramRow, ...]]:
        p = schema.programs
        with self.store.engine.connect() as conn, conn.begin():
            cursor = read_cursor(conn)
            rows = conn.execute(
                select(
                    p.c.program_id,
                    p.c.title,
                    p.c.organisation,
                    p.c.category,
                    p.c.fiscal_year,
                    p.c.manager,
                    p.c.token,
                    p.c.funded,
                    p.c.committed,
                    p.c.paid,
                    p.c.withdrawn,
                    p.c.closed,
                )
                .order_by(p.c.program_id)
                .limit(PROGRAMS_MAX)
            ).all()
        return cursor, tuple(
            ProgramRow(
                int(r[0]),
                r[1] or f"#{r[0]}",
                r[2] or NOT_RECORDED,
                r[3] or NOT_RECORDED,
                None if r[4] is None else int(r[4]),
                str(r[5]),
                str(r[6]),
                int(r[7]),
                int(r[8]),
                int(r[9]),
                int(r[10]),
                bool(r[11]),
            )
            for r in rows
        )

    def program_manager(self, program_id: int) -> str | None:
        """The on-chain manager of a program; None when the index holds no such program (pages
        call `require_program(viewer, manager)` with it, or answer 404 for None)."""
        p = schema.programs
        with self.store.engine.connect() as conn:
            row = conn.execute(select(p.c.manager).where(p.c.program_id == program_id)).first()
        return None if row is None else str(row[0])

    def top_recipients(self, program_ids: list[int], n: int) -> dict[int, list[tuple[str, int]]]:
        """Each program's n beneficiaries paid most (largest first, ties by address)."""
        r = schema.recipients
        out: dict[int, list[tuple[str, int]]] = {pid: [] for pid in program_ids}
        if not program_ids:
            return out
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(r.c.program_id, r.c.beneficiary, r.c.paid).where(
                    r.c.program_id.in_(program_ids)
                )
            ).all()
        for pid, beneficiary, paid in rows:
            out[int(pid)].append((str(beneficiary), int(paid)))
        for pid, paid_to in out.items():
            paid_to.sort(key=lambda item: (-item[1], item[0]))
            out[pid] = paid_to[:n]
        return out

    def all_alerts(self) -> tuple[Alert, ...]:
        """Every alert at the cursor (each program's, the organisations', the oracles'), red
        first: `disburse.analytics.alerts.all_alerts` over the index's facts, as the budget
        report computes them, once per cursor (the portfolio and the alerts page share them)."""
        return self.per_cursor("alerts", self._all_alerts)[1]

    def _all_alerts(self) -> tuple[Cursor, tuple[Alert, ...]]:
        facts = load_facts(self.store, token=self.token, calendar=self.queries.calendar)
        found = all_alerts(
            facts.programs,
            facts.milestones,
            now=facts.cursor.timestamp,
            thresholds=self.queries.thresholds,
        )
        ranked = sorted(found, key=lambda a: (a.severity != "red", a.program_id or 0))
        return facts.cursor, tuple(ranked)

    def per_cursor(self, name: str, compute: Callable[[], tuple[C, T]]) -> tuple[C, T]:
        """`compute()`'s answer (and the cursor it describes), computed once per cursor and
        shared by every request. When the cursor has moved: computed again at once if that is
        quick (under SYNC_MAX_S last time), else the previous answer is returned while one
        background thread computes the new one (not sooner than REFRESH_GAP times its cost after
        the last), so that no page waits seconds on a big index."""
        cursor = self.cursor()
        if cursor is None:  # nothing read yet: nothing to keep
            return compute()
        with self._lock:
            held = self._held.get(name)
            if held is not None and held.cursor == cursor:
                return cast(tuple[C, T], held.value)
            if held is not None and held.took > SYNC_MAX_S:
                # at most a third of a core spent on refreshing one slow answer
                due = self._clock() - held.done >= REFRESH_GAP * held.took
                if due and name not in self._refreshing:
                    self._refreshing.add(name)
                    threading.Thread(
                        target=self._refresh, args=(name, compute), daemon=True
                    ).start()
                return cast(tuple[C, T], held.value)
            gate = self._computing.setdefault(name, threading.Lock())
        with gate:  # one computation at a time per name; the others then find it held
            with self._lock:
                held = self._held.get(name)
            if held is not None and held.cursor == cursor:
                return cast(tuple[C, T], held.value)
            return self._compute(name, compute)

    def _compute(self, name: str, compute: Callable[[], tuple[C, T]]) -> tuple[C, T]:
        started = self._clock()
        found = compute()
        with self._lock:
            done = self._clock()
            self._held[name] = _Held(found[0], found, done - started, done)
        return found

    def _refresh(self, name: str, compute: Callable[[], tuple[Any, Any]]) -> None:
        try:
            with self._computing.setdefault(name, threading.Lock()):
                self._compute(name, compute)
        except Exception:  # the previous answer stays; the next request tries again
            log.exception("computing %s in the background", name)
        finally:
            with self._lock:
                self._refreshing.discard(name)

    # ------------------------------------------------------------------ the chain

    def _rpc(self, method: str, params: list[Any]) -> Any:
        if self.config.rpc_url is None:
            raise OSError("no RPC URL")
        response = self._http.post(
            self.config.rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        )
        response.raise_for_status()
        body = response.json()
        if "result" not in body:
            raise OSError(str(body.get("error")))
        return body["result"]

    def head(self) -> int | None:
        """The chain's latest block number, cached HEAD_TTL_S; None when the chain does not
        answer (or no RPC URL was given)."""
        now = self._clock()
        with self._lock:
            if self._head is not None and now - self._head[0] < HEAD_TTL_S:
                return self._head[1]
        try:
            number: int | None = int(str(self._rpc("eth_blockNumber", [])), 16)
        except (OSError, httpx.HTTPError, ValueError):
            number = None
        with self._lock:
            self._head = (now, number)
        return number

    def token(self, address: str) -> TokenFacts:
        """A settlement token's symbol and decimals (asked of the chain once, then cached); a
        token the chain cannot describe is shown in base units."""
        if self._token_override is not None:
            return self._token_override(address)
        now = self._clock()
        with self._lock:
            known = self._tokens.get(address)
        if known is not None and (known[1] is None or now < known[1]):
            return known[0]
        try:
            symbol = _abi_string(self._call(address, _SYMBOL))
            decimals = int(self._call(address, _DECIMALS), 16)
            if not 0 <= decimals <= 36:
                raise ValueError(decimals)
        except (OSError, httpx.HTTPError, ValueError):
            # kept a while too: a page asks for every program's token, and a chain that does
            # not answer must not cost a timeout each time
            fallback = TokenFacts(f"units of {address[:10]}…", 0)
            with self._lock:
                self._tokens[address] = (fallback, now + TOKEN_RETRY_S)
            return fallback
        facts = TokenFacts(symbol, decimals)
        with self._lock:
            self._tokens[address] = (facts, None)
        return facts

    def _call(self, address: str, selector: str) -> str:
        return str(self._rpc("eth_call", [{"to": address, "data": selector}, "latest"]))


def _abi_string(result: str) -> str:
    """An ABI-encoded `string` return value (offset, length, bytes)."""
    raw = bytes.fromhex(result.removeprefix("0x"))
    if len(raw) < 64:
        raise ValueError("short string")
    length = int.from_bytes(raw[32:64], "big")
    if length > 64 or len(raw) < 64 + length:
        raise ValueError("bad string")
    return raw[64 : 64 + length].decode("utf-8", errors="replace")
