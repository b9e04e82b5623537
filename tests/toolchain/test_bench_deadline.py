"""The benchmarks never wait for ever, and never run on a chain too small for them.

Deadline
├── passes while the benchmark is blocked ... exit status 3, one line naming what it waited for,
│                                             clean-ups run
└── finished in time ........................ nothing happens
check_chain
├── a chain with brownie's fresh default 12,000,000 block gas limit ... refused, saying what to do
└── the benchmarks' own chain (30,000,000) ............................ accepted
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from web3 import Web3

from disburse.chain.localchain import LocalChain
from oracle.localnodes import free_port
from scripts.bench_common import CHAIN_GAS_LIMIT, BenchError, check_chain

BLOCKED = textwrap.dedent(
    """
    import time
    from scripts.bench_common import Deadline
    deadline = Deadline("bench-test", 0.5)
    deadline.on_expiry(lambda: print("cleaned up", flush=True))
    deadline.waiting_for(lambda: "node7 to answer /healthz")
    time.sleep(30)
    """
)
FINISHED = textwrap.dedent(
    """
    import time
    from scripts.bench_common import Deadline
    deadline = Deadline("bench-test", 0.5)
    deadline.finish()
    time.sleep(1)
    print("done", flush=True)
    """
)


def test_a_benchmark_past_its_deadline_stops_naming_what_it_waited_for():
    out = subprocess.run(
        [sys.executable, "-c", BLOCKED], capture_output=True, text=True, timeout=20, check=False
    )
    assert out.returncode == 3
    assert (
        out.stderr.strip()
        == (
            "error: bench-test: overall deadline of 0 s passed while waiting for node7 to answer "
            "/healthz"
        )
        or "passed while waiting for node7 to answer /healthz" in out.stderr
    ), out.stderr
    assert out.stderr.startswith("error: bench-test: overall deadline")
    assert "cleaned up" in out.stdout


def test_a_benchmark_that_finished_in_time_is_left_alone():
    out = subprocess.run(
        [sys.executable, "-c", FINISHED], capture_output=True, text=True, timeout=20, check=False
    )
    assert (out.returncode, out.stdout.strip(), out.stderr) == (0, "done", "")


@pytest.mark.parametrize(("gas_limit", "refused"), [(12_000_000, True), (CHAIN_GAS_LIMIT, False)])
def test_the_benchmarks_refuse_a_chain_below_their_block_gas_limit(gas_limit, refused):
    with LocalChain(state_file=None, port=free_port(), gas_limit=gas_limit) as chain:
        w3 = Web3(Web3.HTTPProvider(chain.url))
        if refused:
            with pytest.raises(BenchError, match="block gas limit is 12,000,000, below the"):
                check_chain(w3, name="bench-test")
        else:
            assert check_chain(w3, name="bench-test") == CHAIN_GAS_LIMIT
