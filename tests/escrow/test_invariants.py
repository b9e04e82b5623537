import time
import brownie
from brownie import chain, web3
from conftest import TOKEN_UNIT, evidence
from eth_utils import keccak
from disburse.attestations import external_ref, milestone_id


def test_probe(escrow, token, roles, oracles, register, sign, program_id):
    def t(label, f, n=20):
        s = time.perf_counter()
        for i in range(n):
            f(i)
        print(label, (time.perf_counter() - s) / n * 1000, "ms")

    t("register", lambda i: register(f"R{i}", 1))
    t("register silent", lambda i: escrow.registerMilestone(program_id, (external_ref(f"S{i}"), roles.beneficiary.address, 1, chain.time()+10**6, b"\0"*32), {"from": roles.manager}, silent=True) if False else escrow.registerMilestone(program_id, (external_ref(f"S{i}"), roles.beneficiary.address, 1, chain.time()+10**6, b"\0"*32), {"from": roles.manager, "silent": True}) )
    def rev(i):
        with brownie.reverts():
            escrow.release(b"\1" * 32, {"from": roles.outsider})
    t("revert tx", rev)
    def revc(i):
        with brownie.reverts():
            escrow.release.call(b"\1" * 32, {"from": roles.outsider})
    t("revert call", revc)
    t("view", lambda i: escrow.statusOf(b"\1" * 32))
    t("balanceOf", lambda i: token.balanceOf(escrow))
    w3c = web3.eth.contract(address=escrow.address, abi=escrow.abi)
    t("raw view", lambda i: w3c.functions.statusOf(b"\1" * 32).call())
    def batch(i):
        with web3.batch_requests() as b:
            for j in range(30):
                b.add(w3c.functions.statusOf(bytes([j]) * 32))
            r = b.execute()
        assert len(r) == 30
    t("batch 30", batch)
    t("sign", lambda i: sign(oracles[0], b"\1"*32, evidence()))
    def attest(i):
        mid = milestone_id(program_id, external_ref(f"R{i}"))
        escrow.attest(mid, evidence(), 1, {"from": oracles[0]})
    t("attest", attest)
    try:
        escrow.release(b"\1" * 32, {"from": roles.outsider})
    except Exception as e:
        print(repr(e), str(e))
    try:
        escrow.release.call(b"\1" * 32, {"from": roles.outsider})
    except Exception as e:
        print(repr(e), str(e), e.revert_msg)
