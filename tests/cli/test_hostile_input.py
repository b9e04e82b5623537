"""Hostile input to the real `disburse` command (a subprocess of the installed entry point):
every one is one `error:` line and exit status 2, never a traceback, and nothing is sent.

disburse (the command's boundary)
├── a plan nested thousands deep ............... error line, exit 2
├── a plan that is /dev/zero (a symlink to it) . refused as not a regular file, nothing read
├── a `spec:` that is /dev/zero or a FIFO ...... refused with its line and field, no hang
├── `evidence-spec hash` of /dev/zero or a FIFO  refused, no hang
├── a `spec:` that is no evidence specification  refused with its line, in a plan and by `hash`
├── --program -1 / 2^256 ....................... refused as no program id
├── an RPC URL that answers plain HTTP 404 ..... error line naming the URL
├── full-width / other scripts' digits ......... refused in plan amounts and in `program fund`
├── the escrow / the token as a beneficiary .... refused with the row's line and field
├── the escrow as a program's treasury ......... refused before anything is signed
└── a bad last row of a 20,000-row plan ........ refused at once, before any chain look-up
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from brownie import web3

from disburse import plans
from disburse._format import parse_amount
from disburse.plans import read_rows, validate_rows
from tests.cli.conftest import PASSWORD, PASSWORD_ENV, iso_in, nonce, write_yaml_plan
from tests.programs import FACT_OPTIONS

DISBURSE = Path(sys.executable).with_name("disburse")
TIMEOUT = 60


def run(
    deployed, keystores, *args: str | int, rpc_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`disburse` as a person runs it, signing as the manager."""
    command = [
        str(DISBURSE),
        "--deployment",
        str(deployed.path),
        "--rpc-url",
        rpc_url or web3.provider.endpoint_uri,
        "--keystore",
        str(keystores["manager"]),
        "--password-env",
        PASSWORD_ENV,
        *(str(a) for a in args),
    ]
    env = dict(os.environ, **{PASSWORD_ENV: PASSWORD, "COLUMNS": "200"})
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
    )


def one_error(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The run ended with exit status 2 and one `error:` line (the only stderr line) holding
    every needle; no traceback."""
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), out.stderr
    for needle in needles:
        assert needle in out.stderr, (needle, out.stderr)
    return out.stderr


def plan_add(deployed, keystores, program: int, plan: Path, *extra: str):
    return run(
        deployed, keystores, "milestones", "add", "--program", program, "--file", plan, *extra
    )


def row(people, **values: str) -> dict[str, str]:
    found = {
        "ref": "PO-H/1",
        "beneficiary": str(people.beneficiary),
        "amount": "1,000",
        "deadline": iso_in(30),
        "spec": "0x" + "ab" * 32,
    }
    found.update(values)
    return found


def test_a_plan_nested_thousands_deep_is_one_error_line(
    deployed, keystores, people, program, tmp_path
):
    plan = tmp_path / "deep.yaml"
    plan.write_text("milestones: " + "[" * 5000 + "]" * 5000 + "\n")
    sent = nonce(people.manager)
    one_error(plan_add(deployed, keystores, program, plan), "nests lists or mappings too deeply")
    assert nonce(people.manager) == sent


def test_a_plan_that_is_dev_zero_is_refused_without_reading_it(
    deployed, keystores, people, program, tmp_path
):
    plan = tmp_path / "plan.yaml"
    plan.symlink_to("/dev/zero")
    sent = nonce(people.manager)
    one_error(plan_add(deployed, keystores, program, plan), "is not a regular file")
    assert nonce(people.manager) == sent


def test_a_spec_that_is_dev_zero_is_refused_with_its_line(
    deployed, keystores, people, program, tmp_path
):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    plan = write_yaml_plan(tmp_path / "plan.yaml", [row(people, spec="zero.yaml")])
    sent = nonce(people.manager)
    err = one_error(plan_add(deployed, keystores, program, plan), "spec: ", "is not a regular file")
    assert "line 6, spec" in err
    assert nonce(people.manager) == sent


def test_a_spec_that_is_a_fifo_is_refused_and_does_not_hang(
    deployed, keystores, people, program, tmp_path
):
    os.mkfifo(tmp_path / "pipe.yaml")
    plan = write_yaml_plan(tmp_path / "plan.yaml", [row(people, spec="pipe.yaml")])
    started = time.monotonic()
    one_error(plan_add(deployed, keystores, program, plan), "line 6, spec", "is not a regular file")
    assert time.monotonic() - started < TIMEOUT


@pytest.mark.parametrize("kind", ["zero", "fifo"])
def test_hashing_a_spec_that_is_no_regular_file_is_refused(deployed, keystores, tmp_path, kind):
    path = tmp_path / "spec.yaml"
    if kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    one_error(run(deployed, keystores, "evidence-spec", "hash", path), "is not a regular file")


@pytest.mark.parametrize("given", [-1, 2**256])
def test_a_program_id_outside_uint256_is_refused(
    deployed, keystores, people, program, tmp_path, given
):
    plan = write_yaml_plan(tmp_path / "plan.yaml", [row(people)])
    sent = nonce(people.manager)
    one_error(plan_add(deployed, keystores, given, plan), f"{given} is not a program id")
    one_error(
        run(deployed, keystores, "milestones", "list", "--program", given),
        f"{given} is not a program id",
    )
    one_error(
        run(deployed, keystores, "program", "show", "--", given), f"{given} is not a program id"
    )
    assert nonce(people.manager) == sent


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"404 page not found")

    do_GET = do_POST  # noqa: N815 (http.server's name)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_found_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rpc"
    finally:
        server.shutdown()
        server.server_close()


def test_an_rpc_url_that_answers_http_404_is_one_error_line(
    deployed, keystores, program, not_found_url
):
    out = run(deployed, keystores, "program", "show", program, rpc_url=not_found_url)
    one_error(out, "404", not_found_url)


FULL_WIDTH_1000 = "\uff11,\uff10\uff10\uff10"
"""1,000 in full-width digits."""
OTHER_DIGITS = [FULL_WIDTH_1000, "\u0661\u0662\u0663", "\u0967\u0968\u0969", "12\uff13"]
"""Full-width, Arabic-Indic, Devanagari digits, and one full-width digit among ASCII ones."""


@pytest.mark.parametrize("amount", OTHER_DIGITS)
def test_non_ascii_digits_are_refused_in_plan_amounts(
    deployed, keystores, people, program, tmp_path, amount
):
    plan = write_yaml_plan(tmp_path / "plan.yaml", [row(people, amount=amount)])
    sent = nonce(people.manager)
    one_error(
        plan_add(deployed, keystores, program, plan), "line 4, amount", "digits other than ASCII"
    )
    assert nonce(people.manager) == sent
    assert deployed.escrow.program(program)[6] == 0


def test_non_ascii_digits_are_refused_in_a_funding_amount(deployed, keystores, people, program):
    sent = nonce(people.manager)
    out = run(deployed, keystores, "program", "fund", program, FULL_WIDTH_1000)
    one_error(out, "amount: ", "ASCII")
    assert nonce(people.manager) == sent


@pytest.mark.parametrize("text", ["\uff11", "\u0663", "12\u06634", "1,\u0660\u0660\u0660"])
def test_parse_amount_takes_ascii_digits_only(text):
    with pytest.raises(ValueError, match="digits other than ASCII"):
        parse_amount(text, 18)


def test_challenge_windows_take_ascii_digits_only(deployed, keystores, people):
    sent = nonce(people.manager)
    one_error(
        run(
            deployed,
            keystores,
            "program",
            "create",
            *FACT_OPTIONS,
            "--treasury",
            str(people.treasury),
            "--challenge-window",
            "\u0663\u0666\u0660\u0660",
        ),
        "is not a duration",
    )
    assert nonce(people.manager) == sent


@pytest.mark.parametrize("who", ["escrow", "token"])
def test_the_escrow_or_the_token_as_a_beneficiary_is_refused_with_its_row(
    deployed, keystores, people, program, tmp_path, who
):
    address = str(deployed.escrow.address if who == "escrow" else deployed.token.address)
    rows = [row(people), row(people, ref="PO-H/2", beneficiary=address)]
    plan = write_yaml_plan(tmp_path / "plan.yaml", rows)
    sent = nonce(people.manager)
    err = one_error(plan_add(deployed, keystores, program, plan), "line 8, beneficiary", address)
    assert ("the escrow itself" if who == "escrow" else "settlement token") in err
    assert nonce(people.manager) == sent
    assert deployed.escrow.program(program)[6] == 0


def test_the_escrow_as_a_treasury_is_refused_before_signing(deployed, keystores, people):
    sent = nonce(people.manager)
    count = deployed.escrow.programCount()
    one_error(
        run(
            deployed,
            keystores,
            "program",
            "create",
            *FACT_OPTIONS,
            "--treasury",
            str(deployed.escrow.address),
            "--challenge-window",
            "1d",
        ),
        "treasury: ",
        "is the escrow itself",
    )
    assert nonce(people.manager) == sent
    assert deployed.escrow.programCount() == count


def test_a_bad_last_row_of_a_20000_row_plan_is_refused_before_any_chain_lookup(
    cli, people, program, tmp_path
):
    deadline = iso_in(30)
    lines = ["ref,beneficiary,amount,deadline,spec"]
    lines += [f"R{i},{people.beneficiary},1,{deadline},0x{'ab' * 32}" for i in range(19_999)]
    lines.append(f"LAST,{people.beneficiary},one,{deadline},0x{'ab' * 32}")
    plan = tmp_path / "plan.csv"
    plan.write_text("\n".join(lines) + "\n")
    sent = nonce(people.manager)
    started = time.monotonic()
    out = cli("milestones", "add", "--program", program, "--file", str(plan))
    elapsed = time.monotonic() - started
    assert out.exit_code == 2
    assert "line 20001, amount" in out.stderr
    assert nonce(people.manager) == sent
    # 20,000 look-ups one by one took minutes; the offline checks take seconds.
    assert elapsed < 20, elapsed


def test_each_distinct_spec_file_is_read_and_checked_once(monkeypatch, people, tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"version: 1\n")
    (tmp_path / "b.yaml").write_bytes(b"version: 2\n")
    checked: list[bytes] = []

    def counting(raw: bytes, path: Path) -> None:
        checked.append(raw)

    monkeypatch.setattr(plans, "check_spec", counting)
    specs = ["a.yaml", "b.yaml", "./a.yaml", "a.yaml", "b.yaml"]
    plan = write_yaml_plan(
        tmp_path / "plan.yaml", [row(people, ref=f"R{i}", spec=s) for i, s in enumerate(specs)]
    )
    rows, issues = read_rows(plan)
    planned, issues = validate_rows(rows, program_id=1, decimals=18, base_dir=tmp_path)
    assert not issues
    assert sorted(checked) == [b"version: 1\n", b"version: 2\n"]
    assert planned[0].row.spec == planned[2].row.spec == planned[3].row.spec


def test_a_refused_spec_file_is_reported_on_every_row_that_names_it(monkeypatch, people, tmp_path):
    (tmp_path / "bad.yaml").write_bytes(b"not a spec\n")

    def refuse(raw: bytes, path: Path) -> None:
        raise ValueError(f"{path} is not an evidence specification")

    monkeypatch.setattr(plans, "check_spec", refuse)
    plan = write_yaml_plan(
        tmp_path / "plan.yaml", [row(people, ref=f"R{i}", spec="bad.yaml") for i in range(2)]
    )
    rows, _ = read_rows(plan)
    _, issues = validate_rows(rows, program_id=1, decimals=18, base_dir=tmp_path)
    assert [(i.field, "is not an evidence specification" in i.message) for i in issues] == [
        ("spec", True),
        ("spec", True),
    ]


NOT_A_SPEC = {
    "free text": b"the contractor delivers a hull survey\n",
    "unknown field": b"version: 1\nrules: []\npayee_override: 0x0\n",
    "a NUL byte": b"version: 1\x00\n",
    "nested deep": b"a: " + b"[" * 2_000 + b"]" * 2_000 + b"\n",
}


@pytest.mark.parametrize("case", sorted(NOT_A_SPEC))
def test_a_spec_file_that_is_no_evidence_specification_is_never_registered(
    deployed, keystores, people, program, tmp_path, case
):
    (tmp_path / "spec.yaml").write_bytes(NOT_A_SPEC[case])
    plan = write_yaml_plan(tmp_path / "plan.yaml", [row(people, spec="spec.yaml")])
    sent = nonce(people.manager)
    one_error(
        plan_add(deployed, keystores, program, plan),
        "line 6, spec",
        "not an evidence specification",
    )
    assert nonce(people.manager) == sent


@pytest.mark.parametrize("case", sorted(NOT_A_SPEC))
def test_hashing_a_file_that_is_no_evidence_specification_is_refused(
    deployed, keystores, tmp_path, case
):
    path = tmp_path / "spec.yaml"
    path.write_bytes(NOT_A_SPEC[case])
    one_error(
        run(deployed, keystores, "evidence-spec", "hash", path), "not an evidence specification"
    )


def test_hashing_the_example_specification_prints_the_hash_of_its_bytes(deployed, keystores):
    from eth_utils.crypto import keccak

    spec = Path(__file__).resolve().parents[2] / "examples" / "evidence-spec.yaml"
    result = run(deployed, keystores, "evidence-spec", "hash", spec)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0x" + keccak(spec.read_bytes()).hex()
