"""Child processes: they die with their parent; they stop with a signal, a wait, then SIGKILL."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

# prctl(2) option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent(
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``stop_signal`` when this process dies
    (SIGKILL and a closed terminal included): ``prctl(PR_SET_PDEATHSIG)``, Linux's standard way.

    The kernel sends it when the *thread* that forked the child exits, not only the process
    (prctl(2)): start children from a thread that lives as long as the process (the main thread).
    If the parent died between the fork and the prctl call, nothing would ever send the signal,
    so the child sends it to itself. None off Linux (no such call; children then outlive us).
    SIGTERM rather than SIGKILL: each stage stops gracefully on it (the producer flushes, the
    broker shuts down cleanly).
    """
    if _libc is None:
        return None
    prctl = _libc.prctl  # looked up before the fork: the child only calls it
    parent = os.getpid()
    signum = int(stop_signal)

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signum)

    return set_parent_death_signal


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
