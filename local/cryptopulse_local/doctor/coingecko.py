"""The CoinGecko check: one ``/coins/markets`` request for one coin, as the producer sends it.

It costs one call of the rate limit (the keyless tier allows a few a minute; the producer's own
30 s pace leaves room). The wait a 429 asks for is read the way the producer reads it
(``cryptopulse_producer.retry.rate_limit_wait``: Retry-After, else x-ratelimit-reset).
"""

from __future__ import annotations

import random
import time

import httpx

from cryptopulse_local.doctor.probes import Sample
from cryptopulse_local.doctor.report import Finding
from cryptopulse_producer.coingecko import KEY_HEADERS, MARKETS_PATH, USER_AGENT
from cryptopulse_producer.retry import Backoff, rate_limit_wait
from cryptopulse_producer.settings import COINGECKO_DEFAULT_INTERVAL_SECONDS, ProducerSettings

TIMEOUT_SECONDS = 5.0


def _message(response: httpx.Response) -> str:
    """CoinGecko's own words (``{"status": {"error_message": ...}}`` or ``{"error": ...}``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:160]
    if isinstance(body, dict):
        status = body.get("status")
        if isinstance(status, dict) and status.get("error_message"):
            return str(status["error_message"])[:160]
        if body.get("error"):
            return str(body["error"])[:160]
    return str(body)[:160]


def _producer_evidence(producer: Sample | None) -> list[str]:
    if producer is None:
        return ["producer metrics: unreachable"]
    limited = producer.total("cryptopulse_producer_rate_limited_total")
    waited = producer.total("cryptopulse_producer_retry_wait_seconds_total")
    ok = producer.total("cryptopulse_producer_fetches_total", outcome="ok")
    return [f"producer: {ok:.0f} good fetches, {limited:.0f} answered 429, waited {waited:.0f} s"]


def probe_coingecko(settings: ProducerSettings, producer: Sample | None) -> Finding:
    url = settings.coingecko_url + MARKETS_PATH
    headers = {"accept": "application/json", "user-agent": USER_AGENT}
    if settings.coingecko_api_key is not None:
        headers[KEY_HEADERS[settings.coingecko_api_plan]] = (
            settings.coingecko_api_key.get_secret_value()
        )
    params = {
        "vs_currency": settings.coingecko_vs_currency,
        "ids": settings.coin_ids[0] if settings.coin_ids else "bitcoin",
        "per_page": "1",
        "page": "1",
    }
    evidence = _producer_evidence(producer)
    started = time.perf_counter()
    try:
        response = httpx.get(url, params=params, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.TimeoutException:
        return Finding.failed(
            f"CoinGecko ({settings.coingecko_url}) did not answer within {TIMEOUT_SECONDS:g} s",
            "Check this machine's internet access (proxy, DNS); or run without it: "
            "PRODUCER_SOURCE=simulate.",
            *evidence,
        )
    except httpx.HTTPError as error:
        return Finding.failed(
            f"CoinGecko ({settings.coingecko_url}) is unreachable: {type(error).__name__}",
            "Check this machine's internet access (proxy, DNS) and COINGECKO_BASE_URL; or run "
            "without it: PRODUCER_SOURCE=simulate.",
            *evidence,
        )
    elapsed = time.perf_counter() - started
    status = response.status_code
    if status == 200:
        return Finding.passed(
            f"CoinGecko answers ({elapsed * 1000:.0f} ms, not rate limited)",
            f"{settings.coingecko_url}, key: "
            + ("none" if settings.coingecko_api_key is None else settings.coingecko_api_plan),
            *evidence,
        )
    if status == 429:
        wait = rate_limit_wait(response.headers, time.time(), 1, Backoff(), random.Random())
        told = (
            f"it asked to wait {wait.describe()}"
            if wait.reason != "backoff"
            else "it did not say for how long"
        )
        return Finding.failed(
            f"CoinGecko is rate limiting (429); {told}",
            "The producer waits that long by itself and resumes. If it keeps coming, poll less "
            f"often (PRODUCER_INTERVAL_SECONDS, {COINGECKO_DEFAULT_INTERVAL_SECONDS:.0f} s suits "
            "the keyless tier) or set COINGECKO_API_KEY.",
            f"CoinGecko says: {_message(response)}",
            *evidence,
        )
    if status in (401, 403):
        return Finding.failed(
            f"CoinGecko refused the request ({status}): {_message(response)}",
            "Check COINGECKO_API_KEY and COINGECKO_API_PLAN (a demo key goes to "
            "api.coingecko.com, a pro key to pro-api.coingecko.com).",
            *evidence,
        )
    if status >= 500:
        return Finding.warned(
            f"CoinGecko answered {status} ({_message(response)})",
            "Their side fails; the producer retries with backoff. Nothing to do unless it lasts.",
            *evidence,
        )
    return Finding.failed(
        f"CoinGecko answered {status}: {_message(response)}",
        "A request parameter is wrong: check PRODUCER_COINS and COINGECKO_VS_CURRENCY.",
        *evidence,
    )
