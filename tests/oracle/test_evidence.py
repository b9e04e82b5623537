"""Evidence models, canonical hashing and inspector signatures (no chain needed).

EvidenceCreate
├── valid input: accepted, normalised (hex lowercase, addresses checksummed, media type lowercase)
├── unknown field / wrong type (no coercion): refused, naming the field
├── milestone_id: not 0x + 64 hex → refused
├── documents: bad name / digest / size / media type, repeated name, more than 100 → refused
├── claims: bad key, more than 100, text over 1,000 chars, NaN/infinity, outside int256,
│           a list → refused; kinds kept (true stays a boolean, 1 an integer, 1.0 a float)
└── approvals: bad checksum, malformed signature, repeated inspector, more than 50 → refused
hashes
├── same evidence in any order of documents, approvals and claim keys → same hash (property)
├── any change of content → another hash
├── canonical bundle: sorted keys, no whitespace, UTF-8 unescaped; evidence_hash = its keccak
└── subject hash: excludes approvals
signatures
├── a real key's approval recovers to its address, also when signed with eth-account directly
├── a signature over another subject recovers to another address
└── a malformed signature → EvidenceError, not a crash
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import warnings
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from oracle.errors import EvidenceError
from oracle.evidence import (
    EvidenceCreate,
    InspectorApproval,
    canonical_bundle,
    evidence_hash,
    recover_inspector,
    sign_inspector_approval,
    subject_hash,
)

INSPECTORS = [Account.from_key(keccak(text=f"test-inspector-{i}")) for i in range(5)]
MILESTONE = "0x" + "11" * 32


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "milestone_id": MILESTONE,
        "documents": [
            {"name": "report.pdf", "sha256": _sha("r"), "size": 1, "media_type": "application/pdf"},
            {"name": "photo.jpg", "sha256": _sha("p"), "size": 2, "media_type": "image/jpeg"},
        ],
        "claims": {"units_delivered": 50, "acceptance_test_passed": True, "note": "lot 7"},
        "approvals": [],
    }
    body.update(overrides)
    return body


def _errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field location, error type) pairs of a refused body."""
    with pytest.raises(ValidationError) as raised:
        EvidenceCreate.model_validate(body)
    return [(".".join(str(p) for p in e["loc"]), e["type"]) for e in raised.value.errors()]


def _approved(body: dict[str, Any], *signers: int) -> EvidenceCreate:
    subject = subject_hash(EvidenceCreate.model_validate(body))
    approvals = [
        {
            "inspector": INSPECTORS[i].address,
            "signature": sign_inspector_approval(INSPECTORS[i].key, subject),
        }
        for i in signers
    ]
    return EvidenceCreate.model_validate({**body, "approvals": approvals})


# --- models ----------------------------------------------------------------------------------


def test_valid_evidence_is_accepted_from_json() -> None:
    evidence = EvidenceCreate.model_validate_json(json.dumps(_body()))
    assert evidence.milestone == bytes.fromhex("11" * 32)
    assert [d.name for d in evidence.documents] == ["report.pdf", "photo.jpg"]
    assert evidence.claims["units_delivered"] == 50


def test_hex_addresses_and_media_types_are_normalised() -> None:
    body = _body(
        milestone_id="0x" + "AB" * 32,
        documents=[
            {
                "name": "a.pdf",
                "sha256": _sha("a").upper(),
                "size": 1,
                "media_type": "Application/PDF",
            }
        ],
    )
    body["approvals"] = [
        {"inspector": INSPECTORS[0].address.lower(), "signature": "0x" + "AB" * 65}
    ]
    evidence = EvidenceCreate.model_validate(body)
    assert evidence.milestone_id == "0x" + "ab" * 32
    assert evidence.documents[0].sha256 == _sha("a")
    assert evidence.documents[0].media_type == "application/pdf"
    assert evidence.approvals[0].inspector == INSPECTORS[0].address
    assert evidence.approvals[0].signature == "0x" + "ab" * 65


def test_media_type_defaults_to_octet_stream() -> None:
    body = _body(documents=[{"name": "blob", "sha256": _sha("b"), "size": 0}])
    assert EvidenceCreate.model_validate(body).documents[0].media_type == "application/octet-stream"


def test_an_unknown_field_is_refused_naming_it() -> None:
    assert _errors(_body(submitter="me")) == [("submitter", "extra_forbidden")]


def test_an_unknown_field_inside_a_document_is_refused() -> None:
    body = _body()
    body["documents"][0]["url"] = "http://x"
    assert _errors(body) == [("documents.0.url", "extra_forbidden")]


def test_numbers_given_as_strings_are_not_coerced() -> None:
    body = _body()
    body["documents"][0]["size"] = "1"
    assert _errors(body) == [("documents.0.size", "int_type")]


@pytest.mark.parametrize("value", ["0x1234", "11" * 32, "0x" + "zz" * 32, "0X" + "11" * 32, 7])
def test_a_malformed_milestone_id_is_refused(value: object) -> None:
    assert [loc for loc, _ in _errors(_body(milestone_id=value))] == ["milestone_id"]


@pytest.mark.parametrize(
    "name",
    ["", "x" * 201, "a/b.pdf", "a\\b.pdf", "..", ".", "tab\there", " leading", "trailing ", "nl\n"],
)
def test_a_bad_document_name_is_refused(name: str) -> None:
    body = _body()
    body["documents"][0]["name"] = name
    assert [loc for loc, _ in _errors(body)] == ["documents.0.name"]


def test_a_document_name_not_in_unicode_nfc_is_refused() -> None:
    body = _body()
    body["documents"][0]["name"] = unicodedata.normalize("NFD", "Prüfbericht.pdf")
    assert _errors(body) == [("documents.0.name", "unicode_not_nfc")]


def test_a_unicode_document_name_in_nfc_is_accepted() -> None:
    body = _body()
    body["documents"][0]["name"] = "Prüfbericht 検査.pdf"
    assert EvidenceCreate.model_validate(body).documents[0].name == "Prüfbericht 検査.pdf"


@pytest.mark.parametrize("digest", ["0x" + "a" * 64, "a" * 63, "a" * 65, "g" * 64])
def test_a_malformed_document_digest_is_refused(digest: str) -> None:
    body = _body()
    body["documents"][0]["sha256"] = digest
    assert _errors(body) == [("documents.0.sha256", "sha256_hex")]


def test_a_negative_document_size_is_refused() -> None:
    body = _body()
    body["documents"][0]["size"] = -1
    assert _errors(body) == [("documents.0.size", "greater_than_equal")]


@pytest.mark.parametrize("media_type", ["pdf", "application/pdf; charset=x", "/pdf", "a/b/c"])
def test_a_media_type_that_is_not_type_slash_subtype_is_refused(media_type: str) -> None:
    body = _body()
    body["documents"][0]["media_type"] = media_type
    assert _errors(body) == [("documents.0.media_type", "media_type")]


def test_two_documents_with_one_name_are_refused() -> None:
    body = _body()
    body["documents"][1]["name"] = body["documents"][0]["name"]
    assert _errors(body) == [("documents", "duplicate_document")]


def test_more_than_100_documents_are_refused() -> None:
    documents = [{"name": f"d{i}", "sha256": _sha(str(i)), "size": 1} for i in range(101)]
    assert _errors(_body(documents=documents)) == [("documents", "too_long")]


def test_exactly_100_documents_are_accepted() -> None:
    documents = [{"name": f"d{i}", "sha256": _sha(str(i)), "size": 1} for i in range(100)]
    assert len(EvidenceCreate.model_validate(_body(documents=documents)).documents) == 100


@pytest.mark.parametrize("key", ["Units", "1st", "_x", "has-dash", "a" * 65, ""])
def test_a_claim_name_outside_the_pattern_is_refused(key: str) -> None:
    locations = [loc for loc, _ in _errors(_body(claims={key: 1}))]
    assert locations == [f"claims.{key}.[key]"]


def test_more_than_100_claims_are_refused() -> None:
    claims = {f"c{i}": i for i in range(101)}
    assert _errors(_body(claims=claims)) == [("claims", "too_long")]


def test_a_claim_text_over_1000_characters_is_refused() -> None:
    assert _errors(_body(claims={"note": "x" * 1001})) == [("claims.note", "claim_text_length")]


def test_a_claim_text_of_1000_characters_is_accepted() -> None:
    evidence = EvidenceCreate.model_validate(_body(claims={"note": "x" * 1000}))
    assert len(str(evidence.claims["note"])) == 1000


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_number_claim_is_refused(literal: str) -> None:
    raw = json.dumps(_body(claims={})).replace('"claims": {}', f'"claims": {{"x": {literal}}}')
    with pytest.raises(ValidationError) as raised:
        EvidenceCreate.model_validate_json(raw)
    assert [e["type"] for e in raised.value.errors()] == ["claim_float_finite"]


@pytest.mark.parametrize("value", [2**255, -(2**255) - 1])
def test_an_integer_claim_outside_int256_is_refused(value: int) -> None:
    assert _errors(_body(claims={"x": value})) == [("claims.x", "claim_int_range")]


@pytest.mark.parametrize("value", [[1], {"a": 1}, None])
def test_a_claim_that_is_not_a_scalar_is_refused(value: object) -> None:
    assert _errors(_body(claims={"x": value})) == [("claims.x", "claim_value")]


def test_claim_kinds_are_kept_as_sent() -> None:
    raw = json.dumps(_body(claims={"b": True, "i": 1, "f": 1.0, "s": "1"}))
    claims = EvidenceCreate.model_validate_json(raw).claims
    assert [type(claims[k]) for k in ("b", "i", "f", "s")] == [bool, int, float, str]


def test_an_inspector_address_with_a_wrong_checksum_is_refused() -> None:
    address = INSPECTORS[0].address
    wrong = address[:2] + address[2:].swapcase()
    body = _body(approvals=[{"inspector": wrong, "signature": "0x" + "11" * 65}])
    assert _errors(body) == [("approvals.0.inspector", "address_checksum")]


@pytest.mark.parametrize("signature", ["0x" + "11" * 64, "11" * 65, "0x" + "11" * 66, ""])
def test_a_signature_that_is_not_65_bytes_of_hex_is_refused(signature: str) -> None:
    body = _body(approvals=[{"inspector": INSPECTORS[0].address, "signature": signature}])
    assert _errors(body) == [("approvals.0.signature", "signature_hex")]


def test_two_approvals_by_one_inspector_are_refused_whatever_the_address_case() -> None:
    address = INSPECTORS[0].address
    body = _body(
        approvals=[
            {"inspector": address, "signature": "0x" + "11" * 65},
            {"inspector": address.lower(), "signature": "0x" + "22" * 65},
        ]
    )
    assert _errors(body) == [("approvals", "duplicate_approval")]


def test_more_than_50_approvals_are_refused() -> None:
    approvals = [
        {
            "inspector": Account.from_key(keccak(text=f"many-{i}")).address,
            "signature": "0x" + "11" * 65,
        }
        for i in range(51)
    ]
    assert _errors(_body(approvals=approvals)) == [("approvals", "too_long")]


def test_evidence_cannot_be_changed_after_validation() -> None:
    evidence = EvidenceCreate.model_validate(_body())
    with pytest.raises(ValidationError):
        evidence.milestone_id = "0x" + "22" * 32  # type: ignore[misc]


# --- hashes ----------------------------------------------------------------------------------


def test_the_same_evidence_in_another_order_has_the_same_hash() -> None:
    forward = _approved(_body(), 0, 1, 2)
    body = forward.model_dump()
    backward = EvidenceCreate.model_validate(
        {
            "milestone_id": body["milestone_id"],
            "documents": list(reversed(body["documents"])),
            "claims": dict(reversed(list(body["claims"].items()))),
            "approvals": list(reversed(body["approvals"])),
        }
    )
    assert backward.documents != forward.documents  # the input order really differs
    assert evidence_hash(backward) == evidence_hash(forward)
    assert subject_hash(backward) == subject_hash(forward)


_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp", "Cf", "Co", "Cn")),
    min_size=1,
    max_size=12,
).filter(
    lambda s: (
        "/" not in s
        and "\\" not in s
        and s not in (".", "..")
        and s.isprintable()
        and unicodedata.normalize("NFC", s) == s
    )
)
_documents = st.lists(
    st.tuples(_names, st.binary(max_size=16), st.integers(0, 10**9)),
    unique_by=lambda t: t[0],
    max_size=8,
).map(
    lambda docs: [
        {"name": n, "sha256": hashlib.sha256(b).hexdigest(), "size": s} for n, b, s in docs
    ]
)
_claim_values = st.one_of(
    st.booleans(),
    st.integers(-(2**255), 2**255 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20).map(lambda s: unicodedata.normalize("NFC", s)),
)
_claim_names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", max_size=63),
)
_claims = st.dictionaries(_claim_names, _claim_values, max_size=10)
_approvals = st.lists(
    st.tuples(st.sampled_from(range(len(INSPECTORS))), st.binary(min_size=65, max_size=65)),
    unique_by=lambda t: t[0],
    max_size=len(INSPECTORS),
).map(
    lambda found: [
        {"inspector": INSPECTORS[i].address, "signature": "0x" + sig.hex()} for i, sig in found
    ]
)


def _given_without_chain(**strategies: Any) -> Any:
    """hypothesis.given without brownie's warning: these properties touch no chain, so the
    per-example chain isolation of brownie.test.given would only cost time."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Directly importing `hypothesis.given`")
        return given(**strategies)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@_given_without_chain(documents=_documents, claims=_claims, approvals=_approvals, data=st.data())
def test_any_permutation_of_documents_approvals_and_claims_gives_the_same_hash(
    documents: list[dict[str, Any]],
    claims: dict[str, Any],
    approvals: list[dict[str, Any]],
    data: st.DataObject,
) -> None:
    original = EvidenceCreate.model_validate(
        {
            "milestone_id": MILESTONE,
            "documents": documents,
            "claims": claims,
            "approvals": approvals,
        }
    )
    claim_items = data.draw(st.permutations(list(claims.items())), label="claim order")
    shuffled = EvidenceCreate.model_validate(
        {
            "milestone_id": MILESTONE,
            "documents": data.draw(st.permutations(documents), label="document order"),
            "claims": dict(claim_items),
            "approvals": data.draw(st.permutations(approvals), label="approval order"),
        }
    )
    assert canonical_bundle(shuffled) == canonical_bundle(original)
    assert evidence_hash(shuffled) == evidence_hash(original)
    assert subject_hash(shuffled) == subject_hash(original)
    # and the bundle is itself valid evidence that hashes the same (a fixed point)
    again = EvidenceCreate.model_validate_json(canonical_bundle(original))
    assert evidence_hash(again) == evidence_hash(original)


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.update(milestone_id="0x" + "12" * 32),
        lambda b: b["documents"][0].update(name="other.pdf"),
        lambda b: b["documents"][0].update(sha256=_sha("other")),
        lambda b: b["documents"][0].update(size=2),
        lambda b: b["documents"][0].update(media_type="application/zip"),
        lambda b: b["documents"].pop(),
        lambda b: b["claims"].update(units_delivered=51),
        lambda b: b["claims"].update(units_delivered=50.0),
        lambda b: b["claims"].update(extra=True),
        lambda b: b["claims"].pop("note"),
    ],
    ids=[
        "milestone",
        "doc-name",
        "doc-hash",
        "doc-size",
        "doc-type",
        "doc-removed",
        "claim-value",
        "claim-int-to-float",
        "claim-added",
        "claim-removed",
    ],
)
def test_any_change_of_content_changes_both_hashes(change: Any) -> None:
    body = _body()
    before = EvidenceCreate.model_validate(body)
    change(body)
    after = EvidenceCreate.model_validate(body)
    assert evidence_hash(after) != evidence_hash(before)
    assert subject_hash(after) != subject_hash(before)


def test_approvals_change_the_evidence_hash_but_not_the_subject_hash() -> None:
    plain = EvidenceCreate.model_validate(_body())
    approved = _approved(_body(), 0)
    assert subject_hash(approved) == subject_hash(plain)
    assert evidence_hash(approved) != evidence_hash(plain)


def test_the_canonical_bundle_is_sorted_compact_utf8() -> None:
    evidence = EvidenceCreate.model_validate(
        {
            "milestone_id": MILESTONE,
            "documents": [{"name": "é.pdf", "sha256": "a" * 64, "size": 3}],
            "claims": {"z": 1.5, "a": "ü"},
        }
    )
    expected = (
        '{"approvals":[],"claims":{"a":"ü","z":1.5},"documents":[{"media_type":'
        '"application/octet-stream","name":"é.pdf","sha256":"' + "a" * 64 + '","size":3}],'
        '"milestone_id":"' + MILESTONE + '"}'
    ).encode()
    assert canonical_bundle(evidence) == expected
    assert evidence_hash(evidence) == keccak(expected)


def test_the_subject_hash_covers_milestone_documents_and_claims_only() -> None:
    evidence = _approved(_body(), 0)
    subject = {
        "milestone_id": MILESTONE,
        "documents": sorted(_body()["documents"], key=lambda d: d["name"]),
        "claims": _body()["claims"],
    }
    raw = json.dumps(subject, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert subject_hash(evidence) == keccak(raw.encode())


# --- signatures ------------------------------------------------------------------------------


def test_a_signed_approval_recovers_to_its_inspector() -> None:
    evidence = _approved(_body(), 3)
    assert recover_inspector(evidence.approvals[0], subject_hash(evidence)) == INSPECTORS[3].address


def test_an_approval_signed_directly_with_eth_account_recovers_to_its_inspector() -> None:
    evidence = EvidenceCreate.model_validate(_body())
    signed = Account.sign_message(
        encode_defunct(primitive=subject_hash(evidence)), INSPECTORS[1].key
    )
    approval = InspectorApproval(
        inspector=INSPECTORS[1].address, signature="0x" + signed.signature.hex()
    )
    assert recover_inspector(approval, subject_hash(evidence)) == INSPECTORS[1].address


def test_a_signature_over_another_subject_recovers_to_another_address() -> None:
    evidence = _approved(_body(), 0)
    other = subject_hash(EvidenceCreate.model_validate(_body(claims={"units_delivered": 1})))
    assert recover_inspector(evidence.approvals[0], other) != INSPECTORS[0].address


@pytest.mark.parametrize(
    "signature",
    ["0x" + "00" * 65, "0x" + "ff" * 65, "0x" + "11" * 64 + "05"],
    ids=["zero", "s-over-curve-order", "bad-v"],
)
def test_a_malformed_signature_raises_evidence_error(signature: str) -> None:
    approval = InspectorApproval(inspector=INSPECTORS[0].address, signature=signature)
    with pytest.raises(EvidenceError, match="malformed signature"):
        recover_inspector(approval, b"\x01" * 32)


@pytest.mark.parametrize("subject", [b"", b"\x01" * 31, b"\x01" * 33])
def test_signing_refuses_a_subject_that_is_not_32_bytes(subject: bytes) -> None:
    with pytest.raises(EvidenceError, match="32 bytes"):
        sign_inspector_approval(INSPECTORS[0].key, subject)
