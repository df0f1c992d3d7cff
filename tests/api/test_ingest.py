"""POST /ingest: validation, size limit, bearer token, dedupe, metrics and logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.api.conftest import Api, aggregate, on_the_wire, running_api, ws_url


def test_ingest_answers_with_the_count_and_reaches_websocket_clients(api: Api) -> None:
    with connect(ws_url(api.url)) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"type": "snapshot", "data": []}
        records = [aggregate("bitcoin"), aggregate("ethereum", 3400.0)]
        response = httpx.post(f"{api.url}/ingest", json={"data": records})
        assert response.status_code == 200
        assert response.json() == {"count": 2}
        update = json.loads(ws.recv(timeout=5))
    assert update == {"type": "market_update", "data": on_the_wire(records)}
    assert api.sample("cryptopulse_ingest_records_total") == 2
    assert api.sample("cryptopulse_ingest_requests_total", {"status": "accepted"}) == 1
    assert api.sample("cryptopulse_ws_broadcast_latency_seconds_count") == 1


def test_the_original_log_lines_are_kept_with_structured_fields(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cryptopulse")
    with connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        body = {"data": [aggregate()], "batch_id": "q:7", "source": "stream"}
        httpx.post(f"{api.url}/ingest", json=body)
        ws.recv(timeout=5)
    received = [r for r in caplog.records if r.getMessage() == "/ingest received: 1 records"]
    assert received
    assert received[0].fields == {"batch_id": "q:7", "source": "stream"}  # type: ignore[attr-defined]
    broadcast = [
        r
        for r in caplog.records
        if r.getMessage() == "broadcast type=market_update records=1 listeners=1"
    ]
    assert broadcast
    assert broadcast[0].fields["batch_id"] == "q:7"  # type: ignore[attr-defined]


def test_bad_body_is_422_with_the_field_at_fault(api: Api) -> None:
    response = httpx.post(f"{api.url}/ingest", json={"data": [aggregate(price=-1)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["data", 0, "price"]
    missing = httpx.post(f"{api.url}/ingest", json={"records": []})
    assert {
        "loc": ["data"],
        "msg": "Field required",
        "type": "missing",
        "reason": "missing_field",
    } in missing.json()["detail"]
    assert httpx.post(f"{api.url}/ingest", content=b"not json").status_code == 422
    assert api.sample("cryptopulse_ingest_requests_total", {"status": "invalid"}) == 3
    assert api.sample("cryptopulse_ingest_requests_total", {"status": "accepted"}) == 0


@pytest.fixture
def small_api() -> Iterator[Api]:
    with running_api(api_ingest_max_bytes=2_000) as running:
        yield running


def test_a_body_over_the_limit_is_413_declared_or_streamed(small_api: Api) -> None:
    big = {"data": [aggregate(f"coin-{i}") for i in range(10)]}
    assert len(json.dumps(big)) > 2_000
    response = httpx.post(f"{small_api.url}/ingest", json=big)
    assert response.status_code == 413
    assert "API_INGEST_MAX_BYTES" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        text = json.dumps(big).encode()
        for start in range(0, len(text), 500):
            yield text[start : start + 500]

    assert httpx.post(f"{small_api.url}/ingest", content=chunks()).status_code == 413
    assert httpx.post(f"{small_api.url}/ingest", json={"data": [aggregate()]}).status_code == 200
    assert small_api.sample("cryptopulse_ingest_requests_total", {"status": "too_large"}) == 2
    assert small_api.sample("cryptopulse_ingest_records_total") == 1


def test_with_a_token_only_the_right_bearer_is_accepted() -> None:
    with running_api(api_ingest_token="s3cret-token") as api:
        body = {"data": [aggregate()]}
        refused = [
            httpx.post(f"{api.url}/ingest", json=body),
            httpx.post(f"{api.url}/ingest", json=body, headers={"authorization": "Bearer nope"}),
            httpx.post(f"{api.url}/ingest", json=body, headers={"authorization": "s3cret-token"}),
            httpx.post(
                f"{api.url}/ingest", json=body, headers={"authorization": "Basic s3cret-token"}
            ),
        ]
        assert [response.status_code for response in refused] == [401] * 4
        assert refused[0].headers["www-authenticate"] == "Bearer"
        accepted = httpx.post(
            f"{api.url}/ingest", json=body, headers={"authorization": "Bearer s3cret-token"}
        )
        assert accepted.status_code == 200
        assert api.sample("cryptopulse_ingest_requests_total", {"status": "unauthorized"}) == 4
        assert api.sample("cryptopulse_ingest_records_total") == 1
        assert httpx.get(f"{api.url}/api/snapshot").json()["data"] == on_the_wire(body["data"])


def test_a_repeated_batch_is_acknowledged_but_not_broadcast_again(api: Api) -> None:
    first = {"data": [aggregate(price=1.0)], "batch_id": "query-1:5", "source": "stream"}
    other_source = {**first, "source": "replay"}
    later = {"data": [aggregate(price=2.0)], "batch_id": "query-1:6", "source": "stream"}
    with connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        assert httpx.post(f"{api.url}/ingest", json=first).json() == {"count": 1}
        assert httpx.post(f"{api.url}/ingest", json=first).json() == {
            "count": 1,
            "duplicate": True,
        }
        # The pair is what identifies a batch: the same id from another source is new.
        assert httpx.post(f"{api.url}/ingest", json=other_source).json() == {"count": 1}
        assert httpx.post(f"{api.url}/ingest", json=later).json() == {"count": 1}
        received = [json.loads(ws.recv(timeout=5))["data"][0]["price"] for _ in range(3)]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
    assert received == [1.0, 1.0, 2.0]
    assert api.sample("cryptopulse_ingest_duplicates_total") == 1
    assert api.sample("cryptopulse_ingest_requests_total", {"status": "duplicate"}) == 1
    assert api.sample("cryptopulse_ingest_records_total") == 3


def test_batches_without_an_id_are_always_broadcast(api: Api) -> None:
    body = {"data": [aggregate()]}
    with connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        for _ in range(2):
            assert httpx.post(f"{api.url}/ingest", json=body).json() == {"count": 1}
        assert [json.loads(ws.recv(timeout=5))["type"] for _ in range(2)] == ["market_update"] * 2


def test_request_latency_is_observed_per_route(api: Api) -> None:
    httpx.post(f"{api.url}/ingest", json={"data": [aggregate()]})
    httpx.get(f"{api.url}/api/snapshot")
    httpx.get(f"{api.url}/no/such/path")
    seconds = "cryptopulse_http_request_duration_seconds_count"
    assert api.sample(seconds, {"method": "POST", "route": "/ingest"}) == 1
    assert api.sample(seconds, {"method": "GET", "route": "/api/snapshot"}) == 1
    assert api.sample(seconds, {"method": "other", "route": "other"}) == 1


def test_non_finite_numbers_are_422_naming_the_field_never_broadcast_as_null(api: Api) -> None:
    """The issue's first input at /ingest: ``"price": Infinity`` answered 200 and was
    broadcast as ``"price": null``, which made the dashboard drop the coin for every client.
    Its siblings: a bare NaN, -Infinity, 1e999 and the string "NaN" (pydantic#3994)."""
    good = json.dumps(aggregate())
    spoiled = {
        "Infinity": good.replace('"price": 97000.0', '"price": Infinity'),
        "NaN": good.replace('"mean_price": 97000.0', '"mean_price": NaN'),
        "-Infinity": good.replace('"volume_24h": 1000000000.0', '"volume_24h": -Infinity'),
        "1e999": good.replace('"close": 97000.0', '"close": 1e999'),
        '"NaN"': good.replace('"open": 97000.0', '"open": "NaN"'),
    }
    with connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        for what, record in spoiled.items():
            assert record != good, what
            response = httpx.post(
                f"{api.url}/ingest",
                content=f'{{"data": [{record}]}}',
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 422, what
            (item,) = response.json()["detail"]
            assert item["loc"][:2] == ["data", 0]
            assert item["reason"] == "non_finite_number", what
        # Nothing was broadcast: the next frame a client gets is the next good record.
        assert httpx.post(f"{api.url}/ingest", json={"data": [aggregate("ethereum")]}).is_success
        assert [r["coin_id"] for r in json.loads(ws.recv(timeout=5))["data"]] == ["ethereum"]
    refused = api.sample(
        "cryptopulse_ingest_records_refused_total", {"reason": "non_finite_number"}
    )
    assert refused == len(spoiled)
    snapshot = httpx.get(f"{api.url}/api/snapshot").json()["data"]
    assert [r["coin_id"] for r in snapshot] == ["ethereum"]


def test_a_window_from_the_future_is_refused_and_cannot_pin_a_coin(api: Api) -> None:
    """The issue's second input at the API: one record for a window in 2099 pinned that coin's
    snapshot forever (a later window always wins). Now it is a 422 naming the field, and the
    coin's real windows keep replacing each other."""
    future = aggregate(
        "bitcoin",
        1.0,
        window_start="2099-01-01T00:00:00.000Z",
        window_end="2099-01-01T00:00:30.000Z",
        timestamp="2099-01-01T00:00:10.000Z",
    )
    response = httpx.post(f"{api.url}/ingest", json={"data": [aggregate("ethereum"), future]})
    assert response.status_code == 422
    locations = {(tuple(item["loc"]), item["reason"]) for item in response.json()["detail"]}
    assert (("data", 1, "window_start"), "window_ahead") in locations
    assert api.sample("cryptopulse_ingest_records_refused_total", {"reason": "window_ahead"}) == 1
    for price in (2.0, 3.0):
        assert httpx.post(
            f"{api.url}/ingest", json={"data": [aggregate("bitcoin", price)]}
        ).is_success
    (bitcoin,) = httpx.get(f"{api.url}/api/snapshot").json()["data"]
    assert bitcoin["price"] == 3.0


def test_unknown_change_is_kept_unknown_end_to_end(api: Api) -> None:
    """The issue's fourth input as the API sees it: a null change with null labels is valid
    and reaches clients as null, never as 0 or "Stable"."""
    listing = aggregate("new-listing", 1.234e-8, change_24h=None, volatility=None, trend=None)
    with connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        assert httpx.post(f"{api.url}/ingest", json={"data": [listing]}).status_code == 200
        (record,) = json.loads(ws.recv(timeout=5))["data"]
    assert (record["change_24h"], record["volatility"], record["trend"]) == (None, None, None)
    assert record["price"] == 1.234e-8
    labelled = aggregate("bitcoin", change_24h=None)  # "Stable" labels for an unknown change
    response = httpx.post(f"{api.url}/ingest", json={"data": [labelled]})
    assert response.status_code == 422
    assert {item["reason"] for item in response.json()["detail"]} == {"inconsistent"}
