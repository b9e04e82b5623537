"""Schema changes are migrations: an index built by an earlier schema opens in this version,
keeps every event, and gets its new derived columns refolded from the events it holds."""

from __future__ import annotations

from alembic import command

from disburse.index.store import HEAD_REVISION, IndexStore, _alembic_config
from tests.index.test_index import _snapshot


def test_an_index_of_the_first_schema_is_upgraded_and_refolded_on_open(
    db_url, disburse, history, tmp_path
):
    from disburse.chain.deployment import load

    assert disburse("index", "--db", db_url).exit_code == 0
    current = _snapshot(db_url)
    store = IndexStore.open(db_url, load(history.deployment_file))
    with store.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0001")
    store.close()

    again = disburse("index", "--db", db_url)
    assert again.exit_code == 0, again.stderr
    store = IndexStore.open(db_url, load(history.deployment_file))
    try:
        assert store.schema_revision() == HEAD_REVISION
        assert not store.needs_refold()
    finally:
        store.close()
    assert _snapshot(db_url) == current
