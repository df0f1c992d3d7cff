"""The producer's Prometheus metrics, on an injected registry (served at ``/metrics``)."""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cryptopulse_common.contract import TICK_REJECT_REASONS

FetchOutcome = Literal[
    "ok", "rate_limited", "server_error", "client_error", "timeout", "connection_error", "bad_body"
]
FETCH_OUTCOMES: Final[tuple[FetchOutcome, ...]] = (
    "ok",
    "rate_limited",
    "server_error",
    "client_error",
    "timeout",
    "connection_error",
    "bad_body",
)
DropReason = Literal["buffer_full", "not_retriable", "shutdown"]
DROP_REASONS: Final[tuple[DropReason, ...]] = ("buffer_full", "not_retriable", "shutdown")

FETCH_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProducerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.fetches = Counter(
            "cryptopulse_producer_fetches_total",
            "Requests to the market source by outcome (one per HTTP request for coingecko, "
            "one per poll for simulate and replay).",
            ["outcome"],
            registry=registry,
        )
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome)
        self.fetch_duration = Histogram(
            "cryptopulse_producer_fetch_duration_seconds",
            "Duration of one request to the market source (waits between retries excluded).",
            buckets=FETCH_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "cryptopulse_producer_rate_limited_total",
            "429 Too Many Requests answers from CoinGecko.",
            registry=registry,
        )
        self.retry_wait = Counter(
            "cryptopulse_producer_retry_wait_seconds_total",
            "Seconds spent waiting before retrying a rate-limited or failed request.",
            registry=registry,
        )
        self.rows_rejected = Counter(
            "cryptopulse_producer_rows_rejected_total",
            "Source rows skipped because they break the contract, by reason (docs/contract.md).",
            ["reason"],
            registry=registry,
        )
        for rejected in TICK_REJECT_REASONS:
            self.rows_rejected.labels(rejected)
        self.ticks_sent = Counter(
            "cryptopulse_producer_ticks_sent_total",
            "Ticks acknowledged by Kafka (acks=all).",
            registry=registry,
        )
        self.send_errors = Counter(
            "cryptopulse_producer_send_errors_total",
            "Failed deliveries reported by the Kafka client (retriable ones are resent).",
            registry=registry,
        )
        self.ticks_dropped = Counter(
            "cryptopulse_producer_ticks_dropped_total",
            "Ticks given up on, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in DROP_REASONS:
            self.ticks_dropped.labels(reason)
        self.client_restarts = Counter(
            "cryptopulse_producer_kafka_client_restarts_total",
            "Kafka clients replaced because they reported nothing within their delivery timeout.",
            registry=registry,
        )
        self.last_publish = Gauge(
            "cryptopulse_producer_last_publish_timestamp_seconds",
            "Unix time of the last tick acknowledged by Kafka (0 = none yet).",
            registry=registry,
        )
        self.buffered = Gauge(
            "cryptopulse_producer_buffered_records",
            "Ticks sent or waiting to be resent but not yet acknowledged by Kafka.",
            registry=registry,
        )
