"""Producer throughput: ticks per second the producer sustains into a real local Kafka broker.

One run starts its own broker (``LocalKafka``, free ports, a temporary directory) and measures,
for the same number of seconds and the same simulated market (``SimulatedMarket``, N coins):

- **producer**: the real ``Producer`` (simulate source, orjson, ``acks=all``, idempotence, gzip,
  linger, bounded resend buffer, metrics), polling as fast as it can; the rate counts ticks
  *acknowledged* by the broker, from the first acknowledgment to the end of the final flush.
- **baseline**: a plain kafka-python loop with default settings, as the original design wrote it:
  ``json.dumps`` each tick and ``producer.send`` it, ``flush()`` at the end; the rate counts ticks
  sent, until that flush returns.

The two alternate over several rounds (baseline first in odd rounds, producer first in even
ones) so that load from other processes on a shared machine falls on both alike. It prints both
rates over all rounds, their ratio, the ticks per CPU-second of this process (all its threads;
steadier than wall-clock rates on a busy machine), ticks dropped by the producer's buffer bound
(0 means the rate was sustained), and the bytes each left in the broker's log segments per tick.

Usage: .venv/bin/python -m bench.producer_throughput [--coins 1000] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from cryptopulse_common.contract import TICKS_TOPIC
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_producer.main import Producer
from cryptopulse_producer.metrics import DROP_REASONS
from cryptopulse_producer.publisher import OutgoingRecord
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_producer.simulate import SimulatedMarket, coin_ids_for

BASELINE_TOPIC = "bench_baseline_ticks"
CACHE_DIR = Path.home() / ".cache" / "cryptopulse"


@dataclass
class Result:
    name: str
    ticks: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    dropped: int = 0
    bytes_on_disk: int = 0

    @property
    def rate(self) -> float:
        return self.ticks / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.ticks / self.cpu_seconds if self.cpu_seconds else 0.0

    def add(self, other: Result) -> None:
        self.ticks += other.ticks
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.dropped += other.dropped


def topic_bytes(broker: LocalKafka, topic: str) -> int:
    logs = broker.data_dir / "logs"
    return sum(f.stat().st_size for f in logs.glob(f"{topic}-*/*.log"))


def run_producer(broker: LocalKafka, coins: int, seconds: float, interval: float) -> Result:
    settings = ProducerSettings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        producer_metrics_port=0,
        producer_interval_seconds=interval,
        simulate_coin_count=coins,
        log_level="WARNING",
    )
    acknowledged = 0
    lock = threading.Lock()
    first_ack = threading.Event()

    def on_delivered(_record: OutgoingRecord) -> None:
        nonlocal acknowledged
        with lock:
            acknowledged += 1
        first_ack.set()

    registry = CollectorRegistry()
    stop = threading.Event()
    producer = Producer(settings, stop, registry, on_delivered)
    thread = threading.Thread(target=producer.run, daemon=True)
    thread.start()
    if not first_ack.wait(120):
        stop.set()
        raise RuntimeError("the producer acknowledged nothing within 120 s")
    with lock:
        start_count = acknowledged
    started, cpu_started = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    stop.set()  # as SIGTERM does: the loop ends and the producer flushes
    thread.join(timeout=120)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    dropped = sum(
        registry.get_sample_value("cryptopulse_producer_ticks_dropped_total", {"reason": r}) or 0
        for r in DROP_REASONS
    )
    with lock:
        ticks = acknowledged - start_count
    return Result("producer", ticks, elapsed, cpu, int(dropped))


def run_baseline(broker: LocalKafka, coins: int, seconds: float) -> Result:
    from kafka import KafkaProducer

    market = SimulatedMarket(coin_ids_for(coins, []), seed=42)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)  # default settings
    try:
        sent = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for tick in market.poll():
                producer.send(BASELINE_TOPIC, json.dumps(tick.wire()).encode())
                sent += 1
        producer.flush()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        producer.close()
    return Result("baseline", sent, elapsed, cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coins", type=int, default=1000, help="simulated coins per poll")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both")
    parser.add_argument(
        "--interval", type=float, default=0.001, help="producer poll interval (tiny = flat out)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)

    with tempfile.TemporaryDirectory(prefix="cryptopulse-bench-") as state:
        broker = LocalKafka(
            data_dir=Path(state) / "kafka",
            cache_dir=CACHE_DIR,
            port=free_port(),
            controller_port=free_port(),
        )
        broker.start(topics=[TICKS_TOPIC, BASELINE_TOPIC])
        producer, baseline = Result("producer"), Result("baseline")
        try:
            for round_number in range(args.rounds):
                runs = [
                    lambda: baseline.add(run_baseline(broker, args.coins, args.seconds)),
                    lambda: producer.add(
                        run_producer(broker, args.coins, args.seconds, args.interval)
                    ),
                ]
                for run in runs if round_number % 2 == 0 else reversed(runs):
                    run()
            producer.bytes_on_disk = topic_bytes(broker, TICKS_TOPIC)
            baseline.bytes_on_disk = topic_bytes(broker, BASELINE_TOPIC)
        finally:
            broker.stop()

    print(
        f"coins per poll: {args.coins}; {args.rounds} rounds of {args.seconds:g} s each, "
        f"alternating"
    )
    for result in (producer, baseline):
        per_tick = result.bytes_on_disk / result.ticks if result.ticks else 0.0
        print(
            f"  {result.name:<9} {result.rate:>8,.0f} ticks/s  {result.per_cpu_second:>8,.0f} "
            f"ticks/CPU-s  ({result.ticks:,} ticks in {result.seconds:.1f} s; "
            f"{per_tick:,.0f} bytes/tick on disk; dropped {result.dropped})"
        )
    ratio = producer.rate / baseline.rate if baseline.rate else float("nan")
    cpu_ratio = (
        producer.per_cpu_second / baseline.per_cpu_second if baseline.per_cpu_second else 0.0
    )
    print(f"  ratio producer/baseline: {ratio:.2f}x ticks/s, {cpu_ratio:.2f}x ticks/CPU-s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
