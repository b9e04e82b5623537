"""`disburse.chain.specs.parse_spec`: the one parser of evidence specifications (the plan loader and
the oracle node both use it); no chain needed.

parse_spec(raw)
├── a valid YAML or JSON specification → EvidenceSpec (with `submitters` when given)
└── anything else → EvidenceSpecError (a DisburseError) naming the problem, never a parser's
    own exception: over the size limit, not UTF-8, a NUL or control character, nested too deep
    (flow, block or JSON), an integer of thousands of digits, duplicate keys, invalid fields,
    an invalid submitter role
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from disburse.chain.errors import DisburseError, EvidenceSpecError
from disburse.chain.specs import MAX_SPEC_BYTES, MAX_SPEC_DEPTH, EvidenceSpec, parse_spec

GOOD = b"""version: 1
title: Acceptance of lot 3
submitters: [inspector]
required_documents:
  - {name: report.pdf}
claims:
  - {name: acceptance_test_passed, kind: boolean, value: true}
"""


def test_a_valid_specification_parses_with_its_submitters() -> None:
    spec = parse_spec(GOOD)
    assert isinstance(spec, EvidenceSpec)
    assert spec.submitters == ["inspector"]
    assert parse_spec(GOOD.replace(b"submitters: [inspector]\n", b"")).submitters is None


def block_nested(levels: int) -> bytes:
    lines = [b"version: 1", b"title: t", b"claims: []", b"x:"]
    lines += [b"  " * i + b"a:" for i in range(1, levels)]
    lines.append(b"  " * levels + b"1")
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (GOOD + b"#" * MAX_SPEC_BYTES, "over the limit"),
        (b"\xff\xfe", "not UTF-8"),
        (GOOD.replace(b"lot 3", b"lot\x003"), "character U.0000"),
        (GOOD.replace(b"lot 3", b"lot\x073"), "character U.0007"),
        (b"x: " + b"[" * 1000 + b"]" * 1000, "nested too deep"),
        (b'{"x": ' + b"{" * 1000 + b"}" * 1000 + b"}", "nested too deep"),
        (block_nested(MAX_SPEC_DEPTH + 2), "nested too deep"),
        (b'{"title": "a", "title": "b"}', "repeats the key"),
        (GOOD + b"title: again\n", "repeats the key"),
        (b"version: 1\ntitle: t\nx: " + b"9" * 5000, "5000 digits"),
        (b'{"version": ' + b"1" * 5000 + b"}", "5000 digits"),
        (GOOD.replace(b"[inspector]", b"[Inspector!]"), "submitters"),
        (GOOD.replace(b"[inspector]", b"[]"), "submitters"),
        (GOOD.replace(b"version: 1", b"version: 2"), "version"),
    ],
    ids=[
        "too-large",
        "not-utf8",
        "nul",
        "bell",
        "deep-flow-yaml",
        "deep-json",
        "deep-block-yaml",
        "duplicate-json-key",
        "duplicate-yaml-key",
        "long-int-yaml",
        "long-int-json",
        "bad-role",
        "no-role",
        "bad-version",
    ],
)
def test_an_unusable_specification_raises_a_disburse_error_naming_the_problem(
    raw: bytes, words: str
) -> None:
    with pytest.raises(EvidenceSpecError, match=words) as raised:
        parse_spec(raw)
    assert isinstance(raised.value, DisburseError)


def test_disburse_specs_imports_nothing_from_the_oracle() -> None:
    source = Path(__file__).parents[2] / "disburse" / "chain" / "specs.py"
    tree = ast.parse(source.read_text())
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not [m for m in imported if m == "oracle" or m.startswith("oracle.")]
