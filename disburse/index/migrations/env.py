"""Alembic's environment for the index: always run by `disburse.index.store` on a connection it
opened (never from an alembic.ini), inside the caller's transaction. Imported any other way (a
test that imports every module), it does nothing."""

from __future__ import annotations

from alembic import context

from disburse.index.schema import metadata


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


try:
    context.config  # noqa: B018 - set only while Alembic runs this file
except AttributeError:
    pass
else:
    run()
