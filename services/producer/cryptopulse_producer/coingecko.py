"""The CoinGecko ``/coins/markets`` client and the ``coingecko`` market source.

The client sends what CoinGecko documents (``vs_currency``, ``ids``, ``per_page``, ``page``,
``price_change_percentage``; a demo key as ``x-cg-demo-api-key`` on the public URL, a pro key as
``x-cg-pro-api-key`` on the pro URL) and retries what is worth retrying: a 429 after the wait the
headers ask for, timeouts, 5xx and connection errors after capped backoff with jitter. Other 4xx
answers (a wrong key, a wrong parameter) are not retried: they will not fix themselves.

Ids go at most 250 to a call (the most one page holds), each call asking for page 1 of its own
ids: a coin cannot fall between two pages when market caps reorder between the calls.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
import orjson
from pydantic import SecretStr

from cryptopulse_common.contract import DEFAULT_MAX_CLOCK_SKEW_SECONDS
from cryptopulse_common.logs import event
from cryptopulse_producer.mapping import loads_market_json, ticks_from_markets_body
from cryptopulse_producer.metrics import FetchOutcome, ProducerMetrics
from cryptopulse_producer.recording import RecordingWriter
from cryptopulse_producer.retry import Backoff, Wait, rate_limit_wait
from cryptopulse_producer.settings import CoinGeckoPlan, ProducerSettings
from cryptopulse_producer.sources import PollInterruptedError, PollResult, Waiter

log = logging.getLogger(__name__)

MARKETS_PATH: Final = "/coins/markets"
MAX_PER_PAGE: Final = 250
KEY_HEADERS: Final[dict[CoinGeckoPlan, str]] = {
    "demo": "x-cg-demo-api-key",
    "pro": "x-cg-pro-api-key",
}
USER_AGENT: Final = "cryptopulse-producer"


class CoinGeckoError(RuntimeError):
    """A request that produced no usable response; the message says what happened."""


class CoinGeckoRefusedError(CoinGeckoError):
    """A 4xx other than 429: retrying will not help."""


@dataclass(frozen=True)
class MarketsResponse:
    body: object
    observed_at: datetime


def _error_message(response: httpx.Response) -> str:
    """CoinGecko's own words from an error body (``{"status": {"error_message": ...}}``,
    ``{"error": ...}``), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        status = body.get("status")
        if isinstance(status, dict) and status.get("error_message"):
            return str(status["error_message"])
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("status"), dict):
            return str(error["status"].get("error_message", error))
        if error:
            return str(error)
    return orjson.dumps(body).decode()[:200]


_REFUSAL_HINTS: Final = {
    401: "check COINGECKO_API_KEY and COINGECKO_API_PLAN (a demo key goes to api.coingecko.com, "
    "a pro key to pro-api.coingecko.com)",
    403: "CoinGecko blocks this client; check the key, the plan and the egress IP",
    400: "a request parameter is wrong; check PRODUCER_COINS and COINGECKO_VS_CURRENCY",
}


class CoinGeckoClient:
    def __init__(
        self,
        base_url: str,
        metrics: ProducerMetrics,
        *,
        api_key: SecretStr | None = None,
        plan: CoinGeckoPlan = "demo",
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        wait: Waiter,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        headers = {"accept": "application/json", "user-agent": USER_AGENT}
        if api_key is not None:
            headers[KEY_HEADERS[plan]] = api_key.get_secret_value()
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)
        self._timeout = timeout
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._wait = wait
        self._clock = clock
        self._rng = rng or random.Random()

    def markets(
        self, ids: Sequence[str], vs_currency: str = "usd", page: int = 1
    ) -> MarketsResponse:
        """One page of ``/coins/markets`` for ``ids`` (at most 250), retrying as documented."""
        if not 0 < len(ids) <= MAX_PER_PAGE:
            raise ValueError(f"ask for 1 to {MAX_PER_PAGE} ids per call, not {len(ids)}")
        params = {
            "vs_currency": vs_currency,
            "ids": ",".join(ids),
            "per_page": str(MAX_PER_PAGE),
            "page": str(page),
            "price_change_percentage": "24h",
        }
        for attempt in range(1, self._max_attempts + 1):
            started = time.perf_counter()
            wait: Wait | None = None
            outcome: FetchOutcome
            try:
                response = self._http.get(MARKETS_PATH, params=params)
            except httpx.TimeoutException:
                outcome, problem = "timeout", f"did not answer within {self._timeout:g} s"
            except httpx.TransportError as error:
                outcome, problem = "connection_error", f"unreachable ({type(error).__name__})"
            else:
                status = response.status_code
                if status == 200:
                    return self._parsed(response, started)
                if status == 429:
                    outcome, problem = "rate_limited", "answered 429 (rate limited)"
                    self._metrics.rate_limited.inc()
                    wait = rate_limit_wait(
                        response.headers, self._clock(), attempt, self._backoff, self._rng
                    )
                elif status >= 500 or status == 408:
                    outcome = "server_error"
                    problem = f"answered {status} ({_error_message(response)})"
                else:
                    self._count("client_error", started)
                    hint = _REFUSAL_HINTS.get(status, "not retrying")
                    raise CoinGeckoRefusedError(
                        f"CoinGecko answered {status}: {_error_message(response)}; {hint}"
                    )
            self._count(outcome, started)
            if attempt == self._max_attempts:
                raise CoinGeckoError(
                    f"CoinGecko {problem}; gave up after {attempt} attempts until the next poll"
                )
            wait = wait or Wait(self._backoff.seconds(attempt, self._rng), "backoff")
            event(
                log,
                f"CoinGecko {problem}; retrying in {wait.describe()}, "
                f"attempt {attempt + 1}/{self._max_attempts}",
                logging.WARNING,
                outcome=outcome,
                wait_seconds=round(wait.seconds, 3),
                wait_reason=wait.reason,
            )
            self._metrics.retry_wait.inc(wait.seconds)
            if self._wait(wait.seconds):
                raise PollInterruptedError
        raise AssertionError("unreachable")  # the loop returns or raises

    def _count(self, outcome: FetchOutcome, started: float) -> None:
        self._metrics.fetch_duration.observe(time.perf_counter() - started)
        self._metrics.fetches.labels(outcome).inc()

    def _parsed(self, response: httpx.Response, started: float) -> MarketsResponse:
        observed_at = datetime.fromtimestamp(self._clock(), UTC)
        try:
            body = loads_market_json(response.content)
        except ValueError as error:
            self._count("bad_body", started)
            raise CoinGeckoError(
                f"CoinGecko answered 200 with a body that is not JSON ({error}): "
                f"{response.text[:120]!r}"
            ) from error
        self._count("ok" if isinstance(body, list) else "bad_body", started)
        return MarketsResponse(body, observed_at)

    def close(self) -> None:
        self._http.close()


class CoinGeckoSource:
    name = "coingecko"

    def __init__(
        self,
        client: CoinGeckoClient,
        coin_ids: Sequence[str],
        vs_currency: str = "usd",
        recorder: RecordingWriter | None = None,
        max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    ) -> None:
        if not coin_ids:
            raise ValueError("the coingecko source needs at least one coin id (PRODUCER_COINS)")
        self._client = client
        self._coin_ids = list(dict.fromkeys(coin_ids))
        self._vs_currency = vs_currency
        self._recorder = recorder
        self._max_skew = max_skew_seconds
        self._missing: set[str] = set()

    @classmethod
    def from_settings(
        cls, settings: ProducerSettings, metrics: ProducerMetrics, wait: Waiter
    ) -> CoinGeckoSource:
        client = CoinGeckoClient(
            settings.coingecko_url,
            metrics,
            api_key=settings.coingecko_api_key,
            plan=settings.coingecko_api_plan,
            timeout=settings.coingecko_timeout_seconds,
            max_attempts=settings.coingecko_max_attempts,
            backoff=Backoff(
                settings.coingecko_backoff_seconds, settings.coingecko_backoff_max_seconds
            ),
            wait=wait,
        )
        recorder = (
            RecordingWriter(Path(settings.coingecko_record_path))
            if settings.coingecko_record_path
            else None
        )
        event(
            log,
            "polling CoinGecko",
            url=settings.coingecko_url,
            key="none" if settings.coingecko_api_key is None else settings.coingecko_api_plan,
            coins=len(settings.coin_ids),
            interval_seconds=settings.producer_interval_seconds,
        )
        return cls(
            client,
            settings.coin_ids,
            settings.coingecko_vs_currency,
            recorder,
            settings.max_clock_skew_seconds,
        )

    def poll(self) -> PollResult:
        result = PollResult()
        returned: set[str] = set()
        calls = range(0, len(self._coin_ids), MAX_PER_PAGE)
        for number, start in enumerate(calls, start=1):
            ids = self._coin_ids[start : start + MAX_PER_PAGE]
            where = f"call {number}/{len(calls)}: " if len(calls) > 1 else ""
            try:
                response = self._client.markets(ids, self._vs_currency)
            except CoinGeckoError as error:
                result.errors.append(f"{where}{error}")
                continue
            if self._recorder is not None:
                self._recorder.append(response.observed_at, response.body)
            mapped = ticks_from_markets_body(response.body, response.observed_at, self._max_skew)
            if mapped.error is not None:
                result.errors.append(f"{where}CoinGecko {mapped.error}")
            result.ticks += mapped.ticks
            result.rejected += mapped.rejected
            returned.update(tick.id for tick in mapped.ticks)
            returned.update(row.coin_id for row in mapped.rejected)
        if not result.errors:  # after a failed call, absent ids say nothing
            self._report_missing(set(self._coin_ids) - returned)
        return result

    def _report_missing(self, missing: set[str]) -> None:
        """Ids CoinGecko returned no row for (unknown or delisted): said once, not every poll."""
        if missing and missing != self._missing:
            event(
                log,
                f"CoinGecko returned no row for {len(missing)} requested ids: "
                + ",".join(sorted(missing)[:20]),
                logging.WARNING,
                hint="check PRODUCER_COINS against CoinGecko's ids (/coins/list)",
            )
        self._missing = missing

    def close(self) -> None:
        self._client.close()
        if self._recorder is not None:
            self._recorder.close()
