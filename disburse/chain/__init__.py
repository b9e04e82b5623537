"""The chain layer: everything the oracle node and the tools share, and nothing above it.

The JSON-RPC client (calls, batches, transactions, receipts, ranged log reading), the chain
profile, the error types and the contract-error decoder, the deployment file, the ABIs from the
build artifacts, keystores, EIP-712 attestations, the escrow binding, the log decoder and the
evidence-specification model. Nothing here imports the CLI, the audit, the council's read model
or plans; the import-boundary test (`tests/test_layers.py`) keeps it so.
"""
