"""The verifier rules a node applies, registered explicitly, and the function that runs them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from oracle.verifiers.base import VerificationContext, VerificationResult, Verifier
from oracle.verifiers.rules import ClaimRules, Deadline, InspectorApprovals, RequiredDocuments

logger = logging.getLogger(__name__)

VERIFIERS: tuple[Verifier, ...] = (
    RequiredDocuments(),
    ClaimRules(),
    InspectorApprovals(),
    Deadline(),
)
"""Every rule, in the order their reasons are reported. A new rule type is one line here."""


def verify(
    ctx: VerificationContext, *, verifiers: Sequence[Verifier] = VERIFIERS
) -> VerificationResult:
    """Runs every rule and collects every reason (it does not stop at the first failure), each
    prefixed with the rule's name.

    A rule that raises fails closed: its exception becomes a reason (and a log line with the
    traceback), the evidence is rejected, and the other rules still run.
    """
    reasons: list[str] = []
    for verifier in verifiers:
        try:
            found = verifier.check(ctx)
        except Exception as exc:
            logger.exception(
                "verifier %s raised while checking milestone %s",
                verifier.name,
                ctx.evidence.milestone_id,
            )
            found = [f"the rule could not be checked ({type(exc).__name__}); see the node's log"]
        reasons.extend(f"{verifier.name}: {reason}" for reason in found)
    return VerificationResult(ok=not reasons, reasons=reasons)
