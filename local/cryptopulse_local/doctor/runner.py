"""Run checks in flow order, each within its own timeout, showing which one runs.

A check is a function of the results before it (a downstream check can say "fix the producer
first" instead of repeating its fault) returning a :class:`Finding`. It runs in a daemon thread:
one that does not finish within its timeout fails with that as its evidence and the run goes on
(the thread is left to finish on its own; every check also bounds its own network calls).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from cryptopulse_local.doctor.report import CheckResult, Finding, Report, format_result

CheckFn = Callable[[Sequence[CheckResult]], Finding]


@dataclass(frozen=True)
class Check:
    name: str
    stage: str
    run: CheckFn
    timeout_seconds: float
    title: str = ""


class Progress:
    """``  … kafka (4/9)`` on one line of ``out`` while a check runs, when ``out`` is a terminal
    (nothing otherwise: CI logs get the results alone)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()

    def show(self, text: str) -> None:
        if self._live:
            self._out.write(f"\r\x1b[K  … {text}")
            self._out.flush()

    def clear(self) -> None:
        if self._live:
            self._out.write("\r\x1b[K")
            self._out.flush()


def run_check(check: Check, earlier: Sequence[CheckResult]) -> CheckResult:
    outcome: list[Finding] = []
    started = time.monotonic()

    def target() -> None:
        try:
            outcome.append(check.run(earlier))
        except Exception as error:  # a check that breaks says so and the run goes on
            outcome.append(
                Finding.failed(
                    f"the check itself failed: {type(error).__name__}: {error}",
                    "This is a doctor bug or an unexpected answer; the evidence shows what it "
                    "read. Run again with LOG_LEVEL=DEBUG and report it.",
                )
            )

    worker = threading.Thread(target=target, name=f"doctor-{check.name}", daemon=True)
    worker.start()
    worker.join(check.timeout_seconds)
    elapsed = time.monotonic() - started
    if not outcome:
        finding = Finding.failed(
            f"no verdict within {check.timeout_seconds:g} s",
            f"The {check.stage} does not answer in time; see its log. Give the check longer with "
            "--check-timeout on a loaded machine.",
        )
    else:
        finding = outcome[0]
    return CheckResult(check.name, check.stage, finding, elapsed)


def run_checks(
    mode: str,
    target: str,
    checks: Sequence[Check],
    results_out: TextIO | None,
    progress_out: TextIO = sys.stderr,
    verbose: bool = False,
) -> Report:
    """Run ``checks`` in order; print each result to ``results_out`` as it comes (None: quiet,
    for ``--json``) with a progress line on ``progress_out``."""
    report = Report(mode, target)
    progress = Progress(progress_out)
    started = time.monotonic()
    for number, check in enumerate(checks, start=1):
        progress.show(f"{check.title or check.name} ({number}/{len(checks)})")
        result = run_check(check, list(report.results))
        progress.clear()
        report.results.append(result)
        if results_out is not None:
            results_out.write(format_result(result, verbose) + "\n")
            results_out.flush()
    report.duration_seconds = time.monotonic() - started
    return report
