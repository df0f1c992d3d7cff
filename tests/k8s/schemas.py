"""Strict validation of rendered objects, as an API server with ``--validate=strict`` would do.

Built-in kinds are checked against the Kubernetes JSON schemas kubernetes-validate ships
(strict: unknown fields fail). Custom kinds are checked against the ``openAPIV3Schema`` of the
CRDs in ``../shared/crds``, made strict the same way: an object schema that neither lists a
field nor preserves unknown fields rejects it (the API server would prune or reject it).
An object of a kind no schema describes fails. CEL rules (``x-kubernetes-validations``) are
not evaluated: only a real API server does that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.tools import crds_dir, use_tool_libraries

Schema = dict[str, Any]


def strict_schema(schema: Schema, in_combinator: bool = False) -> Schema:
    """OpenAPI v3 structural schema -> JSON Schema that rejects unknown fields."""
    out = dict(schema)
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out:
        out["properties"] = {k: strict_schema(v) for k, v in out["properties"].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict_schema(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = strict_schema(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [strict_schema(sub, in_combinator=True) for sub in out[key]]
    if "not" in out:
        out["not"] = strict_schema(out["not"], in_combinator=True)
    is_object = out.get("type") == "object" or "properties" in out
    if is_object and not in_combinator and not preserve and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@dataclass
class CustomKind:
    group_version: str
    kind: str
    schema: Schema
    source: Path


def load_crds(directory: Path) -> dict[tuple[str, str], CustomKind]:
    """(apiVersion, kind) -> schema, for every served version of every CRD in the folder."""
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no CRD folder at {directory}: shared/crds must sit beside the repository "
            "(or set CRYPTOPULSE_CRDS_DIR)"
        )
    kinds: dict[tuple[str, str], CustomKind] = {}
    for path in sorted(directory.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                group_version = f"{spec['group']}/{version['name']}"
                kind = spec["names"]["kind"]
                schema = dict(version["schema"]["openAPIV3Schema"])
                properties = dict(schema.get("properties", {}))
                # metadata is checked as the ObjectMeta it is (see Validator._metadata_errors).
                properties["metadata"] = {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                }
                schema["properties"] = properties
                kinds[(group_version, kind)] = CustomKind(
                    group_version, kind, strict_schema(schema), path
                )
    if not kinds:
        raise FileNotFoundError(f"no CustomResourceDefinition in {directory}")
    return kinds


def _path(error: Any) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<root>"


@dataclass
class Validator:
    kube_version: str
    crds: dict[tuple[str, str], CustomKind] = field(default_factory=dict)

    @classmethod
    def create(cls, kube_version: str, crd_dir: Path | None = None) -> Validator:
        use_tool_libraries()
        return cls(kube_version, load_crds(crd_dir or crds_dir()))

    def errors(self, obj: dict[str, Any]) -> list[str]:
        """Every reason the API server would reject this object (empty when it is valid)."""
        import kubernetes_validate

        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return ["apiVersion and kind must be strings"]
        custom = self.crds.get((api_version, kind))
        if custom is not None:
            return self._custom_errors(obj, custom)
        try:
            kubernetes_validate.validate(obj, self.kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [
                f"no schema for {kind} ({api_version}): not a Kubernetes {self.kube_version} "
                f"kind and no CRD in {crds_dir()} defines it"
            ]
        except kubernetes_validate.ValidationError as error:
            return [f"{_path(error)}: {error.message}"]
        return []

    def _custom_errors(self, obj: dict[str, Any], custom: CustomKind) -> list[str]:
        import jsonschema

        validator = jsonschema.Draft7Validator(custom.schema)
        found = [f"{_path(e)}: {e.message}" for e in validator.iter_errors(obj)]
        return found + self._metadata_errors(obj) + self._embedded_pod_template_errors(obj)

    def _embedded_pod_template_errors(self, obj: dict[str, Any]) -> list[str]:
        """A SparkApplication's driver/executor ``template`` is a PodTemplateSpec the CRD leaves
        open (x-kubernetes-preserve-unknown-fields); Spark reads it, so check it as one."""
        import kubernetes_validate

        if obj.get("kind") != "SparkApplication":
            return []
        found = []
        for role in ("driver", "executor"):
            template = ((obj.get("spec") or {}).get(role) or {}).get("template")
            if template is None:
                continue
            probe = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": "probe"},
                "template": template,
            }
            try:
                kubernetes_validate.validate(probe, self.kube_version, strict=True)
            except kubernetes_validate.ValidationError as error:
                found.append(f"spec.{role}.{_path(error)}: {error.message}")
        return found

    def _metadata_errors(self, obj: dict[str, Any]) -> list[str]:
        import kubernetes_validate

        # A ConfigMap is nothing but metadata: validating one checks ObjectMeta strictly.
        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata")}
        try:
            kubernetes_validate.validate(probe, self.kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [f"{_path(error)}: {error.message}"]
        return []

    def validated_version(self) -> str:
        import kubernetes_validate

        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}
        version: str = kubernetes_validate.validate(probe, self.kube_version, strict=True)
        return version


def describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def all_errors(validator: Validator, objects: list[dict[str, Any]]) -> Iterator[str]:
    for obj in objects:
        for error in validator.errors(obj):
            yield f"{describe(obj)}: {error}"
