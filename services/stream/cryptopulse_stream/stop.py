"""``python -m cryptopulse_stream.stop``: stop a running stream job gracefully, and wait for it.

The driver pod's preStop hook. In the official Spark image ``spark-submit`` runs under tini,
which forwards SIGTERM to the JVM only; the job's Python process is a child of the JVM's
PythonRunner and never sees it, so its graceful stop (let the running micro-batch finish, stop
the queries, close the sink, stop the session) would never run. This sends SIGTERM to the
Python process named by ``STREAM_PID_FILE`` and waits until it has exited (or the timeout
passed), so the kubelet signals the container only after the job has stopped.

Exit status: 0 when the job stopped (or none was running: no pid file, or its process is gone),
1 when it still runs at the timeout.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
from pathlib import Path

from cryptopulse_stream.settings import StreamSettings

POLL_SECONDS = 0.2


def read_pid(path: Path) -> int | None:
    """The process id in ``path``, or None when the file is missing or holds no number."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited process its parent has not reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def stop_job(pid_file: Path, timeout_seconds: float) -> tuple[bool, str]:
    """SIGTERM the job whose pid ``pid_file`` holds; (stopped, what happened)."""
    pid = read_pid(pid_file)
    if pid is None:
        return True, f"no stream job to stop ({pid_file} is missing or empty)"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True, f"stream job {pid} had already exited"
    deadline = time.monotonic() + timeout_seconds
    while alive(pid):
        if time.monotonic() >= deadline:
            return False, f"stream job {pid} still runs {timeout_seconds:g} s after SIGTERM"
        time.sleep(POLL_SECONDS)
    return True, f"stream job {pid} stopped"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cryptopulse_stream.stop", description=__doc__)
    parser.add_argument(
        "--pid-file",
        default=None,
        help="the job's pid file [default: STREAM_PID_FILE from the environment]",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=55.0,
        help="give up waiting after this long [default: 55]",
    )
    args = parser.parse_args(argv)
    pid_file = args.pid_file or StreamSettings().stream_pid_file
    if not pid_file:
        print(
            "cryptopulse_stream.stop: no --pid-file, and STREAM_PID_FILE is empty", file=sys.stderr
        )
        return 2
    stopped, message = stop_job(Path(pid_file), args.timeout_seconds)
    print(f"cryptopulse_stream.stop: {message}", file=sys.stderr)
    return 0 if stopped else 1


if __name__ == "__main__":
    raise SystemExit(main())
