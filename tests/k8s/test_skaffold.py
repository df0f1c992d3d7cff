"""skaffold.yaml is a valid skaffold/v4beta14 config that builds and deploys what the chart runs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.render import by_kind, render
from tests.k8s.tools import CHART_DIR, REPO_ROOT, crds_dir, use_tool_libraries

SKAFFOLD = REPO_ROOT / "skaffold.yaml"
COMPONENTS = ("producer", "api", "stream", "dashboard")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    use_tool_libraries()
    path = crds_dir() / "skaffold" / "v4beta14.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SKAFFOLD.read_text())
    return loaded


def schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    # The schema is an anyOf over every config version: report the v4beta14 branch's errors.
    best = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if best is None:
        return []
    found = [best, *best.context] if best.context else [best]
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def apply_patches(document: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON-patch subset skaffold profiles use here (add, replace)."""
    patched = copy.deepcopy(document)
    for patch in patches:
        assert patch["op"] in {"add", "replace"}, patch
        *parents, last = [part for part in patch["path"].split("/") if part]
        node: Any = patched
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node.insert(int(last), patch["value"])
        else:
            if patch["op"] == "replace":
                assert last in node, f"replace of missing {patch['path']}"
            node[last] = patch["value"]
    return patched


def test_skaffold_yaml_is_valid_v4beta14(schema: dict[str, Any], config: dict[str, Any]) -> None:
    assert config["apiVersion"] == "skaffold/v4beta14"
    assert schema_errors(schema, config) == []


def test_every_profile_is_valid_once_applied(
    schema: dict[str, Any], config: dict[str, Any]
) -> None:
    base = {k: v for k, v in config.items() if k != "profiles"}
    for profile in config["profiles"]:
        patched = apply_patches(base, profile.get("patches", []))
        assert schema_errors(schema, patched) == [], profile["name"]


def test_the_schema_check_rejects_an_unknown_key(
    schema: dict[str, Any], config: dict[str, Any]
) -> None:
    broken = copy.deepcopy(config)
    broken["build"]["artifacts"][0]["docker"]["dockerFile"] = "Dockerfile"
    assert schema_errors(schema, broken)
    broken = copy.deepcopy(config)
    broken["deploy"]["helm"]["releases"][0]["chart"] = "charts/cryptopulse"
    assert schema_errors(schema, broken)


def test_it_builds_the_four_images_from_their_dockerfiles(config: dict[str, Any]) -> None:
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == {f"cryptopulse-{c}" for c in COMPONENTS}
    for artifact in artifacts.values():
        dockerfile = REPO_ROOT / artifact["context"] / artifact["docker"]["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        assert (REPO_ROOT / artifact["context"] / ".dockerignore").is_file()


def test_it_deploys_the_chart_with_the_built_images(config: dict[str, Any]) -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    (release,) = config["deploy"]["helm"]["releases"]
    assert Path(release["chartPath"]) == CHART_DIR.relative_to(REPO_ROOT)
    templates = release["setValueTemplates"]
    for component in COMPONENTS:
        key = re.sub(r"[^A-Za-z0-9]", "_", f"cryptopulse-{component}")
        assert values[component]["image"]["repository"] == f"cryptopulse-{component}"
        assert templates[f"{component}.image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
        assert templates[f"{component}.image.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}"


def test_port_forwards_name_the_charts_services(helm: str, config: dict[str, Any]) -> None:
    (release,) = config["deploy"]["helm"]["releases"]
    services = {
        s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in by_kind(render(), "Service")
    }
    forwards = {f["resourceName"]: f["port"] for f in config["portForward"]}
    assert forwards == {"cryptopulse-dashboard": 8080, "cryptopulse-api": 8000}
    assert release["name"] == "cryptopulse"
    for name, port in forwards.items():
        assert services[name] == port


def test_the_kind_profile_loads_images_instead_of_pushing(config: dict[str, Any]) -> None:
    (kind,) = [p for p in config["profiles"] if p["name"] == "kind"]
    patched = apply_patches(config, kind["patches"])
    assert patched["build"]["local"]["push"] is False
    assert patched["deploy"]["kubeContext"] == "kind-cryptopulse"
    assert patched["deploy"]["helm"]["releases"][0]["valuesFiles"] == ["k8s/kind-values.yaml"]
    assert (REPO_ROOT / "k8s" / "kind-values.yaml").is_file()
