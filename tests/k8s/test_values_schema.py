"""values.yaml and values.schema.json describe the same keys, every one commented."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from tests.k8s.tools import CHART_DIR

# Free-form maps: any key is allowed (the schema says of which type).
FREE_FORM = {
    "commonLabels",
    "annotations",
    "podAnnotations",
    "nodeSelector",
    "affinity",
    "resources",
    "entityOperatorResources",
    "config",
    "sparkConf",
    "labels",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
    "podSecurityContext",
    "containerSecurityContext",
}


def value_paths(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict) and key not in FREE_FORM:
            yield from value_paths(value, f"{path}.")


def schema_paths(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        yield path, sub
        yield from schema_paths(sub, f"{path}.")


def test_values_and_schema_list_the_same_keys() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert set(value_paths(values)) == {path for path, _ in schema_paths(schema)}


def test_every_object_is_closed_and_every_key_described() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for path, sub in schema_paths(schema):
        assert sub.get("description"), f"{path} has no description"
        if "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{path} is open"
