"""The node's HTTP API: evidence intake for submitters, signature intake for a relaying node,
and the operator's /healthz and /metrics.

Submitters authenticate with per-submitter API keys (X-API-Key; stored hashed in the journal).
A refused request gets a 4xx whose `detail` names the field or the problem, and stores nothing.
"""

# No `from __future__ import annotations` here: FastAPI resolves the endpoint annotations at
# definition time, and they name a dependency local to create_app.

import logging
import time
from typing import Annotated, Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from disburse.attestations import CompactSignature, typed_attestation
from oracle.errors import OracleError, SpecError, StoreError
from oracle.evidence import EvidenceCreate
from oracle.intake import IntakeError
from oracle.node import Node
from oracle.relay import RelayBatcher
from oracle.watcher import Watcher

log = logging.getLogger("oracle.api")

MAX_JSON_BYTES = 1 << 20
_HEX32 = r"^0x[0-9a-fA-F]{64}$"


class AttestationPublic(BaseModel):
    epoch: int
    state: str
    tx_hash: str | None
    error: str | None


class EvidencePublic(BaseModel):
    """What the API tells a submitter about their evidence."""

    id: int
    milestone_id: str
    evidence_hash: str
    submitter: str
    state: str
    reasons: list[str]
    attestation: AttestationPublic | None


class DocumentPublic(BaseModel):
    sha256: str
    size: int


class SpecPublic(BaseModel):
    spec_hash: str


class RelayCreate(BaseModel):
    """A signed attestation handed to the relaying node."""

    model_config = ConfigDict(extra="forbid")

    milestone_id: str = Field(pattern=_HEX32)
    evidence_hash: str = Field(pattern=_HEX32)
    epoch: int = Field(ge=0, lt=2**16)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{128}$", description="EIP-2098 r ‖ vs")


def _public(node: Node, evidence_id: int) -> EvidencePublic:
    row = node.journal.evidence(evidence_id)
    attestations = node.journal.attestations_for_evidence(row.id)
    attestation = attestations[-1] if attestations else None
    return EvidencePublic(
        id=row.id,
        milestone_id=row.milestone_id,
        evidence_hash=row.evidence_hash,
        submitter=row.submitter,
        state=row.state,
        reasons=list(row.reasons or []),
        attestation=(
            AttestationPublic(
                epoch=attestation.epoch,
                state=attestation.state,
                tx_hash=attestation.tx_hash,
                error=attestation.error,
            )
            if attestation
            else None
        ),
    )


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body is {declared} bytes; at most {limit} are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    node: Node, *, watcher: Watcher | None, batcher: RelayBatcher | None, max_document_bytes: int
) -> FastAPI:
    app = FastAPI(title=f"oracle node {node.name}", version="1")

    def submitter(x_api_key: Annotated[str | None, Header()] = None) -> str:
        if not x_api_key:
            raise HTTPException(401, "missing X-API-Key header")
        who = node.journal.authenticate(x_api_key)
        if who is None:
            raise HTTPException(401, "unknown or revoked API key")
        return who

    authenticated = Annotated[str, Depends(submitter)]

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if 400 <= exc.status_code < 500:
            node.metrics.requests_refused.labels(status=str(exc.status_code)).inc()
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Each problem by field and message; the offending input is not echoed back (it may be
        # huge, hold a secret, or be a NaN that JSON cannot even carry).
        node.metrics.requests_refused.labels(status="422").inc()
        problems = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        body: dict[str, Any] = {"node": node.name, "address": node.address}
        if watcher is None:
            return JSONResponse({**body, "ok": True})
        h = watcher.health
        fresh = time.time() - h.last_poll < max(10.0, 5 * watcher.poll_interval_s)
        ok = h.chain_ok and fresh and h.lag <= 10 + node.client.profile.confirmations
        body.update(
            ok=ok,
            chain_reachable=h.chain_ok,
            head=h.head,
            cursor=h.cursor,
            lag=h.lag,
            error=h.error,
        )
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(node.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/documents", status_code=201)
    async def upload_document(request: Request, who: authenticated) -> DocumentPublic:
        data = await _body(request, max_document_bytes)
        if not data:
            raise HTTPException(422, "empty document")
        try:
            digest = node.store.put(data)
        except StoreError as exc:
            raise HTTPException(413, str(exc)) from None
        log.info("document stored", extra={"sha256": digest, "size": len(data), "by": who})
        return DocumentPublic(sha256=digest, size=len(data))

    @app.post("/v1/specs", status_code=201)
    async def upload_spec(request: Request, who: authenticated) -> SpecPublic:
        raw = await _body(request, MAX_JSON_BYTES)
        try:
            digest = node.specs.put(raw)
        except IntakeError as exc:
            raise HTTPException(exc.status_code, str(exc)) from None
        log.info("specification stored", extra={"spec_hash": "0x" + digest.hex(), "by": who})
        return SpecPublic(spec_hash="0x" + digest.hex())

    @app.post("/v1/evidence", status_code=202)
    def submit_evidence(evidence: EvidenceCreate, who: authenticated) -> EvidencePublic:
        try:
            accepted = node.accept(submitter=who, evidence=evidence)
        except IntakeError as exc:
            raise HTTPException(exc.status_code, str(exc)) from None
        except (SpecError, StoreError) as exc:
            raise HTTPException(422, str(exc)) from None
        return _public(node, accepted.evidence.id)

    @app.get("/v1/evidence/{evidence_id}")
    def get_evidence(evidence_id: int, who: authenticated) -> EvidencePublic:
        try:
            return _public(node, evidence_id)
        except OracleError:
            raise HTTPException(404, f"no evidence {evidence_id}") from None

    @app.post("/v1/relay", status_code=202)
    def relay(item: RelayCreate, who: authenticated) -> dict[str, str]:
        if batcher is None:
            raise HTTPException(404, "this node does not relay (set relay: true)")
        committee = node.escrow.committee()
        if item.epoch != committee.epoch:
            raise HTTPException(409, f"epoch {item.epoch} is not the current {committee.epoch}")
        raw = bytes.fromhex(item.signature[2:])
        signature = CompactSignature(raw[:32], raw[32:])
        vs = int.from_bytes(signature.vs, "big")
        document = typed_attestation(
            chain_id=node.client.profile.chain_id,
            escrow=node.escrow.address,
            milestone=bytes.fromhex(item.milestone_id[2:]),
            evidence_hash=bytes.fromhex(item.evidence_hash[2:]),
            epoch=item.epoch,
        )
        signer = Account.recover_message(
            encode_typed_data(full_message=document),
            vrs=((vs >> 255) + 27, int.from_bytes(signature.r, "big"), vs & ((1 << 255) - 1)),
        )
        if signer not in committee.oracles:
            raise HTTPException(403, f"signer {signer} is not in the current oracle committee")
        batcher.add(
            milestone_id=bytes.fromhex(item.milestone_id[2:]),
            evidence_hash=bytes.fromhex(item.evidence_hash[2:]),
            epoch=item.epoch,
            oracle=signer,
            signature=signature,
        )
        return {"queued": signer}

    return app
