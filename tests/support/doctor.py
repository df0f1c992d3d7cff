"""Run ``cryptopulse doctor --json`` as a person would, against a pipeline's environment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DOCTOR_TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class DoctorRun:
    code: int
    report: dict[str, Any]
    stderr: str

    def check(self, name: str) -> dict[str, Any]:
        for check in self.report["checks"]:
            if check["name"] == name:
                found: dict[str, Any] = check
                return found
        raise AssertionError(f"no check {name} in {self.describe()}")

    @property
    def first_failure(self) -> str | None:
        first: str | None = self.report["first_failure"]
        return first

    def describe(self) -> str:
        lines = [f"exit {self.code}, first failure {self.first_failure}"]
        for check in self.report.get("checks", []):
            lines.append(f"  {check['status']:<4} {check['name']}: {check['summary']}")
            lines += [f"         · {item}" for item in check["evidence"]]
            if check["fix"]:
                lines.append(f"         fix: {check['fix']}")
        return "\n".join(lines) + (f"\nstderr: {self.stderr[-2000:]}" if self.stderr else "")


def run_doctor(env: Mapping[str, str], *args: str) -> DoctorRun:
    """``cryptopulse doctor --json`` with ``env``; its report and exit code."""
    result = subprocess.run(
        [sys.executable, "-m", "cryptopulse_local.cli", "doctor", "--json", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=DOCTOR_TIMEOUT_SECONDS,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError as error:
        raise AssertionError(
            f"doctor printed no JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        ) from error
    return DoctorRun(result.returncode, report, result.stderr)


def wait_until_doctor_passes(
    env: Mapping[str, str], timeout: float, logs: Callable[[], str] | None = None
) -> DoctorRun:
    """Run the doctor until it passes (a stage restarting takes a while); fail with its last
    report when it has not passed within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run = run_doctor(env)
        if run.code == 0 and run.report["ok"]:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the doctor did not pass within {timeout:.0f} s:\n{run.describe()}\n"
                + (logs() if logs else "")
            )
        time.sleep(3)
