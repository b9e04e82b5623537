"""GET /council and its live fragment, over HTTP on the real index of the audit history plus two
open proposals made here (a force-release approved by one member, a new member approved by
none).

council page
├── members and threshold: the council's own (members(), threshold() on chain)
├── open proposals: decoded into words (disburse.council.describe), approvals counted against
│   the current members and threshold, who still has to approve, a countdown to expiry, a loud
│   warning on a force-release (money) and on a membership change (who decides)
├── executed and expired ones below, each in its state (the proposals table)
├── a program manager sees only the proposals about their programs
└── the live fragment; lang=ja
"""

from __future__ import annotations

import re

import pytest
from brownie import accounts, chain
from eth_utils import keccak
from sqlalchemy import select

from disburse.index import schema
from tests.conftest import DAY
from tests.console.conftest import run_cli

pytest_plugins = ["tests.console._detail"]


@pytest.fixture(scope="module")
def open_proposals(console_history):
    """Proposals 9 (force-release A/M8, approved by member 0) and 10 (add a member, no
    approval), open for a week."""
    h = console_history.history
    members = h.members
    force = h.escrow.forceRelease.encode_input(h.ids["A/M8"], keccak(text="site visit"))
    tx = h.council.propose(
        h.escrow, force, "pay A/M8 by hand", chain.time() + 7 * DAY, {"from": members[0]}
    )
    h.council.approve(tx.return_value, {"from": members[0]})
    newcomer = accounts.add(keccak(text="console-council-newcomer").hex())
    add = h.council.addMember.encode_input(newcomer, 2)
    h.council.propose(
        h.council, add, "a fourth member", chain.time() + 7 * DAY, {"from": members[1]}
    )
    chain.mine()
    return {"force": 9, "add": 10, "newcomer": str(newcomer)}


@pytest.fixture(scope="module")
def index_url(console_history, open_proposals, tmp_path_factory):
    """The conftest's index, built after the open proposals were made."""
    url = f"sqlite:///{tmp_path_factory.mktemp('console-council') / 'ledger.db'}"
    result = run_cli(console_history.history.deployment_file, "index", "--db", url)
    assert result.exit_code == 0, result.output
    return url


def _article(page: str, pid: int) -> str:
    found = re.search(rf'<article [^>]*data-proposal="{pid}".*?</article>', page, re.DOTALL)
    assert found, f"no proposal {pid}"
    return found.group(0)


def test_members_and_threshold_are_the_councils(client_as, console_history):
    council = console_history.history.council
    page = client_as("overseer").get("/council")
    assert page.status_code == 200, page.text
    listed = re.findall(r'<li data-member="(0x[0-9a-fA-F]{40})">', page.text)
    assert listed == [str(m) for m in council.members()]
    assert f'data-threshold="{council.threshold()}"' in page.text


def test_an_open_force_release_is_decoded_counted_and_warned(
    client_as, console_history, open_proposals
):
    h = console_history.history
    page = client_as("overseer").get("/council").text
    article = _article(page, open_proposals["force"])
    assert 'data-state="open"' in article
    assert "force-release milestone A/M8" in article  # the CLI's describer, in words
    said = re.search(r"data-said>(.*?)</dd>", article).group(1)
    assert said.startswith("pay milestone A/M8 without an oracle quorum, reason 0x")
    arguments = article[article.index("data-arguments>") :]
    assert "0x" + h.ids["A/M8"].hex() in arguments  # and its arguments, each labelled
    assert 'data-arg="milestoneId"' in arguments and 'data-arg="reasonHash"' in arguments
    assert 'data-warning="money"' in article and 'role="alert"' in article
    assert 'data-approvals="1"' in article and 'data-threshold="2"' in article
    approved = re.search(r"data-approved-by>(.*?)</dd>", article, re.DOTALL).group(1)
    waiting = re.search(r"data-waiting-for>(.*?)</dd>", article, re.DOTALL).group(1)
    assert str(h.members[0]) in approved
    assert str(h.members[1]) in waiting and str(h.members[2]) in waiting
    assert str(h.members[0]) not in waiting
    assert h.council.proposal(open_proposals["force"])[4] == 1  # approvals on chain
    expiry = h.council.proposal(open_proposals["force"])[1]
    assert f'data-countdown="{expiry}"' in article


def test_a_membership_change_warns_that_it_changes_who_decides(client_as, open_proposals):
    article = _article(client_as("auditor").get("/council").text, open_proposals["add"])
    assert 'data-warning="decides"' in article
    assert f"add council member {open_proposals['newcomer']}" in article
    assert 'data-approvals="0"' in article


def test_executed_and_expired_proposals_are_below_in_their_state(client_as, reader):
    p = schema.proposals
    with reader.store.engine.connect() as conn:
        rows = conn.execute(select(p.c.proposal_id, p.c.executed_block)).all()
    page = client_as("overseer").get("/council").text
    closed = page[page.index('id="closed-h"') :]
    opened = page[page.index('id="open-h"') : page.index('id="closed-h"')]
    for pid, executed in rows:
        if executed is not None:
            assert 'data-state="executed"' in _article(closed, pid)
    assert 'data-state="expired"' in _article(closed, 6)  # the withdrawn cancel of A/M8
    assert 'data-proposal="6"' not in opened
    assert "set the baseline of program 1" in _article(closed, 7)


def test_a_manager_sees_only_the_proposals_about_their_programs(client_as, open_proposals):
    manny = client_as("manager").get("/council").text
    assert f'data-proposal="{open_proposals["force"]}"' in manny  # A/M8 is program 1's
    assert f'data-proposal="{open_proposals["add"]}"' not in manny  # about no program
    mona = client_as("other_manager").get("/council").text
    assert f'data-proposal="{open_proposals["force"]}"' not in mona
    assert 'data-proposal="7"' not in mona


def test_the_live_fragment_is_the_queue(client_as, open_proposals):
    fragment = client_as("overseer").get("/council/fragment/queue", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="council-queue"')
    assert 'hx-trigger="ledger from:body"' in fragment.text
    assert f'data-proposal="{open_proposals["force"]}"' in fragment.text
    assert client_as(None).get("/council/fragment/queue").status_code == 401


def test_the_page_speaks_japanese(client_as, open_proposals):
    client = client_as("overseer")
    client.cookies.set("lang", "ja")
    page = client.get("/council").text
    assert "監督評議会" in page and "強制支払" in page and "警告" in page and "理由" in page
    assert "Open proposals" not in page
    assert "オラクルの定足数なしに マイルストーン A/M8 を支払" in page
