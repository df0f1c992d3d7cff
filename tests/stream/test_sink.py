"""The stream job's /ingest sink against a real API server: a refused record goes to the dead
letters with the API's reason and the rest of the batch is delivered; an unavailable API is
waited for, never dropped; a stop while waiting leaves the batch to Spark's replay."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cryptopulse_api.app import create_app
from cryptopulse_api.server import server_config
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import Aggregate
from cryptopulse_local.kafka_broker import free_port
from cryptopulse_stream.metrics import StreamMetrics
from cryptopulse_stream.sink import IngestSink, IngestStoppedError
from tests.api.conftest import Api, aggregate, running_api
from tests.support.dead_letters import CollectedDeadLetters
from tests.support.servers import serving
from tests.support.stream_job import Relay, wait_for


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


OPEN_SINKS: list[IngestSink] = []


@pytest.fixture(autouse=True)
def _close_sinks() -> Iterator[None]:
    yield
    while OPEN_SINKS:
        OPEN_SINKS.pop().close()


def make_sink(url: str, letters: CollectedDeadLetters, **options: Any) -> tuple[IngestSink, Any]:
    registry = CollectorRegistry()
    sink = IngestSink(
        url,
        checkpoint_dir="unused",
        metrics=StreamMetrics(registry),
        watermark_delay_seconds=5,
        dead_letters=letters,
        backoff_seconds=0.05,
        backoff_max_seconds=0.2,
        **options,
    )
    OPEN_SINKS.append(sink)
    return sink, registry


def window(coin_id: str, price: float, **changes: Any) -> dict[str, Any]:
    """A record as the Spark job emits it (window_open set by the sink)."""
    return {**aggregate(coin_id, price), "window_open": True, "last_updated": None, **changes}


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_a_record_the_contract_refuses_is_dead_lettered_before_the_post(api: Api) -> None:
    letters = CollectedDeadLetters()
    sink, registry = make_sink(f"{api.url}/ingest", letters)
    good = window("bitcoin", 100.0)
    bad = window("ethereum", math.nan)
    assert sink.deliver([good, bad], "q:1") == [good]
    (letter,) = letters.letters
    assert (letter.reason, letter.origin) == ("non_finite_number", "aggregate")
    assert letter.detail.startswith("contract: price:")
    assert '"price":NaN' in letter.value  # the record as it was, not with null in its place
    assert (
        count(registry, "cryptopulse_stream_records_refused_total", reason="non_finite_number") == 1
    )
    assert api.sample("cryptopulse_ingest_records_total") == 1


def test_a_record_the_api_refuses_is_dead_lettered_with_its_reason_and_the_rest_delivered(
    api: Api,
) -> None:
    """A window in 2099 passes the sink's own check (it has no clock) and /ingest answers 422
    naming data.1.window_start: that record goes to the dead letters, the others are POSTed
    again under the same batch id and accepted."""
    letters = CollectedDeadLetters()
    sink, registry = make_sink(f"{api.url}/ingest", letters)
    future = window(
        "solana",
        5.0,
        window_start="2099-01-01T00:00:00.000Z",
        window_end="2099-01-01T00:00:30.000Z",
        timestamp="2099-01-01T00:00:10.000Z",
    )
    records = [window("bitcoin", 100.0), future, window("ethereum", 10.0)]
    accepted = sink.deliver(records, "q:2")
    assert [r["coin_id"] for r in accepted] == ["bitcoin", "ethereum"]
    (letter,) = letters.letters
    assert letter.reason == "window_ahead"
    assert "window_start" in letter.detail
    assert Aggregate.model_validate_json(letter.value).coin_id == "solana"
    assert count(registry, "cryptopulse_stream_records_refused_total", reason="window_ahead") == 1
    assert count(registry, "cryptopulse_stream_records_posted_total") == 2
    assert api.sample("cryptopulse_ingest_records_refused_total", {"reason": "window_ahead"}) == 1
    assert api.sample("cryptopulse_ingest_requests_total", {"status": "invalid"}) == 1
    assert api.sample("cryptopulse_ingest_requests_total", {"status": "accepted"}) == 1


def test_a_batch_over_the_apis_body_limit_is_split_and_a_record_too_large_alone_refused() -> None:
    with running_api(api_ingest_max_bytes=1_500) as api:
        letters = CollectedDeadLetters()
        sink, registry = make_sink(f"{api.url}/ingest", letters)
        records = [window(f"coin-{n}", 1.0 + n) for n in range(8)]
        assert len(sink.deliver(records, "q:3")) == 8
        assert api.sample("cryptopulse_ingest_records_total") == 8
        assert api.sample("cryptopulse_ingest_requests_total", {"status": "too_large"}) >= 1
        huge = [window(f"{n}" * 200, 1.0, name="n" * 200, coin="C" * 200) for n in range(2)]
        with running_api(api_ingest_max_bytes=600) as tiny:
            sink2, registry2 = make_sink(f"{tiny.url}/ingest", letters)
            assert sink2.deliver(huge, "q:4") == []
            assert {letter.reason for letter in letters.letters} == {"too_large"}
            assert (
                count(registry2, "cryptopulse_stream_records_refused_total", reason="too_large")
                == 2
            )
        assert count(registry, "cryptopulse_stream_records_refused_total", reason="too_large") == 0


@contextmanager
def api_on(port: int) -> Iterator[None]:
    settings = ApiSettings()
    app = create_app(settings, CollectorRegistry())
    with serving(server_config(app, settings, host="127.0.0.1", port=port)):
        yield


def test_an_unavailable_api_is_waited_for_then_the_batch_delivered() -> None:
    """Nothing listens at first (connection refused), then a relay answers 503, then the API
    answers: the POST waits through both, nothing is dead-lettered, nothing is lost."""
    port = free_port()
    letters = CollectedDeadLetters()
    with api_on(port):
        relay = Relay(f"http://127.0.0.1:{port}/ingest")
        relay.unavailable.set()
        relay_server = relay.serve()
        try:
            sink, registry = make_sink(
                f"http://127.0.0.1:{relay_server.server_address[1]}/ingest", letters
            )
            result: list[Any] = []
            worker = threading.Thread(
                target=lambda: result.append(sink.deliver([window("bitcoin", 1.0)], "q:5"))
            )
            worker.start()
            wait_for(lambda: relay.refused >= 3, "three 503 answers")
            assert sink.waiting_seconds() > 0
            assert sink.last_error is not None
            assert "503" in sink.last_error
            assert count(registry, "cryptopulse_stream_sink_waiting_seconds") > 0
            relay.unavailable.clear()
            worker.join(60)
            assert result
            assert [r["coin_id"] for r in result[0]] == ["bitcoin"]
            assert sink.waiting_seconds() == 0
            assert count(registry, "cryptopulse_stream_sink_retries_total") >= 3
            assert letters.letters == []
        finally:
            relay_server.shutdown()
            relay_server.server_close()

    # No server at all: connection refused, then the API comes up on that port.
    port = free_port()
    sink, registry = make_sink(f"http://127.0.0.1:{port}/ingest", letters)
    result = []
    worker = threading.Thread(
        target=lambda: result.append(sink.deliver([window("ethereum", 2.0)], "q:6"))
    )
    worker.start()
    wait_for(lambda: count(registry, "cryptopulse_stream_sink_retries_total") >= 2, "retries")
    assert "ConnectError" in (sink.last_error or "")
    with api_on(port):
        worker.join(60)
    assert result
    assert [r["coin_id"] for r in result[0]] == ["ethereum"]
    assert letters.letters == []


def test_a_wrong_token_is_waited_out_not_dead_lettered_and_a_stop_leaves_the_batch_to_spark() -> (
    None
):
    """401 is a configuration error, not bad data: the sink keeps the batch and retries; told
    to stop, it raises so Spark does not commit the batch and replays it on restart."""
    with running_api(api_ingest_token="right") as api:
        letters = CollectedDeadLetters()
        sink, registry = make_sink(f"{api.url}/ingest", letters, token="wrong")
        errors: list[BaseException] = []

        def deliver() -> None:
            try:
                sink.deliver([window("bitcoin", 1.0)], "q:7")
            except BaseException as error:  # surfaced below
                errors.append(error)

        worker = threading.Thread(target=deliver)
        worker.start()
        wait_for(lambda: count(registry, "cryptopulse_stream_sink_retries_total") >= 2, "retries")
        assert "401" in (sink.last_error or "")
        sink.stopping.set()
        worker.join(30)
        assert len(errors) == 1
        assert isinstance(errors[0], IngestStoppedError)
        assert "will be replayed on restart" in str(errors[0])
        assert count(registry, "cryptopulse_stream_sink_errors_total") == 1
        assert letters.letters == []
        assert api.sample("cryptopulse_ingest_requests_total", {"status": "unauthorized"}) >= 2
