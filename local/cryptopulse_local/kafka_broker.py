"""A real single-node Apache Kafka broker (KRaft), run from its Maven Central jars with ``java``.

``LocalKafka`` formats the storage directory once, starts ``kafka.Kafka`` as a child process,
waits until the broker answers metadata requests, creates the topics, and stops the broker with
SIGTERM (a controlled shutdown), escalating to SIGKILL only if it hangs.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptopulse_common.contract import TOPIC_CONFIGS
from cryptopulse_common.logs import event
from cryptopulse_local.maven import Artifact, resolve_jars
from cryptopulse_local.ownership import port_holders, record_process, remove_record
from cryptopulse_local.processes import parent_death_signal, stop_process

log = logging.getLogger(__name__)

# The Kafka version Strimzi 1.2.0 deploys by default; the chart pins the same
# (charts/cryptopulse/values.yaml kafka.cluster.version, checked by tests/k8s/test_contract.py).
KAFKA_VERSION = "4.3.0"
LOG4J_VERSION = "2.24.3"
KAFKA_ARTIFACTS = [
    Artifact("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    # Kafka logs through SLF4J 1.7; this binding sends it to log4j2 (configured below).
    Artifact("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
]

_LOG4J2_CONFIG = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: {level}
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaServer
        level: INFO
      - name: kafka.server.BrokerServer
        level: INFO
"""


class KafkaStartError(RuntimeError):
    pass


KAFKA_JAR_SET = f"kafka-{KAFKA_VERSION}"


def kafka_jars(cache_dir: Path) -> list[Path]:
    return resolve_jars(KAFKA_JAR_SET, KAFKA_ARTIFACTS, cache_dir)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class LocalKafka:
    """One broker+controller node listening on ``host:port`` (controller on ``controller_port``).

    The JVM gets SIGTERM when the thread that started it dies (``stop_with_parent``), so a killed
    ``up`` leaves no broker behind; with ``run_dir`` set, it is recorded there
    (:mod:`cryptopulse_local.ownership`) so that ``doctor`` and the next ``up`` can recognise it.
    """

    data_dir: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    partitions: int = 3
    log_level: str = "WARN"
    run_dir: Path | None = None
    stop_with_parent: bool = True
    _record: Path | None = field(default=None, init=False, repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_file: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _properties(self) -> str:
        listeners = (
            f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
        )
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{self.host}:{self.controller_port}",
            "listeners": listeners,
            "advertised.listeners": listeners,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": str(self.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise KafkaStartError("java is not on PATH; Kafka needs Java 17 or newer")
        return java

    def _command(self, jars: list[Path], main: str, *args: str) -> list[str]:
        return [
            self._java(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
            "-cp",
            os.pathsep.join(str(jar) for jar in jars),
            main,
            *args,
        ]

    def _format(self, jars: list[Path], config: Path) -> None:
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            self._command(
                jars,
                "kafka.tools.StorageTool",
                "format",
                # "=" form: a random id may start with "-", which argparse takes for a flag.
                f"--cluster-id={cluster_id}",
                f"--config={config}",
                "--standalone",
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise KafkaStartError(
                f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
            )
        event(log, "formatted Kafka storage", cluster_id=cluster_id, path=str(self.data_dir))

    def start(self, timeout: float = 60.0, topics: Iterable[str] = ()) -> None:
        for port in (self.port, self.controller_port):
            if port_open(self.host, port):
                holder = port_holders([port]).get(port)
                by = f" by {holder.describe()}" if holder else ""
                raise KafkaStartError(
                    f"port {self.host}:{port} is already in use{by}; is another broker running? "
                    "Stop it or choose another port (KAFKA_BOOTSTRAP_SERVERS); "
                    "`cryptopulse doctor` tells whether it is one of ours."
                )
        jars = kafka_jars(self.cache_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "server.properties"
        config.write_text(self._properties())
        (self.data_dir / "log4j2.yaml").write_text(_LOG4J2_CONFIG.format(level=self.log_level))
        self._format(jars, config)
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._command(jars, "kafka.Kafka", str(config)),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=parent_death_signal() if self.stop_with_parent else None,
        )
        if self.run_dir is not None:
            self._record = record_process(
                self.run_dir,
                "kafka",
                self._process.pid,
                (self.port, self.controller_port),
                self.host,
            )
        event(log, "starting Kafka broker", bootstrap=self.bootstrap_servers, pid=self._process.pid)
        self.wait_ready(timeout)
        self.create_topics(topics)

    def wait_ready(self, timeout: float) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last_error = "not started"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise KafkaStartError(
                    f"Kafka exited with code {self._process.returncode}; see {self.log_path}:\n"
                    + self._tail_log()
                )
            if port_open(self.host, self.port):
                try:
                    admin = KafkaAdminClient(
                        bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000
                    )
                    try:
                        admin.describe_cluster()
                    finally:
                        admin.close()
                    event(log, "Kafka broker is ready", bootstrap=self.bootstrap_servers)
                    return
                except KafkaError as exc:  # still starting
                    last_error = repr(exc)
            time.sleep(0.3)
        raise KafkaStartError(
            f"Kafka did not answer on {self.bootstrap_servers} within {timeout:.0f} s "
            f"(last error: {last_error}); see {self.log_path}"
        )

    def create_topics(self, topics: Iterable[str], partitions: int | None = None) -> None:
        create_topics(self.bootstrap_servers, topics, partitions or self.partitions)

    def _tail_log(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            if stop_process(process, timeout):
                event(log, "Kafka did not stop in time; killed it", logging.WARNING)
            event(log, "Kafka broker stopped", code=process.returncode)
        remove_record(self._record)
        self._record = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def kill(self) -> None:
        """Stop the broker abruptly (SIGKILL), as a crash would."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        remove_record(self._record)
        self._record = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def create_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = list(topics)
    if not wanted:
        return []
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=partitions,
                            replication_factor=1,
                            topic_configs=TOPIC_CONFIGS.get(name, {}),
                        )
                        for name in missing
                    ]
                )
            event(log, "created topics", topics=",".join(missing), partitions=partitions)
        return missing
    finally:
        admin.close()
