"""Documents stored on disk by their SHA-256: written atomically, re-hashed when read.

Layout: `root/ab/cd/abcd…` for the digest `abcd…`. A write goes to a temporary file in the
target directory, is fsynced, then renamed over the target (and the directory fsynced), so a
reader sees either no file or the whole file, and a crash leaves at worst a stray `.tmp-*` file.
Content addressing makes `put` idempotent: storing the same bytes twice is one file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

from oracle.errors import StoreError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class DocumentStore:
    """A content-addressed store of documents of at most `max_bytes` bytes each."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise StoreError(f"max_bytes must be positive, got {max_bytes}")
        self._root = Path(root)
        self._max_bytes = max_bytes
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the document store at {self._root}: {exc}; check the data "
                "directory setting and its permissions"
            ) from exc

    @property
    def root(self) -> Path:
        return self._root

    @property
    def max_bytes(self) -> int:
        """The largest document the store takes, in bytes."""
        return self._max_bytes

    def path_of(self, sha256: str) -> Path:
        """Where the document with this digest lives (whether or not it is stored)."""
        digest = _digest(sha256)
        return self._root / digest[:2] / digest[2:4] / digest

    def has(self, sha256: str) -> bool:
        """Whether a document with this digest is stored (without re-hashing it)."""
        return self.path_of(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Stores `data` and returns its SHA-256 as lowercase hex. Storing bytes already present
        is a no-op; a damaged copy on disk is replaced by the good one."""
        size = len(data)
        if size > self._max_bytes:
            raise StoreError(
                f"document is {size} bytes, over the limit of {self._max_bytes} bytes per "
                "document; split it or ask the node operator to raise the limit"
            )
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if path.is_file() and _hash_file(path)[0] == digest:
            return digest
        try:
            self._write_atomically(path, data)
        except OSError as exc:
            raise StoreError(
                f"could not store document {digest} at {path}: {exc}; check free space and "
                f"permissions under {self._root}"
            ) from exc
        return digest

    def get(self, sha256: str) -> bytes:
        """The document with this digest, after checking that its bytes still hash to it."""
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(
                f"no document with sha256 {sha256} in the store; upload it first"
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise _corrupted(sha256, path, actual)
        return data

    def verify(self, sha256: str) -> int:
        """Re-hashes the stored document without loading it whole and returns its size in bytes;
        refuses a missing or damaged document."""
        path = self.path_of(sha256)
        try:
            actual, size = _hash_file(path)
        except FileNotFoundError:
            raise StoreError(
                f"no document with sha256 {sha256} in the store; upload it first"
            ) from None
        if actual != sha256:
            raise _corrupted(sha256, path, actual)
        return size

    def _write_atomically(self, path: Path, data: bytes) -> None:
        self._make_dirs(path.parent)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(path.parent)

    def _make_dirs(self, directory: Path) -> None:
        """Creates the two fan-out levels, fsyncing each parent whose entries changed, so the
        rename that follows is durable."""
        missing: list[Path] = []
        current = directory
        while current != self._root and not current.is_dir():
            missing.append(current)
            current = current.parent
        for level in reversed(missing):
            with contextlib.suppress(FileExistsError):
                level.mkdir()
            _fsync_dir(level.parent)


def _digest(value: str) -> str:
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise StoreError(
            f"malformed sha256 digest {shown}: expected 64 lowercase hexadecimal characters"
        )
    return value


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _corrupted(expected: str, path: Path, actual: str) -> StoreError:
    return StoreError(
        f"document {expected} is damaged on disk at {path} (its bytes hash to {actual}); "
        "upload the document again to repair the store"
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
