"""Evidence specifications: what proof a milestone requires, in a YAML or JSON file.

The escrow stores only the hash of the file (`disburse.specs.spec_hash`, keccak256 of its bytes).
`load_spec` checks that hash before it reads a single field, so a node never acts on a
specification other than the one registered on-chain. The file itself is strict: unknown
fields, duplicate keys, YAML aliases and merge keys are refused, so what a reviewer reads is
exactly what the node enforces. One YAML 1.1 surprise is undone: an unquoted address or 32-byte
hash (`0x` and 40 or 64 hex digits) is read as text, not as a hexadecimal integer.

A specification, in YAML:

    version: 1
    title: Delivery of 50 units, lot 7
    required_documents:
      - {name: delivery-note.pdf, media_type: application/pdf}
    claims:
      - {name: units_delivered, kind: number, op: ">=", value: 50}
      - {name: acceptance_test_passed, kind: boolean, value: true}
    approvals:
      inspectors: ["0x…", "0x…", "0x…"]
      required: 2
    check_deadline: true
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from disburse.specs import spec_hash
from oracle.errors import SpecError
from oracle.evidence import (
    MAX_APPROVALS,
    MAX_CLAIMS,
    MAX_DOCUMENTS,
    Address,
    ClaimName,
    ClaimValue,
    DocumentName,
    MediaType,
)

MAX_SPEC_BYTES = 1 << 20
"""The largest specification file a node reads, in bytes."""
MAX_TITLE = 200

ClaimKind = Literal["number", "boolean", "text"]
ClaimOp = Literal[">=", ">", "<=", "<", "==", "!="]
_EQUALITY_OPS = ("==", "!=")


class _SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RequiredDocument(_SpecModel):
    """A document the evidence must include, by name; of this media type when one is given."""

    name: DocumentName
    media_type: MediaType | None = None


class ClaimRule(_SpecModel):
    """A claim the evidence must make, of a kind, compared with `value` by `op`.

    Several rules may name the same claim (a range is `>=` and `<=`). Booleans and texts compare
    only with `==` and `!=`; a boolean is never a number.
    """

    name: ClaimName
    kind: ClaimKind
    op: ClaimOp = "=="
    value: ClaimValue

    @model_validator(mode="after")
    def _value_fits_kind(self) -> ClaimRule:
        value_kind = claim_kind(self.value)
        if value_kind != self.kind:
            raise PydanticCustomError(
                "claim_rule_kind",
                "claim rule {name} is of kind {kind} but its value is a {value_kind}",
                {"name": self.name, "kind": self.kind, "value_kind": value_kind},
            )
        if self.kind != "number" and self.op not in _EQUALITY_OPS:
            raise PydanticCustomError(
                "claim_rule_op",
                "claim rule {name} is of kind {kind}, which compares only with == or !=",
                {"name": self.name, "kind": self.kind},
            )
        return self


class ApprovalRule(_SpecModel):
    """`required` of the listed inspectors must sign the evidence's subject hash."""

    inspectors: list[Address] = Field(min_length=1, max_length=MAX_APPROVALS)
    required: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> ApprovalRule:
        lowered = [a.lower() for a in self.inspectors]
        if len(set(lowered)) != len(lowered):
            raise PydanticCustomError(
                "duplicate_inspector", "each inspector is listed once in approvals.inspectors"
            )
        if self.required > len(self.inspectors):
            raise PydanticCustomError(
                "approvals_required",
                "approvals.required is {required} but only {listed} inspectors are listed",
                {"required": self.required, "listed": len(self.inspectors)},
            )
        return self


class EvidenceSpec(_SpecModel):
    """A milestone's evidence specification (format version 1)."""

    version: Literal[1]
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    required_documents: list[RequiredDocument] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS
    )
    claims: list[ClaimRule] = Field(default_factory=list, max_length=MAX_CLAIMS)
    approvals: ApprovalRule | None = None
    check_deadline: bool = True

    @model_validator(mode="after")
    def _states_something(self) -> EvidenceSpec:
        names = [d.name for d in self.required_documents]
        if len(set(names)) != len(names):
            raise PydanticCustomError("duplicate_document", "each required document is listed once")
        if not (self.required_documents or self.claims or self.approvals):
            raise PydanticCustomError(
                "empty_spec",
                "a specification must require at least one document, claim or approval; "
                "one that requires nothing would approve any evidence",
            )
        return self


def claim_kind(value: bool | int | float | str) -> ClaimKind:
    """The specification kind a claim value belongs to (a boolean is not a number)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text"


def load_spec(raw: bytes, *, expected_hash: bytes) -> EvidenceSpec:
    """Parses and validates a specification file, after checking that `spec_hash(raw)` is the
    hash registered on-chain. YAML and JSON are both accepted."""
    if not isinstance(expected_hash, bytes) or len(expected_hash) != 32:
        raise SpecError("the expected specification hash must be 32 bytes (the on-chain value)")
    actual = spec_hash(raw)
    if actual != expected_hash:
        raise SpecError(
            f"specification hash 0x{actual.hex()} does not match the hash registered on-chain "
            f"0x{expected_hash.hex()}; fetch the specification file registered for this "
            "milestone, unchanged"
        )
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"specification is {len(raw)} bytes, over the limit of {MAX_SPEC_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"specification is not UTF-8 text: {exc}") from None
    data = _parse(text)
    if not isinstance(data, dict):
        raise SpecError(
            "a specification is a mapping at its top level (YAML) or an object (JSON), "
            f"not {_kind_of(data)}"
        )
    try:
        return EvidenceSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"invalid specification: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "specification"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _kind_of(data: object) -> str:
    if data is None:
        return "an empty document"
    return f"a {type(data).__name__}"


# --- parsing ---------------------------------------------------------------------------------


def _parse(text: str) -> object:
    json_error: ValueError | None = None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text, object_pairs_hook=_json_object, parse_constant=_no_constant)
        except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
            json_error = exc
    try:
        return _load_yaml(text)
    except SpecError as exc:
        if json_error is not None:
            raise SpecError(f"specification is not valid JSON: {json_error}") from None
        raise exc from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise SpecError(f"specification repeats the key {key!r}; state each field once")
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise SpecError(f"specification contains {name}, which is not a number")


_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
# YAML 1.1 reads an unquoted 0x… as a hexadecimal integer; an address or a 32-byte hash written
# without quotes is meant as text, so it is read as text.
_HEX_TEXT = re.compile(r"^0x(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


def _load_yaml(text: str) -> object:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml(node, set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SpecError(f"specification is not valid YAML or JSON: {exc}") from None
    finally:
        loader.dispose()


def _check_yaml(node: Any, seen: set[int]) -> None:
    """Refuses aliases (a node reached twice), merge keys, complex keys and duplicate keys:
    each could make the document say something other than what a reader sees. Reads unquoted
    addresses and hashes as text."""
    if id(node) in seen:
        raise SpecError(
            f"specification uses a YAML alias (line {node.start_mark.line + 1}); "
            "write the value out instead"
        )
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _INT_TAG and node.style is None and _HEX_TEXT.fullmatch(node.value):
            node.tag = _STR_TAG
    elif isinstance(node, yaml.MappingNode):
        keys: set[tuple[str, str]] = set()
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.tag == _MERGE_TAG:
                raise SpecError(f"specification uses a YAML merge key (line {line})")
            if not isinstance(key, yaml.ScalarNode):
                raise SpecError(f"specification has a key that is not a plain value (line {line})")
            if (key.tag, key.value) in keys:
                raise SpecError(
                    f"specification repeats the key {key.value!r} (line {line}); "
                    "state each field once"
                )
            keys.add((key.tag, key.value))
            _check_yaml(key, seen)
            _check_yaml(value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_yaml(item, seen)
