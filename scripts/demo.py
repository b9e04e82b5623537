"""The demo scenario (`make demo`), on the embedded local chain (anvil with a state file).

The program manager, the oracle nodes and the overseers do what they would do for real, with
the tools they would use: `disburse` for the manager and the council, three `oracle run`
processes (quorum two) fed through `oracle evidence submit`. One program with five milestones:

    M1, M2  evidence verified by two nodes: released by the nodes once the window has passed
    M3      evidence that fails verification (units short): rejected with reasons; the council
            later force-releases it on the inspector's signed paper report
    M4      verified, then frozen by the council during its window, then cancelled
    M5      two nodes attest different evidence: Disputed, left for the council

It ends with the audit. Every process it starts is stopped at the end, also on Ctrl-C.
Run it with `make demo` (scripts/run_demo.py), on the chain that
`python -m disburse.chain.localchain` starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brownie import accounts, chain, web3
from eth_account import Account
from eth_utils import keccak

from disburse.chain.attestations import external_ref, milestone_id
from disburse.chain.deployment import save
from disburse.chain.escrow import ProgramFacts
from disburse.chain.keystore import import_keystore
from oracle.evidence import EvidenceCreate, sign_inspector_approval, subject_hash
from oracle.localnodes import NodeProcess, make_node
from scripts.deploy import deploy

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
PLAN = ROOT / "examples" / "plan.yaml"
SPEC = ROOT / "examples" / "evidence-spec.yaml"
PASSWORD = "demo password, local chain only"
# anvil's well-known test mnemonic: the local chain's accounts, never a real key.
MNEMONIC = "test test test test test test test test test test test junk"
DAY = 86_400
REFS = {
    "M1": "CR-2026/M1 hull survey",
    "M2": "CR-2026/M2 radar delivery",
    "M3": "CR-2026/M3 sea trials",
    "M4": "CR-2026/M4 crew training",
    "M5": "CR-2026/M5 spare parts",
}
INSPECTORS = [Account.from_key(keccak(text=f"demo-inspector-{i}")) for i in (1, 2, 3)]
DOCUMENTS = {
    "delivery-note.pdf": b"%PDF-1.7 delivery note: 50 units, lot 7\n",
    "acceptance-test-report.pdf": b"%PDF-1.7 acceptance test report: passed\n",
}

_OUT = sys.stdout
_step = 0


def say(text: str) -> None:
    global _step
    _step += 1
    print(f"\n[{_step}] {text}", file=_OUT, flush=True)


def tell(text: str) -> None:
    for line in text.rstrip().splitlines():
        print(f"      {line}", file=_OUT, flush=True)


@contextlib.contextmanager
def quiet_brownie() -> Iterator[None]:
    """brownie prints every transaction; the demo tells its story in plain words instead."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def run(tool: str, *args: str, env: dict[str, str] | None = None, show: bool = True) -> str:
    """Runs a command as its user would, shows it and its output, and returns the output."""
    shown = " ".join(a if " " not in a else f'"{a}"' for a in args)
    if show:
        tell(f"$ {tool} {shown}")
    result = subprocess.run(
        [str(BIN / tool), *args], capture_output=True, text=True, env=env, timeout=120
    )
    output = (result.stdout + result.stderr).strip()
    if show and output:
        tell(output)
    if result.returncode != 0:
        raise SystemExit(f"{tool} {shown} failed ({result.returncode}):\n{output}")
    return result.stdout.strip()


def person_key(index: int, name: str) -> tuple[Path, dict[str, str]]:
    """An encrypted keystore for local account `index`, and the environment to use it."""
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key
    path = DEMO / "keys" / f"{name}.json"
    import_keystore(path, key, PASSWORD, scrypt_n=2**10)
    env = {
        **os.environ,
        "DISBURSE_DEPLOYMENT": str(DEMO / "deployment.json"),
        "DISBURSE_RPC_URL": web3.provider.endpoint_uri,
        "DISBURSE_KEYSTORE": str(path),
        "DISBURSE_KEY_PASSWORD": PASSWORD,
    }
    return path, env


def evidence_files(milestone: bytes, name: str, units: int) -> list[str]:
    """Documents, claims and two inspectors' approvals for a milestone, as files."""
    folder = DEMO / "evidence" / name
    folder.mkdir(parents=True, exist_ok=True)
    for doc, data in DOCUMENTS.items():
        (folder / doc).write_bytes(data)
    claims = {"units_delivered": units, "acceptance_test_passed": True}
    (folder / "claims.yaml").write_text(f"units_delivered: {units}\nacceptance_test_passed: true\n")
    refs = [
        {
            "name": doc,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "media_type": "application/pdf",
        }
        for doc, data in DOCUMENTS.items()
    ]
    subject = subject_hash(
        EvidenceCreate.model_validate(
            {"milestone_id": "0x" + milestone.hex(), "documents": refs, "claims": claims}
        )
    )
    approvals = [
        {"inspector": i.address, "signature": sign_inspector_approval(i.key, subject)}
        for i in INSPECTORS[:2]
    ]
    (folder / "approvals.json").write_text(json.dumps(approvals, indent=2))
    args = ["--milestone", "0x" + milestone.hex(), "--claims", str(folder / "claims.yaml")]
    for doc in DOCUMENTS:
        args += ["--document", str(folder / doc)]
    return [*args, "--approvals", str(folder / "approvals.json")]


def submit(node: NodeProcess, milestone: bytes, name: str, units: int = 50) -> int:
    key_file = node.home / "submitter-key"
    key_file.write_text(node.api_key)
    out = run(
        "oracle",
        "evidence",
        "submit",
        "--node",
        node.url,
        "--api-key-file",
        str(key_file),
        *evidence_files(milestone, name, units),
        show=False,
    )
    accepted = json.loads(out)
    digest = accepted["evidence_hash"][:10]
    tell(f"{node.name}: evidence {accepted['id']} for {name} accepted ({digest}…)")
    return int(accepted["id"])


def evidence_state(node: NodeProcess, evidence_id: int) -> dict[str, Any]:
    with node.http() as http:
        found: dict[str, Any] = http.get(f"/v1/evidence/{evidence_id}").json()
        return found


def wait_for(what: str, predicate: Any, timeout: float = 60.0) -> None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


STATUS = [
    "None",
    "Registered",
    "Verified",
    "Disputed",
    "Frozen",
    "Released",
    "Cancelled",
    "Expired",
]


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own deprecations
    nodes: list[NodeProcess] = []
    try:
        scenario(nodes)
    finally:
        for node in nodes:
            node.stop()


def scenario(nodes: list[NodeProcess], home: Path | None = None) -> None:
    global DEMO
    DEMO = home or DEMO
    DEMO.mkdir(exist_ok=True)
    stale = ("keys", "nodes", "evidence", "deployment.json", "report.html")
    index_files = tuple(f"deployment.ledger.db{end}" for end in ("", "-wal", "-shm"))
    for old in stale + index_files:
        path = DEMO / old
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    admin, manager, treasury = accounts[0], accounts[1], accounts[2]
    overseers = {"sato": accounts[6], "ito": accounts[7], "mori": accounts[8]}
    oracle_keys = {
        n: keccak(text=f"demo-oracle:{n}")
        for n in ("audit-office", "trust-bank", "inspection-body")
    }

    say("Deploying escrow, oversight council and settlement token on the local chain")
    with quiet_brownie():
        record, escrow, _council, token = deploy(
            deployer=admin,
            council_members=[str(a) for a in overseers.values()],
            threshold=2,
            oracles=[Account.from_key(k).address for k in oracle_keys.values()],
            quorum=2,
            managers=[str(manager)],
            with_token=True,
            evm_version="cancun",
        )
        for key in oracle_keys.values():
            admin.transfer(Account.from_key(key).address, 10**18)
        token.mint(manager, 1_000_000_000 * 10**18, {"from": admin})
    save(record, DEMO / "deployment.json")
    tell(f"escrow {record.escrow}, council {record.council} (2 of 3), token {record.token}")
    tell("the deployer kept no admin right; the council holds it")
    _, pm = person_key(1, "program-manager")
    people = {name: person_key(i, name)[1] for name, i in (("sato", 6), ("ito", 7), ("mori", 8))}

    say("The program manager creates the program, with its facts and baseline, and funds it")
    program = create_program(pm, treasury, MAIN_PROGRAM)
    run("disburse", "program", "fund", program, "500,000,000", env=pm)

    say("The program manager registers the plan (examples/plan.yaml)")
    run("disburse", "milestones", "add", "--program", program, "--file", str(PLAN), env=pm)
    ids = {k: milestone_id(int(program), external_ref(ref)) for k, ref in REFS.items()}

    say("Three verifiers start their oracle nodes (any two of three must agree)")
    for name, key in oracle_keys.items():
        node = make_node(
            name=name,
            root=DEMO / "nodes",
            private_key="0x" + key.hex(),
            rpc_url=web3.provider.endpoint_uri,
            chain_id=chain.id,
            deployment_file=DEMO / "deployment.json",
            submitter_scope=("--program", program),  # the inspector's key: this program only
            poll_interval_s=0.5,
        )
        node.start()
        nodes.append(node)
        key_file = node.home / "submitter-key"
        key_file.write_text(node.api_key)
        spec_hash = run(
            "oracle",
            "spec",
            "upload",
            str(SPEC),
            "--node",
            node.url,
            "--api-key-file",
            str(key_file),
            show=False,
        )
        tell(f"{name}: running at {node.url}, specification {spec_hash[:10]}… uploaded")
    audit_node, bank_node, _ = nodes

    say("Evidence arrives: M1, M2 and M4 to two nodes; M3 short of units; M5 differs between nodes")
    for k in ("M1", "M2", "M4"):
        submit(audit_node, ids[k], REFS[k])
        submit(bank_node, ids[k], REFS[k])
    m3 = submit(audit_node, ids["M3"], REFS["M3"], units=10)
    submit(audit_node, ids["M5"], REFS["M5"], units=50)
    wait_for("M5's first attestation", lambda: escrow.milestone(ids["M5"])[6] == 1)
    submit(bank_node, ids["M5"], REFS["M5"], units=60)
    for k in ("M1", "M2", "M4"):
        wait_for(f"{k} verified", lambda k=k: escrow.statusOf(ids[k]) == 2)
    wait_for("M5 disputed", lambda: escrow.statusOf(ids["M5"]) == 3)
    wait_for("M3 rejected", lambda: evidence_state(audit_node, m3)["state"] == "rejected")
    for k in REFS:
        tell(f"{REFS[k]:<28} {STATUS[escrow.statusOf(ids[k])]}")
    for reason in evidence_state(audit_node, m3)["reasons"]:
        tell(f"M3 rejected by audit-office: {reason}")

    say("The ministry questions M4's training records: the council freezes it in its window")
    council_decides(
        people,
        "freeze",
        "--program",
        program,
        REFS["M4"],
        "-d",
        "Freeze M4: ministry reports the training manuals incomplete",
    )
    tell(f"{REFS['M4']}: {STATUS[escrow.statusOf(ids['M4'])]}")

    say("After review the council cancels M4; its amount returns to the program")
    council_decides(
        people,
        "cancel",
        "--program",
        program,
        REFS["M4"],
        "-d",
        "Cancel M4: training to be re-tendered",
    )

    say("M3's automated check failed on a scanning error; the council pays it on the paper report")
    council_decides(
        people,
        "force-release",
        "--program",
        program,
        REFS["M3"],
        "--reason",
        "Inspection report IR-2026-118 signed on paper",
        "-d",
        "Force-release M3 on the signed paper inspection report",
    )

    say("Two days later the challenge window is over: the nodes release M1 and M2")
    with quiet_brownie():
        chain.sleep(2 * DAY + 60)
        chain.mine()
    for k in ("M1", "M2"):
        wait_for(f"{k} released", lambda k=k: escrow.statusOf(ids[k]) == 5)
        tell(f"{REFS[k]}: released by an oracle node")

    say("Other branches' programs: research funded and idle, sustainment whose baseline grows")
    others = [create_program(pm, treasury, facts) for facts in OTHER_PROGRAMS]
    run("disburse", "program", "fund", others[0], "120,000,000", env=pm)
    run("disburse", "program", "fund", others[1], "80,000,000", env=pm)
    council_decides(
        people,
        "set-baseline",
        others[1],
        "110,000,000",
        "-d",
        "Raise the radio sustainment baseline: spare parts cost more than planned",
    )

    say("Overseers read the audit: history rebuilt from events, reconciled with the chain")
    run("disburse", "audit", env=people["mori"])

    say("The ledger index: every event in a SQLite file beside the deployment, kept current")
    run("disburse", "index", env=people["mori"])
    say("The budget report from the index: by organisation, earned value, alerts, forecasts")
    page = DEMO / "report.html"
    run("disburse", "report", "--html", str(page), env=people["mori"])
    tell(f"the same report as one self-contained HTML file (opens offline): {page}")


TOKEN = 10**18
"""One JPYT in its smallest unit (18 decimals)."""
MAIN_PROGRAM = ProgramFacts(
    title="Coastal surveillance radar refit",
    organisation="MSDF",
    category="maintenance",
    fiscal_year=2026,
    baseline=500_000_000 * TOKEN,
)
"""The demo's main program, paid by examples/plan.yaml."""
OTHER_PROGRAMS = (
    ProgramFacts(
        title="Counter-drone sensor research",
        organisation="ATLA",
        category="research",
        fiscal_year=2027,
        baseline=300_000_000 * TOKEN,
    ),
    ProgramFacts(
        title="Field radio sustainment",
        organisation="GSDF",
        category="maintenance",
        fiscal_year=2025,
        baseline=80_000_000 * TOKEN,
    ),
)


def create_program(pm: dict[str, str], treasury: Any, facts: ProgramFacts) -> str:
    """`disburse program create` with the program's facts; returns its id."""
    return run(
        "disburse",
        "program",
        "create",
        "--title",
        facts.title,
        "--organisation",
        facts.organisation,
        "--category",
        facts.category,
        "--fiscal-year",
        str(facts.fiscal_year),
        "--baseline",
        f"{facts.baseline // TOKEN:,}",
        "--treasury",
        str(treasury),
        "--challenge-window",
        "2d",
        env=pm,
    ).splitlines()[-1]


def council_decides(people: dict[str, dict[str, str]], action: str, *args: str) -> None:
    out = run("disburse", "council", "propose", action, *args, env=people["sato"])
    proposal = out.strip().splitlines()[-1].split()[-1]
    run("disburse", "council", "approve", proposal, env=people["sato"])
    run("disburse", "council", "approve", proposal, env=people["ito"])
