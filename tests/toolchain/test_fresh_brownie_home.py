"""The tests do not depend on the user's ~/.brownie: with HOME pointed at an empty folder (so
brownie writes its fresh defaults, a 12,000,000 block gas limit among them), a test session
still gets the chain parameters of tests/conftest.py.

The probe runs as its own pytest session; the fresh settings' development port is moved to a
free one (only the port: the outer session's chain holds 8545), and nothing else is touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from oracle.localnodes import free_port

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("probe_chain.py")


def _fresh_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, HOME=str(home))
    env.pop("BROWNIE_NETWORK", None)
    return env


def test_a_fresh_brownie_home_still_gets_the_projects_chain_parameters(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = _fresh_env(home)
    subprocess.run(  # brownie writes its default settings into the fresh ~/.brownie
        [sys.executable, "-c", "import brownie"], cwd=ROOT, env=env, check=True, timeout=120
    )
    config_file = home / ".brownie" / "network-config.yaml"
    config = yaml.safe_load(config_file.read_text())
    development = next(n for n in config["development"] if n["id"] == "development")
    assert development["cmd_settings"]["gas_limit"] == 12_000_000  # what brownie would launch
    development["cmd_settings"]["port"] = free_port()
    config_file.write_text(yaml.safe_dump(config))

    probe = subprocess.run(
        [sys.executable, "-m", "pytest", str(PROBE), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert probe.returncode == 0, probe.stdout[-3000:] + probe.stderr[-3000:]
    assert "1 passed" in probe.stdout
