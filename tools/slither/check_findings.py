#!/usr/bin/env python3
"""Gate on slither's JSON report: fail on every High or Medium finding not accepted in triage.

Usage: check_findings.py REPORT TRIAGE [--root DIR] [--scope PATH]... [--exclude PATH]...

A finding is in scope when one of its source elements lies below a --scope path (default
`contracts/`) and not below an --exclude path (default `contracts/mocks/`, test-only tokens).
Findings entirely inside dependencies (node_modules: OpenZeppelin) or the mocks are counted,
never gated.

An accepted finding is keyed by detector, contract and function, so it survives line changes;
every entry carries the reason it is a false positive or a deliberate design. All findings of a
triaged key are accepted, and only of that key.

Exit status: 0 when no in-scope finding of impact High or Medium is left unaccepted, 1 when one
is, 2 when the report or the triage file cannot be used. Plain standard library, no slither import:
it reads the JSON only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATED_IMPACTS = ("High", "Medium")
IMPACT_ORDER = ("High", "Medium", "Low", "Informational", "Optimization")
TRIAGE_FIELDS = {"detector", "contract", "function", "reason"}
MAX_ELEMENTS_SHOWN = 8


class UsageError(Exception):
    """The report or the triage file is missing or malformed."""


@dataclass(frozen=True)
class Key:
    """What identifies an accepted finding across line changes."""

    detector: str
    contract: str
    function: str

    def __str__(self) -> str:
        where = f"{self.contract}.{self.function}" if self.function else self.contract or "<file>"
        return f"{self.detector} in {where}"


@dataclass(frozen=True)
class Element:
    """One source element of a finding (a function, a statement, a variable...)."""

    kind: str
    name: str
    file: str
    lines: tuple[int, ...]
    contract: str
    function: str


@dataclass(frozen=True)
class Finding:
    detector: str
    impact: str
    confidence: str
    description: str
    elements: tuple[Element, ...]

    def in_scope(self, scope: Sequence[str], exclude: Sequence[str]) -> tuple[Element, ...]:
        return tuple(
            e for e in self.elements if _below(e.file, scope) and not _below(e.file, exclude)
        )

    def key(self, scope: Sequence[str], exclude: Sequence[str]) -> Key:
        primary = (self.in_scope(scope, exclude) or self.elements or (None,))[0]
        if primary is None:
            return Key(self.detector, "", "")
        return Key(self.detector, primary.contract, primary.function)


@dataclass(frozen=True)
class Acceptance:
    key: Key
    reason: str


def _below(file: str, prefixes: Sequence[str]) -> bool:
    normalized = file.replace("\\", "/").removeprefix("./")
    return any(normalized.startswith(p.rstrip("/") + "/") or normalized == p for p in prefixes)


def _owners(element: dict[str, Any]) -> tuple[str, str]:
    """The contract and function an element belongs to, walking up its parents."""
    contract = ""
    function = ""
    node: dict[str, Any] | None = element
    while node is not None:
        kind = node.get("type")
        if kind == "function" and not function:
            function = str(node.get("name", ""))
        elif kind == "contract" and not contract:
            contract = str(node.get("name", ""))
        fields = node.get("type_specific_fields")
        parent = fields.get("parent") if isinstance(fields, dict) else None
        node = parent if isinstance(parent, dict) else None
    return contract, function


def _element(raw: dict[str, Any]) -> Element:
    mapping = raw.get("source_mapping") or {}
    contract, function = _owners(raw)
    return Element(
        kind=str(raw.get("type", "")),
        name=str(raw.get("name", "")),
        file=str(mapping.get("filename_relative") or mapping.get("filename_short") or ""),
        lines=tuple(int(n) for n in mapping.get("lines") or ()),
        contract=contract,
        function=function,
    )


def load_report(path: Path) -> list[Finding]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read the slither report {path}: {err}") from err
    if not isinstance(report, dict):
        raise UsageError(f"{path} is not a slither JSON report")
    if not report.get("success", False):
        raise UsageError(f"slither did not succeed: {report.get('error') or 'no error given'}")
    results = report.get("results") or {}
    findings = []
    for raw in results.get("detectors") or []:
        findings.append(
            Finding(
                detector=str(raw["check"]),
                impact=str(raw["impact"]),
                confidence=str(raw["confidence"]),
                description=str(raw.get("description", "")).strip(),
                elements=tuple(_element(e) for e in raw.get("elements") or ()),
            )
        )
    return findings


def load_triage(path: Path) -> list[Acceptance]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read the triage file {path}: {err}") from err
    entries = data.get("accepted") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{path}: expected an object with a list under 'accepted'")
    accepted: list[Acceptance] = []
    seen: set[Key] = set()
    for index, entry in enumerate(entries):
        where = f"{path}: accepted[{index}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} is not an object")
        unknown = set(entry) - TRIAGE_FIELDS
        if unknown:
            raise UsageError(f"{where} has unknown fields {sorted(unknown)}")
        values = {field: entry.get(field, "") for field in TRIAGE_FIELDS}
        if not all(isinstance(v, str) for v in values.values()):
            raise UsageError(f"{where}: every field must be a string")
        if not values["detector"] or not values["contract"]:
            raise UsageError(f"{where} needs 'detector' and 'contract'")
        if len(values["reason"].split()) < 5:
            raise UsageError(f"{where} needs a 'reason' sentence saying why it is accepted")
        key = Key(values["detector"], values["contract"], values["function"])
        if key in seen:
            raise UsageError(f"{where} repeats {key}")
        seen.add(key)
        accepted.append(Acceptance(key, values["reason"].strip()))
    return accepted


def _source_line(root: Path, file: str, line: int, cache: dict[str, list[str]]) -> str:
    if file not in cache:
        try:
            cache[file] = (root / file).read_text(encoding="utf-8").splitlines()
        except OSError:
            cache[file] = []
    text = cache[file]
    return text[line - 1].strip() if 0 < line <= len(text) else ""


def _location(element: Element) -> str:
    if not element.lines:
        return element.file
    first, last = element.lines[0], element.lines[-1]
    return f"{element.file}:{first}" if first == last else f"{element.file}:{first}-{last}"


def describe(finding: Finding, key: Key, elements: Iterable[Element], root: Path) -> str:
    cache: dict[str, list[str]] = {}
    out = [f"[{finding.impact}] {key}  (confidence {finding.confidence})"]
    shown = list(elements)
    for element in shown[:MAX_ELEMENTS_SHOWN]:
        line = element.lines[0] if element.lines else 0
        source = _source_line(root, element.file, line, cache)
        out.append(f"    {_location(element)}  {element.kind}: {source or element.name}")
    if len(shown) > MAX_ELEMENTS_SHOWN:
        out.append(f"    ... and {len(shown) - MAX_ELEMENTS_SHOWN} more source elements")
    out.extend("    | " + line for line in finding.description.splitlines())
    return "\n".join(out)


def _impact_rank(impact: str) -> int:
    return IMPACT_ORDER.index(impact) if impact in IMPACT_ORDER else len(IMPACT_ORDER)


def check(
    findings: list[Finding],
    accepted: list[Acceptance],
    root: Path,
    scope: Sequence[str],
    exclude: Sequence[str],
) -> int:
    reasons = {a.key: a.reason for a in accepted}
    used: set[Key] = set()
    untriaged: list[str] = []
    triaged: list[str] = []
    minor: dict[tuple[str, str], list[str]] = defaultdict(list)
    out_of_scope: Counter[tuple[str, str]] = Counter()

    for finding in sorted(findings, key=lambda f: (_impact_rank(f.impact), f.detector)):
        elements = finding.in_scope(scope, exclude)
        if not elements:
            files = [e.file for e in finding.elements]
            where = "test mocks" if any(_below(f, exclude) for f in files) else "dependencies"
            out_of_scope[(where, finding.impact)] += 1
            continue
        key = finding.key(scope, exclude)
        if finding.impact not in GATED_IMPACTS:
            minor[(finding.impact, finding.detector)].append(
                f"{key.contract}.{key.function}"
                if key.function
                else key.contract or elements[0].file
            )
        elif key in reasons:
            used.add(key)
            triaged.append(f"  [{finding.impact}] {key}: {reasons[key]}")
        else:
            untriaged.append(describe(finding, key, elements, root))

    in_scope_total = sum(len(v) for v in minor.values()) + len(triaged) + len(untriaged)
    print(
        f"slither: {len(findings)} findings, {in_scope_total} in scope ({', '.join(scope)}"
        f"{'; excluding ' + ', '.join(exclude) if exclude else ''})"
    )
    if minor:
        print("Lower impact (reported, not gated):")
        for (impact, detector), owners in sorted(
            minor.items(), key=lambda i: _impact_rank(i[0][0])
        ):
            places = ", ".join(sorted(set(owners)))
            print(f"  {impact:<13} {detector:<28} x{len(owners)}  {places}")
    for place in sorted({where for where, _ in out_of_scope}):
        counts = sorted(
            ((impact, n) for (where, impact), n in out_of_scope.items() if where == place),
            key=lambda item: _impact_rank(item[0]),
        )
        total = sum(n for _, n in counts)
        detail = ", ".join(f"{n} {impact}" for impact, n in counts)
        print(f"Out of scope, not gated: {total} in {place} ({detail})")
    if triaged:
        print(f"Accepted in triage ({len(triaged)}):")
        print("\n".join(triaged))
    for acceptance in accepted:
        if acceptance.key not in used:
            print(f"note: triage entry '{acceptance.key}' matches no finding any more; remove it")
    if untriaged:
        print(f"\nFAIL: {len(untriaged)} finding(s) of impact High or Medium not in triage:\n")
        print("\n\n".join(untriaged))
        print(
            "\nFix the code, or, for a false positive or a deliberate design, add an entry "
            "{detector, contract, function, reason} to the triage file."
        )
        return 1
    print("OK: no untriaged High or Medium finding.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("report", type=Path, help="slither's --json output")
    parser.add_argument("triage", type=Path, help="accepted findings (JSON)")
    parser.add_argument("--root", type=Path, default=Path(), help="project root (for source lines)")
    parser.add_argument("--scope", action="append", help="gated source folder (repeatable)")
    parser.add_argument("--exclude", action="append", help="folder left out of scope (repeatable)")
    args = parser.parse_args(argv)
    scope: list[str] = args.scope or ["contracts"]
    exclude: list[str] = args.exclude if args.exclude is not None else ["contracts/mocks"]
    try:
        findings = load_report(args.report)
        accepted = load_triage(args.triage)
    except UsageError as err:
        print(f"check_findings: {err}", file=sys.stderr)
        return 2
    return check(findings, accepted, args.root, scope, exclude)


if __name__ == "__main__":
    sys.exit(main())
