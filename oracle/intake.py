"""Intake: what a submission must satisfy before anything is stored.

A submission is refused (with the HTTP status the API answers) when its milestone is unknown or
no longer takes attestations, when the milestone's evidence specification has not been uploaded
(or was uploaded with other content than the on-chain hash names), or when a document it names
is not in the store as described. Nothing is stored for a refused submission.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from disburse.chain.escrow import Escrow, MilestoneState
from disburse.chain.specs import spec_hash
from oracle.errors import EvidenceError, SpecError
from oracle.evidence import EvidenceCreate
from oracle.journal import Submitter
from oracle.spec import EvidenceSpec, load_spec
from oracle.store import DocumentStore


class IntakeError(EvidenceError):
    """A refused submission; `status_code` is the HTTP status the API answers with."""

    status_code = 422

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code


_PARSED_SPECS = 256
"""Parsed specifications a node keeps (a program registers few)."""


class SpecStore:
    """Evidence specifications, stored under the keccak256 of their bytes (as registered)."""

    def __init__(self, root: Path, *, max_bytes: int = 1 << 20) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        self._parsed: dict[bytes, EvidenceSpec] = {}
        self._lock = threading.Lock()

    def _path(self, digest: bytes) -> Path:
        return self.root / f"{digest.hex()}.spec"

    def put(self, raw: bytes) -> bytes:
        """Stores a specification after checking it parses; returns its hash."""
        if len(raw) > self.max_bytes:
            raise IntakeError(
                f"specification is {len(raw)} bytes; at most {self.max_bytes}", status_code=413
            )
        digest = spec_hash(raw)
        try:
            load_spec(raw, expected_hash=digest)
        except SpecError as exc:
            raise IntakeError(f"specification refused: {exc}") from None
        path = self._path(digest)
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
        return digest

    def get(self, digest: bytes) -> bytes | None:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            return None

    def parsed(self, digest: bytes) -> EvidenceSpec | None:
        """The specification stored under `digest`, parsed (and its hash checked) once: a
        stored file is named by the hash of its content and never changes, so the parsed form
        is kept. None when it has not been uploaded."""
        found = self._parsed.get(digest)
        if found is None:
            raw = self.get(digest)
            if raw is None:
                return None
            found = load_spec(raw, expected_hash=digest)
            with self._lock:
                if len(self._parsed) >= _PARSED_SPECS:
                    self._parsed.pop(next(iter(self._parsed)))
                self._parsed[digest] = found
        return found


def parse_milestone_id(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def scope_refusal(
    submitter: Submitter | None,
    milestone_id: str,
    milestone: MilestoneState,
    spec: EvidenceSpec | None,
) -> str | None:
    """Why this submitter's key may not submit (nor read) evidence for the milestone, or None
    when it may: its programs, its milestones, and the roles the specification's `submitters:`
    names. None as submitter is the node itself (its CLI and tests), which may do anything."""
    if submitter is None:
        return None
    if submitter.programs is not None and milestone.program_id not in submitter.programs:
        return (
            f"the API key of {submitter.name} is for program(s) "
            f"{', '.join(str(p) for p in submitter.programs)}, not program "
            f"{milestone.program_id} of milestone {milestone_id}"
        )
    if submitter.milestones is not None and milestone_id.lower() not in submitter.milestones:
        return f"the API key of {submitter.name} is not for milestone {milestone_id}"
    if spec is not None and spec.submitters is not None and submitter.role not in spec.submitters:
        return (
            f"the evidence specification of milestone {milestone_id} lets only "
            f"{', '.join(spec.submitters)} submit evidence; the API key of {submitter.name} "
            f"has role {submitter.role or '(none)'}"
        )
    return None


def check_submission(
    *,
    evidence: EvidenceCreate,
    escrow: Escrow,
    specs: SpecStore,
    store: DocumentStore,
    submitter: Submitter | None = None,
) -> tuple[MilestoneState, EvidenceSpec]:
    """The milestone and its specification, once the submission is acceptable."""
    milestone = escrow.milestone(parse_milestone_id(evidence.milestone_id))
    return milestone, _check(evidence, milestone, specs, store, submitter)


def check_submissions(
    *,
    items: Sequence[EvidenceCreate],
    escrow: Escrow,
    specs: SpecStore,
    store: DocumentStore,
    submitter: Submitter | None = None,
) -> list[MilestoneState]:
    """Checks many submissions with one batched read of their milestones; the first refused
    one raises, its message starting with its position (`item 3: ...`)."""
    milestones = escrow.milestones([parse_milestone_id(e.milestone_id) for e in items])
    for index, (evidence, milestone) in enumerate(zip(items, milestones, strict=True)):
        try:
            _check(evidence, milestone, specs, store, submitter)
        except IntakeError as exc:
            raise IntakeError(f"item {index}: {exc}", status_code=exc.status_code) from None
    return milestones


def _check(
    evidence: EvidenceCreate,
    milestone: MilestoneState,
    specs: SpecStore,
    store: DocumentStore,
    submitter: Submitter | None,
) -> EvidenceSpec:
    if not milestone.exists:
        raise IntakeError(f"milestone {evidence.milestone_id} is not registered", status_code=404)
    # The key's programs and milestones first: a key learns nothing of a milestone outside them.
    refused = scope_refusal(submitter, evidence.milestone_id, milestone, None)
    if refused is not None:
        raise IntakeError(refused, status_code=403)
    if milestone.status == "Expired":
        raise IntakeError(
            f"milestone {evidence.milestone_id} is past its deadline ({milestone.deadline})",
            status_code=422,
        )
    if milestone.status != "Registered":
        raise IntakeError(
            f"milestone {evidence.milestone_id} is {milestone.status}: it takes no attestations",
            status_code=409,
        )
    spec = specs.parsed(milestone.evidence_spec_hash)
    if spec is None:
        raise IntakeError(
            f"the evidence specification 0x{milestone.evidence_spec_hash.hex()} registered for "
            "this milestone has not been uploaded (POST /v1/specs): a specification whose hash "
            "differs from the on-chain one is never used",
            status_code=422,
        )
    refused = scope_refusal(submitter, evidence.milestone_id, milestone, spec)
    if refused is not None:
        raise IntakeError(refused, status_code=403)
    for doc in evidence.documents:
        if not store.has(doc.sha256):
            raise IntakeError(
                f"document {doc.name!r}: no uploaded document has sha256 {doc.sha256} "
                "(upload it first with POST /v1/documents)",
                status_code=422,
            )
        size = store.path_of(doc.sha256).stat().st_size
        if size != doc.size:
            raise IntakeError(
                f"document {doc.name!r}: size {doc.size} given, the stored document is {size}",
                status_code=422,
            )
    return spec
