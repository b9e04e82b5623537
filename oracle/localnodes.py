"""Oracle nodes as local processes: for the demo, benchmarks and end-to-end tests, where several
nodes (each with its own keystore, journal, data folder and API port) run on one machine against
one chain. Production nodes are started by their operators with `oracle run`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from oracle.config import MOVED_TO_CHAIN
from oracle.keys import import_keystore

ORACLE = Path(sys.executable).parent / "oracle"
PASSWORD = "correct horse battery staple 7"  # noqa: S105 (local demo and test nodes only)
"""The keystore password of local nodes (they are for demos and tests, never production)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeProcess:
    """One `oracle run` process and what it needs."""

    name: str
    home: Path
    private_key: str
    settings: dict[str, Any]
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.home / "node.log"

    @property
    def config(self) -> Path:
        return self.home / "node.yaml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings['api_port']}"

    @property
    def journal_path(self) -> Path:
        return Path(self.settings["data_dir"]) / "journal.sqlite3"

    def write_config(self, **overrides: Any) -> None:
        self.settings.update(overrides)
        self.config.write_text(yaml.safe_dump(self.settings))

    def env(self, fault: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
        env["ORACLE_KEY_PASSWORD"] = PASSWORD
        if fault:
            env["ORACLE_FAULT_AT"] = fault
        return env

    def add_api_key(
        self,
        submitter: str,
        *,
        role: str = "inspector",
        scope: tuple[str, ...] = ("--any-program",),
    ) -> str:
        """A scoped API key (`oracle apikeys add`): role `oracle` for a peer node's hand-over."""
        out = subprocess.run(  # noqa: S603 (our own `oracle` entry point, no shell)
            [
                str(ORACLE),
                "apikeys",
                "add",
                submitter,
                "--role",
                role,
                *scope,
                "--config",
                str(self.config),
            ],
            capture_output=True,
            text=True,
            env=self.env(),
            check=True,
        )
        return out.stdout.strip()

    def start(self, *, fault: str | None = None, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own `oracle` entry point)
            [str(ORACLE), "run", "--config", str(self.config), "--log-level", "DEBUG"],
            stdout=log,
            stderr=log,
            env=self.env(fault),
        )
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 30.0) -> None:
        limit = time.monotonic() + timeout
        while time.monotonic() < limit:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}):\n{self.logs()[-3000:]}"
                )
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {timeout} s:\n{self.logs()[-3000:]}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.api_key}, timeout=30)


def make_node(
    *,
    name: str,
    root: Path,
    private_key: str,
    rpc_url: str,
    chain_id: int,
    deployment_file: Path,
    submitter: str = "ministry-inspector",
    submitter_scope: tuple[str, ...] = ("--any-program",),
    chain: Mapping[str, Any] | None = None,
    **settings: Any,
) -> NodeProcess:
    """A node whose YAML nests its chain profile under `chain:`. Profile fields (`tx_type`,
    `receipt_timeout_s`, …) may be given in `chain` or, for brevity, among `settings`: they are
    written under `chain:` either way."""
    profile: dict[str, Any] = {"rpc_url": rpc_url, "chain_id": chain_id, "receipt_timeout_s": 10}
    profile.update(chain or {})
    profile.update({k: settings.pop(k) for k in list(settings) if k in MOVED_TO_CHAIN})
    home = root / name
    home.mkdir(parents=True)
    keystore = home / "key.json"
    import_keystore(keystore, private_key, PASSWORD, scrypt_n=2**10)
    node = NodeProcess(
        name=name,
        home=home,
        private_key=private_key,
        settings={
            "name": name,
            "chain": profile,
            "deployment_file": str(deployment_file),
            "keystore": str(keystore),
            "data_dir": str(home / "data"),
            "api_port": free_port(),
            "poll_interval_s": 0.2,
            **settings,
        },
    )
    node.write_config()
    node.api_key = node.add_api_key(submitter, role="inspector", scope=submitter_scope)
    return node
