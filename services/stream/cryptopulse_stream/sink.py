"""The ``foreachBatch`` sinks: aggregates to ``/ingest`` (and the aggregates topic), and refused
messages to the dead-letter topic.

No single record can stop the job, and no batch is dropped:

* A record that breaks the contract (the sink checks each one with
  :class:`~cryptopulse_common.contract.Aggregate` first) or that ``/ingest`` refuses (422, whose
  ``detail`` names ``data.<i>.<field>``) goes to the dead-letter topic with the reason; the rest
  of the batch is POSTed again and the job goes on. A 413 splits the batch in two.
* An unavailable API (connection errors, 5xx, 408, 429, and 401/403/404, which a fixed token or
  URL cures) is retried with capped, jittered backoff (tenacity) until it answers or the job is
  told to stop; the wait shows in the ``/health`` details and in
  ``cryptopulse_stream_sink_waiting_seconds``. Stopping mid-wait raises, so Spark replays the
  batch from its checkpoint on restart.

foreachBatch is at-least-once: after a failure Spark replays the batch with the same id and the
same data. Every POST carries ``batch_id = <query id>:<batch id>`` (with ``/1``, ``/2`` for the
halves of a split batch), deterministic across restarts from the same checkpoint, so the API
drops a batch it already broadcast.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential_jitter,
)

from cryptopulse_common.contract import AGGREGATES_TOPIC, DEAD_LETTER_TOPIC, parse_timestamp
from cryptopulse_common.logs import event
from cryptopulse_stream.dead_letters import (
    DeadLetterWriter,
    Refused,
    check_records,
    refused_by_api,
)
from cryptopulse_stream.metrics import StreamMetrics

log = logging.getLogger("cryptopulse.stream.sink")

# Answers that say the records are bad (the rest are the API being unavailable or misconfigured).
REFUSED_STATUS = 422
TOO_LARGE_STATUS = 413


class IngestStoppedError(RuntimeError):
    """The job was told to stop while /ingest was unavailable: the batch is not committed and
    Spark replays it on restart."""


class IngestUnavailableError(RuntimeError):
    """/ingest did not answer, or answered something other than acceptance or refusal."""


def checkpoint_query_id(checkpoint_dir: str) -> str | None:
    """The query id Spark keeps in the checkpoint: the same after every restart from it."""
    try:
        first = (Path(checkpoint_dir) / "metadata").read_text().splitlines()[0]
        return str(json.loads(first)["id"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def batch_watermark_ms(checkpoint_dir: str, batch_id: int) -> int | None:
    """The event-time watermark Spark uses for ``batch_id``, from its offset log entry.

    The entry is written before the batch runs, so a replayed batch reads the same value.
    """
    try:
        lines = (Path(checkpoint_dir) / "offsets" / str(batch_id)).read_text().splitlines()
        return int(json.loads(lines[1])["batchWatermarkMs"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def mark_open_windows(
    records: list[dict[str, Any]], watermark_ms: int | None, watermark_delay_seconds: float
) -> None:
    """Set ``window_open``: false once the watermark after this batch has passed window_end.

    The watermark after the batch is the larger of the batch's own watermark and the newest
    event time in it minus the delay, as Spark computes it for the next batch.
    """
    newest = max((parse_timestamp(r["timestamp"]).timestamp() for r in records), default=0.0)
    after = max((watermark_ms or 0) / 1000.0, newest - watermark_delay_seconds)
    for record in records:
        record["window_open"] = parse_timestamp(record["window_end"]).timestamp() > after


class IngestSink:
    """POSTs each batch's aggregates to ``/ingest``, publishes the accepted ones to the
    aggregates topic, and sends refused records to the dead-letter topic."""

    def __init__(
        self,
        url: str,
        checkpoint_dir: str,
        metrics: StreamMetrics,
        watermark_delay_seconds: float,
        dead_letters: DeadLetterWriter,
        token: str = "",
        timeout: float = 30.0,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        source: str = "stream",
        kafka_producer: Any = None,
        client: httpx.Client | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self._url = url
        self._checkpoint_dir = checkpoint_dir
        self._metrics = metrics
        self._delay = watermark_delay_seconds
        self._dead_letters = dead_letters
        self._kafka = kafka_producer
        self.source = source
        self.stopping = stopping or threading.Event()
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = client or httpx.Client(timeout=timeout, headers=headers)
        self._query_id: str | None = None
        self._lock = threading.Lock()
        self._waiting_since: float | None = None
        self.last_error: str | None = None
        self._retrying = Retrying(
            retry=retry_if_exception_type(IngestUnavailableError),
            wait=wait_exponential_jitter(
                multiplier=backoff_seconds, max=backoff_max_seconds, jitter=backoff_seconds
            ),
            stop=stop_when_event_set(self.stopping),
            sleep=self._sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )
        metrics.sink_waiting.set_function(self.waiting_seconds)

    def _sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)  # cut short when the job stops

    @property
    def query_id(self) -> str:
        """Read lazily: Spark writes the checkpoint metadata before the first batch runs."""
        if self._query_id is None:
            self._query_id = checkpoint_query_id(self._checkpoint_dir)
            if self._query_id is None:
                raise RuntimeError(f"no query id in checkpoint {self._checkpoint_dir}/metadata")
        return self._query_id

    def waiting_seconds(self) -> float:
        """How long the current POST has waited for an unavailable /ingest (0: it answers)."""
        with self._lock:
            since = self._waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def _before_retry(self, state: RetryCallState) -> None:
        with self._lock:
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
        self._metrics.sink_retries.inc()
        wait = state.next_action.sleep if state.next_action else 0.0
        event(
            log,
            f"/ingest unavailable ({self.last_error}); retrying in {wait:.1f} s, attempt "
            f"{state.attempt_number + 1}, waiting {self.waiting_seconds():.0f} s so far",
            logging.WARNING,
        )

    def _attempt(self, body: bytes) -> httpx.Response:
        try:
            response = self._client.post(self._url, content=body)
        except httpx.HTTPError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise IngestUnavailableError(self.last_error) from exc
        status = response.status_code
        if status < 300 or status in (REFUSED_STATUS, TOO_LARGE_STATUS):
            return response
        self.last_error = f"HTTP {status}: {response.text[:300]}"
        raise IngestUnavailableError(self.last_error)

    def _post(self, records: list[dict[str, Any]], batch_id: str) -> httpx.Response:
        """POST until /ingest accepts or refuses the body; raises IngestStoppedError when the
        job stops first."""
        body = orjson.dumps({"data": records, "batch_id": batch_id, "source": self.source})
        try:
            response = self._retrying(self._attempt, body)
        except IngestUnavailableError as error:
            self._metrics.sink_errors.inc()
            raise IngestStoppedError(
                f"stopped while /ingest was unavailable ({error}); batch {batch_id} is not "
                "committed and will be replayed on restart"
            ) from error
        with self._lock:
            if self._waiting_since is not None:
                waited = time.monotonic() - self._waiting_since
                event(log, f"/ingest answers again after {waited:.0f} s", batch_id=batch_id)
            self._waiting_since = None
        self.last_error = None
        return response

    def _refuse(self, refused: list[Refused], batch_id: str) -> None:
        if not refused:
            return
        self._dead_letters.write([item.letter() for item in refused])
        for item in refused:
            self._metrics.records_refused.labels(item.reason).inc()
            event(
                log,
                f"sent an aggregate of {item.record.get('coin_id')!r} to {DEAD_LETTER_TOPIC}: "
                f"{item.detail}",
                logging.WARNING,
                reason=item.reason,
                batch_id=batch_id,
            )

    def deliver(self, records: list[dict[str, Any]], batch_id: str) -> list[dict[str, Any]]:
        """Send ``records`` on their way; returns the ones /ingest accepted."""
        pending, refused = check_records(records)
        self._refuse(refused, batch_id)
        accepted: list[dict[str, Any]] = []
        while pending:
            response = self._post(pending, batch_id)
            if response.status_code == TOO_LARGE_STATUS:
                if len(pending) == 1:
                    detail = f"/ingest: {response.text[:200]}"
                    self._refuse([Refused(pending[0], "too_large", detail)], batch_id)
                    break
                half = len(pending) // 2
                accepted += self.deliver(pending[:half], f"{batch_id}/1")
                accepted += self.deliver(pending[half:], f"{batch_id}/2")
                break
            if response.status_code == REFUSED_STATUS:
                pending, refused = refused_by_api(pending, response.content)
                self._refuse(refused, batch_id)
                continue
            self._metrics.records_posted.inc(len(pending))
            event(
                log,
                f"ingest response status={response.status_code} records={len(pending)}",
                batch_id=batch_id,
            )
            accepted += pending
            break
        return accepted

    def publish(self, records: list[dict[str, Any]], batch_id: str) -> None:
        """The accepted records to the aggregates topic: the API replicas read every batch."""
        if self._kafka is None or not records:
            return
        body = orjson.dumps({"data": records, "batch_id": batch_id, "source": self.source})
        self._kafka.send(AGGREGATES_TOPIC, key=batch_id.encode(), value=body)
        self._kafka.flush(timeout=30)

    def __call__(self, batch: Any, batch_id: int) -> None:
        records = [row.asDict() for row in batch.collect()]
        if not records:
            return
        watermark = batch_watermark_ms(self._checkpoint_dir, batch_id)
        mark_open_windows(records, watermark, self._delay)
        name = f"{self.query_id}:{batch_id}"
        event(log, f"posting {len(records)} records -> {self._url}", batch_id=name)
        self.publish(self.deliver(records, name), name)

    def close(self) -> None:
        self._client.close()
