"""What a check finds, and the report of a run: text for a person, JSON for scripts and CI.

JSON shape (``cryptopulse doctor --json``)::

    {"mode": "local" | "kube", "target": str, "ok": bool, "duration_seconds": float,
     "first_failure": str | null,            # the name of the first failed check, in flow order
     "counts": {"pass": int, "warn": int, "fail": int, "skip": int},
     "checks": [{"name": str, "stage": str, "status": "pass" | "warn" | "fail" | "skip",
                 "summary": str, "evidence": [str], "fix": str | null,
                 "duration_seconds": float}]}

``ok`` is false, and the command exits 1, when any check failed; warnings do not fail the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TextIO


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # nothing to check here (a stage this configuration does not run)


SYMBOLS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "-"}


@dataclass(frozen=True)
class Finding:
    """One check's verdict: a one-line ``summary``, the ``evidence`` it rests on (measured
    values, each a short phrase) and, unless it passed, the ``fix`` in one or two sentences."""

    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None

    @classmethod
    def passed(cls, summary: str, *evidence: str) -> Finding:
        return cls(Status.PASS, summary, tuple(evidence))

    @classmethod
    def warned(cls, summary: str, fix: str, *evidence: str) -> Finding:
        return cls(Status.WARN, summary, tuple(evidence), fix)

    @classmethod
    def failed(cls, summary: str, fix: str, *evidence: str) -> Finding:
        return cls(Status.FAIL, summary, tuple(evidence), fix)

    @classmethod
    def skipped(cls, summary: str, *evidence: str) -> Finding:
        return cls(Status.SKIP, summary, tuple(evidence))


def worst(findings: list[Finding]) -> Status:
    """The most severe status among ``findings`` (pass when empty)."""
    order = (Status.FAIL, Status.WARN, Status.PASS, Status.SKIP)
    present = {finding.status for finding in findings}
    for status in order:
        if status in present:
            return status
    return Status.PASS


def combine(findings: list[Finding], healthy: str) -> Finding:
    """One finding from several about the same stage: the worst status, the summaries and fixes
    of the findings with that status, every finding's evidence; ``healthy`` when all passed."""
    status = worst(findings)
    evidence = tuple(item for finding in findings for item in finding.evidence)
    if status in (Status.PASS, Status.SKIP):
        summaries = [finding.summary for finding in findings if finding.status is status]
        return Finding(status, healthy if status is Status.PASS else "; ".join(summaries), evidence)
    chosen = [finding for finding in findings if finding.status is status]
    fixes = [finding.fix for finding in chosen if finding.fix]
    return Finding(
        status,
        "; ".join(finding.summary for finding in chosen),
        evidence,
        " ".join(dict.fromkeys(fixes)) or None,
    )


@dataclass(frozen=True)
class CheckResult:
    name: str
    stage: str
    finding: Finding
    duration_seconds: float

    @property
    def status(self) -> Status:
        return self.finding.status

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "status": str(self.finding.status),
            "summary": self.finding.summary,
            "evidence": list(self.finding.evidence),
            "fix": self.finding.fix,
            "duration_seconds": round(self.duration_seconds, 3),
        }


@dataclass
class Report:
    mode: str
    target: str
    results: list[CheckResult] = field(default_factory=list)
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(result.status is not Status.FAIL for result in self.results)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((r for r in self.results if r.status is Status.FAIL), None)

    def counts(self) -> dict[str, int]:
        return {
            str(status): sum(1 for r in self.results if r.status is status) for status in Status
        }

    def as_json(self) -> dict[str, Any]:
        first = self.first_failure
        return {
            "mode": self.mode,
            "target": self.target,
            "ok": self.ok,
            "duration_seconds": round(self.duration_seconds, 3),
            "first_failure": first.name if first else None,
            "counts": self.counts(),
            "checks": [result.as_json() for result in self.results],
        }

    def write_json(self, out: TextIO) -> None:
        out.write(json.dumps(self.as_json(), indent=2) + "\n")
        out.flush()

    def summary_line(self) -> str:
        counts = self.counts()
        parts = [f"{counts[str(s)]} {label}" for s, label in _COUNT_LABELS if counts[str(s)]]
        line = f"  {', '.join(parts)} in {self.duration_seconds:.1f} s."
        first = self.first_failure
        if first is not None:
            line += f" Start with the first failure: {first.name}."
        return line


_COUNT_LABELS = (
    (Status.FAIL, "failed"),
    (Status.WARN, "warned"),
    (Status.PASS, "passed"),
    (Status.SKIP, "skipped"),
)

NAME_WIDTH = 10


def format_result(result: CheckResult, verbose: bool = False) -> str:
    """``  ✗ kafka      nothing answers at 127.0.0.1:9092`` then evidence and ``fix:`` lines."""
    finding = result.finding
    lines = [f"  {SYMBOLS[finding.status]} {result.name:<{NAME_WIDTH}} {finding.summary}"]
    indent = " " * (NAME_WIDTH + 5)
    if verbose or finding.status in (Status.FAIL, Status.WARN):
        lines += [f"{indent}· {item}" for item in finding.evidence]
    if finding.fix and finding.status in (Status.FAIL, Status.WARN):
        lines.append(f"{indent}fix: {finding.fix}")
    return "\n".join(lines)
