"""Child processes: stopping one (a signal, a bounded wait, then SIGKILL), and tying one's life
to its parent's so that a parent killed without cleaning up leaves nothing running."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

# <linux/prctl.h>: the signal the kernel sends a process when its parent dies (prctl(2)).
_PR_SET_PDEATHSIG = 1


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


def parent_death_signal(
    death_signal: signal.Signals = signal.SIGTERM,
) -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen` after which Linux sends the child
    ``death_signal`` when its parent dies, however it dies (SIGKILL, an unhandled SIGTERM, a
    crash): ``PR_SET_PDEATHSIG``, prctl(2). Without it a child of a killed parent runs on,
    adopted by init. None on other systems (nothing to pass).

    The kernel ties the signal to the *thread* that started the child: start long-lived
    children from a thread that lives as long as they should (pytest's main thread does).
    The signal survives ``execve`` (not for set-user-ID programs). libc's ``prctl`` is looked
    up here, in the parent, so the child only makes two system calls between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), death_signal)

    return arm
