"""The CoinGecko client and source against a local server that speaks CoinGecko's documented API.

Waits are injected: the tests assert the wait the client chose (from the headers or its backoff),
never how long anything took.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from cryptopulse_common.contract import parse_timestamp
from cryptopulse_producer.coingecko import (
    MAX_PER_PAGE,
    CoinGeckoClient,
    CoinGeckoError,
    CoinGeckoRefusedError,
    CoinGeckoSource,
)
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_producer.recording import RecordingWriter, read_recording
from cryptopulse_producer.replay import ReplaySource
from cryptopulse_producer.retry import Backoff
from cryptopulse_producer.settings import (
    COINGECKO_DEFAULT_INTERVAL_SECONDS,
    COINGECKO_PRO_URL,
    COINGECKO_PUBLIC_URL,
    CoinGeckoPlan,
    ProducerSettings,
)
from cryptopulse_producer.sources import PollInterruptedError
from tests.support.coingecko_fake import (
    COINS,
    FakeCoinGecko,
    Reply,
    documented_row,
    running_coingecko,
)

NOW = datetime(2026, 8, 10, 14, 25, 0, tzinfo=UTC).timestamp()
IDS = [coin.id for coin in COINS]
SECRET = "CG-s3cr3t-k3y"


class Waits:
    """Stands in for ``stop.wait``: records each wait the client asks for, returns at once."""

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.seconds: list[float] = []
        self._interrupt_after = interrupt_after

    def __call__(self, seconds: float) -> bool:
        self.seconds.append(seconds)
        return self._interrupt_after is not None and len(self.seconds) >= self._interrupt_after


def coingecko_clock() -> datetime:
    """CoinGecko's clock in these tests: its rows were updated 20 s before the injected NOW."""
    return datetime.fromtimestamp(NOW - 20, UTC)


@pytest.fixture
def fake() -> FakeCoinGecko:
    return FakeCoinGecko(clock=coingecko_clock)


@pytest.fixture
def url(fake: FakeCoinGecko) -> Iterator[str]:
    with running_coingecko(fake) as root:
        yield root


@pytest.fixture
def metrics() -> ProducerMetrics:
    return ProducerMetrics(CollectorRegistry())


OPEN_CLIENTS: list[CoinGeckoClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def make_client(
    url: str,
    metrics: ProducerMetrics,
    waits: Waits,
    *,
    timeout: float = 5.0,
    max_attempts: int = 5,
    key: str | None = None,
    plan: CoinGeckoPlan = "demo",
) -> CoinGeckoClient:
    client = CoinGeckoClient(
        url,
        metrics,
        api_key=SecretStr(key) if key else None,
        plan=plan,
        timeout=timeout,
        max_attempts=max_attempts,
        backoff=Backoff(base_seconds=2.0, max_seconds=60.0),
        wait=waits,
        clock=lambda: NOW,
        rng=random.Random(3),
    )
    OPEN_CLIENTS.append(client)
    return client


def make_source(client: CoinGeckoClient, ids: list[str] | None = None) -> CoinGeckoSource:
    return CoinGeckoSource(client, ids or IDS)


def count(metrics: ProducerMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


def test_requests_what_coingecko_documents_and_maps_every_row(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics
) -> None:
    source = make_source(make_client(url, metrics, Waits()))
    result = source.poll()
    assert not result.errors
    assert not result.rejected
    assert sorted(tick.id for tick in result.ticks) == sorted(IDS)
    (seen,) = fake.market_requests()
    assert seen.params == {
        "vs_currency": "usd",
        "ids": ",".join(IDS),
        "per_page": "250",
        "page": "1",
        "price_change_percentage": "24h",
    }
    assert "x-cg-demo-api-key" not in seen.headers
    assert "x-cg-pro-api-key" not in seen.headers
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="ok") == 1


def test_event_time_is_coingeckos_last_updated_and_observation_time_is_separate(
    url: str, metrics: ProducerMetrics
) -> None:
    result = make_source(make_client(url, metrics, Waits())).poll()
    for tick in result.ticks:
        assert tick.last_updated.endswith("Z")
        assert len(tick.last_updated) == len("2026-08-10T14:25:20.000Z")
        # The injected clock says when the response was observed.
        assert parse_timestamp(tick.observed_at).timestamp() == NOW


@pytest.mark.parametrize("plan", ["demo", "pro"])
def test_api_key_goes_in_the_plans_header_and_never_into_logs(
    plan: CoinGeckoPlan, metrics: ProducerMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeCoinGecko(key=SECRET, plan=plan, clock=coingecko_clock)
    caplog.set_level(logging.DEBUG)
    with running_coingecko(fake) as url:
        settings = ProducerSettings(
            producer_source="coingecko",
            coingecko_api_key=SECRET,  # type: ignore[arg-type]
            coingecko_api_plan=plan,
            coingecko_base_url=url,
        )
        source = CoinGeckoSource.from_settings(settings, metrics, Waits())
        result = source.poll()
        source.close()
    assert not result.errors
    assert len(result.ticks) == len(COINS)
    (seen,) = fake.market_requests()
    header = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}[plan]
    assert seen.headers[header] == SECRET
    assert SECRET not in caplog.text
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())


def test_the_plan_picks_the_documented_root_url() -> None:
    assert ProducerSettings().coingecko_url == COINGECKO_PUBLIC_URL
    demo = ProducerSettings(coingecko_api_key=SECRET, coingecko_api_plan="demo")  # type: ignore[arg-type]
    assert demo.coingecko_url == COINGECKO_PUBLIC_URL
    pro = ProducerSettings(coingecko_api_key=SECRET, coingecko_api_plan="pro")  # type: ignore[arg-type]
    assert pro.coingecko_url == "https://pro-api.coingecko.com/api/v3" == COINGECKO_PRO_URL
    mirror = ProducerSettings(coingecko_base_url="http://127.0.0.1:1/api/v3/")
    assert mirror.coingecko_url == "http://127.0.0.1:1/api/v3"


def test_coingecko_polls_every_30_seconds_unless_told_otherwise() -> None:
    assert ProducerSettings(producer_source="coingecko").producer_interval_seconds == 30.0
    assert COINGECKO_DEFAULT_INTERVAL_SECONDS == 30.0
    fast = ProducerSettings(producer_source="coingecko", producer_interval_seconds=10)
    assert fast.producer_interval_seconds == 10.0
    assert ProducerSettings().producer_interval_seconds == 1.0  # simulate


def test_a_key_for_the_wrong_root_is_refused_at_once_with_a_hint(
    metrics: ProducerMetrics,
) -> None:
    fake = FakeCoinGecko(key=SECRET, plan="demo", clock=coingecko_clock)
    waits = Waits()
    with running_coingecko(fake) as url:
        client = make_client(url, metrics, waits, key=SECRET, plan="pro")
        with pytest.raises(CoinGeckoRefusedError) as info:
            client.markets(IDS)
    message = str(info.value)
    assert "401" in message
    assert "pro-api.coingecko.com" in message
    assert "COINGECKO_API_KEY" in message
    assert SECRET not in message
    assert waits.seconds == []  # not retried
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="client_error") == 1


def test_429_waits_retry_after_seconds(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script(Reply.rate_limited(retry_after="61"))
    waits = Waits()
    result = make_source(make_client(url, metrics, waits)).poll()
    assert waits.seconds == [61.0]
    assert len(result.ticks) == len(COINS)
    assert count(metrics, "cryptopulse_producer_rate_limited_total") == 1
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="rate_limited") == 1
    assert count(metrics, "cryptopulse_producer_retry_wait_seconds_total") == 61.0
    assert "CoinGecko answered 429 (rate limited); retrying in 61 s (Retry-After)" in caplog.text


def test_429_without_retry_after_waits_until_the_ratelimit_reset(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script(Reply.rate_limited(reset=str(int(NOW) + 42)))
    waits = Waits()
    make_source(make_client(url, metrics, waits)).poll()
    assert waits.seconds == [42.0]
    assert "retrying in 42 s (x-ratelimit-reset)" in caplog.text


def test_429_without_headers_backs_off_exponentially_with_jitter(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics
) -> None:
    fake.script(*[Reply.rate_limited() for _ in range(4)])
    waits = Waits()
    result = make_source(make_client(url, metrics, waits)).poll()
    assert len(result.ticks) == len(COINS)
    assert len(waits.seconds) == 4
    for attempt, seconds in enumerate(waits.seconds, start=1):
        step = 2.0 * 2 ** (attempt - 1)
        assert step / 2 <= seconds <= step
    assert count(metrics, "cryptopulse_producer_rate_limited_total") == 4


def test_server_errors_and_timeouts_are_retried_with_backoff(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics
) -> None:
    fake.script(Reply.server_error(500), Reply.slow(3.0), Reply.server_error(503))
    waits = Waits()
    client = make_client(url, metrics, waits, timeout=0.5)
    result = make_source(client).poll()
    assert len(result.ticks) == len(COINS)
    assert len(waits.seconds) == 3
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="server_error") == 2
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="timeout") == 1
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="ok") == 1
    assert count(metrics, "cryptopulse_producer_fetch_duration_seconds_count") == 4


def test_connection_errors_are_retried_then_the_poll_gives_up_without_raising(
    metrics: ProducerMetrics,
) -> None:
    from cryptopulse_local.kafka_broker import free_port

    waits = Waits()
    client = make_client(f"http://127.0.0.1:{free_port()}/api/v3", metrics, waits, max_attempts=3)
    result = make_source(client).poll()
    assert result.ticks == []
    assert len(waits.seconds) == 2
    (error,) = result.errors
    assert "unreachable" in error
    assert "gave up after 3 attempts" in error
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="connection_error") == 3


def test_stopping_cuts_a_rate_limit_wait_short(fake: FakeCoinGecko, url: str) -> None:
    fake.script(Reply.rate_limited(retry_after="3600"))
    metrics = ProducerMetrics(CollectorRegistry())
    source = make_source(make_client(url, metrics, Waits(interrupt_after=1)))
    with pytest.raises(PollInterruptedError):
        source.poll()


def test_malformed_json_is_counted_and_the_next_poll_works(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics
) -> None:
    fake.script(Reply.malformed_json())
    source = make_source(make_client(url, metrics, Waits()))
    first = source.poll()
    assert first.ticks == []
    (error,) = first.errors
    assert "not JSON" in error
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="bad_body") == 1
    second = source.poll()
    assert len(second.ticks) == len(COINS)


def test_a_nan_in_one_row_costs_that_row_only(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics, tmp_path: Path
) -> None:
    """CoinGecko answers 200 with one row's price a bare NaN (not JSON, as polygon-io/issues#226
    and 0xramm/Indian-Stock-Market-API#6 show price APIs doing): the body is still read, that
    row is counted with its reason, and the recording keeps the NaN as it came."""
    healthy = fake.clock()
    rows = [documented_row(coin, rank, 1, healthy) for rank, coin in enumerate(COINS, 1)]
    text = orjson.dumps(rows).decode()
    spoiled = text.replace(f'"current_price":{rows[0]["current_price"]}', '"current_price":NaN', 1)
    fake.script(Reply(raw=spoiled.encode()))
    recorder = RecordingWriter(tmp_path / "nan.jsonl")
    source = CoinGeckoSource(make_client(url, metrics, Waits()), IDS, recorder=recorder)
    result = source.poll()
    source.close()
    assert not result.errors
    assert [(row.coin_id, row.reason) for row in result.rejected] == [
        (rows[0]["id"], "non_finite_number")
    ]
    assert len(result.ticks) == len(COINS) - 1
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="ok") == 1
    (recorded,) = read_recording(tmp_path / "nan.jsonl")
    assert isinstance(recorded.response, list)
    assert math.isnan(recorded.response[0]["current_price"])
    assert b"NaN" in (tmp_path / "nan.jsonl").read_bytes()


def test_a_body_that_is_not_a_list_is_refused_with_what_it_was(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics
) -> None:
    fake.script(Reply(body={"error": "coin not found"}))
    result = make_source(make_client(url, metrics, Waits())).poll()
    assert result.ticks == []
    (error,) = result.errors
    assert "body is an object, not a list" in error
    assert "coin not found" in error
    assert count(metrics, "cryptopulse_producer_fetches_total", outcome="bad_body") == 1


def test_bad_rows_are_skipped_with_the_reason_and_good_rows_kept(
    fake: FakeCoinGecko, url: str, metrics: ProducerMetrics
) -> None:
    fake.script(Reply.spoiled())
    result = make_source(make_client(url, metrics, Waits())).poll()
    assert len(result.ticks) == len(COINS) - 5
    details = [row.detail for row in result.rejected]
    assert len(details) == 7
    assert "missing current_price" in details[0]
    assert "missing id" in details[1]
    assert "current_price: Input should be a valid number" in details[2]
    assert "last_updated: Input should be a valid string" in details[3]
    assert "current_price: Input should be greater than 0" in details[4]
    assert details[5:] == ["row is str, not an object", "row is NoneType, not an object"]
    assert [row.reason for row in result.rejected] == [
        "missing_field",
        "missing_field",
        "wrong_type",
        "wrong_type",
        "out_of_range",
        "not_json",
        "not_json",
    ]
    assert not result.errors


def test_more_than_250_ids_go_250_to_a_call(fake: FakeCoinGecko, url: str) -> None:
    ids = IDS + [f"unlisted-{n}" for n in range(300)]
    metrics = ProducerMetrics(CollectorRegistry())
    result = make_source(make_client(url, metrics, Waits()), ids).poll()
    calls = fake.market_requests()
    assert [len(call.params["ids"].split(",")) for call in calls] == [250, 60]
    assert all(call.params["per_page"] == str(MAX_PER_PAGE) for call in calls)
    assert sorted(tick.id for tick in result.ticks) == sorted(IDS)


def test_responses_are_recorded_and_replay_gives_the_same_ticks(
    url: str, metrics: ProducerMetrics, tmp_path: Path
) -> None:
    path = tmp_path / "recording.jsonl"
    settings = ProducerSettings(
        producer_source="coingecko", coingecko_base_url=url, coingecko_record_path=str(path)
    )
    source = CoinGeckoSource.from_settings(settings, metrics, Waits())
    live = [source.poll(), source.poll()]
    source.close()
    recording = read_recording(path)
    assert len(recording) == 2
    assert isinstance(recording[0].response, list)
    replay = ReplaySource(recording, metrics, speed=0, retime=False)
    replayed = [replay.poll(), replay.poll()]
    assert [r.ticks for r in replayed] == [r.ticks for r in live]
    assert replay.poll().finished


def test_the_fake_refuses_what_coingecko_refuses(url: str) -> None:
    import httpx

    assert httpx.get(f"{url}/coins/markets").status_code == 400  # vs_currency is required
    too_many = httpx.get(f"{url}/coins/markets", params={"vs_currency": "usd", "per_page": 251})
    assert too_many.status_code == 400
    page_two = httpx.get(
        f"{url}/coins/markets", params={"vs_currency": "usd", "per_page": 3, "page": 2}
    ).json()
    assert [row["market_cap_rank"] for row in page_two] == [4, 5, 6]


def test_client_refuses_more_than_one_page_of_ids(url: str, metrics: ProducerMetrics) -> None:
    client = make_client(url, metrics, Waits())
    with pytest.raises(ValueError, match="1 to 250 ids"):
        client.markets([f"c{n}" for n in range(251)])
    with pytest.raises(CoinGeckoError):
        make_client(url, metrics, Waits(), max_attempts=1).markets(["bitcoin"], "nope")
