"""Where a batch becomes a broadcast, whichever way it arrived: ``POST /ingest`` or the topic."""

from __future__ import annotations

import logging

import orjson

from cryptopulse_api.hub import ConnectionHub, Frame
from cryptopulse_api.market import PUBLISHED, MarketState, RecentBatches
from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_common.contract import IngestRequest
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api")


class Fanout:
    def __init__(
        self,
        market: MarketState,
        hub: ConnectionHub,
        recent: RecentBatches,
        metrics: ApiMetrics,
        update_type: str,
    ) -> None:
        self._market = market
        self._hub = hub
        self._recent = recent
        self._metrics = metrics
        self._update_type = update_type

    def accept(self, batch: IngestRequest, where: int) -> tuple[int, IngestRequest]:
        """Note that ``batch`` came from ``where`` (``POSTED`` or ``PUBLISHED``) and fold it into
        the market state if it is new. Returns where it had come from before (0: new) and the
        batch to broadcast: the records the market state kept (API_MAX_COINS)."""
        before = self._recent.seen(batch.source, batch.batch_id, where)
        if before:
            return before, batch
        kept = self._market.apply(batch.data)
        if len(kept) != len(batch.data):
            batch = batch.model_copy(update={"data": kept})
        return before, batch

    def broadcast(self, batch: IngestRequest, received_at: float, origin: str) -> None:
        """Serialise the update once and queue it for every client (never waits)."""
        if not batch.data:
            return
        text = orjson.dumps(
            {"type": self._update_type, "data": [record.model_dump() for record in batch.data]}
        ).decode()
        listeners = self._hub.broadcast(Frame(text, received_at))
        event(
            log,
            f"broadcast type={self._update_type} records={len(batch.data)} listeners={listeners}",
            batch_id=batch.batch_id,
            source=batch.source,
            origin=origin,
        )

    def from_topic(self, batch: IngestRequest, received_at: float) -> None:
        """A batch read from the aggregates topic (on the event loop)."""
        before, kept = self.accept(batch, PUBLISHED)
        if before:  # the POST reached this replica first
            self._metrics.kafka_messages.labels("duplicate").inc()
            return
        self._metrics.kafka_messages.labels("broadcast").inc()
        self.broadcast(kept, received_at, origin="kafka")
