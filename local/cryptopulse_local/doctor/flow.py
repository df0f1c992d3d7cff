"""The data's way in: the market source, Kafka and its topics, the producer publishing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from cryptopulse_common.contract import (
    AGGREGATES_TOPIC,
    DEAD_LETTER_TOPIC,
    TICKS_TOPIC,
)
from cryptopulse_common.kafka_config import kafka_python_config
from cryptopulse_local.doctor.machine import foreign_holder_fix
from cryptopulse_local.doctor.probes import (
    KafkaView,
    ProbeError,
    Sample,
    health,
    last_run_errors,
    read_kafka,
    scrape,
)
from cryptopulse_local.doctor.report import CheckResult, Finding, combine
from cryptopulse_local.doctor.target import (
    HTTP_TIMEOUT_SECONDS,
    TOPICS_COMMAND,
    Baseline,
    LocalTarget,
    first_sample,
    sample_window,
    second_after,
    upstream_fix,
)


def check_source(target: LocalTarget, baseline: Baseline) -> Finding:
    """The market source: CoinGecko reachable and not rate limited, or the embedded source."""
    settings = target.producer
    producer = first_sample(baseline.producer)
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
            foreign_holder_fix(target, target.kafka_port, "KAFKA_BOOTSTRAP_SERVERS")
            or "Start it: `cryptopulse kafka` in another terminal (or `make up` for the whole "
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
    first_offsets: KafkaView | None = first_sample(baseline.kafka)
    if first_offsets is not None:
        second_after(first_offsets.at, window)
    offsets_evidence, moved = _offsets_moved(target, first_offsets)
    where = f"{target.producer_url}/health"
    try:
        state = health(where, HTTP_TIMEOUT_SECONDS)
        sample = scrape(target.producer_url + "/metrics", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        return Finding.failed(
            f"the producer is not running: {error}",
            foreign_holder_fix(
                target, target.producer.producer_metrics_port, "PRODUCER_METRICS_PORT"
            )
            or "Start it: `cryptopulse producer` in another terminal (or restart `make up`); "
            f"its log is {target.log('producer')}.",
            *offsets_evidence,
            *last_run_errors(target.log("producer")),
        )
    evidence = [*offsets_evidence, *_producer_evidence(sample)]
    if not state.ok:
        reason = state.body.get("reason", f"/health answered {state.status_code}")
        return Finding.failed(
            f"the producer runs but Kafka has not acknowledged its ticks: {reason}",
            upstream_fix(
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
            upstream_fix(
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
            upstream_fix(earlier, "See the kafka check above.", "kafka"),
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
