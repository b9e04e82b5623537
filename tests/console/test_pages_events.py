"""GET /events, /events/fragment and /events.csv, over HTTP on the real index of the audit
history.

events
├── unfiltered: every stored event, newest first, page after page (keyset links) until none
│   is left out or doubled
├── filters, each exactly the index's rows: program (its events and its milestones'), milestone,
│   address (sender, topics or data), kind, date range (block times)
├── CSV: a header row, the same filter's events oldest first, amounts in base units
├── refused with a 400 naming the parameter: a program, milestone, address, kind, date, page
│   size or keyset that is not one (the page and the CSV)
├── a program manager: only their programs' events; a filter naming another program or its
│   milestone is a 404 (page, fragment and CSV)
└── the live fragment keeps the filters; lang=ja
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, or_, select

from disburse._format import short
from disburse.console.render import money
from disburse.console.views.events import CSV_HEADER, first_block_at
from disburse.index import schema
from tests.console._html import assert_no_inline_script

pytest_plugins = ["tests.console._detail"]


def _keys(page: str) -> list[tuple[int, int]]:
    return [
        (int(b), int(i))
        for b, i in re.findall(r'<tr data-event="\w+" data-block="(\d+)" data-log="(\d+)">', page)
    ]


def _stored(reader, *where) -> list[tuple[int, int]]:
    e = schema.events
    with reader.store.engine.connect() as conn:
        rows = conn.execute(
            select(e.c.block, e.c.log_index)
            .where(*where)
            .order_by(e.c.block.desc(), e.c.log_index.desc())
        ).all()
    return [(int(b), int(i)) for b, i in rows]


def _of_programs(*programs):
    e, m = schema.events, schema.milestones
    theirs = select(m.c.milestone_id).where(m.c.program_id.in_(programs))
    return or_(e.c.program_id.in_(programs), e.c.milestone_id.in_(theirs))


def _all_pages(client, query: str) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    url = f"/events?{query}"
    for _ in range(100):
        page = client.get(url)
        assert page.status_code == 200, page.text
        seen.extend(_keys(page.text))
        older = re.search(r'id="events-older" href="([^"]+)"', page.text)
        if older is None:
            return seen
        url = older.group(1).replace("&amp;", "&")
    raise AssertionError("the pages never end")


def test_every_event_newest_first_page_after_page(client_as, reader):
    client = client_as("overseer")
    first = client.get("/events")
    assert first.status_code == 200, first.text
    stored = _stored(reader)
    assert _keys(first.text) == stored[:50]
    assert _all_pages(client, "size=30") == stored
    assert_no_inline_script(first.text)


def test_the_program_filter_is_its_events_and_its_milestones(client_as, reader):
    client = client_as("overseer")
    assert _all_pages(client, "program=1&size=200") == _stored(reader, _of_programs(1))
    page = client.get("/events?program=2").text
    assert "AttestationRecorded" in page  # B/M1's attestations name only its milestone


def test_the_kind_milestone_and_address_filters(client_as, reader, console_history):
    e, a = schema.events, schema.attestations
    client = client_as("auditor")
    kind = _all_pages(client, "kind=AttestationRecorded&size=200")
    assert kind == _stored(reader, e.c.name == "AttestationRecorded")
    with reader.store.engine.connect() as conn:
        assert len(kind) == conn.execute(select(func.count()).select_from(a)).scalar()
    mid = "0x" + console_history.history.ids["A/M4"].hex()
    assert _all_pages(client, f"milestone={mid}") == _stored(reader, e.c.milestone_id == mid)
    oracle = str(console_history.history.oracles[0])
    by_address = _all_pages(client, f"address={oracle.lower()}&size=200")
    with reader.store.engine.connect() as conn:
        attested = conn.execute(select(a.c.block, a.c.log_index).where(a.c.oracle == oracle)).all()
    assert {(int(b), int(i)) for b, i in attested} <= set(by_address)
    assert by_address == _stored(
        reader,
        or_(
            func.lower(e.c.sender) == oracle.lower(),
            e.c.topics.contains(oracle.lower()[2:]),
            e.c.data.contains(oracle.lower()[2:]),
        ),
    )


def test_the_date_range_is_the_blocks_times(client_as, reader):
    e, b = schema.events, schema.blocks
    with reader.store.engine.connect() as conn:
        last = conn.execute(select(func.max(b.c.timestamp))).scalar()
    day = datetime.fromtimestamp(last, tz=UTC).strftime("%Y-%m-%d")
    start = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    with reader.store.engine.connect() as conn:
        blocks = [
            r[0]
            for r in conn.execute(
                select(b.c.number).where(b.c.timestamp >= start, b.c.timestamp < start + 86_400)
            )
        ]
    found = _all_pages(client_as("overseer"), f"from={day}&to={day}&size=200")
    assert found == _stored(reader, e.c.block.in_(blocks))
    assert 0 < len(found) < len(_stored(reader))
    assert _keys(client_as("overseer").get("/events?from=2000-01-01&to=2000-01-02").text) == []


def test_the_csv_holds_the_same_events_in_base_units(client_as, reader):
    response = client_as("overseer").get("/events.csv?program=1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_HEADER
    body = rows[1:]
    assert [(int(r[0]), int(r[1])) for r in body] == sorted(_stored(reader, _of_programs(1)))
    p = schema.payments
    with reader.store.engine.connect() as conn:
        paid = {
            (int(r[0]), int(r[1])): int(r[2])
            for r in conn.execute(
                select(p.c.block, p.c.log_index, p.c.amount).where(p.c.program_id == 1)
            )
        }
    released = {(int(r[0]), int(r[1])): r for r in body if r[5] == "MilestoneReleased"}
    assert set(released) == set(paid)
    for key, row in released.items():
        assert json.loads(row[10])["amount"] == str(paid[key])  # base units, exact


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("program=abc", "program"),
        ("program=-1", "program"),
        ("milestone=0x1234", "milestone"),
        ("address=0xnothex", "address"),
        ("kind=NoSuchEvent", "kind"),
        ("from=2026-13-01", "from"),
        ("from=2026-12-05&to=2026-12-01", "from"),
        ("size=500", "size"),
        ("size=0", "size"),
        ("before=12", "before"),
        ("address=" + "a" * 500, "address"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(client_as, query, named):
    client = client_as("overseer")
    page = client.get(f"/events?{query}")
    assert page.status_code == 400, query
    assert named in page.text
    if not query.startswith(("size", "before")):
        assert client.get(f"/events.csv?{query}").status_code == 400


def test_a_manager_sees_only_their_programs_events(client_as, reader, console_history):
    manny = client_as("manager")
    assert _all_pages(manny, "size=200") == _stored(reader, _of_programs(1, 2))
    rows = list(csv.reader(io.StringIO(manny.get("/events.csv").text)))[1:]
    assert [(int(r[0]), int(r[1])) for r in rows] == sorted(_stored(reader, _of_programs(1, 2)))
    mona = client_as("other_manager")
    assert _all_pages(mona, "size=200") == _stored(reader, _of_programs(3))


def test_a_manager_filtering_another_program_gets_404(client_as, reader):
    m = schema.milestones
    with reader.store.engine.connect() as conn:
        theirs = conn.execute(select(m.c.milestone_id).where(m.c.program_id == 3)).scalar()
    manny = client_as("manager")
    for path in ("/events", "/events/fragment", "/events.csv"):
        assert manny.get(f"{path}?program=3").status_code == 404, path
        assert manny.get(f"{path}?milestone={theirs}").status_code == 404, path
    assert client_as("other_manager").get("/events.csv?program=3").status_code == 200


def test_the_live_fragment_keeps_the_filters(client_as, reader):
    fragment = client_as("overseer").get(
        "/events/fragment?program=1&kind=MilestoneReleased", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="events-live"')
    assert 'hx-get="/events/fragment?program=1&amp;kind=MilestoneReleased"' in fragment.text
    e = schema.events
    assert _keys(fragment.text) == _stored(reader, _of_programs(1), e.c.name == "MilestoneReleased")
    assert client_as(None).get("/events.csv").status_code == 401


def test_the_page_speaks_japanese(client_as):
    client = client_as("overseer")
    client.cookies.set("lang", "ja")
    page = client.get("/events").text
    assert "イベント" in page and "マイルストーン支払" in page and "絞り込み" in page
    assert "Filters" not in page


def test_the_first_block_at_a_time_is_found_by_bisection(reader):
    """`first_block_at` (the date filter's bound) agrees with a search of every block."""
    b = schema.blocks
    with reader.store.engine.connect() as conn:
        stored = [(int(n), int(t)) for n, t in conn.execute(select(b.c.number, b.c.timestamp))]
        stored.sort()
        for _, time in stored[:: max(1, len(stored) // 25)] + stored[-2:]:
            for probe in (time - 1, time, time + 1):
                expected = next((n for n, t in stored if t >= probe), None)
                assert first_block_at(conn, probe) == expected, probe
        assert first_block_at(conn, stored[-1][1] + 1) is None
        assert first_block_at(conn, 0) == stored[0][0]


def test_each_event_is_told_in_a_sentence_of_the_viewers_language(
    client_as, reader, console_history
):
    mid = "0x" + console_history.history.ids["A/M1"].hex()
    p, programs = schema.payments, schema.programs
    with reader.store.engine.connect() as conn:
        amount, beneficiary = conn.execute(
            select(p.c.amount, p.c.beneficiary).where(p.c.milestone_id == mid)
        ).one()
        address = conn.execute(select(programs.c.token).where(programs.c.program_id == 1)).scalar()
    token = reader.token(address)
    paid = money(int(amount), token.decimals, token.symbol)
    client = client_as("overseer")
    page = client.get(f"/events?milestone={mid}&kind=MilestoneReleased").text
    said = re.findall(r"<span class=\"say\" data-say>(.*?)</span>", page)
    assert said == [f"milestone A/M1 released: {paid} paid to {short(beneficiary)}"]
    client.cookies.set("lang", "ja")
    page = client.get(f"/events?milestone={mid}&kind=MilestoneReleased").text
    said = re.findall(r"<span class=\"say\" data-say>(.*?)</span>", page)
    assert said == [f"マイルストーン A/M1 を支払：{short(beneficiary)} へ {paid}"]  # noqa: RUF001
