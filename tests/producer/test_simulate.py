from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptopulse_common.contract import DEFAULT_COIN_IDS, Tick
from cryptopulse_producer.simulate import SimulatedMarket, coin_ids_for

START = datetime(2026, 8, 10, 14, 0, tzinfo=UTC)


def _run(seed: int, polls: int = 5) -> list[list[Tick]]:
    market = SimulatedMarket(list(DEFAULT_COIN_IDS), seed=seed, start=START)
    return [market.poll(START + timedelta(seconds=n + 1)) for n in range(polls)]


def test_same_seed_same_market() -> None:
    assert _run(7) == _run(7)
    assert _run(7) != _run(8)


def test_every_default_coin_ticks_with_consistent_24h_stats() -> None:
    for ticks in _run(42):
        assert [tick.id for tick in ticks] == list(DEFAULT_COIN_IDS)
        for tick in ticks:
            assert tick.low_24h is not None
            assert tick.high_24h is not None
            assert tick.low_24h <= tick.current_price <= tick.high_24h
            assert tick.price_change_percentage_24h is not None
            assert abs(tick.price_change_percentage_24h) < 50
            assert tick.last_updated.endswith("Z")


def test_prices_move_between_polls() -> None:
    polls = _run(42, polls=3)
    assert polls[0][0].current_price != polls[2][0].current_price


def test_any_number_of_coins() -> None:
    ids = coin_ids_for(25, list(DEFAULT_COIN_IDS))
    assert len(ids) == 25
    assert len(set(ids)) == 25
    assert ids[:10] == list(DEFAULT_COIN_IDS)
    ticks = SimulatedMarket(ids, seed=1, start=START).poll(START + timedelta(seconds=1))
    assert len(ticks) == 25


def test_24h_extremes_match_the_whole_day_as_buckets_close_and_expire() -> None:
    market = SimulatedMarket(coin_ids_for(3, []), seed=3, start=START)
    for step in range(1, 1200):
        moment = START + timedelta(minutes=step * 2.6)  # runs 2 days past the seeded history
        market.poll(moment)
        for coin in market._coins:  # the cached extremes against a scan of the whole day
            assert coin.high == max(bucket.high for bucket in coin.history)
            assert coin.low == min(bucket.low for bucket in coin.history)
