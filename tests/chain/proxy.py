"""A small HTTP proxy in front of the test chain that counts what reaches it: the HTTP requests
(one per JSON-RPC batch or single request) and the TCP connections they came on. It answers
over HTTP/1.1, so a client that keeps its connection open is seen doing so. With
`refuse_batches`, it answers every batch as Besu answers one above --rpc-http-max-batch-size;
with `answer`, a single request for which it returns an error object gets that error instead of
the chain's answer (a node that refuses one request, or fails in the middle of a read); with
`observe`, every request (single or batch) is shown to it before it is forwarded (a test that
changes the chain at a chosen moment of a read)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

BATCH_REFUSED = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {"code": -32005, "message": "Number of requests exceeds max batch size"},
}


Answer = Callable[[dict[str, Any]], dict[str, Any] | None]
"""Given a single JSON-RPC request, the error object to answer it with, or None to forward it."""
Observe = Callable[[Any], None]
"""Given a request as sent (a JSON-RPC object, or a list of them for a batch)."""


class CountingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        upstream: str,
        *,
        refuse_batches: bool = False,
        answer: Answer | None = None,
        observe: Observe | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = upstream
        self.refuse_batches = refuse_batches
        self.answer = answer
        self.observe = observe
        self.posts = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.session = requests.Session()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: CountingProxy
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.posts += 1
        request = json.loads(body)
        if self.server.observe is not None:
            self.server.observe(request)
        error = (
            self.server.answer(request)
            if self.server.answer is not None and isinstance(request, dict)
            else None
        )
        if self.server.refuse_batches and isinstance(request, list):
            status, content = 200, json.dumps(BATCH_REFUSED).encode()
        elif error is not None:
            reply = {"jsonrpc": "2.0", "id": request.get("id"), "error": error}
            status, content = 200, json.dumps(reply).encode()
        else:
            answer = self.server.session.post(
                self.server.upstream, data=body, headers={"Content-Type": "application/json"}
            )
            status, content = answer.status_code, answer.content
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *_args: Any) -> None:
        pass


@contextmanager
def counting_proxy(
    upstream: str,
    *,
    refuse_batches: bool = False,
    answer: Answer | None = None,
    observe: Observe | None = None,
) -> Iterator[CountingProxy]:
    """A running proxy to `upstream`, stopped on leaving."""
    proxy = CountingProxy(upstream, refuse_batches=refuse_batches, answer=answer, observe=observe)
    thread = threading.Thread(target=proxy.serve_forever, name="counting-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.session.close()
