"""Process records and the parent-death signal, with real processes (``sleep``, ``python``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cryptopulse_local.ownership import (
    live_processes,
    port_holders,
    prune_records,
    read_records,
    record_process,
    start_ticks,
    stop_orphans,
    wait_gone,
)

# Ends when its parent does (if the parent-death signal works), else after a minute.
SLEEPER = ["sleep", "60"]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(SLEEPER)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_record_counts_while_its_process_lives(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = record_process(tmp_path, "kafka", sleeper.pid, (19092, 19093), "127.0.0.1")
    [live] = live_processes(tmp_path)
    assert live.record.pid == sleeper.pid
    assert live.record.cmdline == tuple(SLEEPER)
    assert live.record.ports == (19092, 19093)
    assert not live.orphaned  # its parent, this test, lives
    assert live.path == path
    sleeper.kill()
    sleeper.wait()
    assert live_processes(tmp_path) == []
    assert prune_records(tmp_path) == 1
    assert not path.exists()


def test_a_pid_given_to_another_process_is_not_ours(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = record_process(tmp_path, "api", sleeper.pid, (18000,), "127.0.0.1")
    record = json.loads(path.read_text())
    # The recorded process started an hour earlier (kernel ticks are 1/100 s): not this one.
    record["create_time"] -= 3600
    record["start_ticks"] -= 360_000
    path.write_text(json.dumps(record))
    assert live_processes(tmp_path) == []
    record = json.loads(path.read_text())
    record["create_time"] += 3600
    record["start_ticks"] += 360_000
    path.write_text(json.dumps(record))
    assert len(live_processes(tmp_path)) == 1
    record["cmdline"] = ["java", "kafka.Kafka"]  # same start, another command: not ours either
    path.write_text(json.dumps(record))
    assert live_processes(tmp_path) == []


ORPHANING_PARENT = textwrap.dedent(
    """
    import subprocess, sys
    from pathlib import Path
    from cryptopulse_local.ownership import record_process

    child = subprocess.Popen(
        ["sleep", "60"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record_process(Path(sys.argv[1]), "kafka", child.pid, (int(sys.argv[2]),), "127.0.0.1")
    print(child.pid, flush=True)
    """
)


def _describe(pid: int) -> str:
    try:
        process = psutil.Process(pid)
        return f"{process.status()} {process.cmdline()} ticks {start_ticks(pid)}"
    except psutil.Error as error:
        return repr(error)


def test_an_orphan_is_found_and_stopped(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", ORPHANING_PARENT, str(tmp_path), "19092"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    orphan = int(result.stdout.split()[-1])
    try:
        found = live_processes(tmp_path)
        assert len(found) == 1, ([r.cmdline for _p, r in read_records(tmp_path)], _describe(orphan))
        [live] = found
        assert live.record.pid == orphan
        assert live.orphaned  # the parent that recorded it has exited
        said: list[str] = []
        stopped = stop_orphans(tmp_path, (19092,), said.append)
        assert [record.pid for record in stopped] == [orphan]
        assert "left running by an earlier run" in said[0]
        assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == "zombie"
        assert live_processes(tmp_path) == []
    finally:
        if psutil.pid_exists(orphan):
            os.kill(orphan, signal.SIGKILL)


def test_an_orphan_on_another_port_is_left_alone(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", ORPHANING_PARENT, str(tmp_path), "19094"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    orphan = int(result.stdout.split()[-1])
    try:
        assert stop_orphans(tmp_path, (19092,), lambda _text: None) == []
        assert psutil.pid_exists(orphan)
    finally:
        os.kill(orphan, signal.SIGKILL)


DYING_PARENT = textwrap.dedent(
    """
    import subprocess, time
    from cryptopulse_local.processes import parent_death_signal

    child = subprocess.Popen(
        ["sleep", "60"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=parent_death_signal(),
    )
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


def test_a_child_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", DYING_PARENT], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    with parent.stdout:
        child = psutil.Process(int(parent.stdout.readline()))
    assert child.is_running()
    parent.kill()  # SIGKILL: no handler runs, only the kernel can tell the child
    parent.wait()
    assert wait_gone(child, 30), "the child outlived its parent"


def test_port_holders_names_the_listening_process() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        holder = port_holders([port])[port]
    assert holder.pid == os.getpid()
    assert "python" in holder.cmdline[0] or "pytest" in " ".join(holder.cmdline)


def test_up_names_a_port_another_program_holds_before_starting_anything(tmp_path: Path) -> None:
    """Another program holds the API's port: ``up`` says so, naming the holder and the setting,
    before it starts the broker (it used to start the broker, then fail with "api did not
    become healthy; see api.log")."""
    from cryptopulse_local.kafka_broker import free_port

    api_port = free_port()
    env = {
        **os.environ,
        "CRYPTOPULSE_STATE_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "API_PORT": str(api_port),
        "PRODUCER_METRICS_PORT": str(free_port()),
        "STREAM_METRICS_PORT": str(free_port()),
    }
    with socket.create_server(("127.0.0.1", api_port)):
        result = subprocess.run(
            [sys.executable, "-m", "cryptopulse_local.cli", "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"127.0.0.1:{api_port} (API_PORT) is already in use by pid {os.getpid()}" in output
    assert "starting Kafka broker" not in output, output
