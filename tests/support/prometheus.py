"""A real Prometheus server (Debian's ``prometheus``) for a test: own config, data and port.

It scrapes static targets on 127.0.0.1, each labelled as the Prometheus Operator would label a
pod of the release (``namespace``, ``pod``), evaluates a rules file, and answers PromQL through
its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from cryptopulse_local.kafka_broker import free_port
from cryptopulse_local.processes import parent_death_signal, stop_process


@dataclass(frozen=True)
class Target:
    job: str
    port: int
    labels: dict[str, str]
    path: str = "/metrics"


class PromQLError(RuntimeError):
    """Prometheus refused a query (bad syntax, an invalid vector operation...)."""


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>``: its ``data``; a PromQLError with Prometheus's own message
        when it answers ``status: error``."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        if body.get("status") != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self.api("query", **params)
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self.api("query_range", query=expr, start=start, end=end, step=step)
        result: list[dict[str, Any]] = data["result"]
        return result

    def series(self, selector: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self.api("series", **{"match[]": selector})
        return found

    def label_values(self, label: str, selector: str) -> list[str]:
        found: list[str] = self.api(f"label/{label}/values", **{"match[]": selector})
        return found

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return active

    def rules(self) -> list[dict[str, Any]]:
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]


def binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise RuntimeError(
            "prometheus is not installed: scripts/setup.sh dev installs Debian's package"
        )
    return found


def config(targets: list[Target], interval_seconds: float) -> dict[str, Any]:
    return {
        "global": {
            "scrape_interval": f"{interval_seconds:g}s",
            "scrape_timeout": f"{interval_seconds:g}s",
            "evaluation_interval": f"{interval_seconds:g}s",
        },
        "rule_files": ["rules.yaml"],
        "scrape_configs": [
            {
                "job_name": target.job,
                "metrics_path": target.path,
                "static_configs": [
                    {"targets": [f"127.0.0.1:{target.port}"], "labels": target.labels}
                ],
            }
            for target in targets
        ],
    }


@contextmanager
def running_prometheus(
    directory: Path, targets: list[Target], rules: str, interval_seconds: float = 2.0
) -> Iterator[Prometheus]:
    """Start ``prometheus`` on a free port with ``targets`` and ``rules``; stop it on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config(targets, interval_seconds)))
    (directory / "rules.yaml").write_text(rules)
    port = free_port()
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary(),
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=directory,
            preexec_fn=parent_death_signal(),  # a killed test run leaves no Prometheus behind
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited ({process.returncode}):\n{server.log_tail()}"
                )
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready in 60 s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        stop_process(process, 30)
