"""Helpers of the end-to-end tests: node processes come from `oracle.localnodes`."""

from __future__ import annotations

import json
import time
from typing import Any

from oracle.localnodes import ORACLE, PASSWORD, NodeProcess, free_port, make_node

__all__ = ["ORACLE", "PASSWORD", "NodeProcess", "free_port", "make_node"]


def upload_evidence(
    node: NodeProcess,
    *,
    milestone: bytes,
    documents: dict[str, bytes],
    claims: dict[str, Any],
    approvals: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Uploads documents and evidence to a node's API; returns the evidence as the node shows it."""
    with node.http() as http:
        refs = []
        for doc_name, data in documents.items():
            r = http.post("/v1/documents", content=data)
            r.raise_for_status()
            refs.append(
                {
                    "name": doc_name,
                    "sha256": r.json()["sha256"],
                    "size": len(data),
                    "media_type": "application/pdf",
                }
            )
        body = {
            "milestone_id": "0x" + milestone.hex(),
            "documents": refs,
            "claims": claims,
            "approvals": approvals or [],
        }
        r = http.post("/v1/evidence", json=body)
        if r.status_code != 202:
            raise AssertionError(f"{node.name} refused evidence: {r.status_code} {r.text}")
        result: dict[str, Any] = r.json()
        return result


def evidence_state(node: NodeProcess, evidence_id: int) -> dict[str, Any]:
    with node.http() as http:
        r = http.get(f"/v1/evidence/{evidence_id}")
        r.raise_for_status()
        found: dict[str, Any] = r.json()
        return found


def wait_for(predicate: Any, *, timeout: float = 30.0, what: str = "condition") -> None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
