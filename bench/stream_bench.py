"""Stream job benchmark: throughput through Kafka -> Spark -> aggregates; tick-to-client latency.

Everything is real and local: a KRaft broker on free ports, the job's own queries
(``cryptopulse_stream.main.start_job``) in a local SparkSession, the API server on uvicorn and a
WebSocket client. Each figure is printed next to a baseline measured in the same run:

* throughput: a backlog of ticks drained by the tuned job (2 shuffle partitions) vs the same job
  with Spark's default 200 shuffle partitions;
* sustained: ticks produced live at ``--rate`` per second for ``--seconds``; the job keeps up if
  its lag (ticks produced but not yet processed) stays flat;
* latency: from a tick's event time (stamped when produced) to the aggregate carrying it at a
  WebSocket client, with a 1 s trigger vs the original design's 30 s trigger.

Usage: .venv/bin/python -m bench.stream_bench [--backlog 300000] [--rate 20000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from websockets.sync.client import connect

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import ALL_TOPICS, TICKS_TOPIC, format_timestamp
from cryptopulse_common.logs import configure
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_local.spark_jars import spark_kafka_jars
from cryptopulse_stream.main import start_job
from cryptopulse_stream.metrics import StreamMetrics
from cryptopulse_stream.recovery import AGGREGATES_QUERY
from cryptopulse_stream.session import build_session
from cryptopulse_stream.settings import StreamSettings
from tests.support.servers import running_server

CACHE = Path.home() / ".cache" / "cryptopulse"


def tick_bytes(coin: int, price: float, at: datetime) -> bytes:
    stamp = format_timestamp(at)
    return (
        f'{{"schema":1,"id":"coin-{coin}","symbol":"c{coin}","name":"Coin {coin}",'
        f'"current_price":{price:.4f},"market_cap":{price * 1e6:.0f},'
        f'"total_volume":{price * 1e4:.0f},"price_change_percentage_24h":1.5,'
        f'"high_24h":null,"low_24h":null,"last_updated":"{stamp}","observed_at":"{stamp}"}}'
    ).encode()


def fast_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=50,
        batch_size=512 * 1024,
    )


def produce_backlog(bootstrap: str, count: int, coins: int = 100) -> float:
    producer = fast_producer(bootstrap)
    start = time.perf_counter()
    base = time.time() - count / 1000.0
    for n in range(count):
        coin = n % coins
        at = datetime.fromtimestamp(base + n / 1000.0, UTC)
        producer.send(
            TICKS_TOPIC, key=f"coin-{coin}".encode(), value=tick_bytes(coin, 100 + n % 97, at)
        )
    producer.flush()
    producer.close()
    return count / (time.perf_counter() - start)


def _paced_producer(bootstrap: str, rate: float, seconds: float, coins: int, sent: Any) -> None:
    """Produce ``rate`` ticks/s stamped with the current time, with librdkafka (confluent-kafka).

    kafka-python tops out near 10,000 ticks/s per core on this machine, so producing 20,000/s
    with it would take both cores from the job under test; librdkafka needs a tenth of that.
    """
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "1",
            "linger.ms": 20,
            "batch.size": 1024 * 1024,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    keys = [f"coin-{coin}".encode() for coin in range(coins)]
    start = time.monotonic()
    n = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        now = datetime.now(UTC)
        while n < due:
            coin = n % coins
            producer.produce(TICKS_TOPIC, tick_bytes(coin, 100 + n % 97, now), keys[coin])
            n += 1
        producer.poll(0)
        time.sleep(0.005)
    producer.flush(30)
    with sent.get_lock():
        sent.value += n


def topic_end(bootstrap: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        parts = [TopicPartition(TICKS_TOPIC, p) for p in consumer.partitions_for_topic(TICKS_TOPIC)]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


@contextmanager
def broker() -> Iterator[LocalKafka]:
    with tempfile.TemporaryDirectory(prefix="cryptopulse-bench-") as folder:
        kafka = LocalKafka(
            Path(folder),
            CACHE,
            port=free_port(),
            controller_port=free_port(),
            heap="1g",
            partitions=3,
        )
        kafka.start(topics=ALL_TOPICS)
        try:
            yield kafka
        finally:
            kafka.stop()


def settings_for(
    kafka: LocalKafka, ingest_url: str, checkpoint: Path, **changes: Any
) -> StreamSettings:
    base: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka.bootstrap_servers,
        "stream_ingest_url": ingest_url,
        "stream_checkpoint_dir": str(checkpoint),
        "stream_trigger_seconds": 1.0,
        "stream_publish_aggregates": False,
        "stream_starting_offsets": "earliest",
        "stream_spark_jars": ",".join(str(j) for j in spark_kafka_jars(CACHE)),
        "stream_driver_memory": "2g",
        "log_level": "WARNING",
    }
    base.update(changes)
    return StreamSettings(**base)


def processed_rows(registry: CollectorRegistry) -> float:
    return (
        registry.get_sample_value(
            "cryptopulse_stream_input_rows_total", {"query": AGGREGATES_QUERY}
        )
        or 0.0
    )


def drain(
    kafka: LocalKafka, api_url: str, total: int, shuffle_partitions: int, dead_letters: bool = True
) -> float:
    """Ticks per second the job sustains while draining a backlog of ``total`` ticks.

    Micro-batches are capped at a tenth of the backlog; the clock starts when the first one
    finishes, so query start-up and code generation are not counted.
    """
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(
            kafka,
            f"{api_url}/ingest",
            Path(folder),
            stream_shuffle_partitions=shuffle_partitions,
            stream_max_offsets_per_trigger=max(total // 10, 1),
            stream_dead_letters=dead_letters,
        )
        spark = build_session(settings)
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
        registry = CollectorRegistry()
        job = start_job(settings, spark, StreamMetrics(registry))
        try:
            while processed_rows(registry) == 0:
                if not job.aggregates.isActive:
                    raise RuntimeError(f"query died: {job.aggregates.exception()}")
                time.sleep(0.05)
            first, start = processed_rows(registry), time.perf_counter()
            while processed_rows(registry) < total:
                if not job.aggregates.isActive:
                    raise RuntimeError(f"query died: {job.aggregates.exception()}")
                time.sleep(0.05)
            return (total - first) / (time.perf_counter() - start)
        finally:
            job.stop(grace_seconds=10)
            spark.streams.removeListener(job.listener)
            job.sink.close()


def sustained(
    kafka: LocalKafka, api_url: str, rate: float, seconds: float, shuffle_partitions: int
) -> dict[str, float]:
    """Ticks produced live at ``rate``/s for ``seconds``: does the job keep up?

    Lag = ticks on the topic that no finished micro-batch has processed yet, sampled every 2 s.
    """
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(
            kafka,
            f"{api_url}/ingest",
            Path(folder),
            stream_starting_offsets="latest",
            stream_shuffle_partitions=shuffle_partitions,
        )
        spark = build_session(settings)
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
        registry = CollectorRegistry()
        job = start_job(settings, spark, StreamMetrics(registry))
        warm_up(kafka.bootstrap_servers, registry)
        sent = multiprocessing.Value("l", 0)
        producer = multiprocessing.Process(
            target=_paced_producer,
            args=(kafka.bootstrap_servers, rate, seconds, 100, sent),
        )
        base_end = topic_end(kafka.bootstrap_servers)
        base_processed = processed_rows(registry)
        lags: list[float] = []
        start = time.monotonic()
        producer.start()
        try:
            while producer.is_alive():
                time.sleep(2)
                produced = topic_end(kafka.bootstrap_servers) - base_end
                lags.append(produced - (processed_rows(registry) - base_processed))
            producer.join()
            processed_while_producing = processed_rows(registry) - base_processed
            achieved = sent.value / seconds
            deadline = time.monotonic() + 120
            while (
                processed_rows(registry) - base_processed < sent.value
                and time.monotonic() < deadline
            ):
                time.sleep(0.2)
            caught_up = processed_rows(registry) - base_processed >= sent.value
            catch_up = time.monotonic() - start - seconds if caught_up else float("inf")
        finally:
            job.stop(grace_seconds=10)
            spark.streams.removeListener(job.listener)
            job.sink.close()
        half = len(lags) // 2
        return {
            "produced_per_second": achieved,
            "processed_per_second": processed_while_producing / (time.monotonic() - start),
            "lag_first_half": statistics.mean(lags[:half]) if half else 0.0,
            "lag_second_half": statistics.mean(lags[half:]) if lags else 0.0,
            "lag_max": max(lags, default=0.0),
            "catch_up_seconds": catch_up,
        }


def warm_up(bootstrap: str, registry: CollectorRegistry, ticks: int = 2_000) -> float:
    """Run the job's first batches (code generation, state store set-up) before measuring.

    Returns the seconds from producing the ticks to the job having processed them all: the
    latency a freshly started job shows, which the steady-state figures leave out.
    """
    before = processed_rows(registry)
    start = time.monotonic()
    producer = fast_producer(bootstrap)
    for n in range(ticks):
        producer.send(
            TICKS_TOPIC, key=b"warm-up", value=tick_bytes(n % 10, 100.0, datetime.now(UTC))
        )
    producer.flush()
    producer.close()
    deadline = time.monotonic() + 120
    while processed_rows(registry) < before + ticks and time.monotonic() < deadline:
        time.sleep(0.05)
    return time.monotonic() - start


def latency(
    kafka: LocalKafka,
    api_url: str,
    trigger: float,
    seconds: float,
    timeline_path: Path | None = None,
) -> tuple[list[float], float]:
    """Per tick: seconds from its event time to the first client update that includes it.

    Measured after a warm-up; also returns the warm-up's cold-start seconds.
    """
    samples: list[float] = []
    timeline: list[tuple[float, float]] = []
    pending: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
    lock = threading.Lock()
    stop = threading.Event()

    def listen() -> None:
        with connect(api_url.replace("http", "ws") + "/ws") as ws:
            while not stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                now = time.time()
                if message["type"] == "snapshot":
                    continue
                with lock:
                    for record in message["data"]:
                        newest = datetime.fromisoformat(
                            record["timestamp"].replace("Z", "+00:00")
                        ).timestamp()
                        queue = pending[record["coin_id"]]
                        while queue and queue[0] <= newest + 0.0001:
                            sent_at = queue.popleft()
                            samples.append(now - sent_at)
                            timeline.append((sent_at, now - sent_at))

    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(
            kafka,
            f"{api_url}/ingest",
            Path(folder),
            stream_trigger_seconds=trigger,
            stream_starting_offsets="latest",
        )
        spark = build_session(settings)
        registry = CollectorRegistry()
        job = start_job(settings, spark, StreamMetrics(registry))
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks=1, linger_ms=5)
        try:
            cold_start = warm_up(kafka.bootstrap_servers, registry)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for coin in range(10):
                    at = datetime.now(UTC)
                    with lock:
                        pending[f"coin-{coin}"].append(int(at.timestamp() * 1000) / 1000)
                    producer.send(
                        TICKS_TOPIC,
                        key=f"coin-{coin}".encode(),
                        value=tick_bytes(coin, 100.0 + coin, at),
                    )
                time.sleep(0.1)
            deadline = time.monotonic() + trigger + 30
            while any(pending.values()) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            producer.close()
            stop.set()
            listener.join(5)
            job.stop(grace_seconds=10)
            spark.streams.removeListener(job.listener)
            job.sink.close()
    if timeline_path:  # "<sent at> <latency>" per tick, to see when the slow ones happened
        timeline_path.write_text("\n".join(f"{t:.3f} {d:.3f}" for t, d in timeline))
    return samples, cold_start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def compare_classification(kafka: LocalKafka, api: str, backlog: int, rounds: int) -> None:
    """The drain rate with the contract's classification (every number finite and bounded,
    text checked, two timestamps, observed_at against the broker's time) against the previous
    eight-check classification, in interleaved rounds on the same backlog and broker."""
    from bench.previous_classification import in_the_job

    rate = produce_backlog(kafka.bootstrap_servers, backlog)
    print(f"backlog: {backlog} ticks produced at {rate:,.0f}/s")
    rates: dict[str, list[float]] = {"previous": [], "current": []}
    for _ in range(rounds):
        with in_the_job():
            rates["previous"].append(drain(kafka, api, backlog, shuffle_partitions=2))
        rates["current"].append(drain(kafka, api, backlog, shuffle_partitions=2))
        print(
            f"drain, previous {rates['previous'][-1]:,.0f}/s, current {rates['current'][-1]:,.0f}/s"
        )
    previous, current = statistics.median(rates["previous"]), statistics.median(rates["current"])
    print(f"median drain: previous classification {previous:,.0f} ticks/s, current {current:,.0f}")
    print(f"ratio current/previous: {current / previous:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=300_000)
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--latency-seconds", type=float, default=60)
    parser.add_argument("--latency-timeline", type=Path, help="write 1 s trigger samples here")
    parser.add_argument("--skip", nargs="*", default=[], choices=["drain", "sustained", "latency"])
    parser.add_argument(
        "--compare-classification",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="drain the backlog this many times with the current classification and with the "
        "previous one (bench/previous_classification.py), interleaved, then stop",
    )
    args = parser.parse_args()
    configure("bench", "WARNING")
    with broker() as kafka, running_server(create_app(ApiSettings(), CollectorRegistry())) as api:
        if args.compare_classification:
            compare_classification(kafka, api, args.backlog, args.compare_classification)
            return
        if "drain" not in args.skip:
            rate = produce_backlog(kafka.bootstrap_servers, args.backlog)
            print(f"backlog: {args.backlog} ticks produced at {rate:,.0f}/s")
            tuned = drain(kafka, api, args.backlog, shuffle_partitions=2)
            alone = drain(kafka, api, args.backlog, shuffle_partitions=2, dead_letters=False)
            default = drain(kafka, api, args.backlog, shuffle_partitions=200)
            print(f"drain, tuned, without the dead-letter query: {alone:,.0f} ticks/s")
            print(f"drain, tuned (2 shuffle partitions):     {tuned:,.0f} ticks/s")
            print(f"drain, baseline (200 shuffle partitions): {default:,.0f} ticks/s")
            print(f"ratio tuned/baseline: {tuned / default:.2f}x")
        if "sustained" not in args.skip:
            rates = {}
            for label, partitions in (("tuned", 2), ("baseline, 200 shuffle partitions", 200)):
                result = sustained(kafka, api, args.rate, args.seconds, partitions)
                rates[label] = result["processed_per_second"]
                print(
                    f"sustained, {label}: produced {result['produced_per_second']:,.0f}/s for "
                    f"{args.seconds:.0f} s, processed {result['processed_per_second']:,.0f}/s; "
                    f"mean lag first half {result['lag_first_half']:,.0f} ticks, second half "
                    f"{result['lag_second_half']:,.0f}, max {result['lag_max']:,.0f}; caught up "
                    f"{result['catch_up_seconds']:.1f} s after the producer stopped"
                )
            baseline = rates["baseline, 200 shuffle partitions"]
            if baseline:
                print(f"ratio processed tuned/baseline: {rates['tuned'] / baseline:.2f}x")
            else:  # a run too short for the baseline to finish a batch while producing
                print("ratio processed tuned/baseline: n/a (the baseline processed nothing)")
        if "latency" not in args.skip:
            fast, cold = latency(kafka, api, 1.0, args.latency_seconds, args.latency_timeline)
            slow, _ = latency(kafka, api, 30.0, max(args.latency_seconds, 90))
            print(
                f"latency, 1 s trigger:  p50 {pct(fast, 0.5):.2f} s  p99 {pct(fast, 0.99):.2f} s "
                f"({len(fast)} records; after a warm-up whose first ticks took {cold:.1f} s)"
            )
            print(
                f"latency, 30 s trigger (original design): p50 {pct(slow, 0.5):.2f} s  "
                f"p99 {pct(slow, 0.99):.2f} s ({len(slow)} records)"
            )
            print(f"ratio p50 original/ours: {pct(slow, 0.5) / pct(fast, 0.5):.1f}x")


if __name__ == "__main__":
    main()
