"""The indexer under faults, on a LocalChain of the test's own with a state file, on SQLite and
PostgreSQL:

- `disburse index --follow` killed with -9 at random moments while events flow, restarted each
  time: no row lost or doubled, the cursor consistent, the result identical to an index built in
  one go;
- the chain killed and restarted from an older state file, then other blocks mined: the index
  notices the lost blocks by their hashes, rolls back to the common ancestor and matches the
  chain again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from disburse.chain.client import ChainClient
from disburse.chain.localchain import LocalChain
from disburse.index import schema
from disburse.index.store import open_engine
from tests.faults._system import System, deploy_system, saved_state, write_deployment
from tests.index.test_index import _snapshot
from tests.oracle.nodes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[LocalChain]:
    local = LocalChain(state_file=tmp_path / "state.json", port=free_port())
    local.start()
    yield local
    local.stop()


@pytest.fixture
def system(chain: LocalChain, tmp_path: Path) -> System:
    deployed = deploy_system(chain, label="index-faults", profile={}, fund_oracles=False)
    deployed.deployment_file = write_deployment(deployed, tmp_path / "deployment.json")
    return deployed


def _disburse(system: System, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "disburse.cli",
        "--deployment",
        str(system.deployment_file),
        "--rpc-url",
        system.chain.url,
        *args,
    ]


def _run(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    """`disburse ARGS` in a process of its own; it must succeed."""
    done = subprocess.run(
        _disburse(system, *args),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _index(system: System, url: str) -> subprocess.CompletedProcess[str]:
    return _run(system, "index", "--db", url)


def _chain_logs(system: System) -> int:
    client: ChainClient = system.client
    return len(
        client.raw_logs(
            system.escrow.address,
            from_block=system.deployment_block,
            to_block=client.block_number(),
        )
    )


def test_kill_9_of_the_indexer_at_random_moments_loses_and_doubles_nothing(
    system: System,
    db_url: str,
    tmp_path: Path,
):
    rng = random.Random(20261203)
    behind = 0
    for round_ in range(6):
        for _ in range(rng.randint(2, 5)):  # a backlog, so the indexer is busy when it dies
            system.register(rng.randint(5, 30), f"K{round_}")
        proc = subprocess.Popen(
            _disburse(system, "index", "--db", db_url, "--follow", "--interval", "0.05"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            start_new_session=True,
        )
        system.register(rng.randint(1, 10), f"F{round_}")  # events while it runs
        time.sleep(rng.uniform(0.3, 2.5))
        head = system.client.block_number()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        behind += _cursor(db_url) < head
    assert behind >= 2, "the indexer should have been killed in the middle of its work"
    _index(system, db_url)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    _index(system, fresh)
    got, want = _snapshot(db_url), _snapshot(fresh)
    assert len(got["events"]) == _chain_logs(system)
    assert len(got["milestones"]) == system.registered
    assert got == want


def test_follow_shows_a_new_event_within_a_poll_and_stops_cleanly_on_sigterm(
    system: System,
    db_url: str,
):
    proc = subprocess.Popen(
        _disburse(system, "index", "--db", db_url, "--follow", "--interval", "0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        wait_for(lambda: len(_tables(db_url)["programs"]) == 1, timeout=60, what="first sync")
        [mid] = system.register(1, "LIVE")
        wait_for(
            lambda: (
                [m["milestone_id"] for m in _tables(db_url)["milestones"]] == ["0x" + mid.hex()]
            ),
            timeout=30,
            what="the new milestone in the index",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "lag 0 blocks" in out or "lag 1 block" in out
    assert "stopped; the index is consistent at its last block" in out


def _cursor(url: str) -> int:
    """The cursor's block, -1 before the first window is stored."""
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(select(schema.cursor.c.number)).scalar()
    except Exception:
        found = None
    finally:
        engine.dispose()
    return -1 if found is None else int(found)


def _tables(url: str) -> dict[str, list[dict[str, Any]]]:
    """The index's tables, or none while the indexer has not created them yet."""
    try:
        return _snapshot(url)
    except Exception:
        return {"programs": [], "milestones": []}


def test_a_chain_restarted_from_an_older_state_file_is_rolled_back_and_read_again(
    system: System,
    db_url: str,
    tmp_path: Path,
):
    system.register(3, "BEFORE")
    older = saved_state(system.chain, at_least=system.client.block_number())
    system.register(4, "LOST")
    _index(system, db_url)
    lost_height = system.client.block_number()
    chain = system.chain
    assert chain.state_file is not None
    chain.kill()
    chain.state_file.write_bytes(older)
    chain.start()
    system.client = ChainClient(system.client.profile)
    assert system.client.block_number() < lost_height
    system.registered = 3
    system.register(2, "AFTER")
    system.register(2, "AFTER2")
    again = _index(system, db_url)
    assert "rolled back to block" in again.stdout
    assert "(4 events dropped)" in again.stdout
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    _index(system, fresh)
    got = _snapshot(db_url)
    assert got == _snapshot(fresh)
    assert len(got["milestones"]) == 7
    audit = _run(system, "audit", "--json", "--db", db_url)
    assert json.loads(audit.stdout)["reconciliation"]["ok"] is True
