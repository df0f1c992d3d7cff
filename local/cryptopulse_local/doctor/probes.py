"""What the local checks read: a stage's ``/metrics`` and ``/health``, the broker's topics and end
offsets, and the stream job's checkpoint. Each raises :class:`ProbeError` with a sentence that
can stand as evidence ("nothing answers at 127.0.0.1:8001 (connection refused)")."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cryptopulse_local.doctor.kube_checks import error_lines
from cryptopulse_local.kafka_broker import port_open


class ProbeError(RuntimeError):
    pass


def http_get(url: str, timeout: float) -> httpx.Response:
    try:
        return httpx.get(url, timeout=timeout)
    except httpx.ConnectError as error:
        raise ProbeError(f"nothing answers at {url} (connection refused)") from error
    except httpx.TimeoutException as error:
        raise ProbeError(f"{url} did not answer within {timeout:g} s") from error
    except httpx.HTTPError as error:
        raise ProbeError(f"{url}: {type(error).__name__}: {error}") from error


@dataclass(frozen=True)
class Sample:
    """One scrape of a Prometheus text endpoint, taken at ``at`` (monotonic seconds)."""

    values: Mapping[tuple[str, frozenset[tuple[str, str]]], float]
    at: float

    def get(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` with exactly ``labels``; None when absent."""
        return self.values.get((name, frozenset(labels.items())))

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample ``name`` whose labels include ``labels`` (0 when none)."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.values.items()
            if sample == name and wanted <= sample_labels
        )

    def by_label(self, name: str, label: str) -> dict[str, float]:
        return {
            dict(sample_labels)[label]: value
            for (sample, sample_labels), value in self.values.items()
            if sample == name and label in dict(sample_labels)
        }


def parse_metrics(text: str, at: float | None = None) -> Sample:
    """Parse Prometheus text exposition (prometheus_client's own parser)."""
    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Sample(values, time.monotonic() if at is None else at)


def scrape(url: str, timeout: float) -> Sample:
    response = http_get(url, timeout)
    if response.status_code != 200:
        raise ProbeError(f"{url} answered {response.status_code}")
    try:
        return parse_metrics(response.text)
    except ValueError as error:
        raise ProbeError(f"{url} is not Prometheus text: {error}") from error


@dataclass(frozen=True)
class Health:
    status_code: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status_code == 200


def health(url: str, timeout: float) -> Health:
    response = http_get(url, timeout)
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text[:200]}
    return Health(response.status_code, body if isinstance(body, dict) else {"raw": body})


# ----------------------------------------------------------------------------------- Kafka --


@dataclass(frozen=True)
class TopicView:
    name: str
    partition_ids: tuple[int, ...]
    offline_partitions: int

    @property
    def partitions(self) -> int:
        return len(self.partition_ids)


@dataclass(frozen=True)
class KafkaView:
    """The broker's answer: its topics (name -> view) and one topic's end offsets."""

    topics: Mapping[str, TopicView]
    end_offsets: Mapping[int, int]
    brokers: int
    at: float

    @property
    def end_offset_total(self) -> int:
        return sum(self.end_offsets.values())


def read_kafka(
    client_config: Mapping[str, Any],
    host: str,
    port: int,
    offsets_topic: str,
    timeout: float = 4.0,
) -> KafkaView:
    """Topics and ``offsets_topic``'s end offsets from the broker at ``host:port``.

    A closed port is told at once (kafka-python would retry for its bootstrap timeout).
    """
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import OffsetSpec
    from kafka.errors import KafkaError

    if not port_open(host, port, timeout=1.0):
        raise ProbeError(f"nothing answers at {host}:{port} (connection refused)")
    timeout_ms = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(
            **client_config,
            client_id="cryptopulse-doctor",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except KafkaError as error:
        raise ProbeError(
            f"{host}:{port} accepts connections but does not answer as a Kafka broker "
            f"({type(error).__name__})"
        ) from error
    try:
        cluster = admin.describe_cluster()
        described = admin.describe_topics()
        topics: dict[str, TopicView] = {}
        for topic in described:
            partitions = topic.get("partitions") or []
            ids = tuple(sorted(int(p["partition_index"]) for p in partitions))
            offline = sum(1 for p in partitions if int(p.get("leader_id", -1)) < 0)
            topics[topic["name"]] = TopicView(topic["name"], ids, offline)
        end_offsets: dict[int, int] = {}
        ticks = topics.get(offsets_topic)
        if ticks is not None and ticks.partitions and not ticks.offline_partitions:
            specs = {
                TopicPartition(offsets_topic, number): OffsetSpec.LATEST
                for number in ticks.partition_ids
            }
            answered = admin.list_partition_offsets(specs, timeout_ms=timeout_ms)
            end_offsets = {tp.partition: int(found.offset) for tp, found in answered.items()}
        brokers = len(cluster.get("brokers", [])) if isinstance(cluster, dict) else 0
        return KafkaView(topics, end_offsets, brokers, time.monotonic())
    except KafkaError as error:
        raise ProbeError(
            f"the broker at {host}:{port} failed a metadata request: {type(error).__name__}: "
            f"{error}"
        ) from error
    finally:
        admin.close()


# ------------------------------------------------------------------------- Spark checkpoint --


@dataclass(frozen=True)
class CheckpointView:
    """The newest entry of a Structured Streaming query's offset log (``offsets/<batch>``):
    written before the batch runs, with the batch's watermark and the source offsets it reads
    up to (Spark's OffsetSeqLog: ``v1``, the batch metadata, one offsets JSON per source)."""

    path: Path
    batch: int
    watermark_ms: int | None
    offsets: Mapping[str, Mapping[int, int]]
    written_at: float  # Unix time of the entry's file
    committed: int | None  # newest batch in commits/

    def topic_offset_total(self, topic: str) -> int | None:
        partitions = self.offsets.get(topic)
        return None if partitions is None else sum(partitions.values())


def _batches(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit())


def read_checkpoint(query_dir: Path) -> CheckpointView | None:
    """The newest offset log entry of the query checkpointed at ``query_dir``; None when the
    query has not written one yet. Raises :class:`ProbeError` for an entry it cannot read."""
    batches = _batches(query_dir / "offsets")
    if not batches:
        return None
    path = query_dir / "offsets" / str(batches[-1])
    try:
        lines = path.read_text().splitlines()
        metadata = json.loads(lines[1])
        offsets: dict[str, dict[int, int]] = {}
        for line in lines[2:]:
            source = json.loads(line)
            if isinstance(source, dict):
                for topic, partitions in source.items():
                    offsets[topic] = {int(p): int(o) for p, o in partitions.items()}
        written_at = path.stat().st_mtime
    except (OSError, IndexError, ValueError, AttributeError) as error:
        raise ProbeError(f"cannot read the checkpoint entry {path}: {error}") from error
    watermark = metadata.get("batchWatermarkMs") if isinstance(metadata, dict) else None
    committed = _batches(query_dir / "commits")
    return CheckpointView(
        path,
        batches[-1],
        int(watermark) if watermark is not None else None,
        offsets,
        written_at,
        committed[-1] if committed else None,
    )


def describe_age(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``, ``3.0 days``."""
    magnitude = abs(seconds)
    if magnitude < 120:
        return f"{magnitude:.0f} s"
    if magnitude < 7200:
        return f"{magnitude / 60:.1f} min"
    if magnitude < 172_800:
        return f"{magnitude / 3600:.1f} h"
    return f"{magnitude / 86_400:.1f} days"


# How much of a stage's log is read for the errors of its last run.
LOG_TAIL_BYTES = 64 * 1024


def log_tail(path: Path, limit: int = LOG_TAIL_BYTES) -> list[str]:
    """The lines of the last ``limit`` bytes of the log at ``path`` (the first, likely cut,
    line dropped when the file is longer); empty when there is no log."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - limit))
            lines = log.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return lines[1:] if size > limit else lines


def last_run_errors(path: Path) -> list[str]:
    """``log: <line>`` for the last error lines in the tail of a stage's log (evidence for a
    stage that does not answer)."""
    return [f"log: {line}" for line in error_lines(log_tail(path))]
