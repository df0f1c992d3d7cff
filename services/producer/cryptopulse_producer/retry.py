"""How long to wait before retrying CoinGecko: what the headers say, else backoff with jitter.

On a 429 the server's own answer wins: ``Retry-After`` (seconds or an HTTP date), else
``x-ratelimit-reset`` (when the window resets: a Unix time, or seconds from now when small, or a
date), else exponential backoff. Timeouts, 5xx and connection errors use the backoff alone.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

WaitReason = Literal["Retry-After", "x-ratelimit-reset", "backoff"]

# x-ratelimit-reset values at or above this are Unix times; below, seconds from now.
_EPOCH_THRESHOLD: Final = 1_000_000_000.0


@dataclass(frozen=True)
class Wait:
    seconds: float
    reason: WaitReason

    def describe(self) -> str:
        """``61 s (Retry-After)``: for log lines that say what the client will do."""
        amount = f"{self.seconds:.0f} s" if self.seconds >= 10 else f"{self.seconds:.1f} s"
        return f"{amount} ({self.reason})"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff, capped, with "equal jitter": half the step fixed, half random."""

    base_seconds: float = 2.0
    max_seconds: float = 60.0

    def seconds(self, attempt: int, rng: random.Random) -> float:
        step = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0))
        return step / 2 + rng.uniform(0.0, step / 2)


def _parse_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)  # RFC 7231 HTTP date
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None:
        for pattern in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z"):
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None  # not NaN/inf


def retry_after_seconds(value: str, now: float) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    text = value.strip()
    number = _number(text)
    if number is not None:
        return max(number, 0.0)
    moment = _parse_date(text)
    return None if moment is None else max(moment.timestamp() - now, 0.0)


def reset_seconds(value: str, now: float) -> float | None:
    """``x-ratelimit-reset``: a Unix time (s or ms), seconds from now, or a date."""
    text = value.strip()
    number = _number(text)
    if number is not None:
        if number >= _EPOCH_THRESHOLD * 1000:  # milliseconds since the epoch
            number /= 1000.0
        if number >= _EPOCH_THRESHOLD:
            return max(number - now, 0.0)
        return max(number, 0.0)
    moment = _parse_date(text)
    return None if moment is None else max(moment.timestamp() - now, 0.0)


def rate_limit_wait(
    headers: Mapping[str, str], now: float, attempt: int, backoff: Backoff, rng: random.Random
) -> Wait:
    """The wait after a 429 (``headers`` must be case-insensitive, as httpx's are)."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        seconds = retry_after_seconds(retry_after, now)
        if seconds is not None:
            return Wait(seconds, "Retry-After")
    reset = headers.get("x-ratelimit-reset")
    if reset is not None:
        seconds = reset_seconds(reset, now)
        if seconds is not None:
            return Wait(seconds, "x-ratelimit-reset")
    return Wait(backoff.seconds(attempt, rng), "backoff")
