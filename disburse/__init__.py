"""Typed chain client shared by every tool: attestation signing, deployment files, and (as the
client grows) transactions, events and error decoding. Nothing here imports the oracle."""
