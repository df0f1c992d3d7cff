"""The open-file limit a WebSocket server needs: raised to the hard limit at start, and the
connection limit capped to what it got.

Each WebSocket client holds one file descriptor. Container runtimes give a process a *soft*
``RLIMIT_NOFILE`` that may be far below its hard one: containerd 2.x no longer raises it (its
systemd unit dropped ``LimitNOFILE=infinity``), so a container starts at the kernel's default soft
limit of 1024 under a hard limit of 524288 or more, and a server that never raises it fails
with EMFILE ("Too many open files") at about a thousand clients. Any process may raise its soft
limit up to its hard limit (setrlimit(2)); only the hard limit needs privileges.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

# setrlimit(RLIMIT_NOFILE) above fs.nr_open fails (EPERM), and an unlimited hard limit cannot
# be the soft one: then the soft limit goes up to nr_open (the kernel's default is 1048576).
NR_OPEN_PATH = Path("/proc/sys/fs/nr_open")
DEFAULT_NR_OPEN = 1_048_576
# An unlimited hard limit is what macOS gives (launchd: soft 256, hard unlimited), and there a
# soft limit above kern.maxfilesperproc is EINVAL: its setrlimit(2) man page says to use
# min(OPEN_MAX, rlim_max), OPEN_MAX being 10240 (<sys/syslimits.h>). Tried when nr_open fails.
OPEN_MAX = 10_240


@dataclass(frozen=True)
class FileLimit:
    """``RLIMIT_NOFILE`` before and after :func:`raise_open_file_limit` (descriptor counts)."""

    soft_before: int
    soft: int
    hard: int
    error: str = ""


def _nr_open() -> int:
    try:
        return int(NR_OPEN_PATH.read_text().strip())
    except (OSError, ValueError):
        return DEFAULT_NR_OPEN


def raise_open_file_limit() -> FileLimit:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit; when the hard limit is
    unlimited, to fs.nr_open, else (macOS) to ``OPEN_MAX``. Never raises: a refusal is reported
    in ``FileLimit.error`` and the soft limit stays what it was."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    targets = [hard] if hard != resource.RLIM_INFINITY else [_nr_open(), OPEN_MAX]
    if soft != resource.RLIM_INFINITY and soft >= targets[0]:
        return FileLimit(soft, soft, hard)
    error_text = ""
    for target in targets:
        if soft != resource.RLIM_INFINITY and soft >= target:
            return FileLimit(soft, soft, hard)  # already at the highest the system allows
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            error_text = error_text or f"{type(error).__name__}: {error}"
            continue
        return FileLimit(soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)
    return FileLimit(soft, soft, hard, error_text)


def connection_cap(configured: int, open_files: int, reserve: int) -> int:
    """The WebSocket clients a process with ``open_files`` descriptors can hold: ``configured``,
    at most ``open_files - reserve`` (the reserve covers the listening socket, Kafka and HTTP
    clients, log and library files). ``ValueError`` when that leaves no client at all."""
    if open_files == resource.RLIM_INFINITY:
        return configured
    room = open_files - reserve
    if room < 1:
        raise ValueError(
            f"the open-file limit is {open_files} and API_FD_RESERVE keeps {reserve} of them "
            "for other files: no descriptor is left for a WebSocket client; raise the "
            "container's nofile limit (ulimit -n) or lower API_FD_RESERVE"
        )
    return min(configured, room)
