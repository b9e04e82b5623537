"""EIP-712 attestations as the escrow verifies them, and the ids they refer to.

An oracle signs Attestation(milestoneId, evidenceHash, epoch, termsVersion) under the domain
("MilestoneEscrow", "1", chainId, escrow address); the escrow takes the signature in the compact
form of EIP-2098 (r, vs). `termsVersion` is the milestone's `termsVersion` as `milestone(id)`
returns it, read with the terms the evidence was checked against: the escrow counts the signature
only while the milestone's terms are still those (every amendment and beneficiary replacement
bumps the version).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from eth_abi.abi import encode
from eth_keys.datatypes import PrivateKey, Signature
from eth_keys.exceptions import BadSignature
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from disburse.chain.errors import DisburseError
from disburse.chain.types import MilestoneId

DOMAIN_NAME = "MilestoneEscrow"
DOMAIN_VERSION = "1"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ATTESTATION_TYPES = {
    "Attestation": [
        {"name": "milestoneId", "type": "bytes32"},
        {"name": "evidenceHash", "type": "bytes32"},
        {"name": "epoch", "type": "uint16"},
        {"name": "termsVersion", "type": "uint8"},
    ]
}


class AttestationError(DisburseError, ValueError):
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


def _check_numbers(epoch: int, terms_version: int) -> None:
    if not 0 <= epoch < 2**16:
        raise AttestationError(f"epoch {epoch} does not fit uint16")
    if not 0 <= terms_version < 2**8:
        raise AttestationError(f"terms version {terms_version} does not fit uint8")


def typed_attestation(
    *,
    chain_id: int,
    escrow: str,
    milestone: bytes,
    evidence_hash: bytes,
    epoch: int,
    terms_version: int,
) -> dict[str, object]:
    """The full EIP-712 typed-data document of one attestation."""
    _check_numbers(epoch, terms_version)
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
            "termsVersion": terms_version,
        },
    }


_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_ATTESTATION_TYPEHASH = keccak(
    b"Attestation(bytes32 milestoneId,bytes32 evidenceHash,uint16 epoch,uint8 termsVersion)"
)


@lru_cache(maxsize=64)
def _domain_separator(chain_id: int, escrow: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                to_checksum_address(escrow),
            ],
        )
    )


def attestation_digest(
    *,
    chain_id: int,
    escrow: str,
    milestone: bytes,
    evidence_hash: bytes,
    epoch: int,
    terms_version: int,
) -> bytes:
    """The EIP-712 digest of an attestation (the escrow's `attestationDigest`), computed
    directly: the same bytes as hashing `typed_attestation`, without its generic encoder."""
    _check_numbers(epoch, terms_version)
    struct = keccak(
        _ATTESTATION_TYPEHASH
        + _bytes32(milestone, "milestone id")
        + _bytes32(evidence_hash, "evidence hash")
        + epoch.to_bytes(32, "big")
        + terms_version.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + _domain_separator(chain_id, escrow) + struct)


def sign_attestation(
    private_key: bytes | str,
    *,
    chain_id: int,
    escrow: str,
    milestone: bytes,
    evidence_hash: bytes,
    epoch: int,
    terms_version: int,
) -> CompactSignature:
    """Signs an attestation and returns it in the compact form the escrow takes."""
    digest = attestation_digest(
        chain_id=chain_id,
        escrow=escrow,
        milestone=milestone,
        evidence_hash=evidence_hash,
        epoch=epoch,
        terms_version=terms_version,
    )
    key = PrivateKey(private_key if isinstance(private_key, bytes) else _hex(private_key))
    signed = key.sign_msg_hash(digest)
    return to_compact(signed.r, signed.s, signed.v)


def recover_attestation(
    signature: CompactSignature,
    *,
    chain_id: int,
    escrow: str,
    milestone: bytes,
    evidence_hash: bytes,
    epoch: int,
    terms_version: int,
) -> ChecksumAddress:
    """The address that signed the attestation (any signature recovers to *some* address: the
    caller compares it with the committee). A high-s form is refused, as the escrow does."""
    digest = attestation_digest(
        chain_id=chain_id,
        escrow=escrow,
        milestone=milestone,
        evidence_hash=evidence_hash,
        epoch=epoch,
        terms_version=terms_version,
    )
    vs = int.from_bytes(signature.vs, "big")
    s = vs & ((1 << 255) - 1)
    if not 0 < s <= _SECP256K1_N // 2:
        raise AttestationError("s is zero or in the upper half of the curve order")
    try:
        public = Signature(
            vrs=(vs >> 255, int.from_bytes(signature.r, "big"), s)
        ).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError) as exc:
        raise AttestationError(f"not a valid signature: {exc}") from None
    return public.to_checksum_address()


def _hex(text: str) -> bytes:
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


def to_compact(r: int, s: int, v: int) -> CompactSignature:
    """Packs (r, s, v) into EIP-2098 form; only low-s signatures have one."""
    if not 0 < s <= _SECP256K1_N // 2:
        raise AttestationError("s is in the upper half of the curve order (malleable form)")
    parity = v - 27 if v >= 27 else v
    if parity not in (0, 1):
        raise AttestationError(f"recovery id v={v} is not 0, 1, 27 or 28")
    vs = (parity << 255) | s
    return CompactSignature(r.to_bytes(32, "big"), vs.to_bytes(32, "big"))
