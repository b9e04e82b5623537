"""The rules an evidence specification can state, one class each.

A new rule type is a class here with a `name` and a `check(ctx) -> list[str]`, and one line in
`registry.VERIFIERS`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from oracle.errors import EvidenceError, StoreError
from oracle.evidence import recover_inspector, subject_hash
from oracle.spec import ClaimOp, ClaimRule, claim_kind
from oracle.verifiers.base import VerificationContext


class RequiredDocuments:
    """Every required document is present by name (of the required media type, when the
    specification names one), and every document the evidence references is in this node's
    store, intact, and of the declared size: the node attests the whole bundle, so it must have
    seen all of it."""

    name = "required_documents"

    def check(self, ctx: VerificationContext) -> list[str]:
        reasons: list[str] = []
        by_name = {d.name: d for d in ctx.evidence.documents}
        for required in ctx.spec.required_documents:
            document = by_name.get(required.name)
            if document is None:
                reasons.append(f"required document {required.name!r} is missing")
            elif required.media_type is not None and document.media_type != required.media_type:
                reasons.append(
                    f"document {required.name!r} is {document.media_type}; the specification "
                    f"requires {required.media_type}"
                )
        for document in ctx.evidence.documents:
            if not ctx.store.has(document.sha256):
                reasons.append(
                    f"document {document.name!r} (sha256 {document.sha256}) has not been "
                    "uploaded to this node; upload it, then submit the evidence again"
                )
                continue
            try:
                size = ctx.store.verify(document.sha256)
            except StoreError:
                reasons.append(
                    f"document {document.name!r} (sha256 {document.sha256}) is damaged in this "
                    "node's store; upload it again"
                )
                continue
            if size != document.size:
                reasons.append(
                    f"document {document.name!r} is {size} bytes but the evidence declares "
                    f"{document.size}"
                )
        return reasons


class ClaimRules:
    """Every claim the specification names is present, of the right kind (a boolean is not a
    number), and satisfies the rule's comparison."""

    name = "claims"

    def check(self, ctx: VerificationContext) -> list[str]:
        reasons: list[str] = []
        unusable: set[str] = set()  # claims already reported missing or of the wrong kind
        for rule in ctx.spec.claims:
            if rule.name in unusable:
                continue
            if rule.name not in ctx.evidence.claims:
                unusable.add(rule.name)
                reasons.append(
                    f"claim {rule.name!r} is missing; the specification requires {_stated(rule)}"
                )
                continue
            value = ctx.evidence.claims[rule.name]
            kind = claim_kind(value)
            if kind != rule.kind:
                unusable.add(rule.name)
                reasons.append(
                    f"claim {rule.name!r} is a {kind} ({_show(value)}); the specification "
                    f"requires a {rule.kind}"
                )
                continue
            if not _holds(value, rule.op, rule.value):
                reasons.append(
                    f"claim {rule.name!r} is {_show(value)}; the specification requires "
                    f"{_stated(rule)}"
                )
        return reasons


class InspectorApprovals:
    """At least `required` of the listed inspectors signed the evidence's subject hash.

    Each approval must be what it says: signed by the inspector it names, over this evidence,
    and that inspector must be listed. An approval that is not (unknown inspector, malformed
    signature, a signature over other evidence, a repeated signer) does not count and is a
    reason on its own, even when enough others are valid: the node attests the whole bundle
    and will not put its name to a bundle carrying a false approval.
    """

    name = "approvals"

    def check(self, ctx: VerificationContext) -> list[str]:
        rule = ctx.spec.approvals
        if rule is None:
            return []
        listed = {a.lower() for a in rule.inspectors}
        subject = subject_hash(ctx.evidence)
        counted: set[str] = set()
        reasons: list[str] = []
        for approval in ctx.evidence.approvals:
            claimed = approval.inspector
            if claimed.lower() not in listed:
                reasons.append(
                    f"approval by {claimed} does not count: not an inspector the "
                    "specification lists"
                )
                continue
            try:
                signer = recover_inspector(approval, subject)
            except EvidenceError:
                reasons.append(
                    f"approval by {claimed} does not count: its signature is malformed; ask the "
                    "inspector to sign again"
                )
                continue
            if signer.lower() != claimed.lower():
                reasons.append(
                    f"approval by {claimed} does not count: its signature is not that "
                    f"inspector's over this evidence (subject hash 0x{subject.hex()})"
                )
                continue
            if signer.lower() in counted:
                reasons.append(f"approval by {claimed} does not count: it is a duplicate")
                continue
            counted.add(signer.lower())
        if len(counted) < rule.required:
            reasons.insert(
                0,
                f"{len(counted)} valid inspector approval(s), {rule.required} required "
                f"from {', '.join(rule.inspectors)}",
            )
        return reasons


class Deadline:
    """The evidence is judged no later than the milestone's deadline, when the specification
    checks it."""

    name = "deadline"

    def check(self, ctx: VerificationContext) -> list[str]:
        if not ctx.spec.check_deadline or ctx.now <= ctx.deadline:
            return []
        return [
            f"the milestone's deadline passed at {_when(ctx.deadline)}, "
            f"{ctx.now - ctx.deadline} s before the evidence was judged at {_when(ctx.now)}"
        ]


def _holds(value: bool | float | str, op: ClaimOp, expected: bool | float | str) -> bool:
    """Whether `value op expected`; the kinds already match, and only numbers are ordered (an
    int and a float compare exactly, as numbers)."""
    if op == "==":
        return value == expected
    if op == "!=":
        return value != expected
    if isinstance(value, bool | str) or isinstance(expected, bool | str):
        return False
    if op == ">=":
        return value >= expected
    if op == ">":
        return value > expected
    if op == "<=":
        return value <= expected
    return value < expected


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _stated(rule: ClaimRule) -> str:
    return f"{rule.name} {rule.op} {_show(rule.value)}"


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
