"""What the detail pages' tests share (H2's): the console app with every detail page's router
included (until app.PAGES lists them, they are added here), a logged-in client per role, and
the index read directly to compare the pages' figures with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from disburse.console.pages import alerts, council, events, milestone, oracles, program
from tests.console.conftest import BASE_URL, login

DETAIL_PAGES = (program, milestone, council, alerts, events, oracles)


@pytest.fixture(scope="module")
def detail_app(console_app: FastAPI) -> FastAPI:
    """The conftest's app, with the detail pages' routes if app.PAGES does not hold them yet."""
    known = {getattr(r, "path", None) for r in console_app.router.routes}
    for page in DETAIL_PAGES:
        paths = {getattr(r, "path", None) for r in page.router.routes}
        if not paths & known:
            console_app.include_router(page.router)
    return console_app


@pytest.fixture
def client_as(detail_app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """`client_as(role)`: a client logged in as that role (overseer, auditor, manager,
    other_manager), or a logged-out one for role None."""
    made: list[TestClient] = []

    def _make(role: str | None, **headers: Any) -> TestClient:
        client = TestClient(
            detail_app,
            base_url=BASE_URL,
            follow_redirects=False,
            headers={"Accept": "text/html", **headers},
        )
        client.__enter__()
        made.append(client)
        return login(client, role) if role is not None else client

    yield _make
    for client in made:
        client.__exit__(None, None, None)
