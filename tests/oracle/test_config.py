"""A node's settings nest its chain profile: `chain:` is exactly a `disburse --profile` file.

├── every profile field a node's YAML sets under chain: reaches the node's client (tip, retries,
│   backoff, request timeout, gas margin): none is dropped on the way
├── the same content, as a file, is a `disburse --profile` file read by disburse's own loader
├── the chain's name defaults to the node's
├── the old flat form is refused, naming where each field moved
└── ORACLE_CHAIN_<FIELD> sets a profile field, ORACLE_<FIELD> a node field
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import oracle.service
from disburse.chain.errors import ConfigurationError, DisburseError
from disburse.chain.profile import ChainProfile
from disburse.cli._session import Session
from oracle.config import NodeSettings, load_settings
from oracle.errors import ConfigError, OracleError

PROFILE = """\
name: besu
rpc_url: http://127.0.0.1:9
chain_id: 1337
tx_type: eip1559
priority_fee_wei: 7
retries: 3
backoff_s: 0.05
request_timeout_s: 2.5
gas_multiplier: 1.5
receipt_timeout_s: 12
poll_interval_s: 0.3
"""


def _node_yaml(tmp_path: Path, chain: str, extra: str = "") -> Path:
    config = tmp_path / "node.yaml"
    config.write_text(
        "name: n\n"
        f"chain:\n{textwrap.indent(chain, '  ')}"
        f"deployment_file: {tmp_path}/d.json\nkeystore: {tmp_path}/k.json\n"
        f"data_dir: {tmp_path}/data\n{extra}"
    )
    return config


class _BuiltError(Exception):
    pass


def test_every_profile_field_of_the_node_yaml_reaches_the_nodes_client(tmp_path, monkeypatch):
    settings = load_settings(_node_yaml(tmp_path, PROFILE, "poll_interval_s: 2.0\n"), env={})
    seen: list[ChainProfile] = []

    class RecordingClient:
        def __init__(self, profile: ChainProfile, **_: Any) -> None:
            seen.append(profile)

        def check_chain(self) -> None:
            raise _BuiltError

    monkeypatch.setattr(NodeSettings, "deployment", lambda self: None)
    monkeypatch.setattr(oracle.service, "read_password", lambda **_: "pw")
    monkeypatch.setattr(oracle.service, "load_account", lambda *_: None)
    monkeypatch.setattr(oracle.service, "ChainClient", RecordingClient)
    with pytest.raises(_BuiltError):
        oracle.service.build(settings)
    (profile,) = seen
    assert profile.priority_fee_wei == 7
    assert profile.retries == 3
    assert profile.backoff_s == 0.05
    assert profile.request_timeout_s == 2.5
    assert profile.gas_multiplier == 1.5
    assert profile.receipt_timeout_s == 12
    assert profile.poll_interval_s == 0.3  # the client's receipt polling
    assert settings.poll_interval_s == 2.0  # the node's own chain polling


def test_the_real_client_takes_retries_and_timeout_from_the_node_yaml(tmp_path):
    from disburse.chain.client import ChainClient
    from disburse.chain.errors import ChainUnavailableError

    settings = load_settings(_node_yaml(tmp_path, PROFILE), env={})
    client = ChainClient(settings.chain)
    assert client.w3.provider._request_kwargs["timeout"] == 2.5  # type: ignore[attr-defined]
    with pytest.raises(ChainUnavailableError):
        client.check_chain()  # port 9: refused, after the 3 retries of the profile


def test_the_chain_section_is_a_disburse_profile_file(tmp_path):
    settings = load_settings(_node_yaml(tmp_path, PROFILE), env={})
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(PROFILE)
    session = Session(
        deployment_file=tmp_path / "d.json",
        rpc_url="http://127.0.0.1:8545",
        profile_file=profile_file,
        keystore=None,
        password_file=None,
        password_env=None,
    )
    session._cache["deployment"] = SimpleNamespace(chain_id=1)  # the profile names its own
    assert session.profile() == settings.chain


def test_the_chain_name_defaults_to_the_nodes(tmp_path):
    chain = "rpc_url: http://127.0.0.1:9\nchain_id: 5\n"
    assert load_settings(_node_yaml(tmp_path, chain), env={}).chain.name == "n"


@pytest.mark.parametrize("field", ["rpc_url", "chain_id", "tx_type", "retries", "max_batch_gas"])
def test_the_old_flat_form_says_where_the_field_moved(tmp_path, field):
    config = _node_yaml(tmp_path, "rpc_url: http://127.0.0.1:9\nchain_id: 5\n", f"{field}: {{}}\n")
    with pytest.raises(ConfigError, match=f"{field} moved under chain: .*disburse --profile"):
        load_settings(config, env={})


def test_environment_sets_profile_fields_under_chain(tmp_path):
    config = _node_yaml(tmp_path, "rpc_url: http://127.0.0.1:9\nchain_id: 5\n")
    env = {
        "ORACLE_CHAIN_RETRIES": "9",
        "ORACLE_CHAIN_RPC_URL": "http://h:1",
        "ORACLE_API_PORT": "9",
    }
    settings = load_settings(config, env=env)
    assert (settings.chain.retries, settings.chain.rpc_url, settings.api_port) == (
        9,
        "http://h:1",
        9,
    )
    with pytest.raises(ConfigError, match="rpc_url moved under chain:"):
        load_settings(config, env={"ORACLE_RPC_URL": "http://h:1"})


def test_one_exception_root():
    from oracle import keys

    assert issubclass(OracleError, DisburseError)
    assert issubclass(ConfigError, ConfigurationError) and issubclass(ConfigError, ValueError)
    import oracle.errors
    from disburse.chain.errors import KeystoreError

    assert oracle.errors.KeystoreError is KeystoreError
    assert keys.KeystoreError is KeystoreError
