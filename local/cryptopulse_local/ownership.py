"""Which processes on this machine are ours: records in the state folder, checked by the kernel.

Every long-running process of the local pipeline (``up`` itself, each stage command, the Kafka
broker's JVM) writes a record at start, ``<state>/run/<name>-<pid>.json``: its pid, its start
time, its command line, the ports it listens on and its parent's pid and start time. The record is
removed on a clean exit; one left behind by a killed process is harmless, because a record counts
only while a live process has the same pid, start time *and* command line (a pid the kernel gave
to someone else since then has another start time).

A live process of ours whose recorded parent is gone is *orphaned*: it was left running by an
earlier run (its ``up`` was killed before the parent-death signal existed, or it was started
detached). ``cryptopulse doctor`` reports it with the command that stops it; ``cryptopulse up``
stops the ones that hold a port it needs, after saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

RUN_DIR_NAME = "run"
# Without the kernel's start ticks (not Linux), start times compare within this: psutil derives
# them from the boot time, which moves when the wall clock is stepped.
_START_TIME_TOLERANCE_SECONDS = 1.0


def run_dir(state_dir: Path) -> Path:
    return state_dir / RUN_DIR_NAME


@dataclass(frozen=True)
class ProcessRecord:
    """What a process of ours says about itself (see the module docstring)."""

    name: str
    pid: int
    create_time: float
    cmdline: tuple[str, ...]
    host: str
    ports: tuple[int, ...]
    parent_pid: int
    parent_create_time: float | None
    start_ticks: int | None = None
    parent_start_ticks: int | None = None

    def describe(self) -> str:
        """``kafka (pid 4242, started 14:03:07)``."""
        started = time.strftime("%H:%M:%S", time.localtime(self.create_time))
        return f"{self.name} (pid {self.pid}, started {started})"

    @property
    def command(self) -> str:
        """The command line, shortened for a report: the program and its last arguments."""
        words = list(self.cmdline)
        if len(words) > 4:
            words = [words[0], "…", *words[-3:]]
        return " ".join(words)


@dataclass(frozen=True)
class LiveProcess:
    record: ProcessRecord
    orphaned: bool
    path: Path


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (``/proc/<pid>/stat`` field 22, proc(5)):
    exact and fixed for its life, unlike a wall-clock start time. None off Linux or when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    try:
        return int(fields[22 - 3])
    except (IndexError, ValueError):
        return None


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _settled_cmdline(process: psutil.Process, timeout: float = 2.0) -> tuple[str, ...]:
    """The command line once the kernel shows it: right after a fork-and-exec returns, a child's
    ``/proc/<pid>/cmdline`` can read empty for a moment (the exec has not set up its arguments
    yet)."""
    deadline = time.monotonic() + timeout
    while True:
        cmdline = tuple(process.cmdline())
        if cmdline or time.monotonic() > deadline:
            return cmdline
        time.sleep(0.01)


def record_process(
    directory: Path,
    name: str,
    pid: int,
    ports: Iterable[int],
    host: str,
    parent_pid: int | None = None,
) -> Path:
    """Write the record of live process ``pid`` (a child we just started, or ourselves).

    Raises ``psutil.NoSuchProcess`` when ``pid`` has already exited.
    """
    process = psutil.Process(pid)
    parent = os.getpid() if parent_pid is None else parent_pid
    record = ProcessRecord(
        name=name,
        pid=pid,
        create_time=process.create_time(),
        cmdline=_settled_cmdline(process),
        host=host,
        ports=tuple(ports),
        parent_pid=parent,
        parent_create_time=_create_time(parent),
        start_ticks=start_ticks(pid),
        parent_start_ticks=start_ticks(parent),
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{pid}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(record)))
    partial.replace(path)
    return path


def record_self(directory: Path, name: str, ports: Iterable[int], host: str) -> Path:
    return record_process(directory, name, os.getpid(), ports, host, parent_pid=os.getppid())


def remove_record(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _parse(data: dict[str, Any]) -> ProcessRecord:
    return ProcessRecord(
        name=str(data["name"]),
        pid=int(data["pid"]),
        create_time=float(data["create_time"]),
        cmdline=tuple(str(word) for word in data["cmdline"]),
        host=str(data["host"]),
        ports=tuple(int(port) for port in data["ports"]),
        parent_pid=int(data["parent_pid"]),
        parent_create_time=(
            None if data.get("parent_create_time") is None else float(data["parent_create_time"])
        ),
        start_ticks=None if data.get("start_ticks") is None else int(data["start_ticks"]),
        parent_start_ticks=(
            None if data.get("parent_start_ticks") is None else int(data["parent_start_ticks"])
        ),
    )


def read_records(directory: Path) -> list[tuple[Path, ProcessRecord]]:
    """Every readable record in ``directory`` (unreadable ones are skipped: a record is a hint,
    never trusted without checking the process)."""
    found: list[tuple[Path, ProcessRecord]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            found.append((path, _parse(json.loads(path.read_text()))))
    return found


def is_same_process(
    pid: int,
    create_time: float | None,
    cmdline: tuple[str, ...] | None,
    ticks: int | None = None,
) -> bool:
    """True while ``pid`` is alive and is the process recorded (same start, in kernel ticks when
    recorded, and, when given, the same command line): not a pid the kernel has since given to
    another process."""
    if create_time is None and ticks is None:
        return False
    try:
        process = psutil.Process(pid)
        if ticks is not None:
            if start_ticks(pid) != ticks:
                return False
        elif (
            create_time is None
            or abs(process.create_time() - create_time) > _START_TIME_TOLERANCE_SECONDS
        ):
            return False
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return cmdline is None or tuple(process.cmdline()) == cmdline
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def live_processes(directory: Path) -> list[LiveProcess]:
    """The recorded processes that are still running, each marked orphaned or not."""
    live: list[LiveProcess] = []
    for path, record in read_records(directory):
        if not is_same_process(record.pid, record.create_time, record.cmdline, record.start_ticks):
            continue
        parent_alive = is_same_process(
            record.parent_pid, record.parent_create_time, None, record.parent_start_ticks
        )
        live.append(LiveProcess(record, orphaned=not parent_alive, path=path))
    return live


def prune_records(directory: Path) -> int:
    """Remove the records of processes that are gone; returns how many."""
    removed = 0
    for path, record in read_records(directory):
        if not is_same_process(record.pid, record.create_time, record.cmdline, record.start_ticks):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass(frozen=True)
class PortHolder:
    """A process listening on a TCP port (``pid`` None when the kernel does not tell us)."""

    port: int
    pid: int | None
    cmdline: tuple[str, ...]

    def describe(self) -> str:
        if self.pid is None:
            return f"port {self.port} is held by a process we may not inspect"
        words = list(self.cmdline)
        command = " ".join([words[0], "…", *words[-2:]] if len(words) > 3 else words)
        return f"pid {self.pid} ({command or '?'})"


def port_holders(ports: Iterable[int]) -> dict[int, PortHolder]:
    """Which process listens on each of ``ports`` (any address), from the kernel's socket table."""
    wanted = set(ports)
    found: dict[int, PortHolder] = {}
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return found
    for connection in connections:
        if connection.status != psutil.CONN_LISTEN or not connection.laddr:
            continue
        port = connection.laddr.port
        if port not in wanted or port in found:
            continue
        cmdline: tuple[str, ...] = ()
        if connection.pid is not None:
            with contextlib.suppress(psutil.Error):
                cmdline = tuple(psutil.Process(connection.pid).cmdline())
        found[port] = PortHolder(port, connection.pid, cmdline)
    return found


def stop_command(record: ProcessRecord) -> str:
    """The command a person types to stop it (SIGTERM: a graceful stop)."""
    return f"kill {record.pid}"


def wait_gone(process: psutil.Process, timeout: float) -> bool:
    """Wait until ``process`` has exited (a zombie nobody reaped yet counts as exited: it holds
    no port and runs nothing); True if it did within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def stop_recorded(record: ProcessRecord, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, wait up to ``timeout`` s, then SIGKILL; only if it is still
    the recorded one. Returns True when it had to be killed."""
    if not is_same_process(record.pid, record.create_time, record.cmdline, record.start_ticks):
        return False
    process = psutil.Process(record.pid)
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signal.SIGTERM)
        if wait_gone(process, timeout):
            return False
        process.kill()
        wait_gone(process, 10)
        return True
    return False


def stop_orphans(
    directory: Path, ports: Iterable[int], say: Callable[[str], None]
) -> list[ProcessRecord]:
    """Stop the orphaned processes of ours that listen on (or were recorded with) one of
    ``ports``, saying what is stopped and why; returns their records."""
    wanted = set(ports)
    holders = port_holders(wanted)
    held_by = {holder.pid for holder in holders.values() if holder.pid is not None}
    stopped: list[ProcessRecord] = []
    for live in live_processes(directory):
        record = live.record
        if not live.orphaned or not (record.pid in held_by or wanted & set(record.ports)):
            continue
        ports_text = ",".join(str(port) for port in record.ports)
        say(
            f"  ■ stopping {record.describe()} left running by an earlier run on "
            f"{record.host}:{ports_text} (its parent pid {record.parent_pid} is gone)"
        )
        killed = stop_recorded(record)
        if killed:
            say(f"  ■ {record.name} (pid {record.pid}) did not stop in time; killed it")
        remove_record(live.path)
        stopped.append(record)
    return stopped
