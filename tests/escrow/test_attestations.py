from brownie import chain, web3

def test_a(escrow, roles):
    print("A", chain.time(), web3.eth.get_block("latest")["timestamp"])
    t = chain.time() + 10 * 86400
    web3.provider.make_request("evm_setNextBlockTimestamp", [t])
    tx = escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), roles.outsider, {"from": roles.admin})
    print("A2", tx.timestamp - t, chain.time() - t)
    chain.sleep(0)
    print("A3", chain.time() - t)

def test_b(escrow, roles):
    tx = escrow.grantRole(escrow.PROGRAM_MANAGER_ROLE(), roles.outsider, {"from": roles.admin})
    print("B", chain.time(), tx.timestamp, chain.time() - tx.timestamp)
