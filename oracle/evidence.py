"""Evidence for a milestone: the models that validate it and the hashes every node agrees on.

A submitter sends the milestone id, references to documents (by SHA-256), structured claims and
inspector approvals. Two hashes are derived from it:

- `subject_hash`: keccak256 of the canonical JSON of the milestone id, the documents and the
  claims. This is what an inspector signs (EIP-191 personal sign over the 32 bytes), so an
  approval is bound to one milestone and one exact set of documents and claims.
- `evidence_hash`: keccak256 of the canonical JSON of the whole bundle, approvals included. This
  is what the node attests on-chain.

Canonical JSON has sorted keys, no whitespace, UTF-8 without escaping, documents sorted by name
and approvals by lowercase inspector address, so the same evidence gives the same hash whatever
order it arrived in. Input is normalised once, at validation (hex to lowercase, addresses to
their checksum form, media types to lowercase), so equal evidence is equal byte for byte.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Annotated, Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from disburse.types import MilestoneId
from oracle.errors import EvidenceError

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


# --- models ----------------------------------------------------------------------------------


class _Strict(BaseModel):
    """Strict, closed and frozen: no coercion ("5" is not 5), no unknown fields, no mutation
    after the hashes are taken."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DocumentRef(_Strict):
    """One document of the evidence, by name and content hash."""

    name: DocumentName
    sha256: Sha256Hex
    size: int = Field(ge=0, description="length of the document in bytes")
    media_type: MediaType = "application/octet-stream"


class InspectorApproval(_Strict):
    """An inspector's EIP-191 personal-sign signature over the evidence's subject hash."""

    inspector: Address
    signature: SignatureHex


class EvidenceCreate(_Strict):
    """Evidence as a submitter sends it."""

    milestone_id: Bytes32Hex
    documents: list[DocumentRef] = Field(default_factory=list, max_length=MAX_DOCUMENTS)
    claims: dict[ClaimName, ClaimValue] = Field(default_factory=dict, max_length=MAX_CLAIMS)
    approvals: list[InspectorApproval] = Field(default_factory=list, max_length=MAX_APPROVALS)

    @field_validator("documents")
    @classmethod
    def _unique_document_names(cls, documents: list[DocumentRef]) -> list[DocumentRef]:
        duplicates = _duplicates(d.name for d in documents)
        if duplicates:
            raise PydanticCustomError(
                "duplicate_document",
                "document names must be unique; repeated: {names}",
                {"names": ", ".join(duplicates)},
            )
        return documents

    @field_validator("approvals")
    @classmethod
    def _unique_inspectors(cls, approvals: list[InspectorApproval]) -> list[InspectorApproval]:
        duplicates = _duplicates(a.inspector for a in approvals)
        if duplicates:
            raise PydanticCustomError(
                "duplicate_approval",
                "each inspector approves once; repeated: {inspectors}",
                {"inspectors": ", ".join(duplicates)},
            )
        return approvals

    @property
    def milestone(self) -> MilestoneId:
        """The milestone id as the escrow's bytes32."""
        return MilestoneId(bytes.fromhex(self.milestone_id[2:]))


def _duplicates(values: Any) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


# --- canonical form and hashes ---------------------------------------------------------------


def canonical_json(value: object) -> bytes:
    """JSON with sorted keys, no whitespace, UTF-8 without escapes; NaN and infinity refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _documents(evidence: EvidenceCreate) -> list[dict[str, Any]]:
    ordered = sorted(evidence.documents, key=lambda d: d.name)
    return [d.model_dump(mode="python") for d in ordered]


def _subject(evidence: EvidenceCreate) -> dict[str, Any]:
    return {
        "milestone_id": evidence.milestone_id,
        "documents": _documents(evidence),
        "claims": dict(evidence.claims),
    }


def subject_hash(evidence: EvidenceCreate) -> bytes:
    """What inspectors sign: keccak256 of the canonical milestone id, documents and claims."""
    return keccak(canonical_json(_subject(evidence)))


def canonical_bundle(evidence: EvidenceCreate) -> bytes:
    """The whole evidence as canonical JSON: the bytes behind `evidence_hash`, and the form the
    journal keeps."""
    ordered = sorted(evidence.approvals, key=lambda a: a.inspector.lower())
    bundle = _subject(evidence)
    bundle["approvals"] = [a.model_dump(mode="python") for a in ordered]
    return canonical_json(bundle)


def evidence_hash(evidence: EvidenceCreate) -> bytes:
    """The hash the node attests on-chain: keccak256 of `canonical_bundle`."""
    return keccak(canonical_bundle(evidence))


# --- inspector signatures --------------------------------------------------------------------


def _subject_bytes(value: bytes) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise EvidenceError("a subject hash is 32 bytes; compute it with subject_hash(evidence)")
    return value


def sign_inspector_approval(private_key: bytes | str, evidence_subject_hash: bytes) -> str:
    """Signs a subject hash as an inspector would (EIP-191 personal sign over its 32 bytes) and
    returns the 65-byte signature as 0x-prefixed lowercase hex."""
    message = encode_defunct(primitive=_subject_bytes(evidence_subject_hash))
    signed = Account.sign_message(message, private_key)
    return "0x" + bytes(signed.signature).hex()


def recover_inspector(approval: InspectorApproval, subject_hash: bytes) -> str:
    """The checksummed address that signed `subject_hash` with this approval's signature.

    Raises EvidenceError when the signature cannot be a valid one (bad v, r or s): the caller
    reports that as a reason, it is not a crash. The caller also compares the result with
    `approval.inspector`; recovery alone proves only that *someone* signed.
    """
    message = encode_defunct(primitive=_subject_bytes(subject_hash))
    signature = bytes.fromhex(approval.signature[2:])
    try:
        signer: str = Account.recover_message(message, signature=signature)
    except Exception as exc:  # eth-keys raises several types for one meaning: not a signature
        raise EvidenceError(
            f"the approval for inspector {approval.inspector} carries a malformed signature "
            f"({exc}); ask the inspector to sign the subject hash again"
        ) from exc
    return to_checksum_address(signer)
