"""Loading evidence specifications (no chain needed).

load_spec(raw, expected_hash)
├── expected hash not 32 bytes → SpecError
├── spec_hash(raw) != expected → SpecError with both hashes, before any parsing
├── over MAX_SPEC_BYTES, not UTF-8, invalid syntax, not a mapping, empty → SpecError
├── YAML → EvidenceSpec; the same in JSON → the same EvidenceSpec; YAML flow style → parsed
├── duplicate keys (YAML, JSON), YAML aliases and merge keys, NaN in JSON → SpecError
└── validation → SpecError naming the field
    ├── unknown field (top level, nested), version ≠ 1, string for an integer
    ├── claim rule: value of another kind, ordering op on a boolean or a text
    ├── approvals: no inspector, repeated inspector, required 0 or above the list
    ├── required documents: repeated name
    └── nothing required at all
spec_hash: keccak256 of the exact bytes (one more space is another hash)
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from disburse.chain import specs as spec_module
from disburse.chain.specs import spec_hash
from oracle.errors import SpecError
from oracle.spec import MAX_SPEC_BYTES, EvidenceSpec, load_spec

INSPECTORS = [Account.from_key(keccak(text=f"test-inspector-{i}")).address for i in range(3)]

YAML_SPEC = textwrap.dedent(
    f"""\
    version: 1
    title: Delivery of 50 units, lot 7
    required_documents:
      - name: delivery-note.pdf
        media_type: application/pdf
      - name: photo.jpg
    claims:
      - {{name: units_delivered, kind: number, op: ">=", value: 50}}
      - {{name: acceptance_test_passed, kind: boolean, value: true}}
      - {{name: lot, kind: text, value: "7"}}
    approvals:
      inspectors: [{INSPECTORS[0]}, {INSPECTORS[1]}, {INSPECTORS[2]}]
      required: 2
    check_deadline: false
    """
).encode()

SPEC_DICT: dict[str, Any] = {
    "version": 1,
    "title": "Delivery of 50 units, lot 7",
    "required_documents": [
        {"name": "delivery-note.pdf", "media_type": "application/pdf"},
        {"name": "photo.jpg"},
    ],
    "claims": [
        {"name": "units_delivered", "kind": "number", "op": ">=", "value": 50},
        {"name": "acceptance_test_passed", "kind": "boolean", "value": True},
        {"name": "lot", "kind": "text", "value": "7"},
    ],
    "approvals": {"inspectors": INSPECTORS, "required": 2},
    "check_deadline": False,
}


def _load(raw: bytes) -> EvidenceSpec:
    return load_spec(raw, expected_hash=spec_hash(raw))


def _load_dict(data: dict[str, Any]) -> EvidenceSpec:
    return _load(json.dumps(data).encode())


def _refused(data: dict[str, Any], *fragments: str) -> str:
    with pytest.raises(SpecError) as raised:
        _load_dict(data)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message
    return message


def _with(**changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(SPEC_DICT)), **changes}


# --- hash -------------------------------------------------------------------------------------


def test_spec_hash_is_keccak256_of_the_exact_bytes() -> None:
    assert spec_hash(YAML_SPEC) == keccak(YAML_SPEC)
    assert spec_hash(YAML_SPEC + b" ") != spec_hash(YAML_SPEC)
    assert len(spec_hash(b"")) == 32


def test_a_spec_whose_hash_differs_is_refused_with_both_hashes() -> None:
    wrong = b"\x01" * 32
    with pytest.raises(SpecError) as raised:
        load_spec(YAML_SPEC, expected_hash=wrong)
    assert "0x" + spec_hash(YAML_SPEC).hex() in str(raised.value)
    assert "0x" + wrong.hex() in str(raised.value)


def test_the_hash_is_checked_before_the_spec_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    monkeypatch.setattr(spec_module, "_parse", lambda text: parsed.append(text))
    unparseable = b"\xff\xfe not even utf-8: [\n"
    with pytest.raises(SpecError, match="does not match the hash registered on-chain"):
        load_spec(unparseable, expected_hash=spec_hash(YAML_SPEC))
    assert parsed == []


@pytest.mark.parametrize("expected", [b"", b"\x00" * 31, "0x" + "00" * 32])
def test_an_expected_hash_that_is_not_32_bytes_is_refused(expected: Any) -> None:
    with pytest.raises(SpecError, match="32 bytes"):
        load_spec(YAML_SPEC, expected_hash=expected)


# --- parsing ----------------------------------------------------------------------------------


def test_a_yaml_spec_is_loaded() -> None:
    spec = _load(YAML_SPEC)
    assert spec.title == "Delivery of 50 units, lot 7"
    assert [(d.name, d.media_type) for d in spec.required_documents] == [
        ("delivery-note.pdf", "application/pdf"),
        ("photo.jpg", None),
    ]
    assert [(c.name, c.kind, c.op, c.value) for c in spec.claims] == [
        ("units_delivered", "number", ">=", 50),
        ("acceptance_test_passed", "boolean", "==", True),
        ("lot", "text", "==", "7"),
    ]
    assert spec.approvals is not None
    assert spec.approvals.inspectors == INSPECTORS
    assert spec.approvals.required == 2
    assert spec.check_deadline is False


def test_unquoted_addresses_in_yaml_are_text_but_short_hex_numbers_stay_numbers() -> None:
    raw = (
        f"version: 1\ntitle: t\napprovals: {{inspectors: [{INSPECTORS[0].lower()}], required: 1}}\n"
        "claims: [{name: n, kind: number, value: 0x10}]\n"
    ).encode()
    spec = _load(raw)
    assert spec.approvals is not None
    assert spec.approvals.inspectors == [INSPECTORS[0]]
    assert spec.claims[0].value == 16


def test_the_same_spec_in_json_loads_to_the_same_model() -> None:
    assert _load_dict(SPEC_DICT) == _load(YAML_SPEC)


def test_a_yaml_flow_mapping_that_is_not_json_is_loaded() -> None:
    raw = b"{version: 1, title: t, claims: [{name: n, kind: number, value: 1}]}"
    assert _load(raw).claims[0].name == "n"


def test_check_deadline_defaults_to_true_and_optional_sections_to_empty() -> None:
    spec = _load(b"version: 1\ntitle: t\nclaims: [{name: n, kind: boolean, value: true}]\n")
    assert spec.check_deadline is True
    assert spec.required_documents == []
    assert spec.approvals is None


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert _load(b"\xef\xbb\xbf" + YAML_SPEC).title == "Delivery of 50 units, lot 7"


def test_a_spec_over_the_size_limit_is_refused() -> None:
    raw = YAML_SPEC + b"#" * MAX_SPEC_BYTES
    with pytest.raises(SpecError, match="over the limit"):
        _load(raw)


def test_a_spec_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(SpecError, match="not UTF-8"):
        _load(YAML_SPEC.replace(b"lot 7", b"lot \xff"))


@pytest.mark.parametrize("raw", [b"version: 1\ntitle: [unclosed\n", b"version: 1\n  bad: indent\n"])
def test_invalid_yaml_is_refused(raw: bytes) -> None:
    with pytest.raises(SpecError, match="not valid YAML"):
        _load(raw)


def test_invalid_json_is_refused_with_the_json_error() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        _load(b'{"version": 1, "title": "t",,}')


@pytest.mark.parametrize(
    ("raw", "found"), [(b"- 1\n- 2\n", "a list"), (b"", "an empty document"), (b"42", "a int")]
)
def test_a_spec_that_is_not_a_mapping_is_refused(raw: bytes, found: str) -> None:
    with pytest.raises(SpecError, match=f"mapping at its top level.*not {found}"):
        _load(raw)


def test_a_repeated_key_in_yaml_is_refused() -> None:
    with pytest.raises(SpecError, match=r"repeats the key 'title' \(line 3\)"):
        _load(b"version: 1\ntitle: a\ntitle: b\n")


def test_a_repeated_key_in_json_is_refused() -> None:
    with pytest.raises(SpecError, match="repeats the key 'title'"):
        _load(b'{"version": 1, "title": "a", "title": "b"}')


def test_a_yaml_alias_is_refused() -> None:
    raw = b"version: 1\ntitle: &t x\nclaims: [{name: n, kind: text, value: *t}]\n"
    with pytest.raises(SpecError, match="YAML alias"):
        _load(raw)


def test_a_yaml_merge_key_is_refused() -> None:
    raw = b"version: 1\ntitle: t\napprovals:\n  <<: {required: 1}\n  inspectors: []\n"
    with pytest.raises(SpecError, match="merge key"):
        _load(raw)


def test_nan_in_json_is_refused() -> None:
    raw = b'{"version": 1, "title": "t", "claims": [{"name": "n", "kind": "number", "value": NaN}]}'
    with pytest.raises(SpecError, match="NaN"):
        _load(raw)


# --- validation -------------------------------------------------------------------------------


def test_an_unknown_top_level_field_is_refused_naming_it() -> None:
    _refused(_with(approvers=[]), "approvers: Extra inputs are not permitted")


def test_an_unknown_nested_field_is_refused_naming_it() -> None:
    data = _with()
    data["claims"][0]["unit"] = "pcs"
    _refused(data, "claims.0.unit: Extra inputs are not permitted")


def test_a_version_other_than_1_is_refused() -> None:
    _refused(_with(version=2), "version:")


def test_a_number_given_as_a_string_is_refused() -> None:
    _refused(_with(approvals={"inspectors": INSPECTORS, "required": "2"}), "approvals.required:")


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        (
            {"name": "n", "kind": "number", "value": True},
            "of kind number but its value is a boolean",
        ),
        ({"name": "n", "kind": "number", "value": "5"}, "of kind number but its value is a text"),
        ({"name": "n", "kind": "boolean", "value": 1}, "of kind boolean but its value is a number"),
        ({"name": "n", "kind": "text", "value": 1.5}, "of kind text but its value is a number"),
        ({"name": "n", "kind": "boolean", "op": ">=", "value": True}, "compares only with =="),
        ({"name": "n", "kind": "text", "op": "<", "value": "b"}, "compares only with =="),
        ({"name": "n", "kind": "number", "op": "=>", "value": 1}, "claims.0.op:"),
        ({"name": "n", "kind": "integer", "value": 1}, "claims.0.kind:"),
        ({"name": "N", "kind": "number", "value": 1}, "claims.0.name:"),
    ],
)
def test_an_inconsistent_claim_rule_is_refused(rule: dict[str, Any], fragment: str) -> None:
    _refused(_with(claims=[rule]), fragment)


def test_several_rules_on_one_claim_are_allowed() -> None:
    rules = [
        {"name": "n", "kind": "number", "op": ">=", "value": 1},
        {"name": "n", "kind": "number", "op": "<=", "value": 9},
    ]
    assert len(_load_dict(_with(claims=rules)).claims) == 2


@pytest.mark.parametrize(
    ("approvals", "fragment"),
    [
        ({"inspectors": [], "required": 1}, "approvals.inspectors:"),
        ({"inspectors": INSPECTORS, "required": 0}, "approvals.required:"),
        ({"inspectors": INSPECTORS, "required": 4}, "required is 4 but only 3 inspectors"),
        (
            {"inspectors": [INSPECTORS[0], INSPECTORS[0].lower()], "required": 1},
            "each inspector is listed once",
        ),
        ({"inspectors": ["0x1234"], "required": 1}, "approvals.inspectors.0:"),
    ],
)
def test_an_inconsistent_approval_rule_is_refused(approvals: dict[str, Any], fragment: str) -> None:
    _refused(_with(approvals=approvals), fragment)


def test_a_repeated_required_document_is_refused() -> None:
    documents = [{"name": "a.pdf"}, {"name": "a.pdf", "media_type": "application/pdf"}]
    _refused(_with(required_documents=documents), "each required document is listed once")


def test_a_spec_that_requires_nothing_is_refused() -> None:
    _refused(
        {"version": 1, "title": "anything goes", "check_deadline": True},
        "must require at least one document, claim or approval",
    )
