"""Run only by test_fresh_brownie_home.py (its name keeps it out of the suite): with HOME
pointed at a fresh folder, the chain the tests get has the parameters of tests/conftest.py."""

from __future__ import annotations

from brownie import chain, network, web3

from tests.conftest import TEST_CHAIN


def test_the_test_chain_has_the_projects_parameters_not_brownies_defaults():
    assert network.show_active() == "development"
    assert web3.eth.get_block("latest")["gasLimit"] == TEST_CHAIN["gas_limit"]
    assert chain.id == TEST_CHAIN["chain_id"]
    assert len(web3.eth.accounts) == TEST_CHAIN["accounts"]
    assert web3.eth.get_block("latest")["baseFeePerGas"] == TEST_CHAIN["base_fee"]
