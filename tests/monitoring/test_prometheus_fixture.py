"""The test Prometheus dies with the test run that started it, however the run dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.prometheus import binary

REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_DEADLINE_SECONDS = 30.0

KILLED_RUN = """
import json, sys, time
from pathlib import Path
from tests.support.prometheus import running_prometheus
with running_prometheus(Path(sys.argv[1]), [], "groups: []\\n") as server:
    print(json.dumps({"prometheus": server.process.pid}), flush=True)
    time.sleep(600)
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie is dead: it only waits for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_prometheus_dies_with_a_killed_test_run(tmp_path: Path) -> None:
    """SIGKILL of the pytest process (a CI timeout, Ctrl-C twice) runs no finalizer: the
    Prometheus it started must not outlive it (seen on this machine before the fix)."""
    binary()  # raises, naming the setup step, when Prometheus is not installed
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path / "prometheus")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid = 0
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        if not line:
            pytest.fail(f"prometheus did not start: {run.communicate()[1]}")
        pid = json.loads(line)["prometheus"]
        assert running(pid)
        run.kill()
        run.wait()
        deadline = time.monotonic() + EXIT_DEADLINE_SECONDS
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(pid), f"prometheus {pid} still running after its parent was killed"
    finally:
        run.kill()
        run.communicate()
        if pid and running(pid):
            os.kill(pid, signal.SIGKILL)
