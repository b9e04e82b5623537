"""The overseers' budget report from the ledger index: roll-ups by organisation, category and
fiscal year, earned value per program (with S-curves), alerts with the numbers behind them,
forecasts of open milestones, and the index's reconciliation against the chain; stamped with the
chain, block and hash it describes.

The package: `facts` (index -> the analytics' facts), `model` (the report, computed by
`disburse.analytics`), `render` (text, JSON, CSV, one self-contained HTML file).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from functools import cache

from web3.exceptions import Web3Exception

from disburse.audit import run_audit
from disburse.chain.client import ChainClient
from disburse.chain.deployment import Deployment
from disburse.chain.errors import ContractRevertError
from disburse.index.history import IndexedHistory
from disburse.index.store import IndexStore, IndexStoreError
from disburse.report.facts import IndexFacts, TokenFacts, load_facts
from disburse.report.model import BudgetReport, Reconciled, build_report

__all__ = ["BudgetReport", "make_report"]


def make_report(
    client: ChainClient,
    deployment: Deployment,
    store: IndexStore,
    *,
    reconcile: bool = True,
    programs: Collection[int] = (),
) -> BudgetReport:
    """The report of the index as it stands; with `reconcile`, the index's ledger is first
    checked against the chain's state at the index's block (as `disburse audit --db` does).
    With `programs`, of those programs only (roll-ups, alerts and forecasts of theirs; the
    reconciliation is still the whole index's); a program the index does not hold is refused."""

    @cache
    def token(address: str) -> TokenFacts:
        contract = client.contract("SettlementToken", address)
        try:
            return TokenFacts(
                str(client.call(contract.functions.symbol())),
                int(client.call(contract.functions.decimals())),
            )
        except (ContractRevertError, Web3Exception, ValueError):
            return TokenFacts(f"units of {address[:10]}…", 0)

    facts = only(load_facts(store, token=token), programs)
    reconciled = None
    if reconcile:
        audit = run_audit(client, deployment, history=IndexedHistory(store, deployment))
        r = audit.reconciliation
        if r.checked:
            record_reconciliation(store, ok=r.ok, differences=len(r.differences))
        reconciled = Reconciled(
            checked=r.checked,
            ok=r.ok,
            note=r.note,
            differences=tuple(d.message for d in r.differences),
        )
    return build_report(
        facts,
        chain_id=client.profile.chain_id,
        escrow=deployment.escrow,
        chain_head=client.block_number(),
        reconciliation=reconciled,
    )


def only(facts: IndexFacts, programs: Collection[int]) -> IndexFacts:
    """`facts` of `programs` alone (all of them when empty); IndexStoreError naming a program
    the index does not hold."""
    if not programs:
        return facts
    wanted = frozenset(programs)
    missing = sorted(wanted - {p.program_id for p in facts.programs})
    if missing:
        held = len(facts.programs)
        raise IndexStoreError(
            f"the index holds no program {', '.join(map(str, missing))} "
            f"(it holds {held} program{'s' if held != 1 else ''}, numbered from 1)"
        )
    return replace(
        facts,
        programs=tuple(p for p in facts.programs if p.program_id in wanted),
        milestones=tuple(m for m in facts.milestones if m.program_id in wanted),
    )


def record_reconciliation(store: IndexStore, *, ok: bool, differences: int) -> None:
    """Keeps a reconciliation's result in the index, at the index's block (where the audit from
    the index reconciles)."""
    cursor = store.cursor()
    if cursor is not None:
        store.record_reconciliation(block=cursor.number, ok=ok, differences=differences)
