"""The ``cryptopulse`` command: run the whole pipeline locally, or one stage of it.

Every setting is an environment variable and a flag of the same name (``API_PORT`` and
``--api-port``); ``cryptopulse <command> --help`` lists them with their defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import ALL_TOPICS
from cryptopulse_common.logs import configure, event
from cryptopulse_common.settings import (
    add_settings_arguments,
    explicit_settings,
    load_settings,
    settings_as_env,
)
from cryptopulse_local.settings import DASHBOARD_DIST, LocalSettings
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_stream.settings import StreamSettings

ALL_SETTINGS: list[type[BaseSettings]] = [
    LocalSettings,
    ProducerSettings,
    StreamSettings,
    ApiSettings,
]


def _wait_for_signal() -> None:
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    stop.wait()


@contextlib.contextmanager
def recorded(name: str, overrides: dict[str, Any], host: str, *ports: int) -> Iterator[None]:
    """Record this stage process in the state folder while it runs (``ownership``)."""
    from cryptopulse_local.ownership import record_self, remove_record, run_dir

    local = load_settings(LocalSettings, overrides)
    path = record_self(run_dir(local.state_dir), name, ports, host)
    try:
        yield
    finally:
        remove_record(path)


def run_kafka(overrides: dict[str, Any]) -> int:
    from cryptopulse_local.kafka_broker import LocalKafka
    from cryptopulse_local.ownership import prune_records, run_dir, stop_orphans

    local = load_settings(LocalSettings, overrides)
    configure("kafka", local.log_level, local.log_format)
    host, port = local.kafka_host_port
    directory = run_dir(local.state_dir)
    prune_records(directory)
    stop_orphans(
        directory, (port, local.kafka_controller_port), lambda text: print(text, flush=True)
    )
    broker = LocalKafka(
        data_dir=local.state_dir / "kafka",
        cache_dir=local.cache_dir,
        host=host,
        port=port,
        controller_port=local.kafka_controller_port,
        heap=local.kafka_heap,
        partitions=local.kafka_partitions,
        run_dir=directory,
    )
    try:
        broker.start(topics=ALL_TOPICS)
        print(
            f"Kafka is up at {broker.bootstrap_servers} (log: {broker.log_path}); Ctrl-C stops it",
            flush=True,
        )
        _wait_for_signal()
    finally:
        broker.stop()
    return 0


def run_topics(overrides: dict[str, Any]) -> int:
    from cryptopulse_local.kafka_broker import create_topics

    local = load_settings(LocalSettings, overrides)
    configure("topics", local.log_level, local.log_format)
    created = create_topics(local.kafka_bootstrap_servers, ALL_TOPICS, local.kafka_partitions)
    if created:
        print(f"created {', '.join(created)} ({local.kafka_partitions} partitions each)")
    else:
        print(f"every topic exists already: {', '.join(ALL_TOPICS)}")
    return 0


def run_producer(overrides: dict[str, Any]) -> int:
    from cryptopulse_producer.main import main

    settings = load_settings(ProducerSettings, overrides)
    with recorded(
        "producer", overrides, settings.producer_metrics_host, settings.producer_metrics_port
    ):
        return main(settings)


def run_stream(overrides: dict[str, Any]) -> int:
    from cryptopulse_local.spark_jars import spark_kafka_jars
    from cryptopulse_stream.main import main

    # As `up` runs it: the ingest URL from API_HOST/API_PORT, the checkpoint in the state folder.
    pipeline = pipeline_settings(overrides)
    local, settings = pipeline.local, pipeline.stream
    if not settings.stream_spark_jars:
        configure("stream", settings.log_level, settings.log_format)
        jars = spark_kafka_jars(local.cache_dir)
        settings = settings.model_copy(
            update={"stream_spark_jars": ",".join(str(jar) for jar in jars)}
        )
    with recorded("stream", overrides, "0.0.0.0", settings.stream_metrics_port):
        return main(settings)


def stream_checkpoint_dir(local: LocalSettings, stream: StreamSettings) -> Path:
    """Where the stream job keeps its checkpoints: STREAM_CHECKPOINT_DIR when set, else under
    the state folder (as ``up`` derives it)."""
    if "stream_checkpoint_dir" in stream.model_fields_set:
        return Path(stream.stream_checkpoint_dir)
    return local.state_dir / "checkpoints" / "stream"


def run_reset_watermark(overrides: dict[str, Any]) -> int:
    from cryptopulse_stream.recovery import RecoveryError, reset_watermark

    local = load_settings(LocalSettings, overrides)
    stream = load_settings(StreamSettings, overrides)
    configure("stream", stream.log_level, stream.log_format)
    try:
        report = reset_watermark(stream_checkpoint_dir(local, stream))
    except RecoveryError as error:
        print(f"cryptopulse reset-watermark: {error}", file=sys.stderr, flush=True)
        return 1
    print(report.describe(), flush=True)
    return 0


def run_api(overrides: dict[str, Any]) -> int:
    from cryptopulse_api.main import main

    settings = load_settings(ApiSettings, overrides)
    with recorded("api", overrides, settings.api_host, settings.api_port):
        return main(settings)


def run_jars(overrides: dict[str, Any]) -> int:
    from cryptopulse_local.kafka_broker import kafka_jars
    from cryptopulse_local.spark_jars import spark_kafka_jars

    local = load_settings(LocalSettings, overrides)
    configure("jars", local.log_level, local.log_format)
    kafka = kafka_jars(local.cache_dir)
    spark = spark_kafka_jars(local.cache_dir)
    print(
        f"{len(kafka)} Kafka broker jars and {len(spark)} Spark Kafka source jars cached in "
        f"{local.cache_dir}"
    )
    return 0


@dataclass(frozen=True)
class PipelineSettings:
    """Every stage's settings as ``up`` runs them (values derived from one another filled in)."""

    local: LocalSettings
    producer: ProducerSettings
    stream: StreamSettings
    api: ApiSettings


def pipeline_settings(overrides: dict[str, Any]) -> PipelineSettings:
    local = load_settings(LocalSettings, overrides)
    api = load_settings(ApiSettings, overrides)
    stream = load_settings(StreamSettings, overrides)
    producer = load_settings(ProducerSettings, overrides)
    if "api_dashboard_dir" not in api.model_fields_set and DASHBOARD_DIST.exists():
        api = api.model_copy(update={"api_dashboard_dir": str(DASHBOARD_DIST)})
    derived: dict[str, Any] = {}
    if "stream_ingest_url" not in stream.model_fields_set:
        derived["stream_ingest_url"] = f"http://{api.api_host}:{api.api_port}/ingest"
    if "stream_checkpoint_dir" not in stream.model_fields_set:
        derived["stream_checkpoint_dir"] = str(stream_checkpoint_dir(local, stream))
    stream = stream.model_copy(update=derived)
    return PipelineSettings(local, producer, stream, api)


def up_settings(overrides: dict[str, Any]) -> tuple[LocalSettings, ApiSettings, dict[str, str]]:
    """Every stage's settings for ``up``, and the environment that gives them to its children."""
    settings = pipeline_settings(overrides)
    env: dict[str, str] = {}
    for stage in (settings.local, settings.producer, settings.stream, settings.api):
        env.update(settings_as_env(stage))
    return settings.local, settings.api, env


def run_up(overrides: dict[str, Any]) -> int:
    from cryptopulse_local.supervisor import Supervisor

    local, api, env = up_settings(overrides)
    configure("up", local.log_level, local.log_format)
    return Supervisor(local=local, api=api, child_env=env).run()


def run_doctor(overrides: dict[str, Any]) -> int:
    from cryptopulse_local.doctor.main import DoctorOptions, doctor

    options = DoctorOptions(
        json=bool(overrides.pop("doctor_json", False)),
        kube=bool(overrides.pop("doctor_kube", False)),
        namespace=overrides.pop("doctor_namespace", None),
        release=overrides.pop("doctor_release", None),
        check_timeout=float(overrides.pop("doctor_check_timeout", None) or 20.0),
        verbose=bool(overrides.pop("doctor_verbose", False)),
    )
    settings = pipeline_settings(overrides)
    dashboard = Path(settings.api.api_dashboard_dir) if settings.api.api_dashboard_dir else None
    return doctor(
        settings.local, settings.producer, settings.stream, settings.api, dashboard, options
    )


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("doctor")
    group.add_argument(
        "--json", dest="doctor_json", action="store_true", help="print the report as JSON"
    )
    group.add_argument(
        "--kube",
        dest="doctor_kube",
        action="store_true",
        help="check a Kubernetes release (current kubeconfig context, or in-cluster) instead",
    )
    group.add_argument(
        "--namespace",
        dest="doctor_namespace",
        metavar="N",
        help="the release's namespace with --kube (default: the context's, else cryptopulse)",
    )
    group.add_argument(
        "--release",
        dest="doctor_release",
        metavar="R",
        help="the Helm release name with --kube (default: cryptopulse)",
    )
    group.add_argument(
        "--check-timeout",
        dest="doctor_check_timeout",
        type=float,
        metavar="SECONDS",
        help="give up on one check after this long (default 20)",
    )
    group.add_argument(
        "--verbose",
        dest="doctor_verbose",
        action="store_true",
        help="print every check's evidence, not only the failures'",
    )


COMMANDS: dict[str, tuple[str, list[type[BaseSettings]], Callable[[dict[str, Any]], int]]] = {
    "up": ("run everything: Kafka, API (+ dashboard), stream job, producer", ALL_SETTINGS, run_up),
    "kafka": (
        "run the local Kafka broker (KRaft) and create the topics",
        [LocalSettings],
        run_kafka,
    ),
    "topics": (
        "create the pipeline's topics missing on KAFKA_BOOTSTRAP_SERVERS",
        [LocalSettings],
        run_topics,
    ),
    "producer": ("run the producer", [ProducerSettings], run_producer),
    "stream": ("run the Spark stream job", [StreamSettings, LocalSettings], run_stream),
    "reset-watermark": (
        "with the stream job stopped: move its aggregation checkpoint aside and start the next "
        "one from the offsets it had reached (cures a frozen watermark; docs/contract.md)",
        [StreamSettings, LocalSettings],
        run_reset_watermark,
    ),
    "api": (
        "run the API server (serves the dashboard when API_DASHBOARD_DIR is set)",
        [ApiSettings],
        run_api,
    ),
    "jars": ("download and cache the Kafka and Spark Kafka jars", [LocalSettings], run_jars),
    "doctor": (
        "check every stage in flow order and say what to fix (exit 1 when a check fails)",
        ALL_SETTINGS,
        run_doctor,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryptopulse",
        description="Run the cryptopulse pipeline locally. Every setting is an environment "
        "variable and a flag of the same name (API_PORT / --api-port).",
    )
    commands = parser.add_subparsers(dest="_command", required=True, metavar="COMMAND")
    for name, (help_text, classes, _run) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == "doctor":
            add_doctor_arguments(sub)
        add_settings_arguments(sub, classes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    namespace = parser.parse_args(argv)
    command = namespace._command
    overrides = explicit_settings(namespace)
    try:
        return COMMANDS[command][2](overrides)
    except ValidationError as error:
        parser.exit(2, f"cryptopulse {command}: invalid setting:\n{error}\n")
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        event(
            logging.getLogger("cryptopulse"),
            f"cryptopulse {command} failed: {error}",
            logging.ERROR,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
