"""Fan-out benchmark: N fast and K slow WebSocket clients, the real API server side by side with a
baseline that reproduces the original sequential broadcast, in one run.

Every server is a real process (``python -m cryptopulse_api.main``, or
``python -m bench.fanout_baseline``) on 127.0.0.1; fast clients live in two client processes
(asyncio + the ``websockets`` sans-I/O client, see ``fanout_clients.py``); slow clients are
real sockets with a tiny receive buffer that never read (``tests/api/clients.py``). Updates are
10-coin batches POSTed to ``/ingest`` at a fixed rate.

For each scenario it prints /ingest p50/p99, delivery p50/p99 to fast clients (from just before
the POST to the frame reaching the client process), what was never delivered, how long the slow
clients took to be dropped, and the server's RSS; then the ratios the targets are stated in.

Usage: .venv/bin/python -m bench.fanout [--quick] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench import fanout_clients
from cryptopulse_common.contract import DEFAULT_COIN_IDS
from cryptopulse_local.kafka_broker import free_port
from cryptopulse_local.processes import stop_process
from tests.api.clients import stalled_client
from tests.api.conftest import aggregate

ROOT = Path(__file__).resolve().parent.parent
CLIENT_PROCESSES = 2
WARMUP_UPDATES = 3
ALL_CPUS = frozenset(os.sched_getaffinity(0))


@dataclass
class Scenario:
    server: str  # "fanout" (the API server) or "baseline" (the original design)
    fast: int
    slow: int
    updates: int
    interval: float  # seconds between updates
    drain_timeout: float = 30.0  # how long to wait for deliveries after the last update
    pinned: bool = False  # server on its own CPU (see cpu_sets)

    @property
    def name(self) -> str:
        return f"{self.server} {self.fast} fast + {self.slow} slow"


@dataclass
class Result:
    scenario: Scenario
    connected: int
    ingest_ms: dict[str, float]
    delivery_ms: dict[str, float]
    # Per update, when its last fast client got it: how long each whole fan-out took.
    fanout_ms: dict[str, float]
    expected: int
    delivered: int
    out_of_order: int
    fast_closed: int
    slow_dropped: int
    slow_dropped_after_s: float | None
    blocked_before_drop_s: float | None
    conflated: float | None
    server_write_p99_ms: float | None
    rss_connected_mb: float
    rss_peak_mb: float
    load_average: tuple[float, float]
    notes: list[str] = field(default_factory=list)
    rounds: int = 1


@dataclass
class Samples:
    """A scenario's raw figures in seconds, pooled over rounds (``--rounds``)."""

    ingest: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    fanout: list[float] = field(default_factory=list)

    def extend(self, other: Samples) -> None:
        self.ingest += other.ingest
        self.delivery += other.delivery
        self.fanout += other.fanout


def pooled(first: Result, later: Result, samples: Samples) -> Result:
    """``first`` and ``later`` (the same scenario, another round) as one result."""

    def most(a: float | None, b: float | None) -> float | None:
        return b if a is None else a if b is None else max(a, b)

    return Result(
        scenario=first.scenario,
        connected=min(first.connected, later.connected),
        ingest_ms=percentiles(samples.ingest),
        delivery_ms=percentiles(samples.delivery),
        fanout_ms=percentiles(samples.fanout),
        expected=first.expected + later.expected,
        delivered=first.delivered + later.delivered,
        out_of_order=first.out_of_order + later.out_of_order,
        fast_closed=first.fast_closed + later.fast_closed,
        slow_dropped=first.slow_dropped + later.slow_dropped,
        slow_dropped_after_s=most(first.slow_dropped_after_s, later.slow_dropped_after_s),
        blocked_before_drop_s=most(first.blocked_before_drop_s, later.blocked_before_drop_s),
        conflated=(first.conflated or 0.0) + (later.conflated or 0.0),
        server_write_p99_ms=most(first.server_write_p99_ms, later.server_write_p99_ms),
        rss_connected_mb=max(first.rss_connected_mb, later.rss_connected_mb),
        rss_peak_mb=max(first.rss_peak_mb, later.rss_peak_mb),
        load_average=(first.load_average[0], later.load_average[1]),
        notes=first.notes + later.notes,
        rounds=first.rounds + later.rounds,
    )


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] * 1000

    return {"p50": rank(0.50), "p99": rank(0.99), "max": ordered[-1] * 1000}


def update_body(seq: int) -> bytes:
    """A 10-coin batch; every record carries ``seq`` in ``samples`` (clients read it back)."""
    records = [
        aggregate(coin, 100.0 + index, coin=coin[:4].upper(), samples=seq)
        for index, coin in enumerate(DEFAULT_COIN_IDS)
    ]
    return json.dumps({"data": records, "batch_id": f"bench:{seq}", "source": "bench"}).encode()


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, kind: str, log_dir: Path, send_buffer: int, cpus: frozenset[int]) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{kind}-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "LOG_"))}
        env["PYTHONPATH"] = str(ROOT)
        if kind == "fanout":
            command = [sys.executable, "-m", "cryptopulse_api.main"]
            env.update(
                {
                    "API_PORT": str(self.port),
                    "API_MAX_CONNECTIONS": "20000",
                    "API_DRAIN_DELAY_SECONDS": "0",
                    "API_WS_SEND_BUFFER_BYTES": str(send_buffer),
                }
            )
        else:
            command = [
                sys.executable,
                "-m",
                "bench.fanout_baseline",
                str(self.port),
                str(send_buffer),
            ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        os.sched_setaffinity(self.process.pid, cpus)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"{kind} server did not start: {self.log_path.read_text()}")
            time.sleep(0.1)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def dropped(self) -> int:
        if self.kind == "baseline":
            return int(httpx.get(f"{self.url}/stats", timeout=5).json()["dropped"])
        return int(self.metric("cryptopulse_ws_slow_clients_dropped_total"))

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        )

    def write_p99_bound(self) -> float | None:
        """The histogram bucket under which 99 % of the frames were written (ingest receipt to
        the socket write, server side), in ms."""
        if self.kind == "baseline":
            return None
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        buckets = sorted(
            (float(sample.labels["le"]), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "cryptopulse_ws_broadcast_latency_seconds_bucket"
        )
        total = buckets[-1][1]
        return next((le * 1000 for le, count in buckets if count >= 0.99 * total), None)

    def blocked_before_drop(self) -> float | None:
        if self.kind == "baseline":
            return None
        blocked = re.findall(r"blocked_seconds=([0-9.]+)", self.log_path.read_text())
        return max(map(float, blocked)) if blocked else None

    def stop(self) -> None:
        stop_process(
            self.process, 30, signal.SIGKILL if self.kind == "baseline" else signal.SIGTERM
        )


class Sampler(threading.Thread):
    """Samples the server's RSS every 0.1 s and its drop count every 0.25 s (in every scenario,
    with or without slow clients, so that the scrapes weigh on every run alike)."""

    def __init__(self, server: Server, slow: int, started: float) -> None:
        super().__init__(daemon=True)
        self.server, self.slow, self.started = server, slow, started
        self.peak = 0
        self.all_dropped_after: float | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        next_poll = time.monotonic()
        while not self.stop_event.wait(0.1):
            self.peak = max(self.peak, rss_bytes(self.server.process.pid))
            if time.monotonic() < next_poll:
                continue
            next_poll += 0.25
            try:
                dropped = self.server.dropped()
            except httpx.HTTPError:
                continue
            if self.slow and self.all_dropped_after is None and dropped >= self.slow:
                self.all_dropped_after = time.perf_counter() - self.started


def cpu_sets(pinned: bool) -> tuple[frozenset[int], frozenset[int]]:
    """CPUs for the server under test, and for everything else (clients, this driver).

    In production the clients are browsers on other machines; here they share the machine's
    cores with the server, and the kernel likes to wake a client on the CPU of the server that
    just wrote to it. The one-process run (``--big``, 1 update/s, the server's whole core busy
    for each fan-out) pins the server to the first CPU and the apparatus to the others. The
    1,000-client runs are not pinned: at 10 updates/s their clients need both cores, and the
    driver timing /ingest would measure its own wait for a CPU.
    """
    first, *others = sorted(ALL_CPUS)
    if not pinned or not others:
        return ALL_CPUS, ALL_CPUS
    return frozenset({first}), frozenset(others)


def start_clients(
    url: str, count: int
) -> list[tuple[multiprocessing.process.BaseProcess, Connection]]:
    context = multiprocessing.get_context("spawn")
    processes: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    shares = [
        count // CLIENT_PROCESSES + (i < count % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)
    ]
    for share in shares:
        if share == 0:
            continue
        parent, child = context.Pipe()
        process = context.Process(target=fanout_clients.run, args=(url, share, child), daemon=True)
        process.start()
        processes.append((process, parent))
    return processes


def ask(clients: list[tuple[Any, Connection]], command: str) -> list[tuple[Any, ...]]:
    for _process, pipe in clients:
        pipe.send(command)
    return [pipe.recv() for _process, pipe in clients]


def run_scenario(scenario: Scenario, log_dir: Path, send_buffer: int) -> tuple[Result, Samples]:
    pinned = " (server pinned to the first CPU, clients to the others)" if scenario.pinned else ""
    print(
        f"\n== {scenario.name}: {scenario.updates} updates every {scenario.interval} s{pinned}",
        flush=True,
    )
    server_cpus, other_cpus = cpu_sets(scenario.pinned)
    os.sched_setaffinity(0, other_cpus)  # the client processes inherit it
    server = Server(scenario.server, log_dir, send_buffer, server_cpus)
    clients: list[tuple[Any, Connection]] = []
    slow: list[socket.socket] = []
    notes: list[str] = []
    try:
        opening = time.monotonic()
        clients = start_clients(server.ws_url, scenario.fast)
        opened = [pipe.recv() for _process, pipe in clients]
        connected = sum(reply[1] for reply in opened)
        failed = sum(reply[2] for reply in opened)
        print(
            f"   {connected} fast clients connected in {time.monotonic() - opening:.1f} s",
            flush=True,
        )
        if failed:
            notes.append(f"{failed} fast clients could not connect")
        slow = [stalled_client(server.ws_url) for _ in range(scenario.slow)]
        rss_connected = rss_bytes(server.process.pid)
        load_before = os.getloadavg()[0]

        with httpx.Client(timeout=60, headers={"content-type": "application/json"}) as http:
            started = time.perf_counter()
            sampler = Sampler(server, scenario.slow, started)
            sampler.start()
            for seq in range(1, WARMUP_UPDATES + 1):
                http.post(f"{server.url}/ingest", content=update_body(seq))
                time.sleep(scenario.interval)
            time.sleep(1.0)
            ask(clients, "reset")
            sent: dict[int, float] = {}
            ingest: list[float] = []
            first = time.perf_counter()
            for index in range(scenario.updates):
                seq = WARMUP_UPDATES + 1 + index
                body = update_body(seq)
                delay = first + index * scenario.interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                posted = time.perf_counter()
                response = http.post(f"{server.url}/ingest", content=body)
                ingest.append(time.perf_counter() - posted)
                assert response.status_code == 200, response.text
                sent[seq] = posted
            expected = connected * scenario.updates
            deadline = time.monotonic() + scenario.drain_timeout
            while time.monotonic() < deadline:
                if sum(reply[1] for reply in ask(clients, "progress")) >= expected:
                    break
                time.sleep(0.5)
            sampler.stop_event.set()
            sampler.join()
            reports = ask(clients, "report")

        collected = [frames for reply in reports for frames in reply[1]]
        closed = sum(reply[2] for reply in reports)
        latencies: list[float] = []
        last_arrival: dict[int, float] = {}
        out_of_order = 0
        for frames in collected:  # one list per fast client, in arrival order
            last = 0
            seen: set[int] = set()
            for seq, arrived in frames:
                if seq not in sent:
                    continue
                if seq < last:
                    out_of_order += 1
                last = seq
                if seq not in seen:
                    seen.add(seq)
                    latencies.append(arrived - sent[seq])
                    last_arrival[seq] = max(last_arrival.get(seq, 0.0), arrived - sent[seq])
        delivered = len(latencies)
        conflated = None
        if scenario.server == "fanout":
            conflated = server.metric("cryptopulse_ws_messages_conflated_total")
        dropped = server.dropped()
        result = Result(
            scenario=scenario,
            connected=connected,
            ingest_ms=percentiles(ingest),
            delivery_ms=percentiles(latencies),
            fanout_ms=percentiles(list(last_arrival.values())),
            expected=expected,
            delivered=delivered,
            out_of_order=out_of_order,
            fast_closed=closed,
            slow_dropped=dropped,
            slow_dropped_after_s=sampler.all_dropped_after,
            blocked_before_drop_s=server.blocked_before_drop(),
            conflated=conflated,
            server_write_p99_ms=server.write_p99_bound(),
            rss_connected_mb=rss_connected / 2**20,
            rss_peak_mb=max(sampler.peak, rss_connected) / 2**20,
            load_average=(load_before, os.getloadavg()[0]),
            notes=notes,
        )
        print_result(result)
        return result, Samples(ingest, latencies, list(last_arrival.values()))
    finally:
        if clients:
            for _process, pipe in clients:
                pipe.send("stop")
            for process, _pipe in clients:
                process.join(30)
        for sock in slow:
            sock.close()
        server.stop()


def print_result(result: Result) -> None:
    ingest, delivery = result.ingest_ms, result.delivery_ms
    missing = result.expected - result.delivered
    print(
        f"   /ingest    p50 {ingest['p50']:7.1f} ms   p99 {ingest['p99']:7.1f} ms\n"
        f"   delivery   p50 {delivery['p50']:7.1f} ms   p99 {delivery['p99']:7.1f} ms   "
        f"max {delivery['max']:7.1f} ms   undelivered {missing}/{result.expected}"
        + (f" ({100 * missing / result.expected:.1f} %)" if result.expected else "")
        + f"   out of order {result.out_of_order}   fast clients closed {result.fast_closed}\n"
        f"   last client of an update   p50 {result.fanout_ms['p50']:7.1f} ms   "
        f"p99 {result.fanout_ms['p99']:7.1f} ms   max {result.fanout_ms['max']:7.1f} ms",
        flush=True,
    )
    if result.scenario.slow:
        after = result.slow_dropped_after_s
        when = f"all dropped {after:.1f} s after the first update" if after else "not all dropped"
        blocked = result.blocked_before_drop_s
        print(
            f"   slow       {result.slow_dropped}/{result.scenario.slow * result.rounds} dropped; "
            f"{when}"
            + (f"; longest send blocked before its drop {blocked:.2f} s" if blocked else ""),
            flush=True,
        )
    if result.conflated:
        print(f"   conflated  {result.conflated:.0f} queued messages", flush=True)
    if result.server_write_p99_ms is not None:
        print(
            f"   server     99 % of frames written within {result.server_write_p99_ms:g} ms of "
            "the ingest (histogram bucket)",
            flush=True,
        )
    print(
        f"   server RSS {result.rss_connected_mb:.0f} MB connected, {result.rss_peak_mb:.0f} MB "
        f"peak   load average {result.load_average[0]:.1f} -> {result.load_average[1]:.1f}",
        flush=True,
    )
    for note in result.notes:
        print(f"   note: {note}", flush=True)


def ratio(numerator: Result | None, denominator: Result | None) -> float | None:
    if numerator is None or denominator is None:
        return None
    return numerator.delivery_ms["p99"] / denominator.delivery_ms["p99"]


def summary(results: dict[str, Result], fast: int, few: int, many: int, big: int) -> None:
    def get(server: str, clients: int, slow: int) -> Result | None:
        return results.get(f"{server} {clients} fast + {slow} slow")

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print("\n== Ratios of fast-client delivery p99")
    lines = [
        (f"baseline, {few} slow / none", get("baseline", fast, few), get("baseline", fast, 0)),
        (f"baseline, {many} slow / none", get("baseline", fast, many), get("baseline", fast, 0)),
        (f"fanout, {few} slow / none", get("fanout", fast, few), get("fanout", fast, 0)),
        (f"fanout, {many} slow / none", get("fanout", fast, many), get("fanout", fast, 0)),
        ("baseline / fanout, no slow", get("baseline", fast, 0), get("fanout", fast, 0)),
        (f"baseline / fanout, {few} slow", get("baseline", fast, few), get("fanout", fast, few)),
        (f"baseline / fanout, {many} slow", get("baseline", fast, many), get("fanout", fast, many)),
    ]
    for label, numerator, denominator in lines:
        value = ratio(numerator, denominator)
        if value is None:
            continue
        target = ""
        if label.startswith("fanout,"):
            target = f"  (target <= 1.2: {verdict(value <= 1.2)})"
        print(f"   {label:<32} {value:9.2f}x{target}")
    print("== Targets")
    ours = [
        r for r in results.values() if r.scenario.server == "fanout" and r.scenario.fast == fast
    ]
    if ours:
        p99 = max(r.ingest_ms["p99"] for r in ours)
        print(
            f"   /ingest p99 with {fast} fast clients, with or without slow ones: {p99:.1f} ms "
            f"(target < 20 ms: {verdict(p99 < 20)})"
        )
    biggest = get("fanout", big, 0)
    if biggest is not None:
        p99 = biggest.delivery_ms["p99"]
        print(
            f"   10-coin update to {biggest.connected} clients of one process: delivery p99 "
            f"{p99:.1f} ms (target < 250 ms: {verdict(p99 < 250)})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", type=int, default=1000, help="fast clients (default 1000)")
    parser.add_argument("--few", type=int, default=5, help="slow clients, small case (5)")
    parser.add_argument("--many", type=int, default=100, help="slow clients, large case (100)")
    parser.add_argument("--big", type=int, default=10_000, help="clients of the one-process run")
    parser.add_argument("--updates", type=int, default=200, help="measured updates per scenario")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between updates")
    parser.add_argument(
        "--send-buffer",
        type=int,
        default=32 * 1024,
        help="SO_SNDBUF of every WebSocket connection, both servers (default 32 KiB: a stalled "
        "client's buffers fill within seconds of 4 kB updates, not minutes)",
    )
    parser.add_argument("--big-updates", type=int, default=30, help="updates of the big run")
    parser.add_argument("--big-interval", type=float, default=1.0, help="... and their interval")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the 1,000-client scenarios this many times, interleaved, and pool the samples",
    )
    parser.add_argument("--only", choices=["baseline", "fanout", "big"], action="append")
    parser.add_argument("--quick", action="store_true", help="small numbers: check the bench runs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="in the one-process run, server on the first CPU, clients on the others (default)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.fast, args.few, args.many, args.big, args.updates = 100, 2, 10, 1000, 60
        args.big_updates = 10
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    needed = args.big + args.many + 100
    if hard < needed:
        print(f"open files limit {hard} < {needed}: the big run may fail to connect every client")
    only = set(args.only or ["baseline", "fanout", "big"])
    scenarios = []
    for _round in range(args.rounds):
        for slow in (0, args.few, args.many):  # interleaved: outside load falls on all alike
            for server in ("baseline", "fanout"):
                if server in only:
                    scenarios.append(Scenario(server, args.fast, slow, args.updates, args.interval))
    if "big" in only:
        scenarios.append(
            Scenario("fanout", args.big, 0, args.big_updates, args.big_interval, pinned=args.pin)
        )
    print(
        f"fan-out benchmark on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    results: dict[str, Result] = {}
    pools: dict[str, Samples] = {}
    with tempfile.TemporaryDirectory(prefix="fanout-bench-") as logs:
        for scenario in scenarios:
            result, samples = run_scenario(scenario, Path(logs), args.send_buffer)
            if scenario.name in results:
                pools[scenario.name].extend(samples)
                result = pooled(results[scenario.name], result, pools[scenario.name])
            else:
                pools[scenario.name] = samples
            results[scenario.name] = result
    if args.rounds > 1:
        print(f"\n== {args.rounds} rounds pooled")
        for result in results.values():
            if result.scenario.fast == args.fast:
                print(f"\n== {result.scenario.name} (all rounds)")
                print_result(result)
    summary(results, args.fast, args.few, args.many, args.big)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results.values()], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
