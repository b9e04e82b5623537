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
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from disburse.chain.specs import (  # the field types evidence shares with specifications
    MAX_APPROVALS,
    MAX_CLAIMS,
    MAX_DOCUMENTS,
    Address,
    Bytes32Hex,
    ClaimName,
    ClaimValue,
    DocumentName,
    MediaType,
    Sha256Hex,
    SignatureHex,
)
from disburse.chain.types import MilestoneId
from oracle.errors import EvidenceError

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
