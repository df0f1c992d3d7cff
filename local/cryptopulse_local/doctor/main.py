"""``cryptopulse doctor``: run the local or the Kubernetes checks and report.

Exit code 0 when no check failed (warnings allowed), 1 when one did. Text goes to stdout as each
check finishes, with a progress line on stderr when it is a terminal; ``--json`` prints one JSON
document (see :mod:`.report`) at the end instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cryptopulse_api.settings import ApiSettings
from cryptopulse_local.doctor.report import CheckResult, Finding, Report
from cryptopulse_local.doctor.runner import Check, run_checks
from cryptopulse_local.settings import LocalSettings
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_stream.settings import StreamSettings


@dataclass(frozen=True)
class DoctorOptions:
    json: bool = False
    kube: bool = False
    namespace: str | None = None
    release: str | None = None
    check_timeout: float = 20.0
    verbose: bool = False


def doctor(
    local: LocalSettings,
    producer: ProducerSettings,
    stream: StreamSettings,
    api: ApiSettings,
    dashboard_dir: Path | None,
    options: DoctorOptions,
    out: TextIO = sys.stdout,
    progress: TextIO = sys.stderr,
) -> int:
    if options.kube:
        report = kube_report(options, out, progress)
    else:
        from cryptopulse_local.doctor.local import local_checks
        from cryptopulse_local.doctor.target import LocalTarget

        target = LocalTarget(local, producer, stream, api, dashboard_dir)
        checks, release = local_checks(target, options.check_timeout)
        try:
            report = _run("local", target.describe(), checks, options, out, progress)
        finally:
            release()
    if options.json:
        report.write_json(out)
    else:
        out.write(report.summary_line() + "\n")
        out.flush()
    return 0 if report.ok else 1


def kube_report(options: DoctorOptions, out: TextIO, progress: TextIO) -> Report:
    from cryptopulse_local.doctor.kube import KubeTarget, kube_checks

    try:
        target = KubeTarget.connect(options.namespace, options.release)
    except Exception as error:  # no kubeconfig, no in-cluster service account
        return _run("kube", "Kubernetes", [_unreachable(error)], options, out, progress)
    why = target.unreachable()
    if why is not None:  # one failure that says so, not every check failing alike
        check = _cluster_silent(target.server, target.context, why)
        return _run("kube", target.describe(), [check], options, out, progress)
    if not target.release_found():
        check = _release_missing(target.release, target.namespace)
        return _run("kube", target.describe(), [check], options, out, progress)
    checks = kube_checks(target, options.check_timeout)
    return _run("kube", target.describe(), checks, options, out, progress)


def _unreachable(error: Exception) -> Check:
    def run(_earlier: Sequence[CheckResult]) -> Finding:
        return Finding.failed(
            f"no Kubernetes credentials: {type(error).__name__}: {error}",
            "Point the current kubeconfig context at the cluster (`kubectl config "
            "current-context`; KUBECONFIG), or run in a pod with a service account.",
        )

    return Check("cluster", "kubernetes", run, 5.0)


def _cluster_silent(server: str, context: str, why: str) -> Check:
    def run(_earlier: Sequence[CheckResult]) -> Finding:
        return Finding.failed(
            f"the API server {server} (context {context or '?'}) does not answer: {why}",
            "Is this the cluster you meant? `kubectl config get-contexts` lists the others, "
            "`kubectl config use-context <name>` picks one (or set KUBECONFIG); a local cluster "
            "(kind, minikube) may be stopped.",
        )

    return Check("cluster", "kubernetes", run, 5.0)


def _release_missing(release: str, namespace: str) -> Check:
    def run(_earlier: Sequence[CheckResult]) -> Finding:
        return Finding.failed(
            f"no release {release} in namespace {namespace}: no Deployment or SparkApplication "
            f"labelled app.kubernetes.io/instance={release}",
            "`helm list -A` shows each release and its namespace: pass them as --namespace and "
            "--release (defaults: the kubeconfig context's namespace, else cryptopulse; "
            "release cryptopulse).",
        )

    return Check("release", "kubernetes", run, 5.0)


def _run(
    mode: str,
    target: str,
    checks: Sequence[Check],
    options: DoctorOptions,
    out: TextIO,
    progress: TextIO,
) -> Report:
    if not options.json:
        out.write(f"cryptopulse doctor: {target}\n")
        out.flush()
    return run_checks(
        mode, target, checks, None if options.json else out, progress, verbose=options.verbose
    )
