"""Alembic migrations of the index's schema (one file per revision under versions/)."""
