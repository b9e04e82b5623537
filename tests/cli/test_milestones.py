"""`disburse milestones` through the CLI runner against the test chain, and the plan model.

milestones add
├── valid YAML / CSV plan -> every row registered with its terms, summary printed
├── same file again -> nothing sent, every row skipped
├── row on chain with other terms -> conflict reported, not sent; the rest sent; exit 1
├── row on chain whose deadline has passed since -> skipped, not invalid
├── invalid rows -> every one reported with line and field; nothing sent; exit 2
├── broken YAML / CSV, unknown format, missing file -> one clear error; nothing sent
├── commitment above the uncommitted balance -> refused, nothing sent
├── signer not the program's manager -> refused, nothing sent
├── unknown program -> refused, nothing sent
├── chain unreachable -> refused, nothing sent
├── more rows than --batch-size -> one registerMilestones per batch
├── failure after some batches -> what was registered stays; the next run sends the rest
└── --dry-run -> what would be sent, nothing sent (no keystore needed)
milestones list -> ref, id, beneficiary, amount, deadline, status, attestations, releasable at
├── --status Verified -> only those
└── unknown status -> refused
milestones show
├── by reference or by id -> every field, and each attestation: oracle, evidence, time
├── unknown reference -> refused
└── id of another program -> refused
examples/plan.yaml and examples/plan.csv -> the same five milestones
"""

from __future__ import annotations

from pathlib import Path

import pytest
from brownie import chain
from eth_utils import keccak

from disburse._format import format_amount, parse_amount
from disburse._format import reference as ref_text
from disburse._format import when as format_time
from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.client import ChainClient
from disburse.chain.errors import ChainUnavailableError
from disburse.plans import parse_deadline, read_rows, validate_rows
from tests.cli.conftest import (
    DEAD_RPC,
    iso_in,
    nonce,
    table_records,
    table_rows,
    write_csv_plan,
    write_yaml_plan,
)
from tests.conftest import DAY, TOKEN_UNIT, evidence
from tests.programs import FACTS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# A real evidence specification: plan files refuse one that no oracle node could verify.
SPEC_TEXT = (EXAMPLES / "evidence-spec.yaml").read_bytes()
HASH = "0x" + keccak(text="a specification kept elsewhere").hex()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_bytes(SPEC_TEXT)
    return path


@pytest.fixture
def rows(people, spec_file):
    """Three valid rows: one spec by file, two by hash."""
    return [
        {
            "ref": "PO-7/M1",
            "beneficiary": str(people.beneficiary),
            "amount": "1,000",
            "deadline": iso_in(30),
            "spec": spec_file.name,
        },
        {
            "ref": "PO-7/M2",
            "beneficiary": str(people.beneficiary2),
            "amount": "2,500.25",
            "deadline": iso_in(60),
            "spec": HASH,
        },
        {
            "ref": "PO-7/M3",
            "beneficiary": str(people.beneficiary),
            "amount": "300",
            "deadline": iso_in(90),
            "spec": HASH,
        },
    ]


def on_chain(deployed, program: int, ref: str):
    return deployed.escrow.milestone(milestone_id(program, external_ref(ref)))


def assert_registered(deployed, program, row, spec: bytes) -> None:
    m = on_chain(deployed, program, row["ref"])
    assert m[0] == program
    assert m[1] == row["beneficiary"]
    assert m[2] == parse_amount(row["amount"], 18)
    assert m[3] == parse_deadline(row["deadline"])
    assert bytes(m[4]) == spec
    assert m[5] == 1  # Registered


def add(cli, program, plan: Path, *extra: str, signer: str | None = "manager", **kwargs):
    return cli(
        "milestones",
        "add",
        "--program",
        program,
        "--file",
        str(plan),
        *extra,
        signer=signer,
        **kwargs,
    )


# ---------------------------------------------------------------------------- add: success


def test_add_registers_every_row_of_a_yaml_plan(cli, deployed, program, rows, tmp_path):
    plan = write_yaml_plan(tmp_path / "plan.yaml", rows)
    out = add(cli, program, plan)
    assert out.exit_code == 0, out.output
    assert_registered(deployed, program, rows[0], keccak(SPEC_TEXT))
    assert_registered(deployed, program, rows[1], bytes.fromhex(HASH[2:]))
    assert_registered(deployed, program, rows[2], bytes.fromhex(HASH[2:]))
    committed = sum(parse_amount(r["amount"], 18) for r in rows)
    assert deployed.escrow.program(program)[6] == committed
    assert "registered 3, skipped 0" in out.stdout and "conflicts 0" in out.stdout
    assert f"committed {format_amount(committed, 18)} JPYT" in out.stdout


def test_add_registers_every_row_of_a_csv_plan(cli, deployed, program, rows, tmp_path):
    plan = write_csv_plan(tmp_path / "plan.csv", rows)
    out = add(cli, program, plan)
    assert out.exit_code == 0, out.output
    assert_registered(deployed, program, rows[0], keccak(SPEC_TEXT))
    assert_registered(deployed, program, rows[1], bytes.fromhex(HASH[2:]))
    assert "registered 3, skipped 0" in out.stdout


def test_the_same_file_twice_registers_nothing_new(cli, deployed, people, program, rows, tmp_path):
    plan = write_yaml_plan(tmp_path / "plan.yaml", rows)
    assert add(cli, program, plan).exit_code == 0
    committed = deployed.escrow.program(program)[6]
    sent = nonce(people.manager)
    again = add(cli, program, plan)
    assert again.exit_code == 0, again.output
    assert "registered 0, skipped 3" in again.stdout
    assert nonce(people.manager) == sent
    assert deployed.escrow.program(program)[6] == committed


def test_the_yaml_and_csv_forms_of_a_plan_are_the_same_milestones(
    cli, deployed, people, program, rows, tmp_path
):
    assert add(cli, program, write_yaml_plan(tmp_path / "plan.yaml", rows)).exit_code == 0
    sent = nonce(people.manager)
    out = add(cli, program, write_csv_plan(tmp_path / "plan.csv", rows))
    assert out.exit_code == 0, out.output
    assert "registered 0, skipped 3" in out.stdout
    assert nonce(people.manager) == sent


def test_rows_on_chain_with_other_terms_are_conflicts_and_not_sent(
    cli, deployed, people, program, rows, tmp_path
):
    assert add(cli, program, write_yaml_plan(tmp_path / "plan.yaml", rows[:2])).exit_code == 0
    changed = [dict(rows[0], amount="2,000"), rows[1], rows[2]]
    plan = write_yaml_plan(tmp_path / "changed.yaml", changed)
    out = add(cli, program, plan)
    assert out.exit_code == 1, out.output
    assert (
        "conflict: line 2, ref 'PO-7/M1': registered (Registered) with other terms, not sent "
        "(amount: file 2,000 JPYT, chain 1,000 JPYT)"
    ) in out.stderr
    assert "registered 1, skipped 1" in out.stdout and "conflicts 1" in out.stdout
    assert on_chain(deployed, program, "PO-7/M1")[2] == 1000 * TOKEN_UNIT
    assert on_chain(deployed, program, "PO-7/M3")[5] == 1


def test_a_registered_row_whose_deadline_has_passed_is_skipped_not_invalid(
    cli, people, program, rows, tmp_path
):
    plan = write_yaml_plan(tmp_path / "plan.yaml", [dict(rows[0], deadline=iso_in(1))])
    assert add(cli, program, plan).exit_code == 0
    chain.sleep(2 * DAY)
    chain.mine()
    sent = nonce(people.manager)
    out = add(cli, program, plan)
    assert out.exit_code == 0, out.output
    assert "registered 0, skipped 1" in out.stdout
    assert nonce(people.manager) == sent


def test_large_plans_go_in_batches_of_batch_size(cli, deployed, people, program, tmp_path):
    many = [
        {
            "ref": f"BATCH/{i:03d}",
            "beneficiary": str(people.beneficiary),
            "amount": "10",
            "deadline": iso_in(30),
            "spec": HASH,
        }
        for i in range(7)
    ]
    sent = nonce(people.manager)
    out = add(cli, program, write_csv_plan(tmp_path / "many.csv", many), "--batch-size", "3")
    assert out.exit_code == 0, out.output
    assert nonce(people.manager) == sent + 3  # 3 + 3 + 1
    assert all(on_chain(deployed, program, r["ref"])[5] == 1 for r in many)
    assert "registered 7" in out.stdout
    bar = [line for line in out.stderr.splitlines() if line.startswith("registering")]
    assert bar and "7/7" in bar[-1]  # the progress bar's last state


def test_an_interrupted_run_continues_where_it_stopped(
    cli, deployed, people, program, rows, tmp_path, monkeypatch
):
    plan = write_yaml_plan(tmp_path / "plan.yaml", rows)
    real = ChainClient.transact
    calls = []

    def failing_second_time(self, account, fn, **kwargs):
        calls.append(fn.fn_name)
        if len(calls) == 2:
            raise ChainUnavailableError("eth_sendRawTransaction: the node went away")
        return real(self, account, fn, **kwargs)

    monkeypatch.setattr(ChainClient, "transact", failing_second_time)
    out = add(cli, program, plan, "--batch-size", "2")
    assert out.exit_code == 2
    assert "the node went away; 2 of 3 new milestones were registered" in out.stderr
    assert "run the same command again to continue" in out.stderr
    assert on_chain(deployed, program, "PO-7/M3")[5] == 0

    monkeypatch.setattr(ChainClient, "transact", real)
    again = add(cli, program, plan, "--batch-size", "2")
    assert again.exit_code == 0, again.output
    assert "registered 1, skipped 2" in again.stdout
    assert on_chain(deployed, program, "PO-7/M3")[5] == 1


def test_a_dry_run_says_what_it_would_send_and_sends_nothing(
    cli, deployed, people, program, rows, tmp_path
):
    plan = write_yaml_plan(tmp_path / "plan.yaml", rows)
    sent = nonce(people.manager)
    out = add(cli, program, plan, "--dry-run", signer=None)
    assert out.exit_code == 0, out.output
    assert "dry run: would register 3 (3,800.25 JPYT), skip 0" in out.stdout
    assert {r[1] for r in table_records(out.stdout)} >= {"PO-7/M1", "PO-7/M2", "PO-7/M3"}
    assert nonce(people.manager) == sent
    assert deployed.escrow.program(program)[6] == 0


# ---------------------------------------------------------------------------- add: refusals


INVALID_PLAN = """\
milestones:
  - ref: GOOD/1
    beneficiary: {good}
    amount: 1,000
    deadline: {future}
    spec: {hash}
  - ref: this reference is far too long for bytes32
    beneficiary: {lower}
    amount: 0
    deadline: {future}
    spec: {hash}
  - ref: GOOD/1
    beneficiary: {good}
    amount: 1.0000000000000000001
    deadline: 31/12/2030
    spec: missing-spec.yaml
  - ref: 見積書-第三回-中間検査-報告
    beneficiary: {good}
    amount: 1,5
    deadline: {past}
    spec: 0x1234
  - beneficiary: {good}
    amount: 10
    deadline: {future}
    spec: {hash}
    colour: blue
"""


def test_an_invalid_plan_reports_every_bad_row_with_line_and_field_and_sends_nothing(
    cli, deployed, people, program, tmp_path
):
    good = str(people.beneficiary)
    plan = tmp_path / "bad.yaml"
    plan.write_bytes(
        INVALID_PLAN.format(
            good=good,
            lower=good.lower(),
            future=iso_in(30),
            past=iso_in(-1),
            hash=HASH,
        ).encode("utf-8")
    )
    sent = nonce(people.manager)
    out = add(cli, program, plan)
    assert out.exit_code == 2
    assert out.stderr.startswith(f"error: {plan}: 12 problems in 4 rows; nothing was sent")
    expected = [
        "line 7, ref: 'this reference is far too long for bytes32' is 42 bytes in UTF-8; at most "
        "32 fit on chain",
        f"line 8, beneficiary: {good.lower()} is not checksummed; compare it with the "
        f"contractor's records and write it as {good}",
        "line 9, amount: the amount must be above zero",
        "line 12, ref: 'GOOD/1' is also on line 2",
        "line 14, amount: 1.0000000000000000001 has 19 decimal places; the token has 18",
        "line 15, deadline: '31/12/2030' is not an ISO date (2030-06-30) or date and time",
        "line 16, spec: no specification file at",
        "line 17, ref: '見積書-第三回-中間検査-報告' is 39 bytes in UTF-8",
        "line 19, amount: '1,5' is not an amount",
        "line 21, spec: a specification hash is 0x and 64 hex digits; '0x1234' has 4",
        "line 22, ref: missing",
        "line 26, colour: unknown field",
    ]
    for line in expected:
        assert f"  {line}" in out.stderr, f"{line!r} not in\n{out.stderr}"
    assert nonce(people.manager) == sent
    assert deployed.escrow.program(program)[6] == 0
    assert on_chain(deployed, program, "GOOD/1")[5] == 0


def test_a_past_deadline_of_a_new_row_is_reported_with_the_chain_time(
    cli, people, program, rows, tmp_path
):
    plan = write_yaml_plan(tmp_path / "plan.yaml", [rows[0], dict(rows[1], deadline=iso_in(-2))])
    sent = nonce(people.manager)
    out = add(cli, program, plan)
    assert out.exit_code == 2
    assert "line 10, deadline: " in out.stderr and "is not in the future (chain time" in out.stderr
    assert nonce(people.manager) == sent


def test_an_invalid_csv_plan_reports_rows_by_their_line_in_the_file(
    cli, people, program, rows, tmp_path
):
    plan = tmp_path / "bad.csv"
    plan.write_text(
        "ref,beneficiary,amount,deadline,spec\n"
        f"A,{rows[0]['beneficiary']},5,{rows[0]['deadline']},{HASH}\n"
        "# a comment line\n"
        f"B,{rows[0]['beneficiary']},1,000,{rows[0]['deadline']},{HASH}\n"
        "\n"
        f'"C\nsplit over two lines",{rows[0]["beneficiary"]},-4,{rows[0]["deadline"]},{HASH}\n'
        f"D,0x12,7,{rows[0]['deadline']},\n"
    )
    sent = nonce(people.manager)
    out = add(cli, program, plan)
    assert out.exit_code == 2
    for line in (
        "line 4: 6 values but the header names 5 columns (a value holding commas must be in "
        "quotes)",
        "line 6, ref: 'C\\nsplit over two lines' holds control characters",
        "line 6, amount: -4 is negative; an amount must be above zero",
        "line 8, beneficiary: '0x12' is not an address (0x and 40 hex digits)",
        "line 8, spec: missing",
    ):
        assert f"  {line}" in out.stderr, f"{line!r} not in\n{out.stderr}"
    assert nonce(people.manager) == sent


def test_a_csv_header_with_unknown_or_missing_columns_is_reported(cli, program, tmp_path):
    plan = tmp_path / "bad.csv"
    plan.write_text("ref,benificiary,amount,deadline,spec\nA,0x0,1,2030-01-01,0x\n")
    out = add(cli, program, plan)
    assert out.exit_code == 2
    assert "line 1, benificiary: unknown column" in out.stderr
    assert "line 1, beneficiary: missing column" in out.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("plan.yaml", "milestones:\n  - ref: [unclosed\n", "is not valid YAML at line"),
        ("plan.yaml", "", "is empty"),
        ("plan.yaml", "title: no milestones here\n", "expected a list of milestones"),
        ("plan.yaml", "milestones: []\n", "lists no milestones"),
        ("plan.txt", "ref,amount\n", "a plan is a .yaml, .yml or .csv file"),
        ("plan.csv", "", "has no header row"),
        ("plan.csv", b"\xff\xfe\x00", "is not UTF-8 text"),
    ],
)
def test_a_file_that_is_no_plan_is_one_clear_error(
    cli, people, program, tmp_path, name, content, message
):
    plan = tmp_path / name
    if isinstance(content, bytes):
        plan.write_bytes(content)
    else:
        plan.write_text(content)
    sent = nonce(people.manager)
    out = add(cli, program, plan)
    assert out.exit_code == 2
    assert out.stderr.startswith("error: ") and message in out.stderr, out.stderr
    assert nonce(people.manager) == sent


def test_a_missing_plan_file_is_one_clear_error(cli, program, tmp_path):
    out = add(cli, program, tmp_path / "nowhere.yaml")
    assert out.exit_code == 2
    assert "error: no plan file at" in out.stderr


def test_a_commitment_above_the_uncommitted_balance_is_refused_before_sending(
    cli, deployed, people, program, rows, tmp_path
):
    big = [dict(rows[0], amount="999,000"), dict(rows[1], amount="1,000.5")]
    sent = nonce(people.manager)
    out = add(cli, program, write_yaml_plan(tmp_path / "plan.yaml", big))
    assert out.exit_code == 2
    assert (
        f"the 2 new milestones commit 1,000,000.5 JPYT, but program {program} has only "
        "1,000,000 JPYT uncommitted"
    ) in out.stderr
    assert "fund it with at least 0.5 JPYT first; nothing was sent" in out.stderr
    assert nonce(people.manager) == sent
    assert deployed.escrow.program(program)[6] == 0


@pytest.mark.parametrize("signer", ["manager2", "outsider"])
def test_add_refuses_a_signer_who_is_not_the_programs_manager(
    cli, deployed, people, program, rows, tmp_path, signer
):
    who = getattr(people, signer)
    sent = nonce(who)
    out = add(cli, program, write_yaml_plan(tmp_path / "plan.yaml", rows), signer=signer)
    assert out.exit_code == 2
    assert f"you ({who.address}) are not the manager of program {program}" in out.stderr
    assert nonce(who) == sent
    assert deployed.escrow.program(program)[6] == 0


def test_add_refuses_an_unknown_program(cli, people, program, rows, tmp_path):
    sent = nonce(people.manager)
    out = add(cli, 77, write_yaml_plan(tmp_path / "plan.yaml", rows))
    assert out.exit_code == 2
    assert "error: no program 77 in escrow" in out.stderr
    assert nonce(people.manager) == sent


def test_add_refuses_a_closed_program(cli, deployed, people, program, rows, tmp_path):
    deployed.escrow.closeProgram(program, {"from": people.manager})
    sent = nonce(people.manager)
    out = add(cli, program, write_yaml_plan(tmp_path / "plan.yaml", rows))
    assert out.exit_code == 2
    assert f"program {program} is closed and takes no more milestones" in out.stderr
    assert nonce(people.manager) == sent


def test_add_reports_an_unreachable_chain(
    cli, people, program, rows, tmp_path, unreachable_profile
):
    sent = nonce(people.manager)
    out = add(
        cli,
        program,
        write_yaml_plan(tmp_path / "plan.yaml", rows),
        rpc_url=DEAD_RPC,
        profile=unreachable_profile,
    )
    assert out.exit_code == 2
    assert out.stderr.startswith("error: eth_chainId: http://127.0.0.1:9 did not answer")
    assert nonce(people.manager) == sent


# ---------------------------------------------------------------------------- list and show


@pytest.fixture
def registered(cli, deployed, oracles, program, rows, tmp_path):
    """The three rows registered through the CLI; PO-7/M2 attested by two oracles: Verified."""
    assert add(cli, program, write_yaml_plan(tmp_path / "plan.yaml", rows)).exit_code == 0
    escrow = deployed.escrow
    mid = milestone_id(program, external_ref("PO-7/M2"))
    epoch = escrow.committee()[2]
    for oracle in oracles[:2]:
        escrow.attest(mid, evidence("delivery"), epoch, 0, {"from": oracle})
    assert escrow.statusOf(mid) == 2
    return rows


def test_list_shows_every_milestone_of_the_program(cli, deployed, program, registered):
    out = cli("milestones", "list", "--program", program, signer=None)
    assert out.exit_code == 0, out.output
    records = {r[0]: r for r in table_records(out.stdout) if r[0].startswith("PO-7/")}
    assert set(records) == {"PO-7/M1", "PO-7/M2", "PO-7/M3"}
    _ref, short_id, beneficiary, amount, deadline, status, attestations, releasable = records[
        "PO-7/M2"
    ]
    mid = "0x" + milestone_id(program, external_ref("PO-7/M2")).hex()
    assert short_id == f"{mid[:6]}…{mid[-4:]}"
    assert beneficiary == registered[1]["beneficiary"]
    assert amount == "2,500.25 JPYT"
    assert deadline.endswith("UTC")
    assert (status, attestations) == ("Verified", "2 of 2")
    assert releasable == format_time(deployed.escrow.releasableAt(mid))
    assert records["PO-7/M1"][5:] == ["Registered", "0 of 2", "-"]


def test_list_filters_by_status(cli, program, registered):
    out = cli("milestones", "list", "--program", program, "--status", "verified", signer=None)
    assert out.exit_code == 0, out.output
    refs = [r[0] for r in table_records(out.stdout) if r[0].startswith("PO-7/")]
    assert refs == ["PO-7/M2"]
    none = cli("milestones", "list", "--program", program, "--status", "Frozen", signer=None)
    assert none.exit_code == 0
    assert f"program {program} has no milestones in status Frozen" in none.stdout


def test_list_refuses_an_unknown_status(cli, program):
    out = cli("milestones", "list", "--program", program, "--status", "Paid", signer=None)
    assert out.exit_code == 2
    assert "unknown status 'Paid'; one of Registered, Verified" in out.stderr


def test_show_by_reference_prints_every_field_and_each_attestation(
    cli, deployed, oracles, program, registered
):
    out = cli("milestones", "show", "PO-7/M2", "--program", program, signer=None)
    assert out.exit_code == 0, out.output
    fields = table_rows(out.stdout)
    mid = milestone_id(program, external_ref("PO-7/M2"))
    assert fields["id"] == "0x" + mid.hex()
    assert fields["ref"] == "PO-7/M2"
    assert fields["program"] == str(program)
    assert fields["beneficiary"] == registered[1]["beneficiary"]
    assert fields["amount"] == "2,500.25 JPYT"
    assert fields["evidence spec hash"] == HASH
    assert fields["status"] == "Verified"
    assert fields["attestations"] == "2 of 2"
    assert fields["evidence hash"] == "0x" + evidence("delivery").hex()
    assert "verified at" in fields and "releasable at" in fields
    attestations = [r for r in table_records(out.stdout) if len(r) == 5 and r[0] != "oracle"]
    assert [r[0] for r in attestations] == [str(o) for o in oracles[:2]]
    assert all(r[1] == "0x" + evidence("delivery").hex() for r in attestations)
    assert all(r[3].endswith("UTC") for r in attestations)


def test_show_by_id_needs_no_program(cli, program, registered):
    mid = "0x" + milestone_id(program, external_ref("PO-7/M1")).hex()
    out = cli("milestones", "show", mid, signer=None)
    assert out.exit_code == 0, out.output
    assert table_rows(out.stdout)["ref"] == "PO-7/M1"
    assert "no attestations yet" in out.stdout


def test_show_refuses_an_unknown_reference(cli, program, registered):
    out = cli("milestones", "show", "PO-7/M9", "--program", program, signer=None)
    assert out.exit_code == 2
    assert f"error: no milestone 'PO-7/M9' in program {program}" in out.stderr


def test_show_refuses_a_milestone_of_another_program(cli, deployed, people, program, registered):
    other = deployed.escrow.createProgram(
        deployed.token, people.treasury, DAY, FACTS, {"from": people.manager}
    ).return_value
    mid = "0x" + milestone_id(program, external_ref("PO-7/M1")).hex()
    out = cli("milestones", "show", mid, "--program", other, signer=None)
    assert out.exit_code == 2
    assert f"belongs to program {program}, not {other}" in out.stderr


def test_show_by_reference_needs_the_program(cli, program):
    out = cli("milestones", "show", "PO-7/M1", signer=None)
    assert out.exit_code == 2
    assert "give --program" in out.stderr


# ---------------------------------------------------------------------------- the examples


def test_the_example_plans_register_the_same_five_milestones(cli, deployed, people):
    escrow, token = deployed.escrow, deployed.token
    budget = 500_000_000 * TOKEN_UNIT
    token.mint(people.manager, budget, {"from": people.manager})
    pid = int(
        escrow.createProgram(
            token, people.treasury, 2 * DAY, FACTS, {"from": people.manager}
        ).return_value
    )
    token.approve(escrow, budget, {"from": people.manager})
    escrow.fund(pid, budget, {"from": people.manager})
    out = add(cli, pid, EXAMPLES / "plan.yaml")
    assert out.exit_code == 0, out.output
    assert "registered 5, skipped 0" in out.stdout
    assert escrow.program(pid)[6] == 455_000_000 * TOKEN_UNIT
    spec = keccak((EXAMPLES / "evidence-spec.yaml").read_bytes())
    assert bytes(on_chain(deployed, pid, "CR-2026/M3 sea trials")[4]) == spec
    again = add(cli, pid, EXAMPLES / "plan.csv")
    assert again.exit_code == 0, again.output
    assert "registered 0, skipped 5" in again.stdout


# ---------------------------------------------------------------------------- the plan model


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1", 10**18),
        ("1,000,000.50", 1_000_000_500_000_000_000_000_000),
        ("0.000000000000000001", 1),
        ("1.500000000000000000000", 15 * 10**17),
        ("+7", 7 * 10**18),
    ],
)
def test_amounts_are_read_exactly_in_the_tokens_units(text, units):
    assert parse_amount(text, 18) == units


def test_amounts_respect_the_tokens_decimals():
    assert parse_amount("12.34", 2) == 1234
    with pytest.raises(ValueError, match="3 decimal places; the token has 2"):
        parse_amount("12.345", 2)
    assert parse_amount("5", 0) == 5


def test_amounts_are_shown_exactly():
    assert format_amount(1_000_000_500_000_000_000_000_000, 18) == "1,000,000.5"
    assert format_amount(1, 18) == "0.000000000000000001"
    assert format_amount(10**40 + 1, 18) == "10,000,000,000,000,000,000,000.000000000000000001"


def test_a_date_alone_is_the_end_of_that_day_in_utc():
    assert parse_deadline("2030-06-30") == parse_deadline("2030-06-30T23:59:59Z")
    assert parse_deadline("2030-06-30T09:00:00+09:00") == parse_deadline("2030-06-30T00:00:00")


def test_yaml_values_are_read_as_written_not_as_yaml_numbers(tmp_path, people):
    """An unquoted address is not an integer, an amount 1.10 is not a float, a ref 007 keeps
    its zeros."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"- ref: 007\n  beneficiary: {people.beneficiary}\n  amount: 1.10\n"
        f"  deadline: 2031-01-01\n  spec: {HASH}\n"
    )
    rows, issues = read_rows(plan)
    planned, more = validate_rows(rows, program_id=1, decimals=18, base_dir=tmp_path)
    assert issues == [] and more == []
    row = planned[0].row
    assert (row.ref, row.beneficiary, row.amount) == ("007", str(people.beneficiary), 11 * 10**17)


def test_a_reference_of_exactly_32_bytes_fits():
    ref = "é" * 16  # 32 bytes in UTF-8
    assert ref_text(external_ref(ref)) == ref


def test_a_field_given_twice_in_yaml_is_reported(tmp_path, people):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"- ref: A\n  amount: 1\n  amount: 2\n  beneficiary: {people.beneficiary}\n"
        f"  deadline: 2031-01-01\n  spec: {HASH}\n"
    )
    _rows, issues = read_rows(plan)
    assert [str(i) for i in issues] == ["line 3, amount: given twice (first on line 2)"]
