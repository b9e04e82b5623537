"""An event's strings are whatever bytes their emitter chose: a program manager's title that is
not UTF-8, or holds NUL (which PostgreSQL's text refuses), is read as text with U+FFFD in their
place, so no reader (the index, the audit, the watchers) stops on it or drops the event."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from disburse.chain.contracts import load_abi
from disburse.chain.events import AddressBook, event_layouts

SIGNATURE = "ProgramDescribed(uint256,string,string,string,uint16,uint256)"


def described(title: bytes) -> tuple[list[str], bytes]:
    topics = ["0x" + keccak(text=SIGNATURE).hex(), "0x" + (7).to_bytes(32, "big").hex()]
    data = encode(
        ["bytes", "bytes", "bytes", "uint16", "uint256"],
        [title, b"ATLA", b"research", 2027, 10**24],
    )
    return topics, data


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("次期装輪装甲車".encode(), "次期装輪装甲車"),
        (b"radar \xff\xfe refit", "radar \ufffd\ufffd refit"),
        (b"A\x00B", "A\ufffdB"),
        (b"\xe6\xac", "\ufffd"),  # a character cut in the middle
    ],
)
def test_a_title_is_read_as_text_whatever_its_bytes(raw, text):
    layout = event_layouts(load_abi("MilestoneEscrow"), AddressBook())[keccak(text=SIGNATURE)]
    topics, data = described(raw)
    assert layout.decode(topics, data) == (7, text, "ATLA", "research", 2027, 10**24)
