"""The embedded local chain: the native anvil binary as a subprocess, its state saved to a file so
that a restart (even after `kill -9`) loses nothing.

The binary is started directly, in its own process group, never through the Node wrapper in
node_modules/.bin (a signal to the wrapper leaves anvil running and holding its port).

    python -m disburse.chain.localchain --state chain.json --port 8545 -- COMMAND ARGS…

runs COMMAND with the chain up and stops the chain afterwards, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from disburse.chain.errors import ChainUnavailableError, ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GAS_LIMIT = 30_000_000
"""The block gas limit of every chain started here (a permissioned network sets its own in
genesis; brownie's default development chain has 12,000,000)."""
STATE_INTERVAL_S = 1
"""How often anvil writes its state file (seconds)."""
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def anvil_binary() -> Path:
    """The native anvil: .tools/bin/anvil (linked by `make setup`) or the platform package."""
    linked = PROJECT_ROOT / ".tools" / "bin" / "anvil"
    if linked.exists():
        return linked.resolve()
    arch = _ARCH.get(platform.machine().lower(), platform.machine())
    system = sys.platform if sys.platform != "linux2" else "linux"
    candidate = (
        PROJECT_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    )
    if candidate.exists():
        return candidate
    found = shutil.which("anvil")
    if found and "node_modules/.bin" not in found:
        return Path(found)
    raise ConfigurationError("anvil is not installed: run `make setup` (npm ci installs it)")


class LocalChain:
    """One anvil process with its state file."""

    def __init__(
        self,
        *,
        state_file: Path | None,
        port: int = 8545,
        chain_id: int = 31337,
        accounts: int = 10,
        free_gas: bool = False,
        block_time: float | None = None,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        base_fee: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.state_file = state_file
        self.port = port
        self.chain_id = chain_id
        self.accounts = accounts
        self.free_gas = free_gas
        self.block_time = block_time
        self.gas_limit = gas_limit
        self.base_fee = base_fee
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [
            str(anvil_binary()),
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--accounts",
            str(self.accounts),
            "--gas-limit",
            str(self.gas_limit),
        ]
        if self.free_gas:
            # Like a permissioned chain with free gas: no base fee, price zero.
            args += ["--gas-price", "0", "--block-base-fee-per-gas", "0"]
        elif self.base_fee is not None:
            args += ["--block-base-fee-per-gas", str(self.base_fee)]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        if self.state_file is not None:
            args += ["--state", str(self.state_file), "--state-interval", str(STATE_INTERVAL_S)]
        return [*args, *self.extra_args]

    def start(self, *, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if self.ready():
            raise ChainUnavailableError(
                f"port {self.port} already answers JSON-RPC: another chain is running there"
            )
        self.process = subprocess.Popen(  # noqa: S603 (our own anvil binary, no shell)
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, killed as a whole
        )
        limit = time.monotonic() + timeout
        while time.monotonic() < limit:
            if self.process.poll() is not None:
                raise ChainUnavailableError(
                    f"anvil exited with {self.process.returncode} (is port {self.port} in use?)"
                )
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ChainUnavailableError(f"anvil did not answer on {self.url} within {timeout:g} s")

    def ready(self) -> bool:
        try:
            response = requests.post(
                self.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=0.5,
            )
            return response.ok
        except requests.RequestException:
            return False

    def _quiesce(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            for method, params in (("evm_setAutomine", [False]), ("evm_setIntervalMining", [0])):
                requests.post(
                    self.url,
                    json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                    timeout=2,
                )
        except requests.RequestException:
            return  # not answering: nothing is being mined either
        time.sleep(STATE_INTERVAL_S + 0.5)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """`kill -9`: no chance to save state beyond what the state interval already wrote."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (anvil writes its state), then SIGKILL if it lingers. With a state file,
        mining stops first and one state interval passes: anvil's own dump at SIGTERM, taken
        while blocks are being mined, can hold account state of blocks it did not keep (a
        restart then shows storage and nonces that no block or event explains; measured: 21 of
        25 stops under load), while a dump of a quiet chain is whole. A transaction sent in
        that last interval stays in the pool and is lost with it, as in any restart."""
        if self.state_file is not None and self.process is not None:
            self._quiesce()
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LocalChain:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a command with the local anvil chain up.")
    parser.add_argument("--state", type=Path, default=None, help="state file (kept across runs)")
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--chain-id", type=int, default=31337)
    parser.add_argument("--free-gas", action="store_true", help="gas price 0, base fee 0")
    parser.add_argument("--gas-limit", type=int, default=DEFAULT_GAS_LIMIT, help="block gas limit")
    parser.add_argument("--base-fee", type=int, default=None, help="base fee per gas (wei)")
    parser.add_argument("--block-time", type=float, default=None, help="seconds between blocks")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS…")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command else []
    if not command:
        parser.error("give the command to run after --")
    chain = LocalChain(
        state_file=args.state,
        port=args.port,
        chain_id=args.chain_id,
        free_gas=args.free_gas,
        gas_limit=args.gas_limit,
        base_fee=args.base_fee,
        block_time=args.block_time,
    )
    chain.start()
    child: subprocess.Popen[bytes] | None = None
    try:
        child = subprocess.Popen(command)  # noqa: S603 (the command the user gave us to run)
        return child.wait()
    except KeyboardInterrupt:
        if child is not None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        return 130
    finally:
        chain.stop()


if __name__ == "__main__":
    sys.exit(main())
