"""The node's HTTP API: evidence intake for submitters, signature intake for a relaying node,
and the operator's /healthz and /metrics.

Submitters authenticate with per-submitter API keys (X-API-Key; stored hashed in the journal).
A refused request gets a 4xx whose `detail` names the field or the problem, and stores nothing.
"""

# No `from __future__ import annotations` here: FastAPI resolves the endpoint annotations at
# definition time, and they name a dependency local to create_app.

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from disburse.chain.attestations import AttestationError, CompactSignature, recover_attestation
from disburse.chain.errors import DisburseError
from oracle.errors import OracleError, SpecError, StoreError, raise_if_own
from oracle.evidence import EvidenceCreate
from oracle.intake import IntakeError, scope_refusal
from oracle.journal import Submitter
from oracle.node import Node
from oracle.relay import MAX_RELAY_BATCH, RelayBatcher, Relayed
from oracle.watcher import Watcher

log = logging.getLogger("oracle.api")

MAX_JSON_BYTES = 1 << 20
"""The largest JSON body (or specification) a request may carry, in bytes."""
MAX_BATCH_JSON_BYTES = 8 << 20
"""The largest body of a batch request (/v1/evidence/batch, /v1/relay/batch), in bytes."""
RELAY_ROLE = "oracle"
"""The role of the API key a peer node hands its signatures over with."""
MAX_EVIDENCE_ID = 2**63 - 1
"""Evidence ids are SQLite integers: a larger id names nothing."""
_JSON_PATHS = frozenset({"/v1/evidence", "/v1/evidence/batch", "/v1/relay", "/v1/relay/batch"})
_BATCH_PATHS = frozenset({"/v1/evidence/batch", "/v1/relay/batch"})
MAX_EVIDENCE_BATCH = 1000
"""Submissions one POST /v1/evidence/batch may carry."""
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


class EvidenceBatch(BaseModel):
    """Many submissions in one request: accepted all together, or refused all together."""

    model_config = ConfigDict(extra="forbid")

    items: list[EvidenceCreate] = Field(min_length=1, max_length=MAX_EVIDENCE_BATCH)


class EvidenceBatchPublic(BaseModel):
    items: list[EvidencePublic]


class RelayBatch(BaseModel):
    """Signed attestations handed over together (one node's, usually)."""

    model_config = ConfigDict(extra="forbid")

    items: list[RelayCreate] = Field(min_length=1, max_length=MAX_RELAY_BATCH)


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


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _RefusedError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RefusedError(
                422, f"the JSON body repeats the key {key!r}; state each field once"
            )
        found[key] = value
    return found


def _no_constant(name: str) -> object:
    raise _RefusedError(422, f"the JSON body contains {name}, which is not a number")


def check_json(raw: bytes) -> None:
    """Refuses a JSON body that FastAPI would read differently from what its sender meant, or
    could not read at all: duplicate keys (the last one would win silently), nesting deeper than
    the parser can follow, integers longer than Python converts, NaN and Infinity."""
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        raise _RefusedError(422, "the JSON body is nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, an integer too long, bytes that are not UTF-8
        raise _RefusedError(422, f"the body is not valid JSON: {exc}") from None


class BodyLimits:
    """ASGI middleware in front of every route: a body larger than its route accepts is
    refused with 413 from its Content-Length, or as soon as the bytes read pass the limit (a
    chunked body is never read whole); a JSON body is checked by `check_json` before any route
    sees it. A refused request reaches no route, so nothing is stored."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int], node: Node) -> None:
        self.app = app
        self.limit_for = limit_for
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limit_for(path)
        try:
            body = await self._read(scope, receive, limit)
            if path in _JSON_PATHS and body:
                check_json(body)
        except _RefusedError as refused:
            self.node.metrics.requests_refused.labels(status=str(refused.status)).inc()
            response = JSONResponse({"detail": refused.detail}, status_code=refused.status)
            await response(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(scope: Scope, receive: Receive, limit: int) -> bytes:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isdigit():
                raise _RefusedError(400, "Content-Length is not a number")
            if int(text) > limit:
                raise _RefusedError(413, f"body is {text} bytes; at most {limit} are accepted here")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _RefusedError(400, "the client went away before sending its body")
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
                raise _RefusedError(413, f"body exceeds {limit} bytes, the most accepted here")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def create_app(
    node: Node, *, watcher: Watcher | None, batcher: RelayBatcher | None, max_document_bytes: int
) -> FastAPI:
    app = FastAPI(title=f"oracle node {node.name}", version="1")

    def limit_for(path: str) -> int:
        if path == "/v1/documents":
            return max_document_bytes
        return MAX_BATCH_JSON_BYTES if path in _BATCH_PATHS else MAX_JSON_BYTES

    app.add_middleware(BodyLimits, limit_for=limit_for, node=node)

    def submitter(x_api_key: Annotated[str | None, Header()] = None) -> Submitter:
        if not x_api_key:
            raise HTTPException(401, "missing X-API-Key header")
        who = node.journal.authenticate_submitter(x_api_key)
        if who is None:
            raise HTTPException(401, "unknown or revoked API key")
        return who

    authenticated = Annotated[Submitter, Depends(submitter)]

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if 400 <= exc.status_code < 500:
            node.metrics.requests_refused.labels(status=str(exc.status_code)).inc()
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

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
        ok = True
        relayer = node.relayer_health
        if relayer is not None:
            # A node whose relayer is away still takes evidence (it hands the signatures over
            # once the relayer is back) but cannot get them on chain: not healthy.
            body["relayer"] = {
                "url": relayer.url,
                "reachable": relayer.reachable,
                "error": relayer.error,
            }
            ok = relayer.reachable is not False
        if batcher is not None:
            batches = batcher.health
            body["relay_batches"] = {
                "queued": batcher.queued(),
                "failures": batches.failures,
                "retry_in_s": batches.retry_in_s,
                "error": batches.error,
            }
            # One failure is a race or a blip; several in a row is a relayer stuck.
            ok = ok and batches.failures < 3
        if watcher is None:
            return JSONResponse({**body, "ok": ok}, status_code=200 if ok else 503)
        h = watcher.health
        fresh = time.time() - h.last_poll < max(10.0, 5 * watcher.poll_interval_s)
        ok = ok and h.chain_ok and fresh and h.lag <= 10 + node.client.profile.confirmations
        body.update(
            ok=ok,
            chain_reachable=h.chain_ok,
            head=h.head,
            cursor=h.cursor,
            lag=h.lag,
            error=h.error,
            releases_waiting_retry=watcher.releases_waiting_retry,
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
        log.info("document stored", extra={"sha256": digest, "size": len(data), "by": who.name})
        return DocumentPublic(sha256=digest, size=len(data))

    @app.post("/v1/specs", status_code=201)
    async def upload_spec(request: Request, who: authenticated) -> SpecPublic:
        raw = await _body(request, MAX_JSON_BYTES)
        try:
            digest = node.specs.put(raw)
        except IntakeError as exc:
            raise HTTPException(exc.status_code, str(exc)) from None
        log.info("specification stored", extra={"spec_hash": "0x" + digest.hex(), "by": who.name})
        return SpecPublic(spec_hash="0x" + digest.hex())

    @app.post("/v1/evidence", status_code=202)
    def submit_evidence(evidence: EvidenceCreate, who: authenticated) -> EvidencePublic:
        return _public(node, _accept(who, [evidence])[0])

    @app.post("/v1/evidence/batch", status_code=202)
    def submit_evidence_batch(batch: EvidenceBatch, who: authenticated) -> EvidenceBatchPublic:
        ids = _accept(who, batch.items)
        return EvidenceBatchPublic(items=[_public(node, i) for i in ids])

    def _accept(who: Submitter, items: list[EvidenceCreate]) -> list[int]:
        try:
            # One attempt at the chain, not the client's retries: a submitter is told at once
            # that the node cannot check the milestone now, and sends again later.
            with node.client.prompt():
                accepted = node.accept_many(submitter=who, items=items)
        except IntakeError as exc:
            raise HTTPException(exc.status_code, str(exc)) from None
        except (SpecError, StoreError) as exc:
            raise HTTPException(422, str(exc)) from None
        except DisburseError as exc:  # unreachable, or answering nonsense
            raise_if_own(exc)
            raise _unavailable(exc) from None
        return [a.evidence.id for a in accepted]

    def _unavailable(exc: Exception) -> HTTPException:
        log.warning("evidence refused: chain unavailable", extra={"error": str(exc)})
        return HTTPException(
            503,
            "the node cannot read the chain now, so it cannot check what was sent; nothing "
            "was stored: send it again later",
            headers={"Retry-After": "5"},
        )

    @app.get("/v1/evidence/{evidence_id}")
    def get_evidence(
        evidence_id: Annotated[int, Path(ge=1, le=MAX_EVIDENCE_ID)], who: authenticated
    ) -> EvidencePublic:
        try:
            found = _public(node, evidence_id)
        except OracleError:
            raise HTTPException(404, f"no evidence {evidence_id}") from None
        if not who.unscoped and found.submitter != who.name:
            # A key reads only what it may submit; outside that, evidence does not exist for it.
            try:
                with node.client.prompt():
                    milestone = node.escrow.milestone(bytes.fromhex(found.milestone_id[2:]))
            except DisburseError as exc:
                raise_if_own(exc)
                raise _unavailable(exc) from None
            spec = node.specs.parsed(milestone.evidence_spec_hash)
            if scope_refusal(who, found.milestone_id, milestone, spec) is not None:
                raise HTTPException(404, f"no evidence {evidence_id}")
        return found

    @app.post("/v1/relay", status_code=202)
    def relay(item: RelayCreate, who: authenticated) -> dict[str, str]:
        (signer,) = _relay(who, [item])
        return {"queued": signer}

    @app.post("/v1/relay/batch", status_code=202)
    def relay_batch(batch: RelayBatch, who: authenticated) -> dict[str, int]:
        return {"queued": len(_relay(who, batch.items))}

    def _relay(who: Submitter, items: list[RelayCreate]) -> list[str]:
        """Checks every signature against the current committee, then queues them all; one
        that does not check out refuses the request whole, naming its position."""
        if batcher is None:
            raise HTTPException(404, "this node does not relay (set relay: true)")
        if who.role is not None and who.role != RELAY_ROLE:
            raise HTTPException(
                403,
                f"the API key of {who.name} has role {who.role}; handing over signatures takes "
                f"a key of role {RELAY_ROLE} (oracle apikeys add NAME --role {RELAY_ROLE})",
            )
        # Each signature signs its milestone's current terms version: read them all at once.
        ids = [bytes.fromhex(item.milestone_id[2:]) for item in items]
        try:
            with node.client.prompt():
                committee = node.escrow.committee()
                terms = [m.terms_version for m in node.escrow.milestones(ids)]
        except DisburseError as exc:
            raise_if_own(exc)
            raise _unavailable(exc) from None
        checked: list[tuple[Relayed, str]] = []
        for index, item in enumerate(items):
            where = f"item {index}: " if len(items) > 1 else ""
            if item.epoch != committee.epoch:
                raise HTTPException(
                    409, f"{where}epoch {item.epoch} is not the current {committee.epoch}"
                )
            raw = bytes.fromhex(item.signature[2:])
            relayed = Relayed(
                milestone_id=bytes.fromhex(item.milestone_id[2:]),
                evidence_hash=bytes.fromhex(item.evidence_hash[2:]),
                epoch=item.epoch,
                signature=CompactSignature(raw[:32], raw[32:]),
            )
            try:
                signer = recover_attestation(
                    relayed.signature,
                    chain_id=node.client.profile.chain_id,
                    escrow=node.escrow.address,
                    milestone=relayed.milestone_id,
                    evidence_hash=relayed.evidence_hash,
                    epoch=relayed.epoch,
                    terms_version=terms[index],
                )
            except AttestationError as exc:
                raise HTTPException(422, f"{where}{exc}") from None
            if signer not in committee.oracles:
                raise HTTPException(
                    403,
                    f"{where}signer {signer} is not in the current oracle committee "
                    "(or the signature is for other terms of the milestone than its current ones)",
                )
            checked.append((relayed, signer))
        # Journaled before the 202: a relayer killed now still has them at its next start.
        batcher.journal_and_add(checked)
        log.debug("signatures queued", extra={"count": len(checked), "by": who.name})
        return [signer for _, signer in checked]

    return app
