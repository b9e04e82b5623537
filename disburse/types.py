"""Types that carry meaning across the client."""

from typing import NewType

MilestoneId = NewType("MilestoneId", bytes)
"""keccak256(abi.encode(programId, externalRef)): 32 bytes."""

ProgramId = NewType("ProgramId", int)
Wei = NewType("Wei", int)
"""An amount in the token's smallest unit."""
