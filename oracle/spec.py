"""Evidence specifications on the node: the model and parser live in `disburse.chain.specs`
(the plan loader validates a specification with the same code before registering it); the node
adds the check that matters to it, that the file is the one registered on-chain.

`load_spec` checks the hash before it reads a single field, so a node never acts on a
specification other than the one registered on-chain.
"""

from __future__ import annotations

from disburse.chain.errors import EvidenceSpecError
from disburse.chain.specs import (
    MAX_SPEC_BYTES,
    MAX_SPEC_DEPTH,
    ApprovalRule,
    ClaimKind,
    ClaimOp,
    ClaimRule,
    EvidenceSpec,
    RequiredDocument,
    claim_kind,
    parse_spec,
    spec_hash,
)
from oracle.errors import SpecError

__all__ = [
    "MAX_SPEC_BYTES",
    "MAX_SPEC_DEPTH",
    "ApprovalRule",
    "ClaimKind",
    "ClaimOp",
    "ClaimRule",
    "EvidenceSpec",
    "RequiredDocument",
    "claim_kind",
    "load_spec",
]


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
    try:
        return parse_spec(raw)
    except EvidenceSpecError as exc:
        raise SpecError(str(exc)) from None
