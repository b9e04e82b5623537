"""Console fixtures: a real index of a real chain history, real accounts, real HTTP.

- `history`: the audit's history (tests/audit/conftest.py: programs 1 and 2 by `roles.manager`,
  every kind of event), plus `console_history`: a program 3 ("Harbour crane overhaul", GSDF) by
  a second program manager (`OTHER_MANAGER`, granted the role through the council), funded,
  with one milestone released, so that a manager's view has programs it must not show;
- `index_url`: `disburse index` of that history into a SQLite file (module-scoped);
- `users_db`: accounts `olive` (overseer), `audrey` (auditor), `manny` (manager of
  `roles.manager`'s programs 1 and 2), `mona` (manager of program 3); passwords in `PASSWORDS`;
- `console_config`, `console_app` (create_app over them), `console` (a TestClient, base URL
  http://console.test, one per test, no cookies) and `login(client, role)` which logs that
  client in through the real form and returns it.

A test that needs other settings (idle time, trusted header) builds its own app with
`make_app(console_config, **changes)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from brownie import accounts, chain, web3
from eth_utils import keccak
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from disburse.chain.attestations import external_ref, milestone_id
from disburse.cli import app as cli_app
from disburse.console.app import create_app
from disburse.console.config import ConsoleConfig
from disburse.console.data import IndexReader
from disburse.console.users import UserStore
from tests.audit.conftest import History, history, units  # noqa: F401 - the shared history
from tests.conftest import DAY, evidence, milestone_input
from tests.programs import TEST_FACTS

BASE_URL = "http://console.test"
ORIGIN = BASE_URL
PASSWORDS = {
    "overseer": ("olive", "olive-password-1"),
    "auditor": ("audrey", "audrey-password-1"),
    "manager": ("manny", "manny-password-1"),
    "other_manager": ("mona", "mona-password-1"),
}
PROGRAM_C = replace(
    TEST_FACTS,
    title="Harbour crane overhaul",
    organisation="GSDF",
    category="procurement",
    fiscal_year=2026,
    baseline=units(30_000),
)


@dataclass(frozen=True)
class ConsoleHistory:
    history: History
    manager: str
    """roles.manager: programs 1 and 2."""
    other_manager: str
    """The second manager: program 3."""


@pytest.fixture(scope="module")
def console_history(history: History, roles: Any) -> ConsoleHistory:  # noqa: F811
    """The audit's history and program 3 by a second manager (see the module docstring)."""
    other = accounts.add(keccak(text="console-second-manager").hex())
    roles.admin.transfer(other, 10 * 10**18)
    escrow, council, members = history.escrow, history.council, history.members
    grant = escrow.grantRole.encode_input(escrow.PROGRAM_MANAGER_ROLE(), other)
    tx = council.propose(
        escrow, grant, "second manager", chain.time() + 7 * DAY, {"from": members[0]}
    )
    council.approve(tx.return_value, {"from": members[0]})
    council.approveAndExecute(tx.return_value, grant, {"from": members[1]})
    token = history.token
    token.mint(other, units(100_000), {"from": roles.admin})
    token.approve(escrow, units(100_000), {"from": other})
    escrow.createProgram(token, roles.treasury, 60, PROGRAM_C.as_arg(), {"from": other})
    program = int(escrow.programCount())
    escrow.fund(program, units(30_000), {"from": other})
    escrow.registerMilestone(
        program,
        milestone_input("C/M1", roles.beneficiary2, units(12_000), deadline=chain.time() + DAY),
        {"from": other},
    )
    ref = bytes(milestone_id(program, external_ref("C/M1")))
    epoch = escrow.committee()[2]
    for oracle in history.oracles[:2]:
        escrow.attest(ref, evidence("C/M1"), epoch, 0, {"from": oracle})
    chain.sleep(120)
    chain.mine()
    escrow.release(ref, {"from": roles.outsider})
    return ConsoleHistory(history, str(roles.manager), str(other))


def run_cli(deployment: Path, *args: str, input: str | None = None) -> Any:
    """`disburse --deployment … --rpc-url … ARGS` through the CLI runner."""
    return CliRunner().invoke(
        cli_app,
        ["--deployment", str(deployment), "--rpc-url", str(web3.provider.endpoint_uri), *args],
        input=input,
        catch_exceptions=False,
    )


@pytest.fixture(scope="module")
def index_url(console_history: ConsoleHistory, tmp_path_factory: Any) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'ledger.db'}"
    result = run_cli(console_history.history.deployment_file, "index", "--db", url)
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture(scope="module")
def users_db(console_history: ConsoleHistory, tmp_path_factory: Any) -> Path:
    path = tmp_path_factory.mktemp("console-users") / "users.db"
    store = UserStore(path)
    for role, (name, password) in PASSWORDS.items():
        if role == "manager":
            store.add(name, "manager", password, (console_history.manager,))
        elif role == "other_manager":
            store.add(name, "manager", password, (console_history.other_manager,))
        else:
            store.add(name, role, password)
    return path


@pytest.fixture(scope="module")
def console_config(
    console_history: ConsoleHistory, index_url: str, users_db: Path
) -> ConsoleConfig:
    return ConsoleConfig(
        index_url=index_url,
        deployment=console_history.history.deployment_file,
        users_db=users_db,
        rpc_url=str(web3.provider.endpoint_uri),
        poll_s=0.05,
        public_origin=BASE_URL,  # the test client's host name, which the console must accept
    )


@pytest.fixture(scope="module")
def reader(console_config: ConsoleConfig) -> Iterator[IndexReader]:
    """The app's IndexReader (one per module: it opens the index once)."""
    found = IndexReader(console_config)
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="module")
def make_app(reader: IndexReader) -> Callable[..., FastAPI]:
    """create_app over `config` with some settings changed (the module's reader shared)."""

    def _make(config: ConsoleConfig, **changes: Any) -> FastAPI:
        live_max_s = changes.pop("live_max_s", 2.0)
        users = changes.pop("users", None)
        changed = replace(config, **changes)
        return create_app(
            changed,
            reader=reader,
            users=users or UserStore(changed.users_db, idle_s=changed.session_idle_s),
            live_max_s=live_max_s,
        )

    return _make


@pytest.fixture(scope="module")
def console_app(console_config: ConsoleConfig, make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app(console_config)


@pytest.fixture
def console(console_app: FastAPI) -> Iterator[TestClient]:
    """A browser-like client of the console: no cookies yet, HTML accepted."""
    with TestClient(
        console_app, base_url=BASE_URL, follow_redirects=False, headers={"Accept": "text/html"}
    ) as client:
        yield client


def login(client: TestClient, role: str) -> TestClient:
    """Logs `client` in as the account of `role` (overseer, auditor, manager, other_manager)
    through POST /login, as a browser on the console's own page would."""
    name, password = PASSWORDS[role]
    response = client.post(
        "/login",
        data={"name": name, "password": password, "next": "/"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 303, response.text
    assert client.cookies.get("console_session")
    return client


@pytest.fixture(name="login")
def login_fixture() -> Callable[[TestClient, str], TestClient]:
    """`login(client, role)` as a fixture."""
    return login


# ---------------------------------------------------------------------- reading pages


class _Tables(HTMLParser):
    """The text of each cell of each row of the <table id=...> elements of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._stack: list[str | None] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._stack.append(dict(attrs).get("id"))
            if self._stack[-1]:
                self.tables.setdefault(str(self._stack[-1]), [])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack:
            self._stack.pop()
        elif tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._stack and self._stack[-1]:
                self.tables[str(self._stack[-1])].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows (cells' text, whitespace collapsed) of the table with this id; KeyError
    when the page has no such table."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables[table_id]
