"""The one ranged log reader: every eth_getLogs of the package goes through `read_ranged`.

Windows are never larger than the profile's `log_range_cap`; a window the node refuses (Besu
-32005, LogRangeTooLargeError) is halved until it is accepted. A reader that knows how dense the
logs are may also steer the window toward a target number of logs (the audit does, so that one
response stays a bounded size).

`LogStream` reads a window's response as it arrives and yields its logs one at a time, as the
node sent them (hex strings): web3's result formatters cost about 90 µs a log (HexBytes,
checksums, AttributeDicts), which alone would hold the audit near 10,000 events/s, and a whole
response in memory is as large as the window is dense. The request still goes through the
client's `rpc` (retries of an unreachable node) and its JSON-RPC error mapping. Users: the audit,
`disburse watch` and the oracle's watcher (through `ChainClient.raw_logs`), and the client's own
typed reads (`get_logs`, `contract_logs`).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import requests
import ujson
from web3.exceptions import Web3RPCError

from disburse.chain.errors import ChainError, ChainUnavailableError, LogRangeTooLargeError

if TYPE_CHECKING:
    from disburse.chain.client import ChainClient

STREAM_CHUNK: Final = 256 * 1024
"""Bytes read from the socket at a time while a response streams in."""


def read_ranged(
    read_window: Callable[[int, int], int],
    start: int,
    end: int,
    *,
    cap: int,
    first_span: int | None = None,
    target: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Calls `read_window(first, last)` over [start, end] in consecutive windows of at most
    `cap` blocks; it returns how many logs the window held. A window whose read raises
    LogRangeTooLargeError is halved and read again (the node refuses before it sends a log, so
    nothing was consumed); at one block the refusal is raised. With `target`, the next window is
    scaled toward about that many logs (shrunk over dense blocks, doubled over sparse ones)."""
    span = max(1, min(cap, first_span or cap))
    while start <= end:
        last = min(start + span - 1, end)
        try:
            count = read_window(start, last)
        except LogRangeTooLargeError:
            if span == 1:
                raise
            span = max(1, span // 2)
            continue
        if progress is not None:
            progress(last)
        start = last + 1
        if target is not None:
            if count > target:
                span = max(1, span * target // count)
            elif count < target // 2:
                span = min(cap, span * 2)


class LogStream:
    """eth_getLogs of a set of contracts over one window, its response parsed as it arrives,
    sent through the client's one HTTP session (`ChainClient.http_session`)."""

    def __init__(
        self,
        client: ChainClient,
        addresses: Sequence[str],
        *,
        topics: Sequence[str | Sequence[str] | None] | None = None,
    ) -> None:
        self.client = client
        self.addresses = list(addresses)
        self.topics = (
            None
            if topics is None
            else [t if t is None or isinstance(t, str) else list(t) for t in topics]
        )
        self.session = client.http_session  # the client's one session: its connections reused

    def close(self) -> None:
        """Nothing to release: a response is closed once read, and the session is the
        client's (`ChainClient.close` closes it)."""

    def __enter__(self) -> LogStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def logs(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        """The logs of [start, end], one at a time, as the node sent them."""
        with self._reading(self._post(start, end)) as response:
            yield from result_items(response.iter_content(STREAM_CHUNK))

    def body(self, start: int, end: int) -> bytes:
        """The whole response for the logs of [start, end], unparsed (`parsed_logs` parses it):
        parsed at once, about a quarter faster than streamed, for a reader whose windows are
        steered to a bounded number of logs (the indexer's)."""
        with self._reading(self._post(start, end)) as response:
            return bytes(response.content)

    @contextmanager
    def _reading(self, response: requests.Response) -> Iterator[requests.Response]:
        """The response's body read inside: a node that stops in the middle is unavailable."""
        try:
            yield response
        except requests.RequestException as exc:
            raise ChainUnavailableError(
                f"eth_getLogs: {self.client.profile.rpc_url} stopped answering in the middle of "
                f"a response ({exc})"
            ) from None
        finally:
            response.close()

    def _post(self, start: int, end: int) -> requests.Response:
        """The eth_getLogs request of [start, end], answered HTTP 200 (its body not read yet)."""
        query: dict[str, Any] = {
            "address": self.addresses,
            "fromBlock": hex(start),
            "toBlock": hex(end),
        }
        if self.topics is not None:
            query["topics"] = self.topics
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [query]})
        url, timeout = self.client.profile.rpc_url, self.client.profile.request_timeout_s
        response = self.client.rpc(
            lambda: self.session.post(url, data=body, stream=True, timeout=timeout),
            what="eth_getLogs",
        )
        if response.status_code != 200:
            try:
                raise ChainError(
                    f"eth_getLogs: {url} answered HTTP {response.status_code}: "
                    f"{response.text[:200]}"
                )
            finally:
                response.close()
        return response

    def collect(self, start: int, end: int) -> list[dict[str, Any]]:
        """Every log of [start, end] in windows the node accepts, as a list."""
        found: list[dict[str, Any]] = []

        def window(first: int, last: int) -> int:
            before = len(found)
            found.extend(self.logs(first, last))
            return len(found) - before

        read_ranged(window, start, end, cap=self.client.profile.log_range_cap)
        return found


_RESULT_ARRAY = re.compile(r'"result"\s*:\s*\[')


def result_items(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The items of a JSON-RPC response's `result` array, decoded as the bytes arrive; an error
    reply is mapped to the client's exceptions."""
    decode = json.JSONDecoder().raw_decode
    utf8 = codecs.getincrementaldecoder("utf-8")()
    buf, pos = "", 0

    def fill(*, keep: bool = False) -> bool:
        nonlocal buf, pos
        for chunk in chunks:
            if chunk:
                if keep:
                    buf += utf8.decode(chunk)
                else:
                    buf, pos = buf[pos:] + utf8.decode(chunk), 0
                return True
        return False

    # Until the array's start is found the whole (small) document is kept: it may be an error.
    while True:
        found = _RESULT_ARRAY.search(buf)
        if found is not None:
            pos = found.end()
            break
        if not fill(keep=True):
            _check_reply(buf)
            return
    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(buf):
            if not fill():
                raise ChainError("eth_getLogs: the response ended in the middle of the logs")
            continue
        if buf[pos] == "]":
            return
        try:
            item, pos = decode(buf, pos)
        except json.JSONDecodeError:
            if not fill():
                raise ChainError("eth_getLogs: the response ended in the middle of a log") from None
            continue
        yield item


def parsed_logs(body: bytes) -> list[dict[str, Any]]:
    """The logs of a whole eth_getLogs response (`LogStream.body`), parsed at once with ujson
    (brownie's pin), about a quarter faster than json's incremental decoding of `result_items`;
    an error reply is mapped to the client's exceptions."""
    try:
        reply = ujson.loads(body)
    except ValueError:
        reply = None
    if isinstance(reply, dict):
        result = reply.get("result")
        if isinstance(result, list):
            return result
    _check_reply(body.decode("utf-8", errors="replace"))
    return []


def _check_reply(text: str) -> None:
    """A reply without a result array: an empty result passes; the node's error is mapped as
    the client maps it (a range too large becomes LogRangeTooLargeError)."""
    from disburse.chain.client import rpc_error_of  # the client imports this module

    try:
        reply = json.loads(text)
    except json.JSONDecodeError:
        raise ChainError(f"eth_getLogs: the node's answer is not JSON: {text[:200]!r}") from None
    if not isinstance(reply, dict):
        raise ChainError(f"eth_getLogs: unexpected answer {text[:200]!r}")
    error = reply.get("error")
    if error is None:
        if reply.get("result") is None:
            return
        raise ChainError(f"eth_getLogs: unexpected answer {text[:200]!r}")
    mapped = rpc_error_of(Web3RPCError(str(error), rpc_response=reply))  # type: ignore[arg-type]
    if mapped is not None:
        raise mapped
    message = error.get("message", error) if isinstance(error, dict) else error
    raise ChainError(f"eth_getLogs: the node refused: {message}")
