"""The local pipeline's checks, in flow order: what ``cryptopulse up`` runs, read as it runs.

Each check reads what a stage exports (its ``/health`` and ``/metrics``, the broker's metadata
and end offsets, the stream job's checkpoint, the state folder's process records) and returns a
:class:`Finding`. Values that must *move* (a topic's end offsets, the stream job's counters, the
API's ingest counters) are sampled once when the run starts (:class:`Baseline`, in background
threads) and again when their check runs, so the waits overlap instead of adding up.

Which manual step of the original troubleshooting guide each check replaces: docs/doctor.md.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import (
    AGGREGATES_TOPIC,
    DEAD_LETTER_TOPIC,
    LEGACY_UPDATE_MESSAGE,
    MARKET_UPDATE_MESSAGE,
    SNAPSHOT_MESSAGE,
    TICKS_TOPIC,
    parse_timestamp,
)
from cryptopulse_common.kafka_config import kafka_python_config
from cryptopulse_local.doctor.probes import (
    CheckpointView,
    Health,
    KafkaView,
    ProbeError,
    Sample,
    describe_age,
    health,
    http_get,
    read_checkpoint,
    read_kafka,
    scrape,
)
from cryptopulse_local.doctor.report import CheckResult, Finding, Status, combine
from cryptopulse_local.doctor.runner import Check
from cryptopulse_local.kafka_broker import KAFKA_JAR_SET
from cryptopulse_local.maven import cached_jars
from cryptopulse_local.ownership import LiveProcess, live_processes, port_holders, run_dir
from cryptopulse_local.settings import LocalSettings
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_stream.settings import StreamSettings

LOCALHOST: Final = "127.0.0.1"
HTTP_TIMEOUT_SECONDS: Final = 2.0
# Counters must move between two samples at least this far apart (a few micro-batches/polls).
MIN_SAMPLE_SECONDS: Final = 2.5
MAX_SAMPLE_SECONDS: Final = 6.0
# A watermark is event time minus the allowed lateness: it trails the wall clock. Ahead of it by
# more than this (clock skew between machines included), it holds every window open until then.
WATERMARK_AHEAD_SECONDS: Final = 120.0
# Ticks behind the topic's end, in seconds of input at the current rate, before it is news.
LAG_WARN_SECONDS: Final = 60.0
# The stream job's Spark queries (cryptopulse_stream.main AGGREGATES_QUERY / DEAD_LETTERS_QUERY;
# not imported from there: that module imports pyspark, which the doctor does not need).
AGGREGATES_QUERY: Final = "window_aggregates"
DEAD_LETTERS_QUERY: Final = "dead_letters"
# issue 11's checkpoint recovery command (cryptopulse_stream.recovery).
RESET_WATERMARK_COMMAND: Final = "cryptopulse reset-watermark"
TOPICS_COMMAND: Final = "cryptopulse topics"


@dataclass(frozen=True)
class LocalTarget:
    """Where everything of one local pipeline is, from the same settings as ``up``."""

    local: LocalSettings
    producer: ProducerSettings
    stream: StreamSettings
    api: ApiSettings
    dashboard_dir: Path | None

    @property
    def state_dir(self) -> Path:
        return self.local.state_dir

    @property
    def kafka_host(self) -> str:
        return self.local.kafka_host_port[0]

    @property
    def kafka_port(self) -> int:
        return self.local.kafka_host_port[1]

    @property
    def api_url(self) -> str:
        return f"http://{_connectable(self.api.api_host)}:{self.api.api_port}"

    @property
    def producer_url(self) -> str:
        host = _connectable(self.producer.producer_metrics_host)
        return f"http://{host}:{self.producer.producer_metrics_port}"

    @property
    def stream_url(self) -> str:
        return f"http://{LOCALHOST}:{self.stream.stream_metrics_port}"

    @property
    def checkpoint(self) -> Path:
        return Path(self.stream.stream_checkpoint_dir) / AGGREGATES_QUERY

    def log(self, stage: str) -> Path:
        return self.state_dir / "logs" / f"{stage}.log"

    def ports(self) -> dict[int, str]:
        """Each port the pipeline listens on, and what listens there."""
        return {
            self.kafka_port: "kafka",
            self.local.kafka_controller_port: "kafka controller",
            self.api.api_port: "api",
            self.producer.producer_metrics_port: "producer metrics",
            self.stream.stream_metrics_port: "stream metrics",
        }

    def describe(self) -> str:
        return (
            f"local pipeline (state {self.state_dir}, Kafka {self.local.kafka_bootstrap_servers}, "
            f"API {self.api_url})"
        )


def _connectable(host: str) -> str:
    return LOCALHOST if host in ("0.0.0.0", "", "::") else host


def sample_window(interval_seconds: float) -> float:
    """How long apart two samples must be to see a stage that works every ``interval``."""
    return min(max(MIN_SAMPLE_SECONDS, 2.5 * interval_seconds), MAX_SAMPLE_SECONDS)


@dataclass
class Baseline:
    """First samples, taken in background threads when the run starts."""

    producer: Future[Sample]
    stream: Future[Sample]
    api: Future[Sample]
    kafka: Future[KafkaView]
    pool: ThreadPoolExecutor = field(repr=False)

    @classmethod
    def start(cls, target: LocalTarget) -> Baseline:
        pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="doctor-baseline")
        return cls(
            producer=pool.submit(scrape, target.producer_url + "/metrics", HTTP_TIMEOUT_SECONDS),
            stream=pool.submit(scrape, target.stream_url + "/metrics", HTTP_TIMEOUT_SECONDS),
            api=pool.submit(scrape, target.api_url + "/metrics", HTTP_TIMEOUT_SECONDS),
            kafka=pool.submit(
                read_kafka,
                kafka_python_config(target.local),
                target.kafka_host,
                target.kafka_port,
                TICKS_TOPIC,
            ),
            pool=pool,
        )

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _first(future: Future[Any], timeout: float = 8.0) -> Any | None:
    """The baseline sample, or None when it failed (the check reads its own error)."""
    try:
        return future.result(timeout)
    except Exception:
        return None


def _second_after(first_at: float, window: float) -> None:
    """Sleep until ``window`` seconds have passed since the first sample."""
    left = first_at + window - time.monotonic()
    if left > 0:
        time.sleep(left)


def _failed_before(earlier: Sequence[CheckResult], *names: str) -> CheckResult | None:
    """The first failed check among ``names`` (all when none given) run before this one."""
    for result in earlier:
        if result.status is Status.FAIL and (not names or result.name in names):
            return result
    return None


def _upstream_fix(earlier: Sequence[CheckResult], otherwise: str, *names: str) -> str:
    """``otherwise``, unless one of the checks ``names`` (any, when none given) failed before:
    then this is its consequence, and the fix is that one's."""
    failed = _failed_before(earlier, *names)
    if failed is None:
        return otherwise
    return f"This follows from the {failed.name} failure above: fix that first."


PIPELINE_UPSTREAM: Final = ("source", "kafka", "producer", "stream", "api")


# --------------------------------------------------------------------------------- checks --


def check_processes(target: LocalTarget) -> Finding:
    """Processes of ours left running by an earlier run, and ports held by someone else."""
    directory = run_dir(target.state_dir)
    live = live_processes(directory)
    ports = target.ports()
    holders = port_holders(ports)
    ours = {process.record.pid: process for process in live}
    findings: list[Finding] = []
    for process in live:
        if process.orphaned:
            findings.append(_orphan_finding(process, ports))
    seen: set[int] = set()
    for _port, holder in sorted(holders.items()):
        pid = holder.pid
        if pid is None or pid in ours or pid in seen or _child_of_ours(pid, ours):
            continue
        seen.add(pid)
        held = [f"{ports[p]} {p}" for p, h in sorted(holders.items()) if h.pid == pid]
        if any(str(target.state_dir) in word for word in holder.cmdline):
            findings.append(_unrecorded_finding(holder.describe(), pid, held))
        else:
            findings.append(
                Finding.warned(
                    f"{holder.describe()} holds {', '.join(held)}: not a process of "
                    f"{target.state_dir}",
                    "Another pipeline or program owns this port: give this pipeline other ports "
                    "(KAFKA_BOOTSTRAP_SERVERS, KAFKA_CONTROLLER_PORT, API_PORT, "
                    "PRODUCER_METRICS_PORT, STREAM_METRICS_PORT), or stop it if it is a leftover.",
                )
            )
    running = [p.record.describe() for p in live if not p.orphaned]
    evidence = [f"running: {', '.join(running)}" if running else "no recorded process running"]
    evidence.append(f"records: {directory}")
    findings.append(Finding.passed("", *evidence))
    return combine(findings, "nothing left running by an earlier run")


def _unrecorded_finding(described: str, pid: int, held: list[str]) -> Finding:
    """A process whose command line names this state folder but that has no record: started
    by a version of cryptopulse that kept none. Orphaned unless a cryptopulse process is its
    parent (then it is a running pipeline of that version)."""
    import psutil

    try:
        parent = psutil.Process(pid).parent()
        parent_command = " ".join(parent.cmdline()) if parent is not None else ""
    except psutil.Error:
        parent_command = ""
    if "cryptopulse" in parent_command:
        return Finding.passed("", f"{described} holds {', '.join(held)} (started without a record)")
    return Finding.failed(
        f"{described} holds {', '.join(held)}: a process of this state folder whose parent is "
        "gone (left by an earlier run)",
        f"Stop it: `kill {pid}` (a clean stop), then start the pipeline again.",
    )


def _child_of_ours(pid: int, ours: dict[int, LiveProcess]) -> bool:
    """True when ``pid`` descends from a recorded live process (the stream job's JVM, say)."""
    import psutil

    try:
        parents = psutil.Process(pid).parents()
    except psutil.Error:
        return False
    return any(parent.pid in ours for parent in parents)


def _orphan_finding(process: LiveProcess, ports: dict[int, str]) -> Finding:
    record = process.record
    held = ", ".join(f"{record.host}:{port}" for port in record.ports) or "no port"
    return Finding.failed(
        f"{record.describe()} was left running by an earlier run (its parent pid "
        f"{record.parent_pid} is gone); it holds {held}",
        f"Stop it: `kill {record.pid}` (SIGTERM, a clean stop); `cryptopulse up` also stops "
        "it by itself, after saying so.",
        f"command: {record.command}",
        f"record: {process.path}",
    )


def check_jars(target: LocalTarget) -> Finding:
    """The Kafka broker's and the Spark Kafka source's jars in the cache."""
    from cryptopulse_local.spark_jars import spark_jar_set

    cache = target.local.cache_dir
    sets = [("Kafka broker", KAFKA_JAR_SET)]
    if not target.stream.stream_spark_jars:
        sets.append(("Spark Kafka source", spark_jar_set()))
    missing, present = [], []
    for label, name in sets:
        jars = cached_jars(name, cache)
        if jars is None:
            missing.append(f"{label} ({name})")
        else:
            present.append(f"{label}: {len(jars)} jars in {cache / name}")
    if missing:
        maven = (
            ""
            if shutil.which("mvn")
            else " Maven is not on PATH: install it first (apt-get install maven)."
        )
        return Finding.failed(
            f"missing from {cache}: {', '.join(missing)}",
            "Download them: `cryptopulse jars` (Maven Central, checksums enforced; `make up` "
            f"does it too).{maven}",
            *present,
        )
    return Finding.passed(f"cached in {cache}", *present)


def check_source(target: LocalTarget, baseline: Baseline) -> Finding:
    """The market source: CoinGecko reachable and not rate limited, or the embedded source."""
    settings = target.producer
    producer = _first(baseline.producer)
    evidence = _fetch_evidence(producer)
    if settings.producer_source == "simulate":
        return Finding.passed(
            f"simulate: the embedded market ({len(settings.coin_ids)} coins), no network needed",
            *evidence,
        )
    if settings.producer_source == "replay":
        from cryptopulse_producer.recording import EXAMPLE_RECORDING

        path = Path(settings.replay_path) if settings.replay_path else EXAMPLE_RECORDING
        if not path.is_file():
            return Finding.failed(
                f"replay: the recording {path} does not exist",
                "Point REPLAY_PATH at a recording (COINGECKO_RECORD_PATH writes one), or leave "
                "it empty for the example recording.",
            )
        return Finding.passed(f"replay: {path} ({path.stat().st_size} bytes)", *evidence)
    from cryptopulse_local.doctor.coingecko import probe_coingecko

    return probe_coingecko(settings, producer)


def _fetch_evidence(sample: Sample | None) -> list[str]:
    if sample is None:
        return []
    outcomes = sample.by_label("cryptopulse_producer_fetches_total", "outcome")
    counted = ", ".join(f"{name} {value:.0f}" for name, value in outcomes.items() if value)
    return [f"producer fetches: {counted or 'none yet'}"]


def check_kafka(target: LocalTarget, baseline: Baseline) -> Finding:
    """The broker answers, with the pipeline's topics and their partitions."""
    bootstrap = target.local.kafka_bootstrap_servers
    try:
        view: KafkaView = baseline.kafka.result(timeout=15)
    except ProbeError as error:
        return Finding.failed(
            f"no broker: {error}",
            "Start it: `cryptopulse kafka` in another terminal (or `make up` for the whole "
            f"pipeline); its log is {target.state_dir / 'kafka' / 'broker.log'}.",
            f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}",
        )
    required = {TICKS_TOPIC: "the producer publishes ticks there"}
    optional: dict[str, str] = {}
    if target.stream.stream_publish_aggregates or target.api.api_fanout_from_kafka:
        required[AGGREGATES_TOPIC] = "the stream job publishes aggregates there"
    else:
        optional[AGGREGATES_TOPIC] = "unused with STREAM_PUBLISH_AGGREGATES=false"
    if target.stream.stream_dead_letters:
        required[DEAD_LETTER_TOPIC] = "the stream job writes malformed messages there"
    else:
        optional[DEAD_LETTER_TOPIC] = "unused with STREAM_DEAD_LETTERS=false"
    evidence = [f"{view.brokers} broker(s) at {bootstrap}"]
    for name in (*required, *optional):
        topic = view.topics.get(name)
        if topic is not None:
            evidence.append(f"{name}: {topic.partitions} partitions")
    findings = [Finding.passed("", *evidence)]
    for name, why in required.items():
        topic = view.topics.get(name)
        if topic is None:
            findings.append(
                Finding.failed(
                    f"topic {name} is missing ({why})",
                    f"Create it: `{TOPICS_COMMAND}` creates the pipeline's missing topics "
                    f"({target.local.kafka_partitions} partitions each); the producer resends "
                    "the ticks Kafka did not acknowledge.",
                )
            )
        elif topic.offline_partitions:
            findings.append(
                Finding.failed(
                    f"topic {name} has {topic.offline_partitions} of {topic.partitions} "
                    "partitions without a leader",
                    f"The broker cannot serve them; see {target.state_dir / 'kafka'}/broker.log.",
                )
            )
    for name, why in optional.items():
        if name not in view.topics:
            findings.append(Finding.skipped(f"topic {name} absent ({why})"))
    return combine(findings, f"broker up with the pipeline's topics ({bootstrap})")


def check_producer(
    target: LocalTarget, baseline: Baseline, earlier: Sequence[CheckResult]
) -> Finding:
    """The producer publishes: its /health and metrics, and the topic's end offsets moving."""
    settings = target.producer
    window = sample_window(settings.producer_interval_seconds)
    first_offsets: KafkaView | None = _first(baseline.kafka)
    if first_offsets is not None:
        _second_after(first_offsets.at, window)
    offsets_evidence, moved = _offsets_moved(target, first_offsets)
    where = f"{target.producer_url}/health"
    try:
        state = health(where, HTTP_TIMEOUT_SECONDS)
        sample = scrape(target.producer_url + "/metrics", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        return Finding.failed(
            f"the producer is not running: {error}",
            "Start it: `cryptopulse producer` in another terminal (or restart `make up`); "
            f"its log is {target.log('producer')}.",
            *offsets_evidence,
        )
    evidence = [*offsets_evidence, *_producer_evidence(sample)]
    if not state.ok:
        reason = state.body.get("reason", f"/health answered {state.status_code}")
        return Finding.failed(
            f"the producer runs but Kafka has not acknowledged its ticks: {reason}",
            _upstream_fix(
                earlier,
                f"See its log ({target.log('producer')}): the market source or Kafka fails.",
                "source",
                "kafka",
            ),
            *evidence,
        )
    if moved is False:
        age = _last_publish_age(sample)
        if age is not None and age <= 2 * settings.producer_interval_seconds + 5:
            return Finding.passed(f"published {age:.1f} s ago", *evidence)
        return Finding.failed(
            "the ticks topic's end offsets did not move",
            _upstream_fix(
                earlier,
                f"The producer is healthy but publishes nothing: see {target.log('producer')}.",
                "source",
                "kafka",
            ),
            *evidence,
        )
    if moved is None:
        return Finding.warned(
            "the producer is healthy; the topic's end offsets could not be read",
            _upstream_fix(earlier, "See the kafka check above.", "kafka"),
            *evidence,
        )
    return Finding.passed("publishing: the ticks topic's end offsets move", *evidence)


def _offsets_moved(target: LocalTarget, first: KafkaView | None) -> tuple[list[str], bool | None]:
    if first is None or not first.end_offsets:
        return ["end offsets of the ticks topic: unreadable"], None
    try:
        second = read_kafka(
            kafka_python_config(target.local), target.kafka_host, target.kafka_port, TICKS_TOPIC
        )
    except ProbeError as error:
        return [f"end offsets: {error}"], None
    grew = second.end_offset_total - first.end_offset_total
    seconds = second.at - first.at
    return [
        f"{TICKS_TOPIC} end offsets {first.end_offset_total} -> {second.end_offset_total} "
        f"in {seconds:.1f} s"
    ], grew > 0


def _last_publish_age(sample: Sample) -> float | None:
    last = sample.get("cryptopulse_producer_last_publish_timestamp_seconds")
    return None if not last else time.time() - last


def _producer_evidence(sample: Sample) -> list[str]:
    age = _last_publish_age(sample)
    dropped = sample.total("cryptopulse_producer_ticks_dropped_total")
    return [
        f"ticks acknowledged {sample.total('cryptopulse_producer_ticks_sent_total'):.0f}"
        + (f", last {age:.1f} s ago" if age is not None else ", none yet"),
        f"send errors {sample.total('cryptopulse_producer_send_errors_total'):.0f}, "
        f"dropped {dropped:.0f}, buffered "
        f"{sample.total('cryptopulse_producer_buffered_records'):.0f}",
    ]


def check_stream(target: LocalTarget, baseline: Baseline) -> Finding:
    """The stream job is alive and progressing: lag, last batch, sink errors, dead letters,
    watermark versus wall clock."""
    settings = target.stream
    checkpoint, checkpoint_evidence = _checkpoint(target)
    kafka: KafkaView | None = _first(baseline.kafka)
    lag = _lag(kafka, checkpoint)
    evidence = [*checkpoint_evidence]
    if lag is not None:
        evidence.append(f"lag: {lag} ticks behind the end of {TICKS_TOPIC}")
    ahead = _watermark_ahead(checkpoint)
    findings: list[Finding] = []
    if ahead is not None and ahead > WATERMARK_AHEAD_SECONDS:
        findings.append(_watermark_finding(ahead, target))
    try:
        state = health(f"{target.stream_url}/health", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        findings.append(
            Finding.failed(
                f"the stream job is not running: {error}",
                "Start it: `cryptopulse stream` in another terminal (or restart `make up`); the "
                f"first aggregates come 20-40 s later. Its log is {target.log('stream')}.",
            )
        )
        return combine([*findings, Finding.passed("", *evidence)], "")
    if state.body.get("status") == "starting":
        waited = state.body.get("seconds_starting", 0)
        findings.append(
            Finding.warned(
                f"the Spark session is starting ({waited} s so far)",
                "Wait: the first aggregates come 20-40 s after the start (longer on a busy "
                f"machine); {target.log('stream')} shows its progress.",
            )
        )
        return combine([*findings, Finding.passed("", *evidence)], "")
    if not state.ok:
        reason = state.body.get("reason") or state.body.get("error") or json.dumps(state.body)
        findings.append(
            Finding.failed(
                f"the stream job is unhealthy: {reason}",
                f"Its log ({target.log('stream')}) says why; restart it with `cryptopulse "
                "stream` once the cause is fixed (it resumes from its checkpoint).",
            )
        )
    first: Sample | None = _first(baseline.stream)
    window = sample_window(settings.stream_trigger_seconds)
    if first is not None:
        _second_after(first.at, window)
    try:
        second = scrape(f"{target.stream_url}/metrics", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        findings.append(Finding.warned(f"no metrics: {error}", "See the stream job's log."))
        return combine([*findings, Finding.passed("", *evidence)], "")
    findings += _stream_metrics_findings(target, first, second, lag)
    findings.append(Finding.passed("", *evidence))
    return combine(findings, "alive and progressing")


def _checkpoint(target: LocalTarget) -> tuple[CheckpointView | None, list[str]]:
    try:
        view = read_checkpoint(target.checkpoint)
    except ProbeError as error:
        return None, [str(error)]
    if view is None:
        return None, [f"no micro-batch in {target.checkpoint} yet"]
    age = time.time() - view.written_at
    return view, [f"checkpoint: batch {view.batch} planned {describe_age(age)} ago"]


def _lag(kafka: KafkaView | None, checkpoint: CheckpointView | None) -> int | None:
    if kafka is None or checkpoint is None or not kafka.end_offsets:
        return None
    read = checkpoint.offsets.get(TICKS_TOPIC)
    if read is None:
        return None
    return sum(max(end - read.get(part, 0), 0) for part, end in kafka.end_offsets.items())


def _watermark_ahead(checkpoint: CheckpointView | None) -> float | None:
    """Seconds the checkpoint's watermark is ahead of the wall clock (negative: behind)."""
    if checkpoint is None or not checkpoint.watermark_ms:
        return None
    return checkpoint.watermark_ms / 1000 - time.time()


def _watermark_finding(ahead: float, target: LocalTarget) -> Finding:
    return Finding.failed(
        f"the watermark is {describe_age(ahead)} ahead of the wall clock: every window stays "
        "open (no final aggregates) until then",
        f"A tick stamped in the future moved it; watermarks never go back. Stop the stream job, "
        f"run `{RESET_WATERMARK_COMMAND}` (moves the checkpoint aside, keeps the place in the "
        "topic), then start it again.",
        f"checkpoint: {target.checkpoint}",
    )


def _stream_metrics_findings(
    target: LocalTarget, first: Sample | None, second: Sample, lag: int | None
) -> list[Finding]:
    findings: list[Finding] = []
    settings = target.stream
    last = second.get("cryptopulse_stream_last_progress_timestamp_seconds")
    evidence = []
    if last:
        quiet = time.time() - last
        evidence.append(f"last progress {quiet:.1f} s ago")
        if quiet > max(30.0, 10 * settings.stream_trigger_seconds):
            findings.append(
                Finding.failed(
                    f"no micro-batch progress for {describe_age(quiet)}",
                    f"A batch is stuck (a sink waiting on the API, or Spark itself); see "
                    f"{target.log('stream')}.",
                )
            )
    rows = second.get("cryptopulse_stream_input_rows_total", query=AGGREGATES_QUERY) or 0.0
    evidence.append(f"input rows {rows:.0f}")
    posted = second.total("cryptopulse_stream_records_posted_total")
    evidence.append(f"records posted to /ingest {posted:.0f}")
    lag_rate = second.get("cryptopulse_stream_input_rows_per_second", query=AGGREGATES_QUERY)
    if lag is not None and lag_rate and lag / lag_rate > LAG_WARN_SECONDS and lag > 1000:
        findings.append(
            Finding.warned(
                f"{lag} ticks behind, about {describe_age(lag / lag_rate)} of input",
                "It is catching up or too slow for the input: see docs/benchmarks/stream.md for "
                "STREAM_SHUFFLE_PARTITIONS and STREAM_MAX_OFFSETS_PER_TRIGGER.",
            )
        )
    watermark_lag = second.get("cryptopulse_stream_watermark_lag_seconds")
    if watermark_lag is not None and watermark_lag < -WATERMARK_AHEAD_SECONDS:
        findings.append(_watermark_finding(-watermark_lag, target))
    elif watermark_lag is not None and watermark_lag:
        evidence.append(f"watermark {watermark_lag:.0f} s behind the wall clock")
    if first is not None:
        retries = _delta(first, second, "cryptopulse_stream_sink_retries_total")
        errors = _delta(first, second, "cryptopulse_stream_sink_errors_total")
        if retries or errors:
            findings.append(
                Finding.warned(
                    f"POSTs to {settings.stream_ingest_url} are failing ({retries:.0f} retries, "
                    f"{errors:.0f} failed batches in {second.at - first.at:.1f} s)",
                    "The API does not accept them: see the api check; the job retries, and Spark "
                    "replays a failed batch, so nothing is lost meanwhile.",
                )
            )
    malformed = second.total("cryptopulse_stream_malformed_records_total")
    dead_rows = second.get("cryptopulse_stream_input_rows_total", query=DEAD_LETTERS_QUERY)
    if malformed and dead_rows:
        share = malformed / dead_rows
        evidence.append(f"dead letters {malformed:.0f} ({share:.2%} of messages)")
        if share > 0.01:
            findings.append(
                Finding.warned(
                    f"{share:.1%} of the messages are malformed ({malformed:.0f} dead letters)",
                    f"Read their reasons on {DEAD_LETTER_TOPIC}; the producer validates ticks, so "
                    "another writer publishes to the ticks topic.",
                )
            )
    else:
        evidence.append(f"dead letters {malformed:.0f}")
    findings.append(Finding.passed("", *evidence))
    return findings


def _delta(first: Sample, second: Sample, name: str) -> float:
    return second.total(name) - first.total(name)


def check_api(target: LocalTarget, baseline: Baseline, earlier: Sequence[CheckResult]) -> Finding:
    """The API is healthy (liveness), ready (readiness) and ingesting."""
    base = target.api_url
    try:
        live = health(f"{base}/health", HTTP_TIMEOUT_SECONDS)
        ready = health(f"{base}/ready", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        return Finding.failed(
            f"the API is not running: {error}",
            "Start it: `cryptopulse api` in another terminal (or restart `make up`); its log "
            f"is {target.log('api')}.",
        )
    if not live.ok:
        return Finding.failed(
            f"/health answered {live.status_code}",
            f"Restart it (`cryptopulse api`); its log is {target.log('api')}.",
        )
    if not ready.ok:
        status = ready.body.get("status", ready.status_code)
        fix = (
            "It is shutting down (SIGTERM received): start it again with `cryptopulse api`."
            if status == "draining"
            else "Its Kafka fan-out is not positioned on the aggregates topic yet: see the kafka "
            "check."
        )
        return Finding.failed(f"/ready answered {ready.status_code} ({status})", fix)
    first: Sample | None = _first(baseline.api)
    window = sample_window(target.stream.stream_trigger_seconds)
    if first is not None:
        _second_after(first.at, window)
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
    accepted = _delta(first, second, "cryptopulse_ingest_records_total")
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
        _upstream_fix(
            earlier,
            "The stream job posts them: see the stream check and its log.",
            *PIPELINE_UPSTREAM[:-1],
        ),
        *evidence,
    )


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
                _upstream_fix(
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
            _upstream_fix(earlier, "Start the API: `cryptopulse api`.", "api"),
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
            str(error), _upstream_fix(earlier, "Start the API: `cryptopulse api`.", "api")
        )
    if page.status_code != 200 or "<script" not in page.text:
        return Finding.failed(
            f"{base}/ answered {page.status_code} without the app",
            f"The API serves the dashboard only with API_DASHBOARD_DIR set (`up` sets it to "
            f"{target.dashboard_dir}); or run `cd services/dashboard && npm run dev`.",
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


# ------------------------------------------------------------------------------ the list --


def local_checks(
    target: LocalTarget, timeout_seconds: float
) -> tuple[list[Check], Callable[[], None]]:
    """The checks in flow order, and a function that releases what they share."""
    baseline = Baseline.start(target)
    trigger = target.stream.stream_trigger_seconds
    ws_wait = min(max(10.0, 4 * trigger), max(timeout_seconds - 2, 3.0))

    def check(
        name: str, stage: str, run: Callable[[Sequence[CheckResult]], Finding], title: str
    ) -> Check:
        return Check(name, stage, run, timeout_seconds, title)

    checks = [
        check(
            "processes", "processes", lambda _e: check_processes(target), "processes on the ports"
        ),
        check("jars", "jars", lambda _e: check_jars(target), "jars in the cache"),
        check("source", "producer", lambda _e: check_source(target, baseline), "market source"),
        check("kafka", "kafka", lambda _e: check_kafka(target, baseline), "Kafka and its topics"),
        check("producer", "producer", lambda e: check_producer(target, baseline, e), "producer"),
        check("stream", "stream", lambda _e: check_stream(target, baseline), "stream job"),
        check("api", "api", lambda e: check_api(target, baseline, e), "API"),
        check(
            "websocket", "api", lambda e: check_websocket(target, e, ws_wait), "WebSocket update"
        ),
        check("dashboard", "dashboard", lambda e: check_dashboard(target, e), "dashboard"),
    ]
    return checks, baseline.close


__all__ = ["Health", "LocalTarget", "httpx", "local_checks"]
