"""The verifier's command line: keys from files or environment variables only, API keys shown
once, settings errors named, all through the real `oracle` entry point."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from oracle.cli import app
from oracle.journal import Journal

runner = CliRunner()
PASSWORD = "a long enough password"


def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(PASSWORD + "\n")
    return path


def test_keys_new_creates_an_encrypted_keystore_readable_only_by_its_owner(tmp_path):
    keystore = tmp_path / "key.json"
    out = runner.invoke(
        app,
        [
            "keys",
            "new",
            "--keystore",
            str(keystore),
            "--password-file",
            str(password_file(tmp_path)),
        ],
    )
    assert out.exit_code == 0, out.output
    address = out.output.strip()
    assert address.startswith("0x") and len(address) == 42
    assert stat.S_IMODE(os.stat(keystore).st_mode) == 0o600
    document = json.loads(keystore.read_text())
    assert "crypto" in document and PASSWORD not in keystore.read_text()
    shown = runner.invoke(app, ["keys", "address", "--keystore", str(keystore)])
    assert shown.output.strip().lower() == address.lower()


def test_keys_new_refuses_to_overwrite_a_keystore(tmp_path):
    keystore = tmp_path / "key.json"
    args = [
        "keys",
        "new",
        "--keystore",
        str(keystore),
        "--password-file",
        str(password_file(tmp_path)),
    ]
    assert runner.invoke(app, args).exit_code == 0
    before = keystore.read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "error:" in again.output
    assert keystore.read_bytes() == before


def test_keys_import_reads_the_private_key_from_a_file(tmp_path):
    account = Account.create()
    key_file = tmp_path / "secret.hex"
    key_file.write_text(account.key.hex())
    out = runner.invoke(
        app,
        [
            "keys",
            "import",
            "--keystore",
            str(tmp_path / "k.json"),
            "--private-key-file",
            str(key_file),
            "--password-env",
            "TEST_ORACLE_PW",
        ],
        env={"TEST_ORACLE_PW": PASSWORD},
    )
    assert out.exit_code == 0, out.output
    assert out.output.strip() == account.address
    assert account.key.hex() not in out.output


def test_a_password_cannot_be_given_on_the_command_line(tmp_path):
    out = runner.invoke(
        app, ["keys", "new", "--keystore", str(tmp_path / "k.json"), "--password", "x"]
    )
    assert out.exit_code != 0
    assert not (tmp_path / "k.json").exists()


def test_keys_new_without_a_password_source_names_the_variable(tmp_path):
    out = runner.invoke(
        app,
        ["keys", "new", "--keystore", str(tmp_path / "k.json")],
        env={"ORACLE_KEY_PASSWORD": ""},
    )
    assert out.exit_code == 2
    assert "ORACLE_KEY_PASSWORD" in out.output
    assert not (tmp_path / "k.json").exists()


def settings_file(tmp_path: Path) -> Path:
    config = tmp_path / "node.yaml"
    config.write_text(
        "name: n\nchain:\n  rpc_url: http://127.0.0.1:1\n  chain_id: 1\n"
        f"deployment_file: {tmp_path / 'deployment.json'}\n"
        f"keystore: {tmp_path / 'key.json'}\ndata_dir: {tmp_path / 'data'}\n"
    )
    return config


def test_apikeys_add_shows_the_key_once_and_stores_only_its_hash(tmp_path):
    config = settings_file(tmp_path)
    out = runner.invoke(
        app,
        [
            "apikeys",
            "add",
            "ministry",
            "--role",
            "inspector",
            "--any-program",
            "--config",
            str(config),
        ],
    )
    assert out.exit_code == 0, out.output
    key = out.stdout.strip()
    assert key.startswith("ok_")
    database = tmp_path / "data" / "journal.sqlite3"
    assert key.encode() not in database.read_bytes()
    with Journal.open(database) as journal:
        assert journal.authenticate(key) == "ministry"
    revoked = runner.invoke(app, ["apikeys", "revoke", "ministry", "--config", str(config)])
    assert revoked.exit_code == 0
    with Journal.open(database) as journal:
        assert journal.authenticate(key) is None


def test_run_with_incomplete_settings_names_what_is_missing(tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text("name: n\nchain:\n  chain_id: 5\n")
    out = runner.invoke(app, ["run", "--config", str(config)])
    assert out.exit_code == 2
    for field in ("rpc_url", "deployment_file", "keystore", "data_dir"):
        assert field in out.output


def _settings(tmp_path: Path, extra: str) -> Path:
    config = tmp_path / "node.yaml"
    config.write_text(
        "name: n\nchain:\n  chain_id: 5\n  rpc_url: http://127.0.0.1:9\n"
        f"deployment_file: {tmp_path}/d.json\nkeystore: {tmp_path}/k.json\n"
        f"data_dir: {tmp_path}/data\n{extra}"
    )
    return config


def test_relay_submission_without_a_relayer_is_refused_unless_the_node_relays(tmp_path):
    from oracle.config import load_settings
    from oracle.errors import ConfigError

    refused = _settings(tmp_path, "submission: relay\n")
    try:
        load_settings(refused, env={})
    except ConfigError as exc:
        assert "submission 'relay' needs relayer_url" in str(exc)
    else:
        raise AssertionError("a relaying submission without a relayer was accepted")
    own = load_settings(_settings(tmp_path, "submission: relay\nrelay: true\n"), env={})
    assert own.relayer_url is None and own.relay


def test_batch_sizes_out_of_range_are_named(tmp_path):
    from oracle.config import load_settings
    from oracle.errors import ConfigError

    for extra, field in (
        ("release_batch_size: 0\n", "release_batch_size"),
        ("release_batch_size: 501\n", "release_batch_size"),
        ("worker_batch_size: 0\n", "worker_batch_size"),
    ):
        try:
            load_settings(_settings(tmp_path, extra), env={})
        except ConfigError as exc:
            assert field in str(exc)
        else:
            raise AssertionError(f"{extra.strip()} was accepted")


def test_apikeys_add_scopes_the_key_to_a_role_and_programs_or_milestones(tmp_path):
    config = settings_file(tmp_path)
    milestone = "0x" + "ab" * 32
    out = runner.invoke(
        app,
        [
            "apikeys",
            "add",
            "shipyard",
            "--role",
            "contractor",
            "--program",
            "3",
            "--program",
            "5",
            "--milestone",
            milestone,
            "--config",
            str(config),
        ],
    )
    assert out.exit_code == 0, out.output
    key = out.stdout.strip().splitlines()[-1]
    with Journal.open(tmp_path / "data" / "journal.sqlite3") as journal:
        found = journal.authenticate_submitter(key)
    assert found is not None
    assert (found.name, found.role, found.programs, found.milestones) == (
        "shipyard",
        "contractor",
        (3, 5),
        (milestone,),
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--role", "inspector"], "--any-program"),
        (["--role", "inspector", "--any-program", "--program", "1"], "exclude each other"),
        (["--role", "Inspector!", "--any-program"], "role"),
        (["--any-program"], "--role"),
    ],
)
def test_apikeys_add_refuses_a_key_without_a_clear_scope(tmp_path, args, words):
    config = settings_file(tmp_path)
    out = runner.invoke(app, ["apikeys", "add", "someone", *args, "--config", str(config)])
    assert out.exit_code == 2
    assert words in out.output
