"""Evidence specifications: what proof a milestone requires, in a YAML or JSON file.

The escrow stores only the hash of the file (`spec_hash`, keccak256 of its bytes): a milestone
registers `spec_hash(raw)` on-chain, and `disburse evidence-spec hash FILE` and every oracle node
compute it the same way, over the exact bytes of the file (no parsing, no normalisation), so a
changed space is a different specification.

`parse_spec(raw)` reads and validates one; everything that registers or verifies a milestone uses
it (the plan loader before registering, the oracle node before verifying), so a specification no
node could use is refused before it is registered. The file is strict: unknown fields, duplicate
keys, YAML aliases and merge keys are refused, so what a reviewer reads is exactly what the node
enforces. It is bounded: at most MAX_SPEC_BYTES bytes, MAX_SPEC_DEPTH levels of nesting,
integers of at most MAX_INT_DIGITS digits, and no NUL or other control characters; anything else
raises EvidenceSpecError naming the problem, never a parser's own exception. One YAML 1.1
surprise is undone: an unquoted address or 32-byte hash (`0x` and 40 or 64 hex digits) is read as
text, not as a hexadecimal integer.

A specification, in YAML:

    version: 1
    title: Delivery of 50 units, lot 7
    submitters: [inspector]          # optional: the roles whose API keys may submit evidence
    required_documents:
      - {name: delivery-note.pdf, media_type: application/pdf}
    claims:
      - {name: units_delivered, kind: number, op: ">=", value: 50}
      - {name: acceptance_test_passed, kind: boolean, value: true}
    approvals:
      inspectors: ["0x…", "0x…", "0x…"]
      required: 2
    check_deadline: true

The field types here (addresses, document names, media types, claim names and values) are also
those of the evidence a node receives (`oracle.evidence`).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Annotated, Any, Literal

import yaml
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from disburse.chain.errors import EvidenceSpecError


def spec_hash(raw: bytes) -> bytes:
    """keccak256 of the specification file's bytes: the 32 bytes registered with a milestone."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"spec_hash takes the file's bytes, not {type(raw).__name__}")
    return keccak(bytes(raw))


# --- field types -----------------------------------------------------------------------------

MAX_DOCUMENTS = 100
MAX_CLAIMS = 100
MAX_APPROVALS = 50
MAX_CLAIM_TEXT = 1_000
MAX_NAME = 200
CLAIM_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
# Claims are integers a 256-bit signed word can hold, so any node (or contract) can carry them.
CLAIM_INT_MIN = -(2**255)
CLAIM_INT_MAX = 2**255 - 1

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# RFC 6838 restricted names, no parameters: a media type names a format, not an encoding.
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


# --- field types -----------------------------------------------------------------------------


def _nfc(value: str) -> str:
    """Refuses text that is not in Unicode NFC form: two spellings of one name would otherwise
    give two hashes (and fail to match a specification written in the other form)."""
    if unicodedata.normalize("NFC", value) != value:
        raise PydanticCustomError(
            "unicode_not_nfc", "text must be in Unicode NFC form; normalise it before sending"
        )
    return value


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "unicode_surrogate", "text contains a lone surrogate and is not valid UTF-8"
        ) from None
    return value


def _document_name(value: str) -> str:
    if not 1 <= len(value) <= MAX_NAME:
        raise PydanticCustomError(
            "document_name", "a document name has 1 to {max} characters", {"max": MAX_NAME}
        )
    if not value.isprintable():
        raise PydanticCustomError(
            "document_name", "a document name must not contain control or unprintable characters"
        )
    if "/" in value or "\\" in value or value in (".", ".."):
        raise PydanticCustomError(
            "document_name", "a document name is a file name, without path separators"
        )
    if value != value.strip():
        raise PydanticCustomError(
            "document_name", "a document name must not start or end with whitespace"
        )
    return _nfc(value)


def _sha256_hex(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise PydanticCustomError(
            "sha256_hex", "expected a SHA-256 digest: 64 hexadecimal characters, without 0x"
        )
    return value.lower()


def _hex32(value: str) -> str:
    if not _HEX32.fullmatch(value):
        raise PydanticCustomError(
            "bytes32_hex", "expected 32 bytes as 0x followed by 64 hexadecimal characters"
        )
    return value.lower()


def _signature_hex(value: str) -> str:
    if not _SIGNATURE.fullmatch(value):
        raise PydanticCustomError(
            "signature_hex",
            "expected a 65-byte signature (r, s, v) as 0x followed by 130 hexadecimal characters",
        )
    return value.lower()


def _address(value: str) -> str:
    """Takes a checksummed address, or an all-lowercase one (which carries no checksum), and
    returns the checksummed form; a mixed-case address with a wrong checksum is a typo."""
    if not _ADDRESS.fullmatch(value):
        raise PydanticCustomError(
            "address", "expected an address: 0x followed by 40 hexadecimal characters"
        )
    if value[2:] != value[2:].lower() and not is_checksum_address(value):
        raise PydanticCustomError(
            "address_checksum",
            "address {address} has a wrong checksum; copy it again from its source",
            {"address": value},
        )
    return to_checksum_address(value)


def _media_type(value: str) -> str:
    lowered = value.lower()
    if not _MEDIA_TYPE.fullmatch(lowered):
        raise PydanticCustomError(
            "media_type", "expected a media type as type/subtype, e.g. application/pdf"
        )
    return lowered


def _claim_value(value: object) -> ClaimValue:
    # `type(...) is` on purpose: bool is a subclass of int, and a claim keeps its JSON kind.
    if type(value) is bool:
        return value
    if type(value) is int:
        if not CLAIM_INT_MIN <= value <= CLAIM_INT_MAX:
            raise PydanticCustomError(
                "claim_int_range", "an integer claim must fit a signed 256-bit integer"
            )
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise PydanticCustomError(
                "claim_float_finite", "a number claim must be finite (no NaN or infinity)"
            )
        return value
    if type(value) is str:
        if len(value) > MAX_CLAIM_TEXT:
            raise PydanticCustomError(
                "claim_text_length",
                "a text claim has at most {max} characters",
                {"max": MAX_CLAIM_TEXT},
            )
        return _nfc(_utf8(value))
    raise PydanticCustomError(
        "claim_value",
        "a claim is a number, a boolean or a text, not {kind}",
        {"kind": type(value).__name__},
    )


DocumentName = Annotated[str, AfterValidator(_utf8), AfterValidator(_document_name)]
Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]
Bytes32Hex = Annotated[str, AfterValidator(_hex32)]
SignatureHex = Annotated[str, AfterValidator(_signature_hex)]
Address = Annotated[str, AfterValidator(_address)]
"""A checksummed 0x address (an all-lowercase one is accepted and checksummed)."""
MediaType = Annotated[str, AfterValidator(_media_type)]
ClaimName = Annotated[str, Field(pattern=CLAIM_NAME_PATTERN)]
ClaimValue = Annotated[
    bool | int | float | str,
    PlainValidator(_claim_value, json_schema_input_type=bool | int | float | str),
]
"""A claim's value: a boolean, an integer (int256), a finite float, or a text."""


def _printable(value: str) -> str:
    """Text a reviewer reads: no control characters (a JSON escape can carry a NUL)."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise PydanticCustomError("text_control", "text must not contain control characters")
    return _nfc(_utf8(value))


MAX_SPEC_BYTES = 1 << 20
"""The largest specification file read, in bytes."""
MAX_SPEC_DEPTH = 16
"""The deepest nesting of mappings and lists a specification may have (it needs four)."""
MAX_INT_DIGITS = 80
"""The longest run of digits a specification may hold (an int256 has at most 78)."""
MAX_ROLES = 16
ROLE_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
"""A submitter role: what an API key may be scoped to, and what `submitters:` names."""
MAX_TITLE = 200

ClaimKind = Literal["number", "boolean", "text"]
ClaimOp = Literal[">=", ">", "<=", "<", "==", "!="]
_EQUALITY_OPS = ("==", "!=")


Role = Annotated[str, Field(pattern=ROLE_PATTERN)]


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
    title: Annotated[str, AfterValidator(_printable)] = Field(min_length=1, max_length=MAX_TITLE)
    required_documents: list[RequiredDocument] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS
    )
    claims: list[ClaimRule] = Field(default_factory=list, max_length=MAX_CLAIMS)
    approvals: ApprovalRule | None = None
    check_deadline: bool = True
    submitters: list[Role] | None = Field(default=None, min_length=1, max_length=MAX_ROLES)
    """The roles whose API keys may submit evidence for a milestone of this specification
    (e.g. `[inspector]`: a contractor's key may not); None: any key scoped to the milestone."""

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


def parse_spec(raw: bytes) -> EvidenceSpec:
    """Parses and validates a specification file (YAML or JSON). Raises EvidenceSpecError
    naming the problem: too large, not UTF-8, a NUL or control character, nested too deep, an
    integer too long, invalid syntax, or a field that does not validate."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise EvidenceSpecError(f"a specification is the file's bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) > MAX_SPEC_BYTES:
        raise EvidenceSpecError(
            f"specification is {len(raw)} bytes, over the limit of {MAX_SPEC_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvidenceSpecError(f"specification is not UTF-8 text: {exc}") from None
    _check_text(text)
    try:
        data = _parse(text)
    except RecursionError:
        raise EvidenceSpecError(
            f"specification is nested too deep (at most {MAX_SPEC_DEPTH} levels)"
        ) from None
    if not isinstance(data, dict):
        raise EvidenceSpecError(
            "a specification is a mapping at its top level (YAML) or an object (JSON), "
            f"not {_kind_of(data)}"
        )
    _check_depth(data)
    try:
        return EvidenceSpec.model_validate(data)
    except ValidationError as exc:
        raise EvidenceSpecError(f"invalid specification: {_describe(exc)}") from None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_text(text: str) -> None:
    """Refuses what no specification needs and parsers handle badly: control characters (a NUL
    byte first of all), runs of digits longer than any claim value, and bracket nesting deeper
    than MAX_SPEC_DEPTH (checked before parsing, which would otherwise recurse that deep)."""
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise EvidenceSpecError(
            f"specification contains the control character U+{ord(control.group()):04X} "
            f"(line {line}); a specification is plain text"
        )
    for run in re.finditer(r"[0-9]+", text):
        if len(run.group()) > MAX_INT_DIGITS:
            line = text.count("\n", 0, run.start()) + 1
            raise EvidenceSpecError(
                f"specification has a number of {len(run.group())} digits (line {line}); "
                f"at most {MAX_INT_DIGITS}"
            )
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_SPEC_DEPTH:
                raise EvidenceSpecError(
                    f"specification is nested too deep (at most {MAX_SPEC_DEPTH} levels)"
                )
        elif char in "]}":
            depth = max(0, depth - 1)


def _check_depth(data: object, depth: int = 1) -> None:
    """Block-style YAML nests by indentation, which the bracket count does not see."""
    if depth > MAX_SPEC_DEPTH:
        raise EvidenceSpecError(
            f"specification is nested too deep (at most {MAX_SPEC_DEPTH} levels)"
        )
    if isinstance(data, dict):
        for value in data.values():
            _check_depth(value, depth + 1)
    elif isinstance(data, list):
        for value in data:
            _check_depth(value, depth + 1)


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
    except EvidenceSpecError as exc:
        if json_error is not None:
            raise EvidenceSpecError(f"specification is not valid JSON: {json_error}") from None
        raise exc from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise EvidenceSpecError(f"specification repeats the key {key!r}; state each field once")
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise EvidenceSpecError(f"specification contains {name}, which is not a number")


_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
# YAML 1.1 reads an unquoted 0x… as a hexadecimal integer; an address or a 32-byte hash written
# without quotes is meant as text, so it is read as text.
_HEX_TEXT = re.compile(r"^0x(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


def _load_yaml(text: str) -> object:
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise EvidenceSpecError(f"specification is not valid YAML or JSON: {exc}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml(node, set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise EvidenceSpecError(f"specification is not valid YAML or JSON: {exc}") from None
    finally:
        loader.dispose()


def _check_yaml(node: Any, seen: set[int]) -> None:
    """Refuses aliases (a node reached twice), merge keys, complex keys and duplicate keys:
    each could make the document say something other than what a reader sees. Reads unquoted
    addresses and hashes as text."""
    if id(node) in seen:
        raise EvidenceSpecError(
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
                raise EvidenceSpecError(f"specification uses a YAML merge key (line {line})")
            if not isinstance(key, yaml.ScalarNode):
                raise EvidenceSpecError(
                    f"specification has a key that is not a plain value (line {line})"
                )
            if (key.tag, key.value) in keys:
                raise EvidenceSpecError(
                    f"specification repeats the key {key.value!r} (line {line}); "
                    "state each field once"
                )
            keys.add((key.tag, key.value))
            _check_yaml(key, seen)
            _check_yaml(value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_yaml(item, seen)
