"""POST /ingest on a real uvicorn server with generated bodies (``tests/support/strategies.py``):
every body is answered 200 or 422 (never 500), a 422 names each refused record with the
contract's reason and counts it, and what the server keeps and serves is always sound."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptopulse_common.contract import AGGREGATE_REJECT_REASONS, ClockBound, IngestRequest
from tests.api.conftest import Api, running_api
from tests.support.soundness import assert_sound_aggregate
from tests.support.strategies import aggregate_strategy, source_json


@pytest.fixture(scope="module")
def shared_api() -> Iterator[Api]:
    with running_api() as api:
        yield api


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(aggregate_strategy(), min_size=1, max_size=4))
def test_ingest_answers_200_or_422_and_serves_only_sound_records(
    shared_api: Api, records: list[dict[str, Any]]
) -> None:
    refused_before = sum(
        shared_api.sample("cryptopulse_ingest_records_refused_total", {"reason": reason})
        for reason in AGGREGATE_REJECT_REASONS
    )
    response = httpx.post(
        f"{shared_api.url}/ingest",
        content=source_json({"data": records, "source": "property"}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        detail = response.json()["detail"]
        assert {item["reason"] for item in detail} <= set(AGGREGATE_REJECT_REASONS)
        refused = {item["loc"][1] for item in detail if item["loc"][:1] == ["data"]}
        refused_after = sum(
            shared_api.sample("cryptopulse_ingest_records_refused_total", {"reason": reason})
            for reason in AGGREGATE_REJECT_REASONS
        )
        assert refused_after - refused_before == len(refused)
    snapshot = httpx.get(f"{shared_api.url}/api/snapshot").json()
    now = datetime.now(UTC)
    checked = IngestRequest.model_validate(
        {"data": snapshot["data"]}, context=ClockBound(now=now).context()
    )
    for record in checked.data:
        assert_sound_aggregate(record, now)
