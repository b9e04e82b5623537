"""The one interface every verifier rule implements, and what it is given and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from oracle.evidence import EvidenceCreate
from oracle.spec import EvidenceSpec
from oracle.store import DocumentStore


@dataclass(frozen=True)
class VerificationContext:
    """Everything a rule may look at: nothing else, so a verdict is reproducible."""

    evidence: EvidenceCreate
    spec: EvidenceSpec
    store: DocumentStore
    now: int
    """When the evidence is judged, in unix seconds."""
    deadline: int
    """The milestone's on-chain deadline, in unix seconds."""


class Verifier(Protocol):
    """A rule of an evidence specification.

    `check` returns the reasons the evidence fails the rule, each a sentence a submitter can
    act on; an empty list means the rule passes. A rule with nothing to check (the specification
    does not use it) passes. Rules do not raise for bad evidence: a bad signature or a missing
    document is a reason.
    """

    @property
    def name(self) -> str: ...

    def check(self, ctx: VerificationContext) -> list[str]: ...


class VerificationResult(BaseModel):
    """The verdict on one piece of evidence: `ok` exactly when there is no reason to reject."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    reasons: list[str]
