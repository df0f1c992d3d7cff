"""The ``replay`` source: recorded ``/coins/markets`` responses, at recorded or accelerated pace.

Each poll publishes the next recorded response through the same mapping as the live source, then
asks to be polled again after the recorded gap divided by the speed (speed 0: at once). With
``retime`` (the default) recorded times are moved so the first response happens now and later ones
follow at the replay's pace, so windowed consumers see a live market; looping continues the
timeline instead of repeating it.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptopulse_common.contract import (
    DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    TICK_SOURCE_TIME_FIELD,
    format_timestamp,
    parse_timestamp,
)
from cryptopulse_common.logs import event
from cryptopulse_producer.mapping import ticks_from_markets_body
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_producer.recording import EXAMPLE_RECORDING, RecordedResponse, read_recording
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_producer.sources import PollResult

log = logging.getLogger(__name__)


class ReplaySource:
    name = "replay"

    def __init__(
        self,
        entries: list[RecordedResponse],
        metrics: ProducerMetrics,
        speed: float = 1.0,
        loop: bool = False,
        retime: bool = True,
        clock: Callable[[], float] = time.time,
        max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    ) -> None:
        if not entries:
            raise ValueError("nothing to replay: the recording is empty")
        self._entries = entries
        self._metrics = metrics
        self._speed = speed
        self._loop = loop
        self._retime = retime
        self._clock = clock
        self._max_skew = max_skew_seconds
        first, last = entries[0].observed_at, entries[-1].observed_at
        gaps = [b.observed_at - a.observed_at for a, b in itertools.pairwise(entries)]
        # One pass of the recording plus one typical gap: where the next loop starts.
        typical_gap = sorted(gaps)[len(gaps) // 2] if gaps else timedelta(seconds=1)
        self._span = last - first + typical_gap
        self._origin = first
        self._start: datetime | None = None
        self._index = 0
        self._cycle = 0

    @classmethod
    def from_settings(cls, settings: ProducerSettings, metrics: ProducerMetrics) -> ReplaySource:
        path = Path(settings.replay_path) if settings.replay_path else EXAMPLE_RECORDING
        entries = read_recording(path)
        event(
            log,
            f"replaying {len(entries)} recorded responses",
            path=str(path),
            speed=settings.replay_speed,
            loop=settings.replay_loop,
            retime=settings.replay_retime,
            max_skew_seconds=settings.max_clock_skew_seconds,
        )
        return cls(
            entries,
            metrics,
            speed=settings.replay_speed,
            loop=settings.replay_loop,
            retime=settings.replay_retime,
            max_skew_seconds=settings.max_clock_skew_seconds,
        )

    def _when(self, recorded: datetime) -> datetime:
        """Where a recorded moment of the current pass falls on the replay's timeline."""
        moment = recorded + self._span * self._cycle
        if not self._retime:
            return moment
        assert self._start is not None
        elapsed = moment - self._origin
        return self._start + (elapsed / self._speed if self._speed > 0 else elapsed)

    def _retimed(self, body: object) -> object:
        if not self._retime or not isinstance(body, list):
            return body
        rows: list[object] = []
        for row in body:
            stamp = row.get(TICK_SOURCE_TIME_FIELD) if isinstance(row, dict) else None
            if isinstance(stamp, str):
                try:
                    moved = format_timestamp(self._when(parse_timestamp(stamp)))
                except ValueError:
                    moved = stamp  # the mapping says what is wrong with it
                row = {**row, TICK_SOURCE_TIME_FIELD: moved}
            rows.append(row)
        return rows

    def poll(self) -> PollResult:
        if self._index >= len(self._entries):
            if not self._loop:
                return PollResult(finished=True)
            self._index = 0
            self._cycle += 1
        if self._start is None:
            self._start = datetime.fromtimestamp(self._clock(), UTC)
            if self._speed <= 0:
                # Flat out, the recording keeps its own spacing and ends now: an observation
                # may not claim a time ahead of the clock that published it.
                self._start -= self._entries[-1].observed_at - self._origin
        entry = self._entries[self._index]
        self._index += 1
        started = time.perf_counter()
        mapped = ticks_from_markets_body(
            self._retimed(entry.response), self._when(entry.observed_at), self._max_skew
        )
        self._metrics.fetch_duration.observe(time.perf_counter() - started)
        self._metrics.fetches.labels("ok" if mapped.error is None else "bad_body").inc()
        if self._index < len(self._entries):
            gap = self._entries[self._index].observed_at - entry.observed_at
        elif self._loop:
            gap = self._entries[0].observed_at + self._span - entry.observed_at
        else:
            gap = timedelta(0)  # the next poll only says the recording is over
        delay = gap.total_seconds() / self._speed if self._speed > 0 else 0.0
        return PollResult(
            ticks=mapped.ticks,
            rejected=mapped.rejected,
            errors=[f"recorded {mapped.error}"] if mapped.error else [],
            next_poll_in=max(delay, 0.0),
        )

    def close(self) -> None:
        return None
