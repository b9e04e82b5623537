"""Evidence specifications as the escrow knows them: by the hash of the file's bytes.

A milestone registers `spec_hash(raw)` on-chain; `disburse evidence-spec hash FILE` and every
oracle node compute it the same way, over the exact bytes of the file (no parsing, no
normalisation), so a changed space is a different specification.
"""

from __future__ import annotations

from eth_utils.crypto import keccak


def spec_hash(raw: bytes) -> bytes:
    """keccak256 of the specification file's bytes: the 32 bytes registered with a milestone."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"spec_hash takes the file's bytes, not {type(raw).__name__}")
    return keccak(bytes(raw))
