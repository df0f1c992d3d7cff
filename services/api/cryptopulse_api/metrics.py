"""The API server's Prometheus metrics, on an injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError

from cryptopulse_common.contract import AGGREGATE_REJECT_REASONS, refusals

INGEST_STATUSES = ("accepted", "duplicate", "invalid", "too_large", "unauthorized")
DROP_REASONS = ("send_timeout", "queue_overflow", "send_error")
REJECT_REASONS = ("limit", "origin", "draining")
KAFKA_STATUSES = ("broadcast", "duplicate", "invalid")
# Every route the app serves, as its request-latency label; anything else is "other".
ROUTES = (
    ("POST", "/ingest"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/snapshot"),
    ("GET", "/api/history"),
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.broadcast_latency = Histogram(
            "cryptopulse_ws_broadcast_latency_seconds",
            "From /ingest receipt (or Kafka poll) to the frame written to a client's socket.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.slow_clients_dropped = Counter(
            "cryptopulse_ws_slow_clients_dropped_total",
            "WebSocket clients dropped for being too slow, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in DROP_REASONS:
            self.slow_clients_dropped.labels(reason)
        self.connections = Gauge(
            "cryptopulse_ws_connections", "Open WebSocket connections.", registry=registry
        )
        self.connections_rejected = Counter(
            "cryptopulse_ws_connections_rejected_total",
            "WebSocket connections refused: limit (1008), origin (403), draining (1001).",
            ["reason"],
            registry=registry,
        )
        for reason in REJECT_REASONS:
            self.connections_rejected.labels(reason)
        self.messages_conflated = Counter(
            "cryptopulse_ws_messages_conflated_total",
            "Queued messages replaced by newer market state for a lagging client.",
            registry=registry,
        )
        # Set by the hub with set_function: the sum over clients, read at scrape time.
        self.queued_messages = Gauge(
            "cryptopulse_ws_queued_messages",
            "Messages waiting in the outbound queues of all WebSocket clients.",
            registry=registry,
        )
        self.ingest_requests = Counter(
            "cryptopulse_ingest_requests_total",
            "POST /ingest requests by outcome.",
            ["status"],
            registry=registry,
        )
        for status in INGEST_STATUSES:
            self.ingest_requests.labels(status)
        self.ingest_records = Counter(
            "cryptopulse_ingest_records_total", "Aggregate records accepted.", registry=registry
        )
        self.ingest_records_refused = Counter(
            "cryptopulse_ingest_records_refused_total",
            "Aggregate records refused by /ingest (422) or on the aggregates topic, by the "
            "contract's reason of their first error (docs/contract.md).",
            ["reason"],
            registry=registry,
        )
        for reason in AGGREGATE_REJECT_REASONS:
            self.ingest_records_refused.labels(reason)
        # Set by the market state with set_function.
        self.market_coins = Gauge(
            "cryptopulse_market_coins",
            "Coins the market state holds (at most API_MAX_COINS).",
            registry=registry,
        )
        self.market_coins_forgotten = Counter(
            "cryptopulse_market_coins_forgotten_total",
            "Coins forgotten because their newest window fell API_COIN_IDLE_SECONDS behind the "
            "market's newest.",
            registry=registry,
        )
        self.market_records_over_limit = Counter(
            "cryptopulse_market_records_over_coin_limit_total",
            "Records of a new coin not kept or broadcast because API_MAX_COINS coins are held.",
            registry=registry,
        )
        self.ingest_duplicates = Counter(
            "cryptopulse_ingest_duplicates_total",
            "Batches POSTed again (same source and batch_id): acknowledged, not broadcast again.",
            registry=registry,
        )
        self.kafka_messages = Counter(
            "cryptopulse_fanout_kafka_messages_total",
            "Batches read from the aggregates topic, by outcome (duplicate: POSTed here first).",
            ["status"],
            registry=registry,
        )
        for status in KAFKA_STATUSES:
            self.kafka_messages.labels(status)
        self.request_latency = Histogram(
            "cryptopulse_http_request_duration_seconds",
            "HTTP request latency (until the response is written), by route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        for method, route in ROUTES:
            self.request_latency.labels(method, route)

    def count_refused(self, error: ValidationError) -> None:
        """Count each refused record once, by the reason of its first error (``data.<i>...``);
        an error outside the records (the envelope) counts once."""
        first: dict[str, str] = {}
        for refusal in refusals(error):
            parts = refusal.location.split(".")
            key = parts[1] if len(parts) > 1 and parts[0] == "data" else "envelope"
            first.setdefault(key, refusal.reason)
        for reason in first.values():
            self.ingest_records_refused.labels(reason).inc()
