"""GET /milestones/{id} and its live fragment, over HTTP on the real index of the audit history.

milestone page
├── the timeline: every event of the milestone in chain order (the events table), each with
│   block and transaction; attestations by their oracle (the attestations table), the council's
│   acts by their proposal and its executor (the proposals table)
├── hashes, amount and status: the milestones table's
├── challenge window: verified time + the program's window; a freeze command for a Verified
│   milestone in the CLI's syntax, none for others
├── forecast: IndexQueries.forecast's, with its reasons, for an open milestone
├── who: the program's manager and overseers see it; another manager gets 404 (page and
│   fragment), as for an unknown milestone
└── refused: an id that is not 0x and 64 hex digits (400 naming it); lang=ja
"""

from __future__ import annotations

import re
import shlex

import pytest
from sqlalchemy import select

from disburse.index import schema
from tests.console._html import assert_no_inline_script, attrs

pytest_plugins = ["tests.console._detail"]


def _mid(console_history, ref: str) -> str:
    return "0x" + console_history.history.ids[ref].hex()


def _rows(page: str) -> list[tuple[str, str, str]]:
    """(event, block, actor) of each timeline row."""
    return re.findall(
        r'<tr data-event="(\w+)" data-block="(\d+)" data-log="\d+">.*?data-actor="([^"]*)"',
        page,
        re.DOTALL,
    )


def test_the_timeline_is_every_event_of_the_milestone(client_as, reader, console_history):
    mid = _mid(console_history, "A/M4")
    e = schema.events
    with reader.store.engine.connect() as conn:
        stored = conn.execute(
            select(e.c.name, e.c.block, e.c.tx_hash)
            .where(e.c.milestone_id == mid)
            .order_by(e.c.block, e.c.log_index)
        ).all()
    page = client_as("overseer").get(f"/milestones/{mid}")
    assert page.status_code == 200, page.text
    rows = _rows(page.text)
    assert [(name, int(block)) for name, block, _ in rows] == [(n, b) for n, b, _ in stored]
    assert [n for n, _, _ in rows] == [
        "MilestoneRegistered",
        "AttestationRecorded",
        "AttestationRecorded",
        "MilestoneVerified",
        "MilestoneFrozen",
        "MilestoneCancelled",
    ]
    for _name, _block, tx in stored:
        assert f'data-tx="{tx}"' in page.text
    assert_no_inline_script(page.text)


def test_each_act_names_who_did_it(client_as, reader, console_history):
    mid = _mid(console_history, "A/M4")
    a, p = schema.attestations, schema.proposals
    with reader.store.engine.connect() as conn:
        oracles = [
            r[0]
            for r in conn.execute(
                select(a.c.oracle).where(a.c.milestone_id == mid).order_by(a.c.block, a.c.log_index)
            )
        ]
        executors = dict(
            conn.execute(
                select(p.c.proposal_id, p.c.executor).where(p.c.proposal_id.in_([1, 2]))
            ).all()
        )
    page = client_as("auditor").get(f"/milestones/{mid}").text
    rows = _rows(page)
    assert [actor for name, _, actor in rows if name == "AttestationRecorded"] == oracles
    frozen = next(actor for name, _, actor in rows if name == "MilestoneFrozen")
    cancelled = next(actor for name, _, actor in rows if name == "MilestoneCancelled")
    assert (frozen, cancelled) == (executors[1], executors[2])
    assert "proposal #1" in page and "proposal #2" in page
    registered = next(actor for name, _, actor in rows if name == "MilestoneRegistered")
    assert registered == console_history.manager


def test_the_hashes_and_amount_are_the_index_ones(client_as, reader, console_history):
    mid = _mid(console_history, "A/M9")
    m = schema.milestones
    with reader.store.engine.connect() as conn:
        row = conn.execute(select(m).where(m.c.milestone_id == mid)).mappings().one()
    page = client_as("overseer").get(f"/milestones/{mid}").text
    assert row["spec_hash"] in page and row["evidence_hash"] in page
    assert attrs(page, "figure")["amount"] == str(row["amount"])
    assert 'data-status="Verified"' in page


def test_a_verified_milestone_shows_its_window_and_the_freeze_command(
    client_as, reader, console_history
):
    mid = _mid(console_history, "A/M9")
    m, p = schema.milestones, schema.programs
    with reader.store.engine.connect() as conn:
        verified = conn.execute(select(m.c.verified_time).where(m.c.milestone_id == mid)).scalar()
        window = conn.execute(select(p.c.challenge_window).where(p.c.program_id == 1)).scalar()
    page = client_as("overseer").get(f"/milestones/{mid}").text
    assert f'data-window-ends="{verified + window}"' in page
    command = re.search(r'<code id="freeze-command">(.*?)</code>', page).group(1)
    words = shlex.split(command.replace("&#39;", "'"))
    assert words[:5] == ["disburse", "council", "propose", "freeze", mid]
    assert words[5] == "--description" and words[6]


def test_no_freeze_command_for_a_milestone_that_cannot_be_frozen(client_as, console_history):
    page = client_as("overseer").get(f"/milestones/{_mid(console_history, 'A/M1')}").text
    assert 'id="freeze-command"' not in page
    assert 'data-status="Released"' in page


def test_an_open_milestone_shows_the_index_forecast(client_as, reader, console_history):
    mid = _mid(console_history, "A/M7")
    forecast = next(f for f in reader.queries.forecast(1).value if f.milestone_id == mid)
    page = client_as("overseer").get(f"/milestones/{mid}").text
    listed = re.search(r'<ul id="forecast-reasons">(.*?)</ul>', page, re.DOTALL).group(1)
    assert len(re.findall(r"<li>", listed)) == len(forecast.reasons) > 0
    assert f'data-value="{forecast.p_miss}"' in page


def test_the_live_fragment_is_the_timeline(client_as, console_history):
    mid = _mid(console_history, "A/M4")
    fragment = client_as("overseer").get(
        f"/milestones/{mid}/fragment/timeline", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="milestone-live"')
    assert f'hx-get="/milestones/{mid}/fragment/timeline"' in fragment.text
    assert 'hx-trigger="ledger from:body"' in fragment.text
    assert len(_rows(fragment.text)) == 6


@pytest.mark.parametrize("suffix", ["", "/fragment/timeline"])
def test_another_manager_gets_404_for_a_milestone_of_another_program(
    client_as, console_history, suffix
):
    mid = _mid(console_history, "A/M1")
    assert client_as("manager").get(f"/milestones/{mid}{suffix}").status_code == 200
    refused = client_as("other_manager").get(f"/milestones/{mid}{suffix}")
    assert refused.status_code == 404
    assert "A/M1" not in refused.text and "data-event=" not in refused.text
    unknown = client_as("other_manager").get(f"/milestones/0x{'00' * 31}01{suffix}")
    assert unknown.status_code == 404


def test_a_bad_milestone_id_is_a_400_naming_it(client_as):
    client = client_as("overseer")
    for bad in ("0x1234", "abc", "0x" + "zz" * 32, "0x" + "00" * 33):
        refused = client.get(f"/milestones/{bad}")
        assert refused.status_code == 400, bad
        assert "milestone id" in refused.text


def test_the_page_speaks_japanese(client_as, console_history):
    client = client_as("overseer")
    client.cookies.set("lang", "ja")
    page = client.get(f"/milestones/{_mid(console_history, 'A/M4')}").text
    assert "マイルストーン凍結" in page and "経過" in page
    assert "What happened" not in page
