"""The ``foreachBatch`` sink: POST each micro-batch's aggregates to the API's ``/ingest``.

foreachBatch is at-least-once: after a failure Spark replays the batch with the same id. Every
POST carries ``batch_id = <query id>:<batch id>``, deterministic across restarts from the same
checkpoint, so the API can drop a batch it already broadcast. A batch the API does not accept
after every attempt raises, which fails the query and lets Spark retry it from the checkpoint:
nothing is swallowed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.stream.sink")


class IngestError(RuntimeError):
    pass


def checkpoint_query_id(checkpoint_dir: str) -> str | None:
    """The query id Spark keeps in the checkpoint: the same after every restart from it."""
    metadata = Path(checkpoint_dir) / "metadata"
    try:
        return str(json.loads(metadata.read_text().splitlines()[0])["id"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


class IngestSink:
    def __init__(
        self,
        url: str,
        checkpoint_dir: str,
        token: str = "",
        timeout: float = 30.0,
        attempts: int = 5,
        backoff_seconds: float = 1.0,
        source: str = "stream",
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self.source = source
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = client or httpx.Client(timeout=timeout, headers=headers)
        self._checkpoint_dir = checkpoint_dir
        self._query_id: str | None = None

    @property
    def query_id(self) -> str:
        """Read lazily: Spark writes the checkpoint metadata before the first batch runs."""
        if self._query_id is None:
            self._query_id = checkpoint_query_id(self._checkpoint_dir)
            if self._query_id is None:
                raise IngestError(f"no query id in checkpoint {self._checkpoint_dir}/metadata")
        return self._query_id

    def post(self, records: list[dict[str, Any]], batch_id: str) -> None:
        body = orjson.dumps({"data": records, "batch_id": batch_id, "source": self.source})
        event(log, f"posting {len(records)} records -> {self._url}", batch_id=batch_id)
        last_error = ""
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(self._url, content=body)
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    event(
                        log,
                        f"ingest response status={response.status_code}",
                        batch_id=batch_id,
                        attempt=attempt,
                    )
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the API rejected the body; retrying sends the same bytes
            if attempt < self._attempts:
                wait = self._backoff * 2 ** (attempt - 1)
                event(
                    log,
                    f"ingest attempt {attempt}/{self._attempts} failed ({last_error}); "
                    f"retrying in {wait:.1f} s",
                    logging.WARNING,
                    batch_id=batch_id,
                )
                self._sleep(wait)
        raise IngestError(f"/ingest did not accept batch {batch_id}: {last_error}")

    def __call__(self, batch: Any, batch_id: int) -> None:
        rows = batch.collect()
        if not rows:
            return
        records = [row.asDict() for row in rows]
        self.post(records, f"{self.query_id}:{batch_id}")

    def close(self) -> None:
        self._client.close()
