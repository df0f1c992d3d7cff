"""The producer's Prometheus metrics, on an injected registry (served at ``/metrics``)."""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import CollectorRegistry

from cryptopulse_common import metric_catalog as catalog
from cryptopulse_common.contract import TICK_REJECT_REASONS
from cryptopulse_common.metric_catalog import counter, gauge, histogram

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
    """The producer's metrics, registered from :mod:`cryptopulse_common.metric_catalog`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.fetches = counter(catalog.PRODUCER_FETCHES, registry)
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome)
        self.fetch_duration = histogram(catalog.PRODUCER_FETCH_DURATION, registry, FETCH_BUCKETS)
        self.rate_limited = counter(catalog.PRODUCER_RATE_LIMITED, registry)
        self.retry_wait = counter(catalog.PRODUCER_RETRY_WAIT, registry)
        self.poll_interval = gauge(catalog.PRODUCER_POLL_INTERVAL, registry)
        self.ticks_fetched = counter(catalog.PRODUCER_TICKS_FETCHED, registry)
        self.rows_rejected = counter(catalog.PRODUCER_ROWS_REJECTED, registry)
        for rejected in TICK_REJECT_REASONS:
            self.rows_rejected.labels(rejected)
        self.ticks_sent = counter(catalog.PRODUCER_TICKS_SENT, registry)
        self.send_errors = counter(catalog.PRODUCER_SEND_ERRORS, registry)
        self.ticks_dropped = counter(catalog.PRODUCER_TICKS_DROPPED, registry)
        for reason in DROP_REASONS:
            self.ticks_dropped.labels(reason)
        self.client_restarts = counter(catalog.PRODUCER_CLIENT_RESTARTS, registry)
        self.last_publish = gauge(catalog.PRODUCER_LAST_PUBLISH, registry)
        self.buffered = gauge(catalog.PRODUCER_BUFFERED, registry)
