"""RunningJob.stop: stop each query between micro-batches, or at the end of the grace."""

from __future__ import annotations

import time
from typing import Any

from cryptopulse_stream.main import RunningJob


class BatchingQuery:
    """A stand-in for a StreamingQuery whose batch stays active for ``batch_seconds``."""

    def __init__(self, batch_seconds: float) -> None:
        self.batch_ends = time.monotonic() + batch_seconds
        self.isActive = True
        self.stopped_in_batch: bool | None = None

    @property
    def status(self) -> dict[str, Any]:
        return {"isTriggerActive": time.monotonic() < self.batch_ends}

    def stop(self) -> None:
        self.stopped_in_batch = time.monotonic() < self.batch_ends
        self.isActive = False


def job(*queries: BatchingQuery) -> RunningJob:
    aggregates, *rest = queries
    return RunningJob(aggregates, rest[0] if rest else None, listener=None, sink=None)  # type: ignore[arg-type]


def test_waits_for_the_running_batch_to_finish() -> None:
    aggregates, dead_letters = BatchingQuery(0.3), BatchingQuery(0.0)
    job(aggregates, dead_letters).stop(grace_seconds=10)
    assert aggregates.stopped_in_batch is False
    assert dead_letters.stopped_in_batch is False


def test_interrupts_a_batch_that_outlasts_the_grace() -> None:
    aggregates = BatchingQuery(60.0)
    job(aggregates).stop(grace_seconds=0.2)
    assert aggregates.stopped_in_batch is True
    assert not aggregates.isActive


def test_one_grace_for_all_queries() -> None:
    slow, also_slow = BatchingQuery(60.0), BatchingQuery(60.0)
    job(slow, also_slow).stop(grace_seconds=0.2)
    assert slow.stopped_in_batch is True
    assert also_slow.stopped_in_batch is True
    assert not also_slow.isActive
