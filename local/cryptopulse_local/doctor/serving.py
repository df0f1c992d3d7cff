"""The way out: the API healthy, ready and ingesting, a WebSocket update, the dashboard."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from cryptopulse_common.contract import (
    LEGACY_UPDATE_MESSAGE,
    MARKET_UPDATE_MESSAGE,
    SNAPSHOT_MESSAGE,
    parse_timestamp,
)
from cryptopulse_local.doctor.machine import foreign_holder_fix
from cryptopulse_local.doctor.probes import (
    ProbeError,
    Sample,
    health,
    http_get,
    last_run_errors,
    scrape,
)
from cryptopulse_local.doctor.report import CheckResult, Finding
from cryptopulse_local.doctor.target import (
    HTTP_TIMEOUT_SECONDS,
    PIPELINE_UPSTREAM,
    Baseline,
    LocalTarget,
    delta,
    first_sample,
    sample_window,
    second_after,
    upstream_fix,
)


def check_api(target: LocalTarget, baseline: Baseline, earlier: Sequence[CheckResult]) -> Finding:
    """The API is healthy (liveness), ready (readiness) and ingesting."""
    base = target.api_url
    try:
        live = health(f"{base}/health", HTTP_TIMEOUT_SECONDS)
        ready = health(f"{base}/ready", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        return Finding.failed(
            f"the API is not running: {error}",
            foreign_holder_fix(target, target.api.api_port, "API_PORT")
            or f"Start it: `{api_command(target)}` in another terminal (or restart `make up`); "
            f"its log is {target.log('api')}.",
            *last_run_errors(target.log("api")),
        )
    if not live.ok:
        return Finding.failed(
            f"/health answered {live.status_code}",
            foreign_holder_fix(target, target.api.api_port, "API_PORT")
            or f"Restart it (`{api_command(target)}`); its log is {target.log('api')}.",
        )
    if not ready.ok:
        status = ready.body.get("status", ready.status_code)
        fix = (
            f"It is shutting down (SIGTERM received): start it again with `{api_command(target)}`."
            if status == "draining"
            else "Its Kafka fan-out is not positioned on the aggregates topic yet: see the kafka "
            "check."
        )
        return Finding.failed(f"/ready answered {ready.status_code} ({status})", fix)
    first: Sample | None = first_sample(baseline.api)
    window = sample_window(target.stream.stream_trigger_seconds)
    if first is not None:
        second_after(first.at, window)
    try:
        second = scrape(f"{base}/metrics", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        return Finding.warned(f"healthy and ready, but {error}", f"See {target.log('api')}.")
    evidence = _snapshot_evidence(base)
    statuses = second.by_label("cryptopulse_ingest_requests_total", "status")
    evidence.append(
        "ingest requests: "
        + ", ".join(f"{name} {value:.0f}" for name, value in statuses.items() if value)
    )
    evidence.append(f"WebSocket clients {second.total('cryptopulse_ws_connections'):.0f}")
    if first is None:
        return Finding.passed("healthy and ready", *evidence)
    accepted = delta(first, second, "cryptopulse_ingest_records_total")
    seconds = second.at - first.at
    changed = {
        name: second.total("cryptopulse_ingest_requests_total", status=name)
        - first.total("cryptopulse_ingest_requests_total", status=name)
        for name in statuses
    }
    if changed.get("unauthorized"):
        return Finding.failed(
            f"/ingest refused {changed['unauthorized']:.0f} batches: wrong bearer token",
            "STREAM_INGEST_TOKEN must equal API_INGEST_TOKEN: set both the same and restart the "
            "stream job.",
            *evidence,
        )
    if changed.get("invalid") and not accepted:
        return Finding.failed(
            f"/ingest rejected {changed['invalid']:.0f} batches as invalid",
            "The stream job and the API disagree on the aggregate record: run both from the same "
            f"checkout; {target.log('api')} names the field.",
            *evidence,
        )
    if accepted:
        return Finding.passed(
            f"healthy, ready, ingesting ({accepted:.0f} records in {seconds:.1f} s)", *evidence
        )
    return Finding.warned(
        f"healthy and ready, but no batch came to /ingest in {seconds:.1f} s",
        upstream_fix(
            earlier,
            "The stream job posts them: see the stream check and its log.",
            *PIPELINE_UPSTREAM[:-1],
        ),
        *evidence,
    )


def api_command(target: LocalTarget) -> str:
    """``cryptopulse api`` as ``up`` runs it: with the dashboard folder (alone, the API does
    not serve the dashboard, and the dashboard check fails next)."""
    if target.dashboard_dir is None:
        return "cryptopulse api"
    return f"API_DASHBOARD_DIR={target.dashboard_dir} cryptopulse api"


def _snapshot_evidence(base: str) -> list[str]:
    try:
        response = http_get(f"{base}/api/snapshot", HTTP_TIMEOUT_SECONDS)
        data = response.json().get("data") or []
    except (ProbeError, ValueError, AttributeError):
        return ["snapshot: unreadable"]
    if not data:
        return ["snapshot: no coin yet"]
    stamps = [parse_timestamp(r["timestamp"]).timestamp() for r in data if r.get("timestamp")]
    newest = f", newest tick {time.time() - max(stamps):.1f} s old" if stamps else ""
    return [f"snapshot: {len(data)} coins{newest}"]


def check_websocket(
    target: LocalTarget, earlier: Sequence[CheckResult], wait_seconds: float
) -> Finding:
    """A WebSocket client connects, gets the snapshot, then receives an update."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    url = target.api_url.replace("http://", "ws://") + "/ws"
    updates = {MARKET_UPDATE_MESSAGE, LEGACY_UPDATE_MESSAGE}
    started = time.monotonic()
    try:
        with connect(url, open_timeout=HTTP_TIMEOUT_SECONDS, close_timeout=1) as ws:
            first = json.loads(ws.recv(timeout=HTTP_TIMEOUT_SECONDS))
            coins = len(first.get("data") or [])
            if first.get("type") != SNAPSHOT_MESSAGE:
                return Finding.failed(
                    f"the first message is {first.get('type')!r}, not a snapshot",
                    "The API and this checkout disagree on the protocol: restart the API.",
                )
            deadline = started + wait_seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = json.loads(ws.recv(timeout=left))
                except TimeoutError:
                    break
                if message.get("type") in updates:
                    return Finding.passed(
                        f"an update with {len(message.get('data') or [])} records "
                        f"{time.monotonic() - started:.1f} s after connecting",
                        f"snapshot: {coins} coins",
                    )
            return Finding.failed(
                f"connected and got the snapshot ({coins} coins), but no update in "
                f"{wait_seconds:.0f} s",
                upstream_fix(
                    earlier,
                    "The API broadcasts what /ingest receives: see the stream job's log "
                    f"({target.log('stream')}).",
                    *PIPELINE_UPSTREAM,
                ),
            )
    except InvalidStatus as error:
        return Finding.failed(
            f"{url} refused the upgrade ({error.response.status_code})",
            "An origin not in API_WS_ALLOWED_ORIGINS, or not the API on this port.",
        )
    except ConnectionClosed as error:
        reason = error.rcvd.reason if error.rcvd else ""
        return Finding.failed(
            f"{url} closed the connection ({error.rcvd.code if error.rcvd else '?'} {reason})",
            "1008 means API_MAX_CONNECTIONS clients are connected; 1001 that it is draining.",
        )
    except (OSError, WebSocketException, TimeoutError) as error:
        return Finding.failed(
            f"cannot open {url}: {type(error).__name__}: {error}",
            upstream_fix(earlier, f"Start the API: `{api_command(target)}`.", "api"),
        )


def check_dashboard(target: LocalTarget, earlier: Sequence[CheckResult]) -> Finding:
    """The dashboard is built and served with its script."""
    base = target.api_url
    if target.dashboard_dir is None or not (target.dashboard_dir / "index.html").exists():
        return Finding.failed(
            "the dashboard is not built (no services/dashboard/dist/index.html)",
            "Build it: `make setup` (or `cd services/dashboard && npm ci && npm run build`).",
        )
    try:
        page = http_get(f"{base}/", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        return Finding.failed(
            str(error), upstream_fix(earlier, f"Start the API: `{api_command(target)}`.", "api")
        )
    if page.status_code != 200 or "<script" not in page.text:
        return Finding.failed(
            f"{base}/ answered {page.status_code} without the app",
            "The API serves the dashboard only with API_DASHBOARD_DIR set, as `up` sets it: "
            f"restart it as `{api_command(target)}`; or run `cd services/dashboard && npm run "
            "dev`.",
        )
    scripts = _script_sources(page.text)
    for source in scripts:
        try:
            asset = http_get(base + source, HTTP_TIMEOUT_SECONDS)
        except ProbeError as error:
            return Finding.failed(str(error), "Restart the API.")
        if asset.status_code != 200:
            return Finding.failed(
                f"{source} answered {asset.status_code}: the build is incomplete",
                "Rebuild it: `cd services/dashboard && npm run build`, then reload the page.",
            )
    return Finding.passed(f"served at {base}/", f"scripts: {', '.join(scripts) or 'inline'}")


def _script_sources(html: str) -> list[str]:
    """The page's own scripts, as paths from the site root (Vite writes ``./assets/...``)."""
    import re

    found = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    return ["/" + src.removeprefix("./").lstrip("/") for src in found if "://" not in src]
