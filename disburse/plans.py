"""Milestone plans: the YAML or CSV file a program manager registers with `disburse milestones add`.

A plan lists milestones, one per row, with five fields:

    ref          the manager's own reference, at most 32 UTF-8 bytes, unique in the file
    beneficiary  the contractor's address, checksummed (EIP-55)
    amount       in the token's units as people write them: 1,000,000.50 (commas only between
                 groups of three digits, at most the token's decimals after the point)
    deadline     an ISO date (2030-06-30: the end of that day, UTC) or date and time
                 (2030-06-30T12:00:00+09:00; without an offset, UTC), in the future
    spec         the evidence specification: its hash (0x and 64 hex digits), or the path of the
                 specification file (relative to the plan file), whose keccak256 is registered

and an optional `note` the escrow never sees. YAML holds a list of mappings, alone or under a
`milestones:` key; CSV has a header row naming the columns. Every value is read as written
(YAML's implicit typing would turn an unquoted address into an integer and `1.10` into a float),
and every problem is reported with its line and field before anything is sent.

Registration is idempotent by reference: a milestone's id is keccak256(programId, ref), so a row
whose id is already on chain with the same terms is skipped, and one whose id is on chain with
other terms is a conflict.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from eth_typing import ChecksumAddress
from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from disburse._format import parse_amount as parse_amount  # re-exported for disburse.cli.audit
from disburse._format import when as format_time
from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.errors import DisburseError, EvidenceSpecError
from disburse.chain.specs import parse_spec, spec_hash
from disburse.chain.types import MilestoneId

FIELDS = ("ref", "beneficiary", "amount", "deadline", "spec")
OPTIONAL_FIELDS = ("note",)
MAX_DEADLINE = 2**40 - 1
"""Deadlines are uint40 Unix seconds on chain."""
MAX_PLAN_BYTES = 64 * 1024 * 1024
"""The largest plan file read (a 20,000-row plan is about 5 MB)."""
MAX_SPEC_BYTES = 1024 * 1024
"""The largest evidence specification file read."""

# ASCII digits only: `\d` and int() would also take full-width (U+FF11…) and other scripts' digits.
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_NULL_TAG = "tag:yaml.org,2002:null"

T = TypeVar("T")


class PlanError(DisburseError):
    """A plan file cannot be used."""


class PlanFileError(PlanError):
    """The file cannot be read as a plan at all (missing, unknown format, broken YAML or CSV)."""


@dataclass(frozen=True)
class PlanIssue:
    """One problem in a plan file, where a person can find it."""

    line: int
    field: str | None
    message: str
    row: int | None = None
    """The line where the row starts, when it differs from `line` (a YAML field's own line)."""

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class PlanInvalidError(PlanError):
    """Rows of the plan are invalid; `issues` holds every one, in file order."""

    def __init__(self, path: Path, issues: Sequence[PlanIssue]) -> None:
        self.path = path
        self.issues = sorted(issues, key=lambda i: (i.line, i.field or ""))
        rows = len({i.row or i.line for i in self.issues})
        super().__init__(
            f"{path}: {len(self.issues)} problem{'s' if len(self.issues) != 1 else ''} in "
            f"{rows} row{'s' if rows != 1 else ''}; nothing was sent"
        )


# ---------------------------------------------------------------------------- amounts and times


def parse_deadline(text: str) -> int:
    """Unix seconds of an ISO date (the end of that day, UTC) or date and time (UTC without an
    offset); ValueError says why not."""
    value = text.strip()
    if not value:
        raise ValueError("no deadline given")
    moment: datetime
    try:
        day = date.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO date (2030-06-30) or date and time "
                "(2030-06-30T17:00:00+09:00)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        moment = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    seconds = int(moment.timestamp())
    if not 0 < seconds <= MAX_DEADLINE:
        raise ValueError(f"{value} is outside the range a deadline can hold")
    return seconds


def parse_address(text: str, *, require_checksum: bool) -> ChecksumAddress:
    """An address as written: 0x and 40 hex digits; a mixed-case one must pass its EIP-55
    checksum, and with `require_checksum` an all-lower or all-upper one is refused too (it
    carries no checksum to catch a mistyped digit). ValueError says what is wrong."""
    value = text.strip()
    digits = value[2:]
    if not (value[:2] == "0x" and len(digits) == 40 and is_hex_address(value)):
        raise ValueError(f"{value!r} is not an address (0x and 40 hex digits)")
    if int(digits, 16) == 0:
        raise ValueError("the zero address cannot be paid")
    single_case = digits == digits.lower() or digits == digits.upper()
    if not single_case and not is_checksum_address(value):
        raise ValueError(f"{value} fails its checksum: a digit or letter is wrong")
    if single_case and require_checksum and not is_checksum_address(value):
        raise ValueError(
            f"{value} is not checksummed; compare it with the contractor's records and write "
            f"it as {to_checksum_address(value)}"
        )
    return to_checksum_address(value)


# ---------------------------------------------------------------------------- the row model


class MilestonePlanRow(BaseModel):
    """One row of a plan as validated: the terms the escrow will hold.

    Validation context: `decimals` (the program token's) and `base_dir` (where relative spec
    paths start). Whether the deadline is still in the future is decided against chain time by
    `deadline_issues`, for the rows that will be sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    ref: str
    """The manager's reference (at most 32 UTF-8 bytes)."""
    beneficiary: ChecksumAddress
    """The contractor paid on release."""
    amount: int
    """In the token's smallest unit."""
    deadline: int
    """Unix seconds after which attestations are refused."""
    spec: bytes
    """keccak256 of the evidence specification (32 bytes)."""
    note: str | None = None
    """Free text for the people reading the plan; never sent."""

    @field_validator("ref", mode="before")
    @classmethod
    def _ref(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            raise ValueError("the reference is empty")
        if not text.isprintable():
            raise ValueError(f"{text!r} holds control characters")
        size = len(text.encode("utf-8"))
        if size > 32:
            raise ValueError(f"{text!r} is {size} bytes in UTF-8; at most 32 fit on chain")
        return text

    @field_validator("beneficiary", mode="before")
    @classmethod
    def _beneficiary(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_address(value, require_checksum=True)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return parse_amount(value, _context(info, "decimals", int))

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_deadline(value)

    @field_validator("spec", mode="before")
    @classmethod
    def _spec(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if _HASH.match(text):
            return bytes.fromhex(text[2:])
        if text.startswith("0x") and all(c in "0123456789abcdefABCDEF" for c in text[2:]):
            raise ValueError(
                f"a specification hash is 0x and 64 hex digits; {text!r} has {len(text) - 2}"
            )
        if not text:
            raise ValueError("no specification given (a 0x hash or the path of the file)")
        path = Path(text)
        if not path.is_absolute():
            path = _context(info, "base_dir", Path) / path
        return _spec_file_hash(path, _context(info, "spec_files", dict))

    @field_validator("beneficiary", mode="after")
    @classmethod
    def _not_refused(cls, value: ChecksumAddress, info: ValidationInfo) -> ChecksumAddress:
        context = info.context
        refused = context.get("refused_beneficiaries") if isinstance(context, Mapping) else None
        if isinstance(refused, Mapping) and value in refused:
            raise ValueError(
                f"{value} is {refused[value]}: a payment there moves no money to anyone and "
                "strands the amount in the escrow"
            )
        return value


def check_spec(raw: bytes, path: Path) -> None:
    """Whether the bytes of a specification file can be registered; ValueError says why not.

    Called once per distinct specification file of a plan, before anything is sent: the file
    must parse as an evidence specification (`disburse.chain.specs.parse_spec`, the parser every
    oracle node uses), so that a specification no node could verify is never registered."""
    if not raw.strip():
        raise ValueError(f"the specification file {path} is empty")
    try:
        parse_spec(raw)
    except EvidenceSpecError as exc:
        raise ValueError(f"{path} is not an evidence specification: {exc}") from None


def _spec_file_hash(path: Path, seen: dict[Path, bytes | str]) -> bytes:
    """keccak256 of a specification file, read and checked once per plan (`seen` holds each
    file's hash or the reason it was refused, by resolved path)."""
    try:
        key = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        key = path
    found = seen.get(key)
    if found is None:
        try:
            raw = read_bounded(
                path,
                limit=MAX_SPEC_BYTES,
                what="specification file",
                missing="(a path is relative to the plan file)",
            )
            check_spec(raw, path)
            found = spec_hash(raw)
        except (ValueError, PlanFileError) as exc:
            found = str(exc)
        seen[key] = found
    if isinstance(found, str):
        raise ValueError(found)
    return found


def read_bounded(path: Path, *, limit: int, what: str, missing: str = "") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; PlanFileError says why not.

    A device (/dev/zero), a FIFO (whose open would wait for a writer for ever), a socket or a
    folder is refused before it is opened, and at most `limit` + 1 bytes are ever read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise PlanFileError(f"no {what} at {path} {missing}".rstrip()) from None
    except OSError as exc:
        raise PlanFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise PlanFileError(f"{path} is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise PlanFileError(
            f"{path} is not a regular file (a device, FIFO or socket); give the {what} itself"
        )
    if info.st_size > limit:
        raise PlanFileError(f"{path} is {info.st_size:,} bytes; a {what} holds at most {limit:,}")
    try:
        # O_NONBLOCK: should the path become a FIFO after the check, the open does not wait.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            raw = file.read(limit + 1)
    except OSError as exc:
        raise PlanFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise PlanFileError(f"{path} holds more than {limit:,} bytes; a {what} holds at most that")
    return raw


def _context(info: ValidationInfo, key: str, kind: type[T]) -> T:
    context = info.context
    if not isinstance(context, Mapping) or not isinstance(context.get(key), kind):
        raise RuntimeError(f"plan rows are validated with {key!r} in the context")
    found: T = context[key]
    return found


@dataclass(frozen=True)
class PlannedMilestone:
    """A valid row, where it is in the file, and the id it has in the program."""

    line: int
    row: MilestonePlanRow
    program_id: int
    lines: Mapping[str, int] = field(default_factory=dict)
    """The line of each field (in YAML, fields have lines of their own)."""

    @property
    def ref(self) -> str:
        return self.row.ref

    @property
    def external_ref(self) -> bytes:
        return external_ref(self.row.ref)

    @property
    def milestone_id(self) -> MilestoneId:
        return milestone_id(self.program_id, self.external_ref)

    def as_input(self) -> tuple[bytes, ChecksumAddress, int, int, bytes]:
        """The contract's MilestoneInput tuple."""
        r = self.row
        return (self.external_ref, r.beneficiary, r.amount, r.deadline, r.spec)


# ---------------------------------------------------------------------------- reading files


@dataclass
class RawRow:
    """A row as read from the file: field values as written, and their lines."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def read_rows(path: Path) -> tuple[list[RawRow], list[PlanIssue]]:
    """The rows of a YAML (.yaml, .yml) or CSV (.csv) plan, and the problems of its layout."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise PlanFileError(f"{path}: a plan is a .yaml, .yml or .csv file")
    raw = read_bounded(path, limit=MAX_PLAN_BYTES, what="plan file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    rows, issues = _read_csv(text, path) if suffix == ".csv" else _read_yaml(text, path)
    if not rows and not issues:
        raise PlanFileError(f"{path} lists no milestones")
    return rows, issues


def _read_yaml(text: str, path: Path) -> tuple[list[RawRow], list[PlanIssue]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PlanFileError(f"{path} is not valid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PlanFileError(f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise PlanFileError(
            f"{path} nests lists or mappings too deeply to be a plan (a plan is a list of "
            "mappings of single values)"
        ) from None
    if root is None:
        raise PlanFileError(f"{path} is empty")
    items = root
    if isinstance(root, yaml.MappingNode):
        found = [
            v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "milestones"
        ]
        if not found:
            raise PlanFileError(f"{path}: expected a list of milestones, or a 'milestones:' key")
        items = found[0]
    if not isinstance(items, yaml.SequenceNode):
        raise PlanFileError(
            f"{path}: 'milestones' must be a list of milestones (line {items.start_mark.line + 1})"
        )
    rows: list[RawRow] = []
    issues: list[PlanIssue] = []
    for node in items.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            issues.append(PlanIssue(line, None, "a milestone is a mapping of " + ", ".join(FIELDS)))
            continue
        row = RawRow(line)
        for key, value in node.value:
            key_line = key.start_mark.line + 1
            if not isinstance(key, yaml.ScalarNode):
                issues.append(PlanIssue(key_line, None, "a field name must be plain text", line))
                continue
            name = str(key.value).strip()
            if name in row.lines:
                issues.append(
                    PlanIssue(
                        key_line, name, f"given twice (first on line {row.lines[name]})", line
                    )
                )
                continue
            row.lines[name] = key_line
            if isinstance(value, yaml.ScalarNode):
                if value.tag == _NULL_TAG or not str(value.value).strip():
                    continue  # reported as missing by the model
                row.values[name] = str(value.value)
            else:
                # A list or mapping where one value belongs: the model refuses it by its type.
                row.values[name] = {"structure": type(value).__name__}
        rows.append(row)
    return rows, issues


def _read_csv(text: str, path: Path) -> tuple[list[RawRow], list[PlanIssue]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[RawRow] = []
    issues: list[PlanIssue] = []
    previous_end = 0
    try:
        for record in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in record]
                issues.extend(_header_issues(header, line))
                if issues:
                    return [], issues
                continue
            if len(record) > len(header):
                issues.append(
                    PlanIssue(
                        line,
                        None,
                        f"{len(record)} values but the header names {len(header)} columns "
                        "(a value holding commas must be in quotes)",
                    )
                )
                continue
            row = RawRow(line)
            for name, cell in zip(header, record, strict=False):
                row.lines[name] = line
                if cell.strip():
                    row.values[name] = cell
            rows.append(row)
    except csv.Error as exc:
        raise PlanFileError(f"{path} is not valid CSV at line {reader.line_num}: {exc}") from None
    if header is None:
        raise PlanFileError(f"{path} has no header row ({', '.join(FIELDS)})")
    return rows, issues


def _header_issues(header: list[str], line: int) -> list[PlanIssue]:
    issues: list[PlanIssue] = []
    known = (*FIELDS, *OPTIONAL_FIELDS)
    for name in header:
        if name not in known:
            issues.append(
                PlanIssue(line, name, f"unknown column; the columns are {', '.join(known)}")
            )
        elif header.count(name) > 1:
            issues.append(PlanIssue(line, name, "column given twice"))
    for name in FIELDS:
        if name not in header:
            issues.append(PlanIssue(line, name, "missing column"))
    return sorted(set(issues), key=lambda i: i.field or "")


# ---------------------------------------------------------------------------- validation


def validate_rows(
    rows: Iterable[RawRow],
    *,
    program_id: int,
    decimals: int,
    base_dir: Path,
    refused_beneficiaries: Mapping[str, str] | None = None,
) -> tuple[list[PlannedMilestone], list[PlanIssue]]:
    """Every row through the model, offline; returns the valid ones and every problem found,
    including references used twice in the file. `refused_beneficiaries` maps checksummed
    addresses that must never be paid (the escrow itself, the program's token) to what they
    are. Each distinct specification file is read and checked once."""
    planned: list[PlannedMilestone] = []
    issues: list[PlanIssue] = []
    first_line: dict[str, int] = {}
    context: dict[str, Any] = {
        "decimals": decimals,
        "base_dir": base_dir,
        "spec_files": {},
        "refused_beneficiaries": {
            to_checksum_address(a): what for a, what in (refused_beneficiaries or {}).items()
        },
    }
    for row in rows:
        values = row.values
        try:
            model = MilestonePlanRow.model_validate(values, context=context)
        except ValidationError as exc:
            issues.extend(_issues_of(exc, row))
            ref = values.get("ref")
            if isinstance(ref, str) and ref.strip():
                _note_ref(ref.strip(), row.line, row.lines.get("ref", row.line), first_line, issues)
            continue
        if _note_ref(model.ref, row.line, row.lines.get("ref", row.line), first_line, issues):
            planned.append(
                PlannedMilestone(line=row.line, row=model, program_id=program_id, lines=row.lines)
            )
    return planned, issues


def _note_ref(
    ref: str, row_line: int, ref_line: int, first: dict[str, int], issues: list[PlanIssue]
) -> bool:
    if ref in first:
        issues.append(PlanIssue(ref_line, "ref", f"{ref!r} is also on line {first[ref]}", row_line))
        return False
    first[ref] = row_line
    return True


def _issues_of(exc: ValidationError, row: RawRow) -> list[PlanIssue]:
    found: list[PlanIssue] = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else None
        line = row.lines.get(name, row.line) if name else row.line
        kind = error["type"]
        if kind == "missing":
            message = "missing"
        elif kind == "extra_forbidden":
            message = f"unknown field; the fields are {', '.join((*FIELDS, *OPTIONAL_FIELDS))}"
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        elif isinstance(error.get("input"), dict | list):
            message = "must be a single value, not a list or mapping"
        else:
            message = str(error["msg"])
        found.append(PlanIssue(line, name, message, row.line))
    return found


def deadline_issues(planned: Iterable[PlannedMilestone], *, now: int) -> list[PlanIssue]:
    """Rows to be sent whose deadline is not after `now` (the chain's time)."""
    return [
        PlanIssue(
            p.lines.get("deadline", p.line),
            "deadline",
            f"{format_time(p.row.deadline)} is not in the future (chain time {format_time(now)})",
            row=p.line,
        )
        for p in planned
        if p.row.deadline <= now
    ]


# ---------------------------------------------------------------------------- against the chain


@dataclass(frozen=True)
class OnChainTerms:
    """A registered milestone's terms, as the escrow holds them."""

    beneficiary: str
    amount: int
    deadline: int
    spec: bytes


Outcome = Literal["new", "same", "conflict"]


def compare(planned: PlannedMilestone, found: OnChainTerms | None) -> tuple[Outcome, list[str]]:
    """Whether a row is new, already registered with the same terms, or in conflict with the
    milestone registered under its reference; for a conflict, the fields that differ."""
    if found is None:
        return "new", []
    r = planned.row
    differ = [
        name
        for name, mine, theirs in (
            ("beneficiary", r.beneficiary, to_checksum_address(found.beneficiary)),
            ("amount", r.amount, found.amount),
            ("deadline", r.deadline, found.deadline),
            ("spec", r.spec, bytes(found.spec)),
        )
        if mine != theirs
    ]
    return ("conflict", differ) if differ else ("same", [])


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    if size < 1:
        raise ValueError("a batch holds at least one milestone")
    return [items[i : i + size] for i in range(0, len(items), size)]
