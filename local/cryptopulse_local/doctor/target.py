"""Where a local pipeline is (from the same settings as ``up``), and what its checks share: the
first samples taken when the run starts (:class:`Baseline`) and the way a downstream check
refers to an upstream failure."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import (
    TICKS_TOPIC,
)
from cryptopulse_common.kafka_config import kafka_python_config
from cryptopulse_local.doctor.probes import (
    KafkaView,
    Sample,
    read_kafka,
    scrape,
)
from cryptopulse_local.doctor.report import CheckResult, Status
from cryptopulse_local.settings import LocalSettings
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_stream.recovery import AGGREGATES_QUERY
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
# The dead-letter query's name is cryptopulse_stream.main's DEAD_LETTERS_QUERY, not imported
# from there: that module imports pyspark, which the doctor does not need.
DEAD_LETTERS_QUERY: Final = "dead_letters"
# The checkpoint recovery command (cryptopulse_stream.recovery, `cryptopulse reset-watermark`).
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
        return f"http://{connectable(self.api.api_host)}:{self.api.api_port}"

    @property
    def producer_url(self) -> str:
        host = connectable(self.producer.producer_metrics_host)
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


def connectable(host: str) -> str:
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


def first_sample(future: Future[Any], timeout: float = 8.0) -> Any | None:
    """The baseline sample, or None when it failed (the check reads its own error)."""
    try:
        return future.result(timeout)
    except Exception:
        return None


def second_after(first_at: float, window: float) -> None:
    """Sleep until ``window`` seconds have passed since the first sample."""
    left = first_at + window - time.monotonic()
    if left > 0:
        time.sleep(left)


def failed_before(earlier: Sequence[CheckResult], *names: str) -> CheckResult | None:
    """The first failed check among ``names`` (all when none given) run before this one."""
    for result in earlier:
        if result.status is Status.FAIL and (not names or result.name in names):
            return result
    return None


def upstream_fix(earlier: Sequence[CheckResult], otherwise: str, *names: str) -> str:
    """``otherwise``, unless one of the checks ``names`` (any, when none given) failed before:
    then this is its consequence, and the fix is that one's."""
    failed = failed_before(earlier, *names)
    if failed is None:
        return otherwise
    return f"This follows from the {failed.name} failure above: fix that first."


PIPELINE_UPSTREAM: Final = ("source", "kafka", "producer", "stream", "api")


def delta(first: Sample, second: Sample, name: str) -> float:
    return second.total(name) - first.total(name)
