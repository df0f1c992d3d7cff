"""GET /api/history and the bounded memory behind it and behind dedupe."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from websockets.sync.client import connect

from cryptopulse_api.market import POSTED, PUBLISHED, MarketState, RecentBatches
from cryptopulse_common.contract import Aggregate, format_timestamp
from tests.api.conftest import aggregate, running_api, ws_url


def window_times(minute: int, second: int, at: int = 10) -> dict[str, str]:
    start = f"2026-08-10T14:{minute:02d}:{second:02d}.000Z"
    end_minute, end_second = divmod(minute * 60 + second + 30, 60)
    return {
        "window_start": start,
        "window_end": f"2026-08-10T14:{end_minute:02d}:{end_second:02d}.000Z",
        "timestamp": f"2026-08-10T14:{minute:02d}:{second + at:02d}.000Z",
    }


def window(minute: int, second: int, price: float, at: int = 10) -> dict[str, object]:
    return aggregate("bitcoin", price, **window_times(minute, second, at))


def test_history_keeps_the_newest_record_of_each_recent_window_oldest_first() -> None:
    with running_api(api_history_windows=3) as api:
        batches = [
            [window(20, 0, 1.0), window(20, 30, 2.0)],
            [window(20, 30, 2.5, at=20), aggregate("ethereum", 9.0)],  # window 20:30 again
            [window(20, 30, 2.4, at=15)],  # older than the record kept for 20:30
            [window(21, 30, 4.0), window(21, 0, 3.0)],  # out of order
            [window(19, 30, 0.5)],  # older than every kept window, which is full: ignored
        ]
        for data in batches:
            assert httpx.post(f"{api.url}/ingest", json={"data": data}).status_code == 200
        history = httpx.get(f"{api.url}/api/history", params={"coin": "bitcoin"}).json()
        assert history["coin_id"] == "bitcoin"
        assert [(r["window_start"][11:19], r["price"]) for r in history["data"]] == [
            ("14:20:30", 2.5),
            ("14:21:00", 3.0),
            ("14:21:30", 4.0),
        ]
        ethereum = httpx.get(f"{api.url}/api/history", params={"coin": "ethereum"}).json()
        assert [r["price"] for r in ethereum["data"]] == [9.0]


def test_history_of_an_unknown_coin_is_empty_and_the_coin_is_required() -> None:
    with running_api() as api:
        unknown = httpx.get(f"{api.url}/api/history", params={"coin": "nocoin"})
        assert unknown.status_code == 200
        assert unknown.json() == {"coin_id": "nocoin", "data": []}
        missing = httpx.get(f"{api.url}/api/history")
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["query", "coin"]


def test_history_is_bounded_per_coin() -> None:
    market = MarketState(history_windows=120, update_type="market_update")
    origin = datetime(2026, 8, 10, tzinfo=UTC)
    for index in range(1_000):
        start = origin + timedelta(seconds=30 * index)
        record = aggregate(
            window_start=format_timestamp(start),
            window_end=format_timestamp(start + timedelta(seconds=30)),
            timestamp=format_timestamp(start),
            price=index + 1,
        )
        market.apply([Aggregate.model_validate(record)])
    kept = market.history("bitcoin")
    assert len(kept) == 120
    assert [r["price"] for r in kept] == [float(p) for p in range(881, 1001)]
    assert [r["price"] for r in market.snapshot()] == [1000.0]


def test_recent_batches_remember_where_each_came_from_within_their_capacity() -> None:
    recent = RecentBatches(capacity=2)
    assert recent.seen("stream", "a", POSTED) == 0
    assert recent.seen("stream", "a", POSTED) == POSTED
    assert recent.seen("stream", "a", PUBLISHED) == POSTED
    assert recent.seen("stream", "a", POSTED) == POSTED | PUBLISHED
    assert recent.seen(None, "a", PUBLISHED) == 0  # another source
    assert recent.seen("stream", "b", PUBLISHED) == 0
    assert len(recent) == 2
    assert recent.seen("stream", "a", POSTED) == 0  # forgotten: seen again as new
    assert recent.seen("stream", None, POSTED) == 0
    assert recent.seen("stream", None, POSTED) == 0


def test_the_market_holds_at_most_api_max_coins_and_counts_the_rest() -> None:
    """Memory stays bounded whatever ids a source sends: a coin beyond the limit is neither
    kept nor broadcast, and is counted; the coins already held keep updating."""
    with running_api(api_max_coins=3) as api, connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        first = [aggregate(f"coin-{n}", 1.0 + n) for n in range(3)]
        assert httpx.post(f"{api.url}/ingest", json={"data": first}).status_code == 200
        assert len(json.loads(ws.recv(timeout=5))["data"]) == 3
        more = [aggregate("coin-0", 9.0), aggregate("intruder-1"), aggregate("intruder-2")]
        assert httpx.post(f"{api.url}/ingest", json={"data": more}).status_code == 200
        update = json.loads(ws.recv(timeout=5))["data"]
        assert [(r["coin_id"], r["price"]) for r in update] == [("coin-0", 9.0)]
        snapshot = httpx.get(f"{api.url}/api/snapshot").json()["data"]
        assert sorted(r["coin_id"] for r in snapshot) == ["coin-0", "coin-1", "coin-2"]
        assert api.sample("cryptopulse_market_coins") == 3
        assert api.sample("cryptopulse_market_records_over_coin_limit_total") == 2


def test_a_coin_without_a_window_for_the_idle_time_is_forgotten() -> None:
    """Idleness is measured in the market's own event time: a coin whose newest window falls
    API_COIN_IDLE_SECONDS behind the newest window of the market is forgotten, and its slot
    is free for a new coin; a pipeline that stalls forgets nothing."""
    with running_api(api_max_coins=2, api_coin_idle_seconds=60) as api:
        early = [window(20, 0, 1.0), aggregate("ethereum", 5.0, **window_times(20, 0))]
        assert httpx.post(f"{api.url}/ingest", json={"data": early}).status_code == 200
        # Only bitcoin moves on; 90 s later ethereum is idle and forgotten.
        later = [window(21, 30, 2.0)]
        assert httpx.post(f"{api.url}/ingest", json={"data": later}).status_code == 200
        snapshot = httpx.get(f"{api.url}/api/snapshot").json()["data"]
        assert [r["coin_id"] for r in snapshot] == ["bitcoin"]
        assert httpx.get(f"{api.url}/api/history", params={"coin": "ethereum"}).json()["data"] == []
        assert api.sample("cryptopulse_market_coins_forgotten_total") == 1
        newcomer = [aggregate("solana", 7.0, **window_times(21, 30))]
        assert httpx.post(f"{api.url}/ingest", json={"data": newcomer}).status_code == 200
        assert api.sample("cryptopulse_market_coins") == 2
        assert api.sample("cryptopulse_market_records_over_coin_limit_total") == 0
