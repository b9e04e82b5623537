"""Verifier rules and the registry that runs them (no chain needed; inspector keys are real).

RequiredDocuments
├── all present, stored, intact, of the declared size and required media type → pass
├── a required document missing → reason; of another media type than required → reason
├── no media type required → any accepted
└── any referenced document not uploaded / damaged in the store / of another size → reason
ClaimRules
├── each op, satisfied → pass; not satisfied → reason with value and rule
├── claim missing → reason; of another kind (a boolean is not a number) → reason, once per claim
└── an int and a float compare as numbers
InspectorApprovals
├── no approval rule → pass (whatever the approvals)
├── m of n listed inspectors signed, including signed with eth-account directly → pass
├── fewer than m → reason with the count
├── unknown inspector (validly signed) → reason, does not count, even when m are valid
├── signature over other evidence / by another key than the named inspector → reason
├── malformed signature → reason, not a crash
└── the same signer twice (bypassing model validation) → counted once, reason
Deadline: now ≤ deadline → pass; now > deadline → reason; check_deadline false → pass
registry.verify: every reason of every rule, prefixed by rule name; ok only without reasons;
a rule that raises → a reason, and the other rules still run; VERIFIERS: one of each rule
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from oracle.evidence import EvidenceCreate, InspectorApproval, sign_inspector_approval, subject_hash
from oracle.spec import EvidenceSpec
from oracle.store import DocumentStore
from oracle.verifiers import VERIFIERS, VerificationContext, VerificationResult, verify
from oracle.verifiers.rules import ClaimRules, Deadline, InspectorApprovals, RequiredDocuments

INSPECTORS = [Account.from_key(keccak(text=f"test-inspector-{i}")) for i in range(4)]
OUTSIDER = Account.from_key(keccak(text="test-not-an-inspector"))
MILESTONE = "0x" + "42" * 32
NOW = 1_700_000_000
DEADLINE = NOW + 3600

DOCUMENTS: dict[str, tuple[bytes, str]] = {
    "delivery-note.pdf": (b"%PDF-1.7 delivery note", "application/pdf"),
    "photo.jpg": (b"\xff\xd8 photo", "image/jpeg"),
}
CLAIMS: dict[str, Any] = {"units_delivered": 50, "acceptance_test_passed": True, "lot": "7"}


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "documents", max_bytes=1 << 20)


def _spec(**changes: Any) -> EvidenceSpec:
    data: dict[str, Any] = {
        "version": 1,
        "title": "Delivery of 50 units",
        "required_documents": [{"name": "delivery-note.pdf", "media_type": "application/pdf"}],
        "claims": [
            {"name": "units_delivered", "kind": "number", "op": ">=", "value": 50},
            {"name": "acceptance_test_passed", "kind": "boolean", "value": True},
        ],
        "approvals": {"inspectors": [i.address for i in INSPECTORS[:3]], "required": 2},
    }
    data.update(changes)
    return EvidenceSpec.model_validate(data)


def _evidence(
    store: DocumentStore,
    *,
    documents: dict[str, tuple[bytes, str]] = DOCUMENTS,
    claims: dict[str, Any] = CLAIMS,
    signers: tuple[Any, ...] = (INSPECTORS[0], INSPECTORS[1]),
    upload: bool = True,
) -> EvidenceCreate:
    """Evidence whose documents are uploaded to `store` and approved by `signers` (real keys)."""
    refs = []
    for name, (content, media_type) in documents.items():
        digest = store.put(content) if upload else hashlib.sha256(content).hexdigest()
        refs.append(
            {"name": name, "sha256": digest, "size": len(content), "media_type": media_type}
        )
    unsigned = EvidenceCreate.model_validate(
        {"milestone_id": MILESTONE, "documents": refs, "claims": claims}
    )
    subject = subject_hash(unsigned)
    approvals = [
        {"inspector": s.address, "signature": sign_inspector_approval(s.key, subject)}
        for s in signers
    ]
    return unsigned.model_copy(
        update={"approvals": [InspectorApproval.model_validate(a) for a in approvals]}
    )


def _ctx(
    evidence: EvidenceCreate,
    store: DocumentStore,
    spec: EvidenceSpec | None = None,
    *,
    now: int = NOW,
    deadline: int = DEADLINE,
) -> VerificationContext:
    return VerificationContext(
        evidence=evidence, spec=spec or _spec(), store=store, now=now, deadline=deadline
    )


def _with_approvals(evidence: EvidenceCreate, *approvals: dict[str, str]) -> EvidenceCreate:
    return EvidenceCreate.model_validate(
        {**evidence.model_dump(), "approvals": [*evidence.model_dump()["approvals"], *approvals]}
    )


# --- RequiredDocuments ------------------------------------------------------------------------


def test_documents_present_stored_and_of_the_required_type_pass(store: DocumentStore) -> None:
    assert RequiredDocuments().check(_ctx(_evidence(store), store)) == []


def test_a_missing_required_document_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, documents={"photo.jpg": DOCUMENTS["photo.jpg"]})
    assert RequiredDocuments().check(_ctx(evidence, store)) == [
        "required document 'delivery-note.pdf' is missing"
    ]


def test_a_required_document_of_another_media_type_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, documents={"delivery-note.pdf": (b"scan", "image/png")})
    assert RequiredDocuments().check(_ctx(evidence, store)) == [
        "document 'delivery-note.pdf' is image/png; the specification requires application/pdf"
    ]


def test_a_required_document_without_a_required_media_type_may_be_any_type(
    store: DocumentStore,
) -> None:
    spec = _spec(required_documents=[{"name": "delivery-note.pdf"}])
    evidence = _evidence(store, documents={"delivery-note.pdf": (b"scan", "image/png")})
    assert RequiredDocuments().check(_ctx(evidence, store, spec)) == []


def test_a_referenced_document_not_uploaded_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, upload=False)
    reasons = RequiredDocuments().check(_ctx(evidence, store))
    assert len(reasons) == 2  # the required document and the extra one: the node attests both
    assert all("has not been uploaded to this node" in r for r in reasons)


def test_a_document_damaged_in_the_store_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store)
    store.path_of(evidence.documents[1].sha256).write_bytes(b"rotten")
    assert RequiredDocuments().check(_ctx(evidence, store)) == [
        f"document 'photo.jpg' (sha256 {evidence.documents[1].sha256}) is damaged in this "
        "node's store; upload it again"
    ]


def test_a_document_of_another_size_than_declared_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store)
    wrong = evidence.documents[0].model_copy(update={"size": 1})
    evidence = evidence.model_copy(update={"documents": [wrong, evidence.documents[1]]})
    size = len(DOCUMENTS["delivery-note.pdf"][0])
    assert RequiredDocuments().check(_ctx(evidence, store)) == [
        f"document 'delivery-note.pdf' is {size} bytes but the evidence declares 1"
    ]


# --- ClaimRules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "passing", "failing"),
    [
        (">=", 50, 50, 49),
        (">", 50, 51, 50),
        ("<=", 50, 50, 51),
        ("<", 50, 49.5, 50),
        ("==", 50, 50, 51),
        ("!=", 50, 49, 50),
    ],
)
def test_each_comparison_passes_when_it_holds_and_is_a_reason_when_not(
    store: DocumentStore, op: str, value: int, passing: float, failing: float
) -> None:
    spec = _spec(claims=[{"name": "units_delivered", "kind": "number", "op": op, "value": value}])
    good = _evidence(store, claims={"units_delivered": passing})
    bad = _evidence(store, claims={"units_delivered": failing})
    assert ClaimRules().check(_ctx(good, store, spec)) == []
    assert ClaimRules().check(_ctx(bad, store, spec)) == [
        f"claim 'units_delivered' is {failing}; the specification requires "
        f"units_delivered {op} {value}"
    ]


@pytest.mark.parametrize(
    ("kind", "op", "expected", "passing", "failing"),
    [
        ("boolean", "==", True, True, False),
        ("boolean", "!=", True, False, True),
        ("text", "==", "passed", "passed", "Passed"),
        ("text", "!=", "failed", "passed", "failed"),
    ],
)
def test_booleans_and_texts_compare_for_equality(
    store: DocumentStore, kind: str, op: str, expected: Any, passing: Any, failing: Any
) -> None:
    spec = _spec(claims=[{"name": "result", "kind": kind, "op": op, "value": expected}])
    assert ClaimRules().check(_ctx(_evidence(store, claims={"result": passing}), store, spec)) == []
    reasons = ClaimRules().check(_ctx(_evidence(store, claims={"result": failing}), store, spec))
    assert len(reasons) == 1
    assert reasons[0].startswith("claim 'result' is ")


def test_a_missing_claim_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, claims={"acceptance_test_passed": True})
    assert ClaimRules().check(_ctx(evidence, store)) == [
        "claim 'units_delivered' is missing; the specification requires units_delivered >= 50"
    ]


@pytest.mark.parametrize(
    ("value", "shown"), [(True, "a boolean (true)"), ("50", 'a text ("50")')], ids=["bool", "text"]
)
def test_a_claim_of_another_kind_than_a_number_rule_is_a_reason(
    store: DocumentStore, value: Any, shown: str
) -> None:
    evidence = _evidence(store, claims={**CLAIMS, "units_delivered": value})
    assert ClaimRules().check(_ctx(evidence, store)) == [
        f"claim 'units_delivered' is {shown}; the specification requires a number"
    ]


def test_a_number_claim_for_a_boolean_rule_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, claims={**CLAIMS, "acceptance_test_passed": 1})
    assert ClaimRules().check(_ctx(evidence, store)) == [
        "claim 'acceptance_test_passed' is a number (1); the specification requires a boolean"
    ]


def test_a_missing_claim_with_several_rules_is_reported_once(store: DocumentStore) -> None:
    spec = _spec(
        claims=[
            {"name": "units_delivered", "kind": "number", "op": ">=", "value": 10},
            {"name": "units_delivered", "kind": "number", "op": "<=", "value": 100},
        ]
    )
    evidence = _evidence(store, claims={})
    assert len(ClaimRules().check(_ctx(evidence, store, spec))) == 1


def test_two_rules_on_one_claim_state_a_range(store: DocumentStore) -> None:
    spec = _spec(
        claims=[
            {"name": "temperature", "kind": "number", "op": ">=", "value": -10},
            {"name": "temperature", "kind": "number", "op": "<=", "value": 40.5},
        ]
    )
    inside = _evidence(store, claims={"temperature": 40.5})
    outside = _evidence(store, claims={"temperature": 41})
    assert ClaimRules().check(_ctx(inside, store, spec)) == []
    assert ClaimRules().check(_ctx(outside, store, spec)) == [
        "claim 'temperature' is 41; the specification requires temperature <= 40.5"
    ]


def test_an_integer_claim_equals_a_float_rule_of_the_same_value(store: DocumentStore) -> None:
    spec = _spec(claims=[{"name": "units_delivered", "kind": "number", "value": 50.0}])
    assert ClaimRules().check(_ctx(_evidence(store), store, spec)) == []


# --- InspectorApprovals -----------------------------------------------------------------------


def test_without_an_approval_rule_approvals_are_not_checked(store: DocumentStore) -> None:
    evidence = _evidence(store, signers=(OUTSIDER,))
    assert InspectorApprovals().check(_ctx(evidence, store, _spec(approvals=None))) == []


def test_m_of_n_listed_inspectors_pass(store: DocumentStore) -> None:
    for signers in [(INSPECTORS[0], INSPECTORS[2]), tuple(INSPECTORS[:3])]:
        evidence = _evidence(store, signers=signers)
        assert InspectorApprovals().check(_ctx(evidence, store)) == []


def test_an_approval_signed_directly_with_eth_account_counts(store: DocumentStore) -> None:
    evidence = _evidence(store, signers=(INSPECTORS[0],))
    message = encode_defunct(primitive=subject_hash(evidence))
    signed = Account.sign_message(message, INSPECTORS[2].key)
    approval = {"inspector": INSPECTORS[2].address, "signature": "0x" + signed.signature.hex()}
    assert InspectorApprovals().check(_ctx(_with_approvals(evidence, approval), store)) == []


def test_fewer_than_m_approvals_is_a_reason_with_the_count(store: DocumentStore) -> None:
    evidence = _evidence(store, signers=(INSPECTORS[1],))
    reasons = InspectorApprovals().check(_ctx(evidence, store))
    assert reasons == [
        "1 valid inspector approval(s), 2 required from "
        + ", ".join(i.address for i in INSPECTORS[:3])
    ]


def test_no_approvals_at_all_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, signers=())
    assert (
        InspectorApprovals()
        .check(_ctx(evidence, store))[0]
        .startswith("0 valid inspector approval(s), 2 required")
    )


def test_an_unknown_inspector_does_not_count_and_is_a_reason(store: DocumentStore) -> None:
    evidence = _evidence(store, signers=(INSPECTORS[0], OUTSIDER))
    reasons = InspectorApprovals().check(_ctx(evidence, store))
    assert reasons[0].startswith("1 valid inspector approval(s), 2 required")
    assert reasons[1:] == [
        f"approval by {OUTSIDER.address} does not count: not an inspector the specification lists"
    ]


def test_an_unknown_inspector_is_a_reason_even_when_m_others_are_valid(
    store: DocumentStore,
) -> None:
    evidence = _evidence(store, signers=(INSPECTORS[0], INSPECTORS[1], INSPECTORS[3]))
    assert InspectorApprovals().check(_ctx(evidence, store)) == [
        f"approval by {INSPECTORS[3].address} does not count: not an inspector the "
        "specification lists"
    ]


def test_an_approval_signed_over_other_evidence_does_not_count(store: DocumentStore) -> None:
    evidence = _evidence(store)
    changed = evidence.model_copy(update={"claims": {**CLAIMS, "units_delivered": 60}})
    reasons = InspectorApprovals().check(_ctx(changed, store))
    assert reasons[0].startswith("0 valid inspector approval(s)")
    assert len(reasons) == 3
    assert all("is not that inspector's over this evidence" in r for r in reasons[1:])


def test_an_approval_signed_by_another_key_than_the_named_inspector_does_not_count(
    store: DocumentStore,
) -> None:
    evidence = _evidence(store, signers=(INSPECTORS[0],))
    forged = {
        "inspector": INSPECTORS[1].address,
        "signature": sign_inspector_approval(OUTSIDER.key, subject_hash(evidence)),
    }
    reasons = InspectorApprovals().check(_ctx(_with_approvals(evidence, forged), store))
    assert reasons[0].startswith("1 valid inspector approval(s)")
    assert reasons[1].startswith(f"approval by {INSPECTORS[1].address} does not count: its sig")


@pytest.mark.parametrize(
    "signature",
    ["0x" + "00" * 65, "0x" + "ff" * 65, "0x" + "11" * 64 + "05"],
    ids=["zero", "s-over-curve-order", "bad-v"],
)
def test_a_malformed_signature_is_a_reason_not_a_crash(
    store: DocumentStore, signature: str
) -> None:
    evidence = _evidence(store)
    broken = {"inspector": INSPECTORS[2].address, "signature": signature}
    reasons = InspectorApprovals().check(_ctx(_with_approvals(evidence, broken), store))
    assert reasons == [
        f"approval by {INSPECTORS[2].address} does not count: its signature is malformed; ask "
        "the inspector to sign again"
    ]


def test_the_same_signer_twice_counts_once(store: DocumentStore) -> None:
    # The model refuses a repeated inspector; a bundle built around validation must not pass.
    evidence = _evidence(store, signers=(INSPECTORS[0],))
    doubled = EvidenceCreate.model_construct(
        milestone_id=evidence.milestone_id,
        documents=evidence.documents,
        claims=evidence.claims,
        approvals=[evidence.approvals[0], evidence.approvals[0]],
    )
    reasons = InspectorApprovals().check(_ctx(doubled, store))
    assert reasons == [
        "1 valid inspector approval(s), 2 required from "
        + ", ".join(i.address for i in INSPECTORS[:3]),
        f"approval by {INSPECTORS[0].address} does not count: it is a duplicate",
    ]


def test_a_required_count_equal_to_the_list_needs_every_inspector(store: DocumentStore) -> None:
    spec = _spec(approvals={"inspectors": [i.address for i in INSPECTORS[:3]], "required": 3})
    two = _evidence(store)
    three = _evidence(store, signers=tuple(INSPECTORS[:3]))
    assert InspectorApprovals().check(_ctx(two, store, spec))[0].startswith("2 valid")
    assert InspectorApprovals().check(_ctx(three, store, spec)) == []


# --- Deadline ---------------------------------------------------------------------------------


def test_evidence_judged_at_the_deadline_passes(store: DocumentStore) -> None:
    assert Deadline().check(_ctx(_evidence(store), store, now=DEADLINE)) == []


def test_evidence_judged_after_the_deadline_is_a_reason(store: DocumentStore) -> None:
    reasons = Deadline().check(_ctx(_evidence(store), store, now=1_000_061, deadline=1_000_000))
    assert reasons == [
        "the milestone's deadline passed at 1970-01-12T13:46:40Z, 61 s before the evidence was "
        "judged at 1970-01-12T13:47:41Z"
    ]


def test_a_spec_that_does_not_check_the_deadline_passes_after_it(store: DocumentStore) -> None:
    spec = _spec(check_deadline=False)
    assert Deadline().check(_ctx(_evidence(store), store, spec, now=DEADLINE + 1)) == []


# --- registry ---------------------------------------------------------------------------------


def test_good_evidence_verifies(store: DocumentStore) -> None:
    assert verify(_ctx(_evidence(store), store)) == VerificationResult(ok=True, reasons=[])


def test_every_reason_of_every_rule_is_collected(store: DocumentStore) -> None:
    evidence = _evidence(
        store,
        documents={"photo.jpg": DOCUMENTS["photo.jpg"]},
        claims={"units_delivered": 10},
        signers=(INSPECTORS[0],),
    )
    result = verify(_ctx(evidence, store, now=DEADLINE + 1))
    assert not result.ok
    assert [r.split(":", 1)[0] for r in result.reasons] == [
        "required_documents",
        "claims",
        "claims",
        "approvals",
        "deadline",
    ]
    assert "units_delivered >= 50" in result.reasons[1]
    assert "acceptance_test_passed" in result.reasons[2]


class _Broken:
    name = "broken"

    def check(self, ctx: VerificationContext) -> list[str]:
        raise RuntimeError("bug")


def test_a_rule_that_raises_is_a_reason_and_the_others_still_run(
    store: DocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    evidence = _evidence(store)
    result = verify(_ctx(evidence, store, now=DEADLINE + 1), verifiers=(_Broken(), Deadline()))
    assert not result.ok
    assert result.reasons[0] == (
        "broken: the rule could not be checked (RuntimeError); see the node's log"
    )
    assert result.reasons[1].startswith("deadline: the milestone's deadline passed")
    assert "verifier broken raised" in caplog.text


def test_the_registry_holds_one_of_each_rule_with_distinct_names() -> None:
    assert [type(v) for v in VERIFIERS] == [
        RequiredDocuments,
        ClaimRules,
        InspectorApprovals,
        Deadline,
    ]
    assert len({v.name for v in VERIFIERS}) == len(VERIFIERS)
