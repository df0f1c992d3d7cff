"""How long the producer waits before retrying CoinGecko, from the headers or the backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from cryptopulse_producer.retry import Backoff, Wait, rate_limit_wait

NOW = datetime(2026, 8, 10, 14, 25, 0, tzinfo=UTC).timestamp()
BACKOFF = Backoff(base_seconds=2.0, max_seconds=60.0)


def wait_for(**headers: str) -> Wait:
    return rate_limit_wait(httpx.Headers(headers), NOW, 1, BACKOFF, random.Random(1))


def test_retry_after_seconds_wins_over_everything() -> None:
    assert wait_for(**{"Retry-After": "61", "x-ratelimit-reset": str(int(NOW) + 5)}) == Wait(
        61.0, "Retry-After"
    )


def test_retry_after_as_an_http_date() -> None:
    moment = datetime.fromtimestamp(NOW + 30, UTC)
    assert wait_for(**{"retry-after": format_datetime(moment, usegmt=True)}) == Wait(
        30.0, "Retry-After"
    )


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [
        (str(int(NOW) + 42), 42.0),  # Unix time
        (str(int(NOW * 1000) + 1500), 1.5),  # Unix time in milliseconds
        ("17", 17.0),  # seconds from now
        ("2026-08-10 14:25:20 +0000", 20.0),  # a date
        ("2026-08-10T14:26:00Z", 60.0),
        (str(int(NOW) - 10), 0.0),  # already past: go now
    ],
)
def test_ratelimit_reset_when_no_retry_after(reset: str, seconds: float) -> None:
    assert wait_for(**{"x-ratelimit-reset": reset}) == Wait(seconds, "x-ratelimit-reset")


def test_unreadable_headers_fall_back_to_backoff() -> None:
    wait = wait_for(**{"retry-after": "soon", "x-ratelimit-reset": "later"})
    assert wait.reason == "backoff"
    assert 1.0 <= wait.seconds <= 2.0


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt, step in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (20, 60.0)]:
        for _ in range(20):
            assert step / 2 <= BACKOFF.seconds(attempt, rng) <= step
    # Jitter: two clients failing together do not retry in lockstep.
    assert len({round(BACKOFF.seconds(3, rng), 6) for _ in range(10)}) > 1


def test_waits_are_described_in_words() -> None:
    assert Wait(61.0, "Retry-After").describe() == "61 s (Retry-After)"
    assert Wait(2.54, "backoff").describe() == "2.5 s (backoff)"
