"""The API server's Prometheus metrics, on an injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from cryptopulse_common import metric_catalog as catalog
from cryptopulse_common.contract import AGGREGATE_REJECT_REASONS, refusals
from cryptopulse_common.metric_catalog import counter, gauge, histogram

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
    """The API server's metrics, registered from :mod:`cryptopulse_common.metric_catalog`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.broadcast_latency = histogram(catalog.WS_BROADCAST_LATENCY, registry, LATENCY_BUCKETS)
        self.slow_clients_dropped = counter(catalog.WS_SLOW_CLIENTS_DROPPED, registry)
        for reason in DROP_REASONS:
            self.slow_clients_dropped.labels(reason)
        self.connections = gauge(catalog.WS_CONNECTIONS, registry)
        self.connections_rejected = counter(catalog.WS_CONNECTIONS_REJECTED, registry)
        for reason in REJECT_REASONS:
            self.connections_rejected.labels(reason)
        self.messages_conflated = counter(catalog.WS_MESSAGES_CONFLATED, registry)
        # Set by the hub with set_function: the sum over clients, read at scrape time.
        self.queued_messages = gauge(catalog.WS_QUEUED_MESSAGES, registry)
        self.ingest_requests = counter(catalog.INGEST_REQUESTS, registry)
        for status in INGEST_STATUSES:
            self.ingest_requests.labels(status)
        self.ingest_records = counter(catalog.INGEST_RECORDS, registry)
        self.ingest_records_refused = counter(catalog.INGEST_RECORDS_REFUSED, registry)
        for reason in AGGREGATE_REJECT_REASONS:
            self.ingest_records_refused.labels(reason)
        # Set by the market state with set_function.
        self.market_coins = gauge(catalog.MARKET_COINS, registry)
        self.market_coins_forgotten = counter(catalog.MARKET_COINS_FORGOTTEN, registry)
        self.market_records_over_limit = counter(catalog.MARKET_RECORDS_OVER_LIMIT, registry)
        self.ingest_duplicates = counter(catalog.INGEST_DUPLICATES, registry)
        self.kafka_messages = counter(catalog.FANOUT_KAFKA_MESSAGES, registry)
        for status in KAFKA_STATUSES:
            self.kafka_messages.labels(status)
        self.request_latency = histogram(catalog.HTTP_REQUEST_DURATION, registry, LATENCY_BUCKETS)
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
