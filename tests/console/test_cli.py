"""`disburse console users …` and `disburse console serve`, through the real command line:

├── users add (password from stdin), list, passwd, remove, log: what they store is what the
│   console then accepts (a login through the app), passwords never printed
├── bad input refused, naming it, with nothing stored changed: a bad name, role, manager
│   address, a manager without one, a short password, a taken name, an unknown account
└── serve: refuses without the accounts file or the index, naming them; binds 127.0.0.1:8600
    by default, never believes forwarded headers; trusted header and proxy go together
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from disburse.cli import app as cli_app
from disburse.console.users import UserStore
from tests.console.conftest import BASE_URL, ORIGIN

GOOD = "correct-horse-battery"
ADDRESS = "0x" + "ab" * 20


def _run(deployment: Path, users: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(
        cli_app,
        ["--deployment", str(deployment), "console", *args, "--users", str(users)]
        if args[0] != "serve"
        else ["--deployment", str(deployment), "console", *args],
        input=stdin,
        catch_exceptions=False,
    )


@pytest.fixture
def cli(tmp_path: Path, console_history):
    deployment = console_history.history.deployment_file
    users = tmp_path / "users.db"

    def run(*args: str, stdin: str | None = None):
        return _run(deployment, users, *args, stdin=stdin)

    run.users = users  # type: ignore[attr-defined]
    return run


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def test_add_list_passwd_remove_and_log(cli, console_config, make_app):
    added = cli("users", "add", "olga", "--role", "overseer", "--password-stdin", stdin=GOOD + "\n")
    assert added.exit_code == 0, added.output
    assert "added olga (overseer)" in added.output and GOOD not in added.output
    manager = cli(
        "users",
        "add",
        "mo",
        "--role",
        "manager",
        "--manager",
        ADDRESS,
        "--password-stdin",
        stdin=GOOD + "\n",
    )
    assert manager.exit_code == 0, manager.output
    checksummed = to_checksum_address(ADDRESS)
    assert checksummed != ADDRESS
    assert checksummed in manager.output
    listed = cli("users", "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["name", "role", "manages", "created"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["mo", "manager", checksummed],
        ["olga", "overseer", "-"],
    ]
    store = UserStore(cli.users)
    assert store.login("olga", GOOD, "cli-test") is not None

    # the console accepts what the command stored, and the log shows it
    app = make_app(console_config, users_db=cli.users)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        ok = client.post(
            "/login", data={"name": "olga", "password": GOOD}, headers={"Origin": ORIGIN}
        )
        assert ok.status_code == 303
        client.post("/logout", headers={"Origin": ORIGIN})
    log = cli("users", "log")
    assert log.exit_code == 0
    outcomes = [line.split()[-1] for line in log.output.splitlines()[1:]]
    assert outcomes[:3] == ["logout", "ok", "ok"]
    assert GOOD not in log.output
    only = cli("users", "log", "--name", "mo")
    assert only.output.strip() == "no logins recorded"

    changed = cli("users", "passwd", "olga", "--password-stdin", stdin="another-password\n")
    assert changed.exit_code == 0, changed.output
    assert store.login("olga", GOOD, "cli-test") is None
    assert store.login("olga", "another-password", "cli-test") is not None

    removed = cli("users", "remove", "mo")
    assert removed.exit_code == 0 and "removed mo" in removed.output
    assert [a.name for a in store.accounts()] == ["olga"]


def test_the_password_prompt_asks_twice_and_hides_it(cli):
    typed = cli("users", "add", "pat", "--role", "auditor", stdin=f"{GOOD}\n{GOOD}\n")
    assert typed.exit_code == 0, typed.output
    assert GOOD not in typed.output
    mismatch = cli("users", "add", "pia", "--role", "auditor", stdin=f"{GOOD}\nother-one\n" * 3)
    assert mismatch.exit_code != 0
    assert [a.name for a in UserStore(cli.users).accounts()] == ["pat"]


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (("Bad Name", "--role", "overseer"), GOOD, "an account name is 1 to 64 characters"),
        (("x" * 65, "--role", "overseer"), GOOD, "an account name is 1 to 64 characters"),
        (("ok", "--role", "root"), GOOD, "a role is one of overseer, auditor, manager"),
        (("ok", "--role", "manager"), GOOD, "a manager needs at least one manager address"),
        (("ok", "--role", "manager", "--manager", "0x1234"), GOOD, "'0x1234' is no address"),
        (("ok", "--role", "auditor", "--manager", ADDRESS), GOOD, "only a manager has"),
        (("ok", "--role", "auditor"), "short", "a password is 8 to 1024 characters"),
        (("ok", "--role", "auditor"), "", "a password is 8 to 1024 characters"),
        (("olga", "--role", "auditor"), GOOD, "an account named 'olga' exists already"),
    ],
)
def test_add_refuses_bad_input_by_name_and_changes_nothing(cli, args, stdin, says):
    seed = cli("users", "add", "olga", "--role", "overseer", "--password-stdin", stdin=GOOD)
    assert seed.exit_code == 0
    before = _digest(cli.users)
    result = cli("users", "add", *args, "--password-stdin", stdin=stdin + "\n")
    assert result.exit_code == 2
    assert says in result.output
    assert _digest(cli.users) == before
    assert [a.name for a in UserStore(cli.users).accounts()] == ["olga"]


def test_a_refused_first_account_creates_no_file(cli):
    result = cli("users", "add", "Bad Name", "--role", "overseer", "--password-stdin", stdin=GOOD)
    assert result.exit_code == 2 and not cli.users.exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("remove", "nobody"), "no account is named 'nobody'"),
        (("passwd", "nobody"), "no account is named 'nobody'"),
        (("remove", "Not A Name"), "an account name is 1 to 64 characters"),
        (("passwd", "olga"), "a password is 8 to 1024 characters"),
    ],
)
def test_remove_and_passwd_refuse_unknown_accounts_and_bad_passwords(cli, args, says):
    cli("users", "add", "olga", "--role", "overseer", "--password-stdin", stdin=GOOD)
    before = _digest(cli.users)
    result = (
        cli("users", *args, "--password-stdin", stdin="short\n")
        if args[0] == "passwd"
        else (cli("users", *args))
    )
    assert result.exit_code == 2
    assert says in result.output
    assert _digest(cli.users) == before


def test_commands_on_a_missing_accounts_file_say_how_to_create_one(cli):
    for args in (("list",), ("log",), ("remove", "olga")):
        result = cli("users", *args)
        assert result.exit_code == 2
        assert "holds no console accounts" in result.output
        assert "disburse console users add" in result.output
    assert not cli.users.exists()


# ---------------------------------------------------------------------- serve


def test_serve_refuses_without_accounts_or_index(console_history, index_url, users_db, tmp_path):
    deployment = console_history.history.deployment_file
    missing = tmp_path / "none.db"
    no_users = _run(deployment, missing, "serve", "--index", index_url, "--users", str(missing))
    assert no_users.exit_code == 2
    assert f"{missing} holds no console accounts" in no_users.output
    empty_index = f"sqlite:///{tmp_path / 'empty.db'}"
    no_index = _run(deployment, users_db, "serve", "--index", empty_index, "--users", str(users_db))
    assert no_index.exit_code == 2
    assert "holds no index yet" in no_index.output
    half = _run(
        deployment,
        users_db,
        "serve",
        "--index",
        index_url,
        "--users",
        str(users_db),
        "--trusted-header",
        "X-Remote-User",
    )
    assert half.exit_code == 2 and "--trusted-header and --trusted-proxy go together" in half.output


def test_serve_binds_localhost_by_default_and_ignores_forwarded_headers(
    console_history, index_url, users_db, monkeypatch
):
    import uvicorn

    seen = {}

    def fake_run(app, **kw):
        seen.update(kw, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    deployment = console_history.history.deployment_file
    result = _run(
        deployment,
        users_db,
        "serve",
        "--index",
        index_url,
        "--users",
        str(users_db),
        "--trusted-header",
        "X-Remote-User",
        "--trusted-proxy",
        "10.0.0.1",
    )
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"], seen["proxy_headers"]) == ("127.0.0.1", 8600, False)
    assert seen["timeout_graceful_shutdown"] <= 5  # open /live streams do not hold up Ctrl-C
    config = seen["app"].state.config
    assert config.trusted_header == "X-Remote-User"
    assert config.trusted_proxies == frozenset({"10.0.0.1"})
    assert config.index_url == index_url and config.users_db == users_db
    seen["app"].state.reader.close()


def test_the_accounts_file_is_readable_by_its_owner_only(cli):
    result = cli("users", "add", "olga", "--role", "overseer", "--password-stdin", stdin=GOOD)
    assert result.exit_code == 0
    assert cli.users.stat().st_mode & 0o777 == 0o600


def test_an_accounts_file_in_a_missing_folder_is_refused_by_name(console_history, tmp_path):
    where = tmp_path / "no-such-folder" / "users.db"
    result = _run(
        console_history.history.deployment_file,
        where,
        "users",
        "add",
        "olga",
        "--role",
        "overseer",
        "--password-stdin",
        stdin=GOOD,
    )
    assert result.exit_code == 2
    assert f"{where.parent} is no folder" in result.output
