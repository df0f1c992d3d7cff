"""What the API server remembers of the market: the latest window per coin, a bounded history of
recent windows per coin, and the batches it has already broadcast.

Memory is bounded whatever ids a source sends: at most ``max_coins`` coins (records of a further
coin are not kept or broadcast, and are counted), each with at most ``history_windows`` windows,
and a coin whose newest window falls ``idle_seconds`` behind the market's newest window is
forgotten. Idleness is measured in the market's own event time, not the API's clock: a stalled
pipeline makes nothing idle, so the screen keeps its last prices (the dashboard marks them stale)
instead of emptying. Windows ahead of the API's clock never get here (rule ``window_ahead``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

from cryptopulse_common.contract import SNAPSHOT_MESSAGE, Aggregate, parse_timestamp

# A record's rank within its coin: the later window wins, then the later event time; an equal
# rank also wins, so a re-sent record replaces its earlier copy (as the dashboard merges).
Rank = tuple[datetime, datetime]


def rank(record: Aggregate) -> Rank:
    return parse_timestamp(record.window_start), parse_timestamp(record.timestamp)


class MarketState:
    """The latest aggregate per coin (the snapshot a new client starts from) and, per coin, the
    newest record of each of its last ``history_windows`` windows.

    The snapshot and the full-state update are serialised once per change of state and shared
    by every client that needs them.
    """

    def __init__(
        self,
        history_windows: int,
        update_type: str,
        max_coins: int = 1000,
        idle_seconds: float = 600.0,
        on_forgotten: Callable[[int], None] | None = None,
        on_over_limit: Callable[[int], None] | None = None,
    ) -> None:
        self._history_windows = history_windows
        self._update_type = update_type
        self._max_coins = max_coins
        self._idle = timedelta(seconds=idle_seconds)
        self._on_forgotten = on_forgotten or (lambda count: None)
        self._on_over_limit = on_over_limit or (lambda count: None)
        self._latest: dict[str, tuple[Rank, Aggregate]] = {}
        self._history: dict[str, dict[datetime, tuple[datetime, Aggregate]]] = {}
        self._encoded: dict[str, str] = {}
        self._newest_window: datetime | None = None

    def __len__(self) -> int:
        """Coins held."""
        return len(self._latest)

    def apply(self, records: list[Aggregate]) -> list[Aggregate]:
        """Fold ``records`` into the state; returns the ones kept (the ones to broadcast)."""
        kept: list[Aggregate] = []
        over_limit = 0
        for record in records:
            key = rank(record)
            if self._newest_window is None or key[0] > self._newest_window:
                self._newest_window = key[0]
            current = self._latest.get(record.coin_id)
            if current is None and len(self._latest) >= self._max_coins:
                self.forget_idle()
                if len(self._latest) >= self._max_coins:
                    over_limit += 1
                    continue
            if current is None or key >= current[0]:
                self._latest[record.coin_id] = (key, record)
            self._remember(record, key)
            kept.append(record)
        if over_limit:
            self._on_over_limit(over_limit)
        if records:
            self._encoded.clear()
            if self.forget_idle():  # a record may be idle on arrival (an old window)
                kept = [record for record in kept if record.coin_id in self._latest]
        return kept

    def forget_idle(self) -> int:
        """Forget the coins whose newest window is ``idle_seconds`` behind the market's newest;
        returns how many."""
        if self._newest_window is None:
            return 0
        horizon = self._newest_window - self._idle
        idle = [coin for coin, (key, _record) in self._latest.items() if key[0] < horizon]
        for coin in idle:
            del self._latest[coin]
            self._history.pop(coin, None)
        if idle:
            self._encoded.clear()
            self._on_forgotten(len(idle))
        return len(idle)

    def _remember(self, record: Aggregate, key: Rank) -> None:
        window, moment = key
        windows = self._history.setdefault(record.coin_id, {})
        kept = windows.get(window)
        if kept is not None:
            if moment >= kept[0]:
                windows[window] = (moment, record)
            return
        if len(windows) >= self._history_windows:
            oldest = min(windows)
            if window < oldest:
                return  # older than everything kept: it would be the first to go
            del windows[oldest]
        windows[window] = (moment, record)

    def snapshot(self) -> list[dict[str, Any]]:
        return [self._latest[coin][1].model_dump() for coin in sorted(self._latest)]

    def history(self, coin_id: str) -> list[dict[str, Any]]:
        """The newest record of each kept window of ``coin_id``, oldest window first."""
        windows = self._history.get(coin_id, {})
        return [windows[window][1].model_dump() for window in sorted(windows)]

    def snapshot_text(self) -> str:
        """``{"type": "snapshot", "data": [...]}``: what a new client receives first."""
        return self._encode(SNAPSHOT_MESSAGE)

    def state_update_text(self) -> str:
        """An update carrying the latest record of every coin: what a lagging client gets in
        place of the updates it could not keep up with."""
        return self._encode(self._update_type)

    def _encode(self, message_type: str) -> str:
        text = self._encoded.get(message_type)
        if text is None:
            text = orjson.dumps({"type": message_type, "data": self.snapshot()}).decode()
            self._encoded[message_type] = text
        return text


# Where a batch was seen (flags): POSTed to /ingest, read from the aggregates topic.
POSTED = 1
PUBLISHED = 2


class RecentBatches:
    """Where each of the last ``capacity`` (source, batch_id) pairs was seen, oldest forgotten
    first.

    The stream job's sink is at-least-once (a failed batch is POSTed again with the same id) and,
    with several API replicas, publishes every batch to the aggregates topic too: a pair seen
    before is not broadcast again. A batch without a ``batch_id`` cannot be recognised and is
    always new.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, source: str | None, batch_id: str | None, where: int) -> int:
        """Record that the batch came from ``where``; return where it had come from before
        (0: it is new)."""
        if batch_id is None:
            return 0
        key = (source or "", batch_id)
        before = self._seen.get(key, 0)
        self._seen[key] = before | where
        if not before and len(self._seen) > self._capacity:
            del self._seen[next(iter(self._seen))]
        return before
