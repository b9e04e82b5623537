"""The portfolio page on the real index: its figures are the read API's (IndexQueries)."""

from __future__ import annotations


def test_smoke(console, login):
    login(console, "overseer")
    page = console.get("/")
    assert page.status_code == 200, page.text
    assert "Coastal radar refit" in page.text
