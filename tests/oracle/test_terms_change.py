"""A node submitting from its own account attests only the terms it verified (direct
submission), in process against the escrow on anvil: the manager amends the milestone between
the node's verification and its transaction.

_send / resume of a journaled attestation
├── the terms changed after verification → nothing sent, the attestation fails with the reason
│   and the escrow does not count it for the amended terms
└── the terms did not change → sent with the current terms version, counted
"""

from __future__ import annotations

from typing import Any

from oracle.evidence import EvidenceCreate
from oracle.node import Node
from tests.oracle.test_api import SPEC, body, register
from tests.oracle.test_rollback import start


def _amend(escrow: Any, roles: Any, mid: bytes, amount: int) -> None:
    view = escrow.milestone(mid).dict()
    escrow.amendMilestone(
        mid,
        view["beneficiary"],
        amount,
        view["deadline"],
        view["evidenceSpecHash"],
        {"from": roles.manager},
    )


def _node(tmp_path: Any, escrow: Any, oracle: Any) -> Node:
    node, _ = start(tmp_path, escrow, oracle)
    assert node.relayer is None, "direct submission"
    node.specs.put(SPEC)
    node.store.put(b"report")
    return node


def _accept(node: Node, milestone: bytes) -> int:
    (accepted,) = node.accept_many(
        submitter="inspector", items=[EvidenceCreate.model_validate(body(milestone))]
    )
    return accepted.evidence.id


def test_an_amendment_between_verification_and_sending_is_not_attested(
    tmp_path, escrow, program_id, roles, oracles
):
    node = _node(tmp_path, escrow, oracles[0])
    mid = register(escrow, program_id, roles, "TC-AMENDED")
    evidence_id = _accept(node, mid)
    signed = node._attest_many

    def sign_then_amend(*args: Any, **kw: Any) -> Any:
        # The node verified and signed terms version 0; the manager amends before it sends.
        begun = signed(*args, **kw)
        _amend(escrow, roles, mid, amount=1)
        return begun

    node._attest_many = sign_then_amend  # type: ignore[method-assign]
    node.process_many([evidence_id])

    assert escrow.milestone(mid).dict()["termsVersion"] == 1
    assert not escrow.hasAttested(mid, oracles[0]), "not counted for the amended terms"
    assert escrow.milestone(mid).dict()["attestations"] == 0
    (row,) = node.journal.attestations_for_evidence(evidence_id)
    assert row.state == "failed"
    assert row.tx_hash is None, "nothing was sent"
    assert "terms changed after verification" in (row.error or "")
    evidence = node.journal.evidence(evidence_id)
    assert evidence.state == "failed"
    assert node.metrics.attestations_failed._value.get() == 1


def test_a_journaled_attestation_resumed_after_an_amendment_is_not_sent(
    tmp_path, escrow, program_id, roles, oracles
):
    node = _node(tmp_path, escrow, oracles[0])
    mid = register(escrow, program_id, roles, "TC-RESUMED")
    evidence_id = _accept(node, mid)
    # Verified and signed, then the node stops before sending (as a crash after `signed`).
    rows = node._verify_many([node.journal.evidence(evidence_id)])
    (attestation,) = node._attest_many([node.journal.evidence(evidence_id)], states=rows)
    _amend(escrow, roles, mid, amount=1)

    node._send(node.journal.attestation(attestation.id))

    assert not escrow.hasAttested(mid, oracles[0])
    row = node.journal.attestation(attestation.id)
    assert row.state == "failed" and row.tx_hash is None
    assert "terms version is now 1" in (row.error or "")


def test_a_journaled_attestation_for_unchanged_terms_is_sent_with_their_version(
    tmp_path, escrow, program_id, roles, oracles
):
    node = _node(tmp_path, escrow, oracles[0])
    mid = register(escrow, program_id, roles, "TC-UNCHANGED")
    # Amended before the evidence came: the node verifies and signs version 1.
    _amend(escrow, roles, mid, amount=1)
    evidence_id = _accept(node, mid)
    node.process_many([evidence_id])

    assert escrow.hasAttested(mid, oracles[0])
    (row,) = node.journal.attestations_for_evidence(evidence_id)
    assert row.state == "confirmed"
    assert node.journal.evidence(evidence_id).state == "confirmed"
