"""EIP-712 attestations as the escrow verifies them, and the ids they refer to.

An oracle signs Attestation(milestoneId, evidenceHash, epoch) under the domain
("MilestoneEscrow", "1", chainId, escrow address); the escrow takes the signature in the compact
form of EIP-2098 (r, vs).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from disburse.types import MilestoneId

DOMAIN_NAME = "MilestoneEscrow"
DOMAIN_VERSION = "1"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ATTESTATION_TYPES = {
    "Attestation": [
        {"name": "milestoneId", "type": "bytes32"},
        {"name": "evidenceHash", "type": "bytes32"},
        {"name": "epoch", "type": "uint16"},
    ]
}


class AttestationError(ValueError):
    """An attestation could not be built from the values given."""


@dataclass(frozen=True)
class CompactSignature:
    """An EIP-2098 signature: `vs` carries the recovery bit in its top bit and s below it."""

    r: bytes
    vs: bytes

    def as_tuple(self) -> tuple[bytes, bytes]:
        return (self.r, self.vs)


def external_ref(text: str) -> bytes:
    """Encodes a manager's reference (at most 32 UTF-8 bytes) as the contract's bytes32."""
    raw = text.encode("utf-8")
    if not raw:
        raise AttestationError("an external reference must not be empty")
    if len(raw) > 32:
        raise AttestationError(
            f"external reference {text!r} is {len(raw)} bytes; at most 32 fit in bytes32"
        )
    return raw.ljust(32, b"\0")


def milestone_id(program_id: int, ref: bytes) -> MilestoneId:
    """The id the escrow gives the milestone `ref` of program `program_id`."""
    if len(ref) != 32:
        raise AttestationError(f"external reference must be 32 bytes, got {len(ref)}")
    return MilestoneId(keccak(encode(["uint256", "bytes32"], [program_id, ref])))


def _bytes32(value: bytes, name: str) -> bytes:
    if len(value) != 32:
        raise AttestationError(f"{name} must be 32 bytes, got {len(value)}")
    return value


def typed_attestation(
    *, chain_id: int, escrow: str, milestone: bytes, evidence_hash: bytes, epoch: int
) -> dict[str, object]:
    """The full EIP-712 typed-data document of one attestation."""
    if not 0 <= epoch < 2**16:
        raise AttestationError(f"epoch {epoch} does not fit uint16")
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **ATTESTATION_TYPES,
        },
        "primaryType": "Attestation",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": escrow,
        },
        "message": {
            "milestoneId": _bytes32(milestone, "milestone id"),
            "evidenceHash": _bytes32(evidence_hash, "evidence hash"),
            "epoch": epoch,
        },
    }


def sign_attestation(
    private_key: bytes | str,
    *,
    chain_id: int,
    escrow: str,
    milestone: bytes,
    evidence_hash: bytes,
    epoch: int,
) -> CompactSignature:
    """Signs an attestation and returns it in the compact form the escrow takes."""
    document = typed_attestation(
        chain_id=chain_id,
        escrow=escrow,
        milestone=milestone,
        evidence_hash=evidence_hash,
        epoch=epoch,
    )
    signed = Account.sign_message(encode_typed_data(full_message=document), private_key)
    return to_compact(signed.r, signed.s, signed.v)


def to_compact(r: int, s: int, v: int) -> CompactSignature:
    """Packs (r, s, v) into EIP-2098 form; only low-s signatures have one."""
    if not 0 < s <= _SECP256K1_N // 2:
        raise AttestationError("s is in the upper half of the curve order (malleable form)")
    parity = v - 27 if v >= 27 else v
    if parity not in (0, 1):
        raise AttestationError(f"recovery id v={v} is not 0, 1, 27 or 28")
    vs = (parity << 255) | s
    return CompactSignature(r.to_bytes(32, "big"), vs.to_bytes(32, "big"))
