"""A relaying node that fails under the nodes handing it their signatures (issue 11 items 10, 11):
three oracle nodes (quorum two) as real processes on a LocalChain of the test's own; node2 relays
(it batches its own signatures too), node0 and node1 hand theirs to it.

Branches:
- the relayer killed with `kill -9` while milestones flow, its queue holding the senders'
  signatures (acknowledged, so the senders had marked them sent): every milestone is still
  verified and released exactly once, and the senders are never restarted;
- a sender restarted while the relayer is down: it starts, serves its API, reports the relayer's
  absence in /healthz (503, `relayer.reachable` false) and in its metrics (`oracle_relayer_up
  0`), takes evidence meanwhile, and hands everything over once the relayer is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from disburse.chain.localchain import LocalChain
from tests.faults._system import System, deploy_system, start_nodes, submit, wait_released
from tests.oracle.nodes import NodeProcess, free_port, wait_for

NODE_SETTINGS = {"receipt_timeout_s": 3, "poll_interval_s": 0.2}


@pytest.fixture(scope="module")
def relay_chain() -> Iterator[LocalChain]:
    chain = LocalChain(state_file=None, port=free_port())
    chain.start()
    yield chain
    chain.stop()


@pytest.fixture(scope="module")
def system(relay_chain: LocalChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    deployed = deploy_system(relay_chain, label="relay-faults", profile={}, fund_oracles=True)
    nodes = start_nodes(deployed, tmp_path_factory.mktemp("relay-nodes"), **NODE_SETTINGS)
    relayer, senders = nodes[2], nodes[:2]
    key_file = relayer.home / "relay-key"
    key_file.write_text(relayer.add_api_key("oracle-peers", role="oracle"))
    for node in nodes:
        node.stop()
    # The relayer holds what it is handed for a while before sending: a kill finds it queued.
    relayer.write_config(relay=True, submission="relay", batch_delay_s=2.0, batch_size=100)
    relayer.start()
    for node in senders:
        node.write_config(
            submission="relay",
            relayer_url=relayer.url,
            relayer_api_key_file=str(key_file),
            relay_reoffer_s=3,
        )
        node.start()
    yield deployed
    for node in deployed.nodes:
        node.stop()


def healthz(node: NodeProcess) -> tuple[int, dict[str, Any]]:
    r = httpx.get(node.url + "/healthz", timeout=5)
    return r.status_code, r.json()


def metric(node: NodeProcess, name: str) -> float | None:
    for line in httpx.get(node.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_signatures_queued_on_a_relayer_killed_with_kill_9_still_reach_the_chain(system):
    senders, relayer = system.nodes[:2], system.nodes[2]
    flowing = system.register(20, "RELAY-KILL")
    for milestone in flowing:
        for node in (*senders, relayer):
            submit(node, milestone)
    # The senders handed their signatures over (acknowledged), and the relayer holds them.
    for node in senders:
        wait_for(
            lambda n=node: (metric(n, "oracle_attestations_sent_total") or 0) >= len(flowing),
            timeout=20,
            what=f"{node.name} handed its signatures over",
        )
    relayer.kill()
    during = system.register(10, "RELAY-DOWN")  # evidence keeps arriving while it is down
    for milestone in during:
        for node in senders:
            submit(node, milestone)
    time.sleep(2)
    relayer.start()
    wait_released(system, [*flowing, *during], timeout=90)
    for milestone in [*flowing, *during]:
        assert len(system.events("MilestoneReleased", milestone)) == 1
        attesters = system.attesters(milestone)
        assert len(attesters) == len(set(attesters)) >= 2, "each oracle counted once"
    for node in senders:
        assert node.process is not None and node.process.poll() is None, "never restarted"
        assert "relayer unreachable" in node.logs() or "re-offer" in node.logs()


def test_a_sender_restarted_while_its_relayer_is_down_serves_reports_and_hands_over_later(system):
    senders, relayer = system.nodes[:2], system.nodes[2]
    sender = senders[0]
    relayer.kill()
    (milestone,) = system.register(1, "RELAY-RESTART")
    submit(sender, milestone)  # its signature waits for the relayer in the journal
    sender.stop()
    sender.start(wait=False)

    def reports_relayer_down() -> bool:
        try:
            status, body = healthz(sender)
        except httpx.HTTPError:
            return False
        return status == 503 and body.get("relayer", {}).get("reachable") is False

    wait_for(reports_relayer_down, timeout=30, what="/healthz reporting the relayer down")
    assert sender.process is not None and sender.process.poll() is None, sender.logs()[-2000:]
    assert metric(sender, "oracle_relayer_up") == 0.0
    submit(senders[1], milestone)  # the API takes evidence meanwhile
    relayer.start()
    wait_released(system, [milestone], timeout=60)
    wait_for(lambda: healthz(sender)[0] == 200, timeout=20, what="/healthz healthy again")
    assert metric(sender, "oracle_relayer_up") == 1.0
    assert sorted(system.attesters(milestone)) == sorted(o.address for o in system.oracles[:2])
