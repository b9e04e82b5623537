"""The ledger index: every escrow and council event in a SQL database (a SQLite file by default,
PostgreSQL at scale), kept current from the chain, with the derived programs, milestones,
attestations, payments and proposals; a cache anyone can rebuild from the chain.

The package: `schema` (the tables, exact uint256 amounts), `store` (opening a database, its
migrations, which deployment it describes, the writes), `fold` (events -> derived tables),
`ingest` (the indexer: windows of logs, the cursor, rollback to the common ancestor),
`history` (the index as the audit's history).
"""
