"""``cryptopulse up``: run the broker, the API, the stream job and the producer together.

The broker runs from this process; every other stage is a child process running the same
``cryptopulse <stage>`` command a developer would type, in its own session so that Ctrl-C
reaches only this supervisor, which then stops the stages in order: producer (flushes its ticks),
stream job, API, broker.

Nothing outlives it: every child gets SIGTERM from the kernel when this process dies, SIGKILL and
a closed terminal included (``parent_death_signal``), and each records itself in ``<state>/run``.
Before starting, it stops what an earlier run of the same state folder left running on the ports
it needs (orphans of ours, :func:`cryptopulse_local.ownership.stop_orphans`), after saying so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import ALL_TOPICS
from cryptopulse_common.logs import event
from cryptopulse_local.kafka_broker import LocalKafka, port_open
from cryptopulse_local.ownership import (
    port_holders,
    prune_records,
    record_self,
    remove_record,
    run_dir,
    stop_orphans,
)
from cryptopulse_local.processes import parent_death_signal, stop_process
from cryptopulse_local.settings import LocalSettings

log = logging.getLogger("cryptopulse.up")

# Start order; stopping goes the other way round.
STAGES = ("api", "stream", "producer")
STOP_TIMEOUT_SECONDS = {"producer": 30.0, "stream": 60.0, "api": 20.0}


@dataclass
class Stage:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    reader: threading.Thread | None = None
    reported_exit: bool = False


@dataclass
class Supervisor:
    local: LocalSettings
    api: ApiSettings
    child_env: Mapping[str, str]
    stages: dict[str, Stage] = field(default_factory=dict)
    kafka: LocalKafka | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _print_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return f"http://{self.api.api_host}:{self.api.api_port}"

    def say(self, text: str) -> None:
        with self._print_lock:
            print(text, flush=True)

    def _pump(self, name: str, stream: IO[bytes], log_file: IO[bytes]) -> None:
        label = f"{name:<8}| "
        for raw in iter(stream.readline, b""):
            log_file.write(raw)
            log_file.flush()
            self.say(label + raw.decode("utf-8", errors="replace").rstrip())
        log_file.close()

    def start_kafka(self) -> None:
        host, port = self.local.kafka_host_port
        self.kafka = LocalKafka(
            data_dir=self.local.state_dir / "kafka",
            cache_dir=self.local.cache_dir,
            host=host,
            port=port,
            controller_port=self.local.kafka_controller_port,
            heap=self.local.kafka_heap,
            partitions=self.local.kafka_partitions,
            run_dir=run_dir(self.local.state_dir),
        )
        self.kafka.start(topics=ALL_TOPICS)
        self.say(f"  ✓ kafka     {self.kafka.bootstrap_servers} (log: {self.kafka.log_path})")

    def start_stage(self, name: str) -> None:
        logs_dir = self.local.state_dir / "logs"
        logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = logs_dir / f"{name}.log"
        env = {**os.environ, **self.child_env, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "cryptopulse_local.cli", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=parent_death_signal(),
        )
        assert process.stdout is not None
        reader = threading.Thread(
            target=self._pump, args=(name, process.stdout, log_path.open("ab")), daemon=True
        )
        reader.start()
        self.stages[name] = Stage(name, process, log_path, reader)

    def wait_api(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=1.0).status_code == 200:
                    return True
            if self.stages["api"].process.poll() is not None:
                return False
            self._stop.wait(0.3)
        return False

    def first_data(self) -> int:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = httpx.get(f"{self.api_url}/api/snapshot", timeout=1.0)
            return len(response.json().get("data", []))
        return 0

    def ports(self) -> list[int]:
        """Every port this pipeline listens on."""
        env = self.child_env
        ports = [self.local.kafka_host_port[1], self.local.kafka_controller_port, self.api.api_port]
        for name in ("PRODUCER_METRICS_PORT", "STREAM_METRICS_PORT"):
            if env.get(name, "").isdigit():
                ports.append(int(env[name]))
        return ports

    def stop_leftovers(self) -> None:
        """Stop what an earlier run of this state folder left on our ports (said first)."""
        directory = run_dir(self.local.state_dir)
        prune_records(directory)
        stop_orphans(directory, self.ports(), self.say)

    def busy_ports(self) -> list[str]:
        """Each port this pipeline needs that a process holds already (after
        :meth:`stop_leftovers`: not a leftover of ours), said with its holder and its setting:
        a stage would fail on it later, after the broker started, with its log to read."""
        env = self.child_env
        kafka_host, kafka_port = self.local.kafka_host_port
        wanted = [
            (kafka_host, kafka_port, "KAFKA_BOOTSTRAP_SERVERS"),
            (kafka_host, self.local.kafka_controller_port, "KAFKA_CONTROLLER_PORT"),
            (self.api.api_host, self.api.api_port, "API_PORT"),
        ]
        for name in ("PRODUCER_METRICS_PORT", "STREAM_METRICS_PORT"):
            if env.get(name, "").isdigit():
                wanted.append(("127.0.0.1", int(env[name]), name))
        busy = []
        for host, port, setting in wanted:
            address = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
            if not port_open(address, port):
                continue
            holder = port_holders([port]).get(port)
            by = f" by {holder.describe()}" if holder else ""
            busy.append(f"{address}:{port} ({setting}) is already in use{by}")
        return busy

    def check_children(self) -> None:
        for stage in self.stages.values():
            code = stage.process.poll()
            if code is not None and not stage.reported_exit:
                stage.reported_exit = True
                self.say(
                    f"  ✗ {stage.name} exited with code {code}; see {stage.log_path}. "
                    f"The other stages keep running; restart it with `cryptopulse {stage.name}`."
                )

    def run(self) -> int:
        started = time.monotonic()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        self.say("cryptopulse: starting the local pipeline (Ctrl-C stops everything)")
        record = None
        try:
            self.stop_leftovers()
            busy = self.busy_ports()
            if busy:
                for line in busy:
                    self.say(f"  ✗ port {line}")
                self.say(
                    "  Stop what holds it, or give this pipeline other ports (the settings "
                    "named); `cryptopulse doctor` tells whether it is one of ours."
                )
                return 1
            record = record_self(run_dir(self.local.state_dir), "up", (), self.api.api_host)
            self.start_kafka()
            self.start_stage("api")
            if not self.wait_api():
                self.say(f"  ✗ api did not become healthy; see {self.stages['api'].log_path}")
                return 1
            self.say(f"  ✓ api       {self.api_url} (health: {self.api_url}/health)")
            self.start_stage("stream")
            stream_port = self.child_env.get("STREAM_METRICS_PORT", "")
            self.say(
                "  … stream    Spark job starting (first aggregates in ~20-40 s; "
                f"health: http://127.0.0.1:{stream_port}/health)"
            )
            self.start_stage("producer")
            self.say("  ✓ producer  publishing ticks")
            self.say(f"\n  Dashboard:  {self.api_url}/\n  Metrics:    {self.api_url}/metrics\n")
            announced = False
            while not self._stop.is_set():
                self.check_children()
                if not announced:
                    coins = self.first_data()
                    if coins:
                        announced = True
                        elapsed = time.monotonic() - started
                        self.say(
                            f"  ✓ live data for {coins} coins after {elapsed:.1f} s "
                            f"at {self.api_url}/"
                        )
                self._stop.wait(1.0)
            return 0
        finally:
            self.shutdown()
            remove_record(record)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stop.is_set():
            return
        self.say(f"\ncryptopulse: {signal.Signals(signum).name} received; stopping every stage")
        self._stop.set()

    def shutdown(self) -> None:
        self._stop.set()
        for name in reversed(STAGES):
            stage = self.stages.get(name)
            if stage is None or stage.process.poll() is not None:
                continue
            if stop_process(stage.process, STOP_TIMEOUT_SECONDS[name]):
                event(log, f"{name} did not stop in time; killed it", logging.WARNING)
            if stage.reader is not None:
                stage.reader.join(timeout=5)
            self.say(f"  ■ {name} stopped (exit {stage.process.returncode})")
        if self.kafka is not None:
            self.kafka.stop()
            self.say("  ■ kafka stopped")
