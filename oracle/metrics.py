"""Prometheus metrics of one node (its own registry, so several nodes can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Counters and histograms exposed on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.evidence_received = Counter(
            "oracle_evidence_received", "Evidence bundles accepted for verification", registry=r
        )
        self.evidence_verified = Counter(
            "oracle_evidence_verified", "Evidence bundles that passed verification", registry=r
        )
        self.evidence_rejected = Counter(
            "oracle_evidence_rejected", "Evidence bundles that failed verification", registry=r
        )
        self.requests_refused = Counter(
            "oracle_requests_refused", "API requests refused with a 4xx", ["status"], registry=r
        )
        self.attestations_sent = Counter(
            "oracle_attestations_sent", "Attestations sent or handed to a relayer", registry=r
        )
        self.attestations_confirmed = Counter(
            "oracle_attestations_confirmed", "Attestations seen on chain", registry=r
        )
        self.attestations_failed = Counter(
            "oracle_attestations_failed", "Attestations the chain refused", registry=r
        )
        self.releases_sent = Counter("oracle_releases_sent", "Releases this node sent", registry=r)
        self.relayed_batches = Counter(
            "oracle_relayed_batches", "Relayed attestation batches sent", registry=r
        )
        self.release_latency = Histogram(
            "oracle_release_latency_seconds",
            "From evidence accepted by this node to the milestone's release mined",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600),
            registry=r,
        )
        self.attestation_latency = Histogram(
            "oracle_attestation_latency_seconds",
            "From evidence accepted to this node's attestation confirmed",
            registry=r,
        )
        self.relayer_up = Gauge(
            "oracle_relayer_up",
            "1 when the relaying node answered the last hand-over or probe, 0 when it did not "
            "(absent on a node that sends its own attestations)",
            registry=r,
        )
        self.attestations_reoffered = Counter(
            "oracle_attestations_reoffered",
            "Handed-over attestations offered to the relayer again, not on chain in time",
            registry=r,
        )
        self.releases_waiting_retry = Gauge(
            "oracle_releases_waiting_retry",
            "Due milestones whose release failed, scheduled again with backoff",
            registry=r,
        )
        self.relay_batch_failures = Gauge(
            "oracle_relay_batch_failures",
            "Relayed batches failed in a row on a relaying node (0 after a success)",
            registry=r,
        )
        self.batch_gas_cap = Gauge(
            "oracle_batch_gas_cap",
            "Largest gas limit of a batch transaction now: max_batch_gas capped by the block "
            "gas limit read from the chain",
            registry=r,
        )
        self.block_gas_limit = Gauge(
            "oracle_block_gas_limit", "The chain's block gas limit, as last read", registry=r
        )
        self.cursor_lag = Gauge(
            "oracle_cursor_lag_blocks", "Blocks between the chain head and the watcher", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
