"""The registry's rules hold under random sequences of calls (a hypothesis state machine).

Rules: register, renew, suspend, reinstate, debar, force a change (each through a council
proposal), request a change (from the payout address or as a relayed signature), approve it (by
proposal), cancel it (the contractor, a single member, or an outsider who must be refused),
finalize it (anyone), and let time pass (an hour, a day, the cooling-off period, the council's
delay). A ghost model predicts each call's outcome, refusal by its error name, from the same facts
the contract holds; block time is frozen between the machine's own time steps
(`anvil_setBlockTimestampInterval 0`), so the model knows each call's timestamp exactly.

Invariants, after every step (each failure message names its invariant):
1. every contractor's payout, vetting, stored facts and nonce are the model's;
2. its computed status (Lapsed from the time) is the model's;
3. its pending change (address, state, effective time, forced) is the model's;
4. `isPayable(a)` for every address is true exactly for the current payout of an Active contractor
   whose vetting has not lapsed, and `payableAddressOf(id)` is that payout (zero otherwise);
5. `contractorOf(a)` is the contractor whose payout `a` is or was, and never changes once set;
6. a payout moved only by finalizing a change the contractor's key asked for and the council
   approved, after the cooling-off period, or that the council forced, after its longer delay.

Every sequence starts with two contractors registered (one vetted for two days only) and runs 15
to 30 calls as one rule (hypothesis 6.27's own step loop ends most sequences after a step or two
at the few examples a chain-backed test can afford). Besides the plain calls on any id, targeted
actions pick a contractor in the state a call needs, so that sequences go through whole changes.

Environment: REGISTRY_INVARIANT_EXAMPLES (default 20), REGISTRY_INVARIANT_STEPS (default 30),
REGISTRY_INVARIANT_RANDOM=1 for fresh random sequences (by default they are derandomized: the same
on every run, so that the check that every kind of call succeeded at least once cannot flake).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import brownie
import pytest
from brownie import ContractorRegistry, OversightCouncil, chain, web3
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from disburse.chain.attestations import to_compact
from tests.registry.conftest import (
    ACTIVE,
    COOLING_OFF,
    COOLING_OFF_STATE,
    COUNCIL_DELAY,
    DAY,
    DEBARRED,
    LAPSED,
    NO_CHANGE,
    READY,
    REASON,
    REQUESTED,
    SUSPENDED,
    VETTING,
    request_digest,
)

EXAMPLES = int(os.environ.get("REGISTRY_INVARIANT_EXAMPLES", "20"))
STEPS = int(os.environ.get("REGISTRY_INVARIANT_STEPS", "30"))
POOL = 6
MAX_ID = 3
STATS: Counter[str] = Counter()  # rule -> outcomes, printed with -s


def _rpc(method: str, params: list[Any] | None = None) -> Any:
    response = web3.provider.make_request(method, params or [])
    if "error" in response:
        raise RuntimeError(f"{method} failed: {response['error']}")
    return response.get("result")


@dataclass(frozen=True)
class World:
    registry: Any
    council: Any
    members: tuple[Any, Any]
    outsider: Any
    pool: tuple[Any, ...]
    start_height: int
    start_time: int


@dataclass
class Change:
    new: str
    effective_at: int  # 0 until approved
    forced: bool


@dataclass
class Ghost:
    payout: str
    until: int
    status: int  # stored: ACTIVE, SUSPENDED or DEBARRED
    nonce: int
    vetting: bytes
    change: Change | None = None


@pytest.fixture(scope="module")
def world(escrow: Any, roles: Any, payout_keys: list[Any]) -> World:
    """A council of two members, either of whom can pass a proposal alone (threshold 1: one
    transaction less per council step; the two-key rules are tested elsewhere with 2 of 3), and a
    registry governed by it; the snapshot every sequence starts from."""
    members = (brownie.accounts[7], brownie.accounts[8])
    council = OversightCouncil.deploy(escrow, list(members), 1, {"from": roles.admin}, silent=True)
    registry = ContractorRegistry.deploy(
        council, COOLING_OFF, COUNCIL_DELAY, {"from": roles.admin}, silent=True
    )
    chain.snapshot()
    return World(
        registry=registry,
        council=council,
        members=members,
        outsider=roles.outsider,
        pool=tuple(payout_keys[:POOL]),
        start_height=chain.height,
        start_time=int(web3.eth.get_block("latest")["timestamp"]),
    )


addresses = st.integers(min_value=0, max_value=POOL - 1)
ids = st.integers(min_value=1, max_value=MAX_ID)
terms = st.sampled_from([DAY // 2, 2 * DAY, 30 * DAY])
waits = st.sampled_from([3600, DAY, COOLING_OFF, COOLING_OFF, COOLING_OFF - 1, COUNCIL_DELAY, 1])
picks = st.integers(0, 99)
who = st.sampled_from(["contractor", "member", "outsider"])


def _action(name: str, **kwargs: Any) -> Any:
    return st.tuples(st.just(name), st.fixed_dictionaries(kwargs))


ACTION = st.one_of(
    # The targeted actions and time first: hypothesis favours the first alternatives.
    _action("honest_change", pick=picks, a=addresses, signed=st.booleans()),
    _action("wait", seconds=waits),
    _action("request_for_one_without_a_change", pick=picks, a=addresses, signed=st.booleans()),
    _action("approve_a_request", pick=picks),
    _action("wait", seconds=waits),
    _action("finalize_a_ready_change", pick=picks),
    _action("cancel_a_pending_change", pick=picks, who=who),
    _action("wait", seconds=waits),
    _action("finalize_a_ready_change", pick=picks),
    _action("renew", cid=ids, term=terms),
    _action("suspend", cid=ids),
    _action("reinstate", cid=ids),
    _action("debar", cid=ids),
    _action("force", cid=ids, a=addresses),
    _action("approve", cid=ids),
    _action("request", cid=ids, a=addresses, signed=st.booleans()),
    _action("cancel", cid=ids, who=who),
    _action("finalize", cid=ids),
    _action("register", a=addresses, term=terms),
)


class RegistryMachine(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        chain.revert()
        assert chain.height == w.start_height, "chain.revert() did not land on the snapshot"
        _rpc("anvil_setBlockTimestampInterval", [0])
        self.w = w
        self.registry = w.registry
        self.now = w.start_time + 1
        self._set_time()
        self.ghosts: dict[int, Ghost] = {}
        self.bound: dict[str, int] = {}
        self.log: list[str] = []
        # Two contractors to start with, one vetted for two days only.
        self.register(a=0, term=30 * DAY)
        self.register(a=1, term=2 * DAY)

    # -- helpers -----------------------------------------------------------------------------

    def _set_time(self) -> None:
        _rpc("evm_setNextBlockTimestamp", [self.now])
        chain.mine()

    def _send(self, label: str, call: Any, expected: str | None) -> Any:
        """Makes the call and checks its outcome against the model's: None for success, else the
        name of the custom error the contract must refuse it with."""
        try:
            tx = call()
        except brownie.exceptions.VirtualMachineError as exc:
            got = str(exc.revert_msg or "").split(":")[0]
            STATS[f"{label.split('(')[0]} refused"] += 1
            self.log.append(f"t+{self.now - self.w.start_time}: {label} -> {got}")
            assert expected is not None, f"{label} refused with {exc.revert_msg!r}; {self._trace()}"
            assert got == expected, f"{label}: {got!r}, model says {expected!r}; {self._trace()}"
            return None
        self.log.append(f"t+{self.now - self.w.start_time}: {label} -> ok")
        STATS[f"{label.split('(')[0]} ok"] += 1
        assert expected is None, f"{label} succeeded; model says {expected}; {self._trace()}"
        assert tx.timestamp == self.now, "block time moved on its own"
        return tx

    def _trace(self) -> str:
        return "sequence:\n  " + "\n  ".join(self.log[-30:])

    def _council(self, label: str, data: Any, expected: str | None) -> Any:
        council, member = self.w.council, self.w.members[0]
        pid = council.propose(
            self.registry, data, label, self.now + 7 * DAY, {"from": member}, silent=True
        ).return_value
        return self._send(
            label,
            lambda: council.approveAndExecute(pid, data, {"from": member, "silent": True}),
            expected,
        )

    def _status(self, g: Ghost) -> int:
        if g.status == ACTIVE and self.now > g.until:
            return LAPSED
        return g.status

    def _change_state(self, g: Ghost) -> int:
        c = g.change
        if c is None:
            return NO_CHANGE
        if c.effective_at == 0:
            return REQUESTED
        return COOLING_OFF_STATE if self.now < c.effective_at else READY

    def _existing(self, cid: int) -> tuple[Ghost | None, str | None]:
        g = self.ghosts.get(cid)
        return g, (None if g is not None else "Registry_UnknownContractor")

    def _not_debarred(self, cid: int) -> tuple[Ghost | None, str | None]:
        g, err = self._existing(cid)
        if g is not None and g.status == DEBARRED:
            return g, "Registry_UnexpectedStatus"
        return g, err

    def _free_for(self, account: str, cid: int) -> bool:
        holder = self.bound.get(account, 0)
        return holder in (0, cid)

    def _new_payout_error(self, cid: int, g: Ghost, new: str) -> str | None:
        if new == g.payout or not self._free_for(new, cid):
            return "Registry_AddressTaken"
        return None

    def _addr(self, index: int) -> str:
        return str(self.w.pool[index])

    # -- council rules -----------------------------------------------------------------------

    def register(self, a: int, term: int) -> None:
        payout = self._addr(a)
        until = self.now + term
        expected = None if payout not in self.bound else "Registry_AddressTaken"
        data = self.registry.register.encode_input(payout, VETTING, until)
        if self._council(f"register({a}, {term})", data, expected) is not None:
            cid = len(self.ghosts) + 1
            self.ghosts[cid] = Ghost(payout, until, ACTIVE, 0, VETTING)
            self.bound[payout] = cid

    def renew(self, cid: int, term: int) -> None:
        g, expected = self._not_debarred(cid)
        until = self.now + term
        vetting = keccak(text=f"renewal {until}")
        data = self.registry.renew.encode_input(cid, vetting, until)
        if self._council(f"renew({cid}, {term})", data, expected) is not None:
            assert g is not None
            g.until, g.vetting = until, vetting

    def suspend(self, cid: int) -> None:
        g, expected = self._existing(cid)
        if g is not None and g.status != ACTIVE:
            expected = "Registry_UnexpectedStatus"
        data = self.registry.suspend.encode_input(cid, REASON)
        if self._council(f"suspend({cid})", data, expected) is not None:
            assert g is not None
            g.status = SUSPENDED

    def reinstate(self, cid: int) -> None:
        g, expected = self._existing(cid)
        if g is not None and g.status != SUSPENDED:
            expected = "Registry_UnexpectedStatus"
        data = self.registry.reinstate.encode_input(cid)
        if self._council(f"reinstate({cid})", data, expected) is not None:
            assert g is not None
            g.status = ACTIVE

    def debar(self, cid: int) -> None:
        g, expected = self._not_debarred(cid)
        data = self.registry.debar.encode_input(cid, REASON)
        if self._council(f"debar({cid})", data, expected) is not None:
            assert g is not None
            g.status, g.change = DEBARRED, None

    def force(self, cid: int, a: int) -> None:
        new = self._addr(a)
        g, expected = self._not_debarred(cid)
        if expected is None and g is not None:
            expected = self._new_payout_error(cid, g, new)
        data = self.registry.forcePayoutChange.encode_input(cid, new, REASON)
        if self._council(f"force({cid}, {a})", data, expected) is not None:
            assert g is not None
            g.change = Change(new, self.now + COUNCIL_DELAY, True)

    def approve(self, cid: int) -> None:
        g, expected = self._not_debarred(cid)
        new = self._addr(0)
        if expected is None and g is not None:
            if self._change_state(g) != REQUESTED:
                expected = "Registry_UnexpectedChangeState"
            else:
                assert g.change is not None
                new = g.change.new
        data = self.registry.approvePayoutChange.encode_input(cid, new)
        if self._council(f"approve({cid})", data, expected) is not None:
            assert g is not None and g.change is not None
            g.change.effective_at = self.now + COOLING_OFF

    # -- the contractor, the members, anyone -------------------------------------------------

    def request(self, cid: int, a: int, signed: bool) -> None:
        new = self._addr(a)
        g, expected = self._existing(cid)
        if g is not None and expected is None:
            if g.status == DEBARRED:
                expected = "Registry_UnexpectedStatus"
            elif self._change_state(g) != NO_CHANGE:
                expected = "Registry_UnexpectedChangeState"
            else:
                expected = self._new_payout_error(cid, g, new)
        key = next(k for k in self.w.pool if str(k) == g.payout) if g else self.w.pool[0]
        label = f"request({cid}, {a}, signed={signed})"
        if signed:
            nonce = g.nonce if g else 0
            expiry = self.now + DAY
            digest = request_digest(
                chain_id=chain.id,
                registry=self.registry.address,
                contractor_id=cid,
                new_payout=new,
                nonce=nonce,
                expiry=expiry,
            )
            s = PrivateKey(bytes.fromhex(key.private_key[2:])).sign_msg_hash(digest)
            sig = to_compact(s.r, s.s, s.v).as_tuple()
            request = (cid, new, nonce, expiry)
            tx = self._send(
                label,
                lambda: self.registry.requestPayoutChangeWithSignature(
                    request, sig, {"from": self.w.outsider, "silent": True}
                ),
                expected,
            )
        else:
            tx = self._send(
                label,
                lambda: self.registry.requestPayoutChange(cid, new, {"from": key, "silent": True}),
                expected,
            )
        if tx is not None:
            assert g is not None
            g.nonce += 1
            g.change = Change(new, 0, False)

    def cancel(self, cid: int, who: str) -> None:
        g, expected = self._existing(cid)
        if g is not None and expected is None:
            if self._change_state(g) == NO_CHANGE:
                expected = "Registry_UnexpectedChangeState"
            elif who == "outsider" or (who == "contractor" and g.change and g.change.forced):
                expected = "Registry_NotAllowedToCancel"
        if who == "member":
            caller = self.w.members[1]
        elif who == "contractor" and g is not None:
            caller = next(k for k in self.w.pool if str(k) == g.payout)
        else:
            caller = self.w.outsider
        tx = self._send(
            f"cancel({cid}, {who})",
            lambda: self.registry.cancelPayoutChange(cid, {"from": caller, "silent": True}),
            expected,
        )
        if tx is not None:
            assert g is not None
            g.change = None

    def finalize(self, cid: int) -> None:
        g, expected = self._not_debarred(cid)
        if g is not None and expected is None:
            if self._change_state(g) != READY:
                expected = "Registry_UnexpectedChangeState"
            else:
                assert g.change is not None
                if not self._free_for(g.change.new, cid):
                    expected = "Registry_AddressTaken"
        tx = self._send(
            f"finalize({cid})",
            lambda: self.registry.finalizePayoutChange(
                cid, {"from": self.w.outsider, "silent": True}
            ),
            expected,
        )
        if tx is not None:
            assert g is not None and g.change is not None
            change = g.change
            # Invariant 6, at the moment the payout moves: the delay of its kind has passed.
            delay = COUNCIL_DELAY if change.forced else COOLING_OFF
            event = tx.events["PayoutChanged"]
            assert event["forced"] == change.forced, "invariant 6: the change's kind"
            assert self.now >= change.effective_at > 0, "invariant 6: finalized before its delay"
            assert delay > 0
            g.payout = change.new
            self.bound[change.new] = cid
            g.change = None

    def wait(self, seconds: int) -> None:
        self.now += seconds
        self._set_time()
        self.log.append(f"t+{self.now - self.w.start_time}: waited {seconds}")

    # -- the driver ----------------------------------------------------------------------------

    # Targeted actions: the same calls, on a contractor in the state they need, so that sequences
    # go through whole changes rather than mostly being refused (no-ops when none is).

    def _in_change_state(self, *states: int) -> list[int]:
        return [
            cid
            for cid, g in self.ghosts.items()
            if g.status != DEBARRED and self._change_state(g) in states
        ]

    def request_for_one_without_a_change(self, pick: int, a: int, signed: bool) -> None:
        cands = self._in_change_state(NO_CHANGE)
        if cands:
            self.request(cid=cands[pick % len(cands)], a=a, signed=signed)

    def approve_a_request(self, pick: int) -> None:
        cands = self._in_change_state(REQUESTED)
        if cands:
            self.approve(cid=cands[pick % len(cands)])

    def finalize_a_ready_change(self, pick: int) -> None:
        cands = self._in_change_state(READY)
        if cands:
            self.finalize(cid=cands[pick % len(cands)])

    def honest_change(self, pick: int, a: int, signed: bool) -> None:
        """A whole change as the contractor and the council make it: asked, approved, the
        cooling-off period waited out, finalized (each step checked against the model)."""
        cands = self._in_change_state(NO_CHANGE)
        if not cands:
            return
        cid = cands[pick % len(cands)]
        self.request(cid=cid, a=a, signed=signed)
        if self._change_state(self.ghosts[cid]) == REQUESTED:
            self.approve(cid=cid)
            self.wait(seconds=COOLING_OFF)
            self.finalize(cid=cid)

    def cancel_a_pending_change(self, pick: int, who: str) -> None:
        cands = self._in_change_state(REQUESTED, COOLING_OFF_STATE, READY)
        if cands:
            self.cancel(cid=cands[pick % len(cands)], who=who)

    @rule(actions=st.lists(ACTION, min_size=STEPS // 2, max_size=STEPS))
    def run(self, actions: list[tuple[str, dict[str, Any]]]) -> None:
        """Runs a whole sequence as one rule, checking every invariant after each call."""
        for name, kwargs in actions:
            getattr(self, name)(**kwargs)
            self.contractors_match_the_model()
            self.payable_addresses_are_exactly_the_active_payouts()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def contractors_match_the_model(self) -> None:
        r = self.registry
        assert r.contractorCount() == len(self.ghosts), "invariant 1: the contractor count"
        for cid, g in self.ghosts.items():
            c = r.contractor(cid)
            facts = (str(c[0]), int(c[2]), bytes(c[3]), int(c[4]))
            assert facts == (g.payout, g.until, g.vetting, g.nonce), (
                f"invariant 1: contractor {cid} {facts} != model; {self._trace()}"
            )
            assert int(c[1]) == self._status(g), f"invariant 2: status of {cid}; {self._trace()}"
            ch = r.payoutChangeOf(cid)
            want = (
                (g.change.new, self._change_state(g), g.change.effective_at, g.change.forced)
                if g.change
                else ("0x" + "00" * 20, NO_CHANGE, 0, False)
            )
            got = (str(ch[0]), int(ch[1]), int(ch[2]), bool(ch[3]))
            assert got == want, f"invariant 3: change of {cid} {got} != {want}; {self._trace()}"

    @invariant()
    def payable_addresses_are_exactly_the_active_payouts(self) -> None:
        payable = {g.payout for g in self.ghosts.values() if self._status(g) == ACTIVE}
        for account in self.w.pool:
            a = str(account)
            assert self.registry.isPayable(a) == (a in payable), (
                f"invariant 4: isPayable({a}); {self._trace()}"
            )
            assert self.registry.contractorOf(a) == self.bound.get(a, 0), (
                f"invariant 5: contractorOf({a}); {self._trace()}"
            )
        for cid, g in self.ghosts.items():
            want = g.payout if self._status(g) == ACTIVE else "0x" + "00" * 20
            assert self.registry.payableAddressOf(cid) == want, (
                f"invariant 4: payableAddressOf({cid}); {self._trace()}"
            )

    def teardown(self) -> None:
        STATS["steps"] += len(self.log)
        STATS["sequences"] += 1
        _rpc("anvil_removeBlockTimestampInterval")


def test_registry_rules_hold_over_random_call_sequences(world: World) -> None:
    RegistryMachine.world = world
    STATS.clear()
    try:
        run_state_machine_as_test(
            RegistryMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=1,
                deadline=None,
                database=None,
                derandomize=os.environ.get("REGISTRY_INVARIANT_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        _rpc("anvil_removeBlockTimestampInterval")
        print("registry machine outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(STATS.items())))
    # Every kind of call must have succeeded at least once, or the sequences are too shallow to
    # say anything (judged on a full run only).
    if EXAMPLES >= 20:
        for name in ("register", "request", "approve", "cancel", "finalize", "force", "suspend"):
            assert STATS[f"{name} ok"] > 0, f"no successful {name} in {EXAMPLES} sequences"
