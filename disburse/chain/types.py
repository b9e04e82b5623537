"""Types that carry meaning across the chain layer and the tools above it."""

from typing import NewType

MilestoneId = NewType("MilestoneId", bytes)
"""keccak256(abi.encode(programId, externalRef)): 32 bytes."""
