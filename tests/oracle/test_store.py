"""The content-addressed document store (no chain needed).

DocumentStore
├── __init__: max_bytes not positive → StoreError; root created when missing
├── put
│   ├── data over max_bytes → StoreError naming size and limit, nothing written
│   ├── data of exactly max_bytes, or empty → stored
│   ├── new data → sha256 hex, file at root/ab/cd/<digest>, no temporary file left
│   ├── same data again → same digest, one file (idempotent)
│   ├── a damaged copy on disk → replaced by the good one
│   └── the write fails midway → StoreError, no file and no temporary file left
├── get / verify
│   ├── stored → the bytes / their size
│   ├── missing → StoreError telling to upload
│   └── damaged on disk (changed, truncated, grown) → StoreError, bytes never returned
└── digests: uppercase, 0x-prefixed, short, non-hex, path-like → StoreError
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from oracle.errors import StoreError
from oracle.store import DocumentStore

LIMIT = 1024


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "documents", max_bytes=LIMIT)


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_returns_the_sha256_and_get_returns_the_bytes(store: DocumentStore) -> None:
    digest = store.put(b"delivery note")
    assert digest == hashlib.sha256(b"delivery note").hexdigest()
    assert store.get(digest) == b"delivery note"


def test_a_document_is_stored_under_two_fan_out_levels(store: DocumentStore) -> None:
    digest = store.put(b"x")
    expected = store.root / digest[:2] / digest[2:4] / digest
    assert store.path_of(digest) == expected
    assert _all_files(store.root) == [expected]
    assert expected.read_bytes() == b"x"


def test_putting_the_same_bytes_twice_keeps_one_file(store: DocumentStore) -> None:
    first = store.put(b"same")
    stamp = store.path_of(first).stat().st_mtime_ns
    assert store.put(b"same") == first
    assert _all_files(store.root) == [store.path_of(first)]
    assert store.path_of(first).stat().st_mtime_ns == stamp  # not rewritten


def test_data_over_the_limit_is_refused_naming_size_and_limit(store: DocumentStore) -> None:
    with pytest.raises(StoreError, match=rf"{LIMIT + 1} bytes, over the limit of {LIMIT} bytes"):
        store.put(b"\0" * (LIMIT + 1))
    assert _all_files(store.root) == []


def test_data_of_exactly_the_limit_is_stored(store: DocumentStore) -> None:
    digest = store.put(b"\1" * LIMIT)
    assert store.verify(digest) == LIMIT


def test_an_empty_document_is_stored(store: DocumentStore) -> None:
    digest = store.put(b"")
    assert digest == hashlib.sha256(b"").hexdigest()
    assert store.get(digest) == b""


def test_has_tells_whether_a_digest_is_stored(store: DocumentStore) -> None:
    digest = store.put(b"here")
    assert store.has(digest)
    assert not store.has(hashlib.sha256(b"elsewhere").hexdigest())


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"forged"),
        lambda p: p.write_bytes(p.read_bytes()[:-1]),
        lambda p: p.write_bytes(p.read_bytes() + b"\n"),
    ],
    ids=["changed", "truncated", "grown"],
)
def test_a_damaged_file_is_refused_on_read(store: DocumentStore, damage: object) -> None:
    digest = store.put(b"original content")
    damage(store.path_of(digest))  # type: ignore[operator]
    with pytest.raises(StoreError, match=rf"document {digest} is damaged on disk"):
        store.get(digest)
    with pytest.raises(StoreError, match="damaged on disk"):
        store.verify(digest)


def test_verify_returns_the_size_of_an_intact_document(store: DocumentStore) -> None:
    assert store.verify(store.put(b"12345")) == 5


def test_putting_the_bytes_again_repairs_a_damaged_file(store: DocumentStore) -> None:
    digest = store.put(b"original content")
    store.path_of(digest).write_bytes(b"forged")
    assert store.put(b"original content") == digest
    assert store.get(digest) == b"original content"


@pytest.mark.parametrize("method", ["get", "verify"])
def test_a_missing_document_is_refused_with_advice_to_upload(
    store: DocumentStore, method: str
) -> None:
    with pytest.raises(StoreError, match="upload it first"):
        getattr(store, method)(hashlib.sha256(b"never stored").hexdigest())


@pytest.mark.parametrize(
    "digest",
    [
        "A" * 64,
        "0x" + "a" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "../../../../etc/passwd",
        "",
    ],
)
@pytest.mark.parametrize("method", ["get", "has", "path_of", "verify"])
def test_a_malformed_digest_is_refused(store: DocumentStore, method: str, digest: str) -> None:
    with pytest.raises(StoreError, match="malformed sha256 digest"):
        getattr(store, method)(digest)


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary_one(
    store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        """Fails on the document's temporary file (after its bytes are written), not on the
        directories, so the cleanup of the temporary file is what is tested."""
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StoreError, match="No space left on device"):
        store.put(b"will not fit")
    monkeypatch.undo()
    assert _all_files(store.root) == []
    assert not store.has(hashlib.sha256(b"will not fit").hexdigest())


def test_the_file_appears_only_by_rename_of_a_complete_temporary_file(
    store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[str, str, bytes]] = []
    real_replace = os.replace

    def watching_replace(src: str, dst: str) -> None:
        renames.append((os.path.basename(src), str(dst), Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    digest = store.put(b"whole document")
    assert len(renames) == 1
    temp_name, target, content_at_rename = renames[0]
    assert temp_name.startswith(".tmp-")
    assert target == str(store.path_of(digest))
    assert content_at_rename == b"whole document"


def test_a_limit_that_is_not_positive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="max_bytes must be positive"):
        DocumentStore(tmp_path, max_bytes=0)


def test_a_missing_root_directory_is_created(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    DocumentStore(root, max_bytes=1).put(b"1")
    assert root.is_dir()
