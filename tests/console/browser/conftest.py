"""The console in a real browser: Debian's Chromium driven by Playwright (its driver only; its
own browser download never runs), against `disburse console serve` and `disburse index --follow`
as real processes over a real index of the console's chain history (tests/console/conftest.py).

- `served`: the index built once, then kept current by `disburse index --follow`, and the
  console serving it on a free port of 127.0.0.1; both stopped after the module;
- `browser`: Chromium, headless; missing, the tests fail under CI (CI=true: it installs the
  browser) and are skipped elsewhere with how to install it;
- `page`: a fresh browser context (no cookies) whose every request is checked: one that would
  leave the console's own address is aborted and fails the test;
- `signed_in(page, role)`: logs in through the login form as a person would;
- `shot(page, name)`: a full-page screenshot in reports/console/NAME.png for reviewers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from brownie import web3

from tests.console.conftest import PASSWORDS, ConsoleHistory

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "reports" / "console"
DISBURSE = str(Path(sys.executable).parent / "disburse")
HOW_TO_INSTALL = (
    "install Debian's Chromium (`sudo apt-get install chromium`) or set DISBURSE_CHROMIUM to "
    "its path; Playwright's own browser download is never used"
)


def chromium_path() -> str | None:
    found = os.environ.get("DISBURSE_CHROMIUM") or shutil.which("chromium")
    return found if found and Path(found).is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    """http://127.0.0.1:PORT, the console's own origin."""
    index_url: str
    history: ConsoleHistory
    logs: tuple[Path, Path]
    """The console's and the indexer's output."""

    def log_text(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.logs
        )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], served_logs: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the console exited {process.returncode}:\n{served_logs}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the console did not answer /healthz within 60 s:\n{served_logs}")


@pytest.fixture(scope="module")
def served(
    console_history: ConsoleHistory, users_db: Path, tmp_path_factory: Any
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("served")
    index_url = f"sqlite:///{home / 'ledger.db'}"
    base = [
        DISBURSE,
        "--deployment",
        str(console_history.history.deployment_file),
        "--rpc-url",
        str(web3.provider.endpoint_uri),
    ]
    built = subprocess.run(
        [*base, "index", "--db", index_url], capture_output=True, text=True, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    port = free_port()
    logs = (home / "console.log", home / "indexer.log")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with logs[1].open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [*base, "index", "--db", index_url, "--follow", "--interval", "0.2"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        with logs[0].open("wb") as out:
            console = subprocess.Popen(
                [
                    *base,
                    "console",
                    "serve",
                    "--index",
                    index_url,
                    "--users",
                    str(users_db),
                    "--port",
                    str(port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            processes.append(console)
        served = Served(f"http://127.0.0.1:{port}", index_url, console_history, logs)
        _wait_healthy(served.url, console, served.log_text())
        yield served
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium: CI must run the browser tests; {HOW_TO_INSTALL}")
        pytest.skip(f"no Chromium: {HOW_TO_INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A page in a fresh context; any request beyond the console's origin is aborted and fails
    the test (every script, style and font must come from the console itself)."""
    context = browser.new_context(
        locale="en-GB", timezone_id="Europe/London", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    escaped: list[str] = []
    context.allowed = [served.url]  # a test may add another 127.0.0.1 origin it serves

    def _guard(route: Any) -> None:
        url = route.request.url
        if url.startswith("data:") or any(
            url == origin or url.startswith(origin + "/") for origin in context.allowed
        ):
            route.continue_()
        else:
            escaped.append(url)
            route.abort()

    context.route("**/*", _guard)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()
    assert not escaped, f"requests that left the console's address: {escaped}"


def signed_in(page: Any, served: Served, role: str, *, path: str = "/") -> Any:
    """Logs in through the login form, as a person would, and lands on `path`."""
    name, password = PASSWORDS[role]
    page.goto(f"{served.url}{path}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    # Not "networkidle": the page keeps its server-sent events stream open.
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state("load")
    return page


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
