"""The overseer console: the ledger index in a browser, for people who are not engineers.

`disburse console serve` serves server-rendered pages (FastAPI, Jinja2) over the index
(`disburse index` builds it): read-only, behind a login (or an organisation's single sign-on
through a trusted proxy), in English and Japanese, live (server-sent events tell the open pages
when the index has moved). Every script, style and chart library is served by the console itself,
so it works on a network with no internet. It never signs and never sends a transaction.
"""
