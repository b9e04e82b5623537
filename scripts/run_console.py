"""`make console`'s entry point: the demo's story on the local chain (scripts/demo.py), then
the ledger index kept current (`disburse index --follow`) and the overseer console serving it
(`disburse console serve`), until Ctrl-C. Prints the console's address and a demo login whose
password is new on every run.

Runs on the chain that `python -m disburse.chain.localchain` started, like scripts/run_demo.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from scripts.run_demo import run as run_demo

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
DISBURSE = str(Path(sys.executable).parent / "disburse")
PORT = int(os.environ.get("CONSOLE_PORT", "8600"))
LOGIN = "overseer"


def _people_env() -> dict[str, str]:
    return {**os.environ, "DISBURSE_DEPLOYMENT": str(DEMO / "deployment.json")}


def _account(users: Path, password: str) -> None:
    for stale in (
        users,
        users.with_name(users.name + "-wal"),
        users.with_name(users.name + "-shm"),
    ):
        stale.unlink(missing_ok=True)
    subprocess.run(
        [
            DISBURSE,
            "console",
            "users",
            "add",
            LOGIN,
            "--role",
            "overseer",
            "--password-stdin",
            "--users",
            str(users),
        ],
        input=password + "\n",
        text=True,
        check=True,
        env=_people_env(),
    )


def _wait_up(url: str, console: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and console.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"the console did not start at {url}")


def serve() -> None:
    users = DEMO / "console-users.db"
    password = secrets.token_urlsafe(12)
    _account(users, password)
    env = _people_env()
    processes = [
        subprocess.Popen([DISBURSE, "index", "--follow", "--interval", "0.5"], env=env),
        subprocess.Popen(
            [DISBURSE, "console", "serve", "--users", str(users), "--port", str(PORT)], env=env
        ),
    ]
    url = f"http://127.0.0.1:{PORT}"
    # Ctrl-C reaches the whole process group at once: the children may be gone before this
    # process notices, so the signal itself, not their exit, says that the user stopped us.
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        _wait_up(url, processes[1])
        print(f"\nThe overseer console: {url}/  login {LOGIN!r}, password {password!r}")
        print("Chain, index and console keep running until Ctrl-C.", flush=True)
        while not stopping.wait(0.5):
            if any(p.poll() is not None for p in processes) and not stopping.wait(1.0):
                raise SystemExit("the indexer or the console stopped: see its output above")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    run_demo()
    serve()
