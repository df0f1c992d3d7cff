"""The API's own OpenAPI document (``/openapi.json``) fuzzed by schemathesis against a real
uvicorn server: every operation, with bodies and parameters the document allows and ones it
does not. No answer is a 500, and every answer is one the document declares (status code,
content type, body schema), so a client generated from the document can trust it.

Schemathesis's ``positive_data_acceptance`` check (a body valid by the JSON Schema must be
accepted) is left out: the contract's cross-field rules (``low <= open <= high``, a window in
order, labels null with the change, the API's clock) are not expressible in JSON Schema, so
most schema-valid records are rightly refused (422 naming the field).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import IngestRequest
from tests.api.conftest import Api, aggregate, running_api

# The document the server below serves at /openapi.json (the same app, built the same way):
# schemathesis's lazy from_fixture loader does not run under pytest 9.
openapi = schemathesis.openapi.from_dict(create_app(ApiSettings(), CollectorRegistry()).openapi())


@pytest.fixture(scope="module")
def served() -> Iterator[Api]:
    with running_api() as api:
        yield api


@openapi.parametrize()
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_as_its_openapi_document_says(case: Any, served: Api) -> None:
    case.call_and_validate(base_url=served.url, excluded_checks=[positive_data_acceptance])


def test_the_document_describes_the_ingest_body_the_api_reads(served: Api) -> None:
    """Before, ``POST /ingest`` read its body by hand and the document had no request body (and
    only a 200): a fuzzer or a generated client could send it nothing but empty requests."""
    document = httpx.get(f"{served.url}/openapi.json").json()
    assert document == openapi.raw_schema
    operation = document["paths"]["/ingest"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["data"]
    assert set(body["properties"]) == set(IngestRequest.model_fields)
    record = body["properties"]["data"]["items"]
    assert set(record["properties"]) == set(aggregate()) | {"last_updated", "window_open"}
    assert {"200", "401", "413", "422"} <= set(operation["responses"])
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
