"""Stopping a child process: a signal, a bounded wait, then SIGKILL."""

from __future__ import annotations

import signal
import subprocess


def stop_process(
    process: subprocess.Popen[bytes] | subprocess.Popen[str],
    timeout: float,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> bool:
    """Send ``stop_signal`` to a running ``process`` and wait up to ``timeout`` seconds for it,
    then kill it. Returns True when it had to be killed."""
    if process.poll() is not None:
        return False
    process.send_signal(stop_signal)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return True
    return False
