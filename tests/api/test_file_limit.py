"""The API process raises its open-file soft limit to the hard one, and caps its connection limit
to what it got, as it must in a container whose runtime leaves the soft limit low."""

from __future__ import annotations

import json
import resource
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from cryptopulse_api import limits
from cryptopulse_api.limits import connection_cap, raise_open_file_limit
from cryptopulse_api.main import fit_open_files
from cryptopulse_api.settings import ApiSettings
from tests.api.conftest import api_process, ws_url


def nofile_of(pid: int) -> tuple[int, int]:
    """(soft, hard) ``Max open files`` of a running process, read from /proc."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


def test_started_at_a_low_soft_limit_it_raises_it_and_caps_its_clients(tmp_path: Path) -> None:
    # soft 64 / hard 180, a reserve of 120: room for 60 clients although 10,000 are configured.
    with api_process(
        tmp_path, nofile=(64, 180), API_FD_RESERVE="120", API_MAX_CONNECTIONS="10000"
    ) as api:
        api.wait_ready()
        assert nofile_of(api.process.pid) == (180, 180)
        log = api.log()
        assert "open files: soft limit 64 -> 180 (hard 180)" in log
        assert "API_MAX_CONNECTIONS 10000 capped to 60" in log
        with ExitStack() as clients:
            for _ in range(60):
                ws = clients.enter_context(connect(ws_url(api.url)))
                assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
            extra = clients.enter_context(connect(ws_url(api.url)))
            with pytest.raises(ConnectionClosed) as closed:
                extra.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008
        assert api.sample("cryptopulse_ws_connections_rejected_total", reason="limit") == 1


def test_a_limit_that_leaves_no_client_stops_the_server_with_the_reason(tmp_path: Path) -> None:
    with api_process(tmp_path, nofile=(64, 100), API_FD_RESERVE="256") as api:
        assert api.process.wait(60) != 0
        assert "no descriptor is left for a WebSocket client" in api.log()


def test_the_configured_limit_stands_when_the_files_allow_it() -> None:
    assert connection_cap(10_000, 1_048_576, 256) == 10_000
    assert connection_cap(10_000, 1024, 256) == 768
    with pytest.raises(ValueError, match="API_FD_RESERVE"):
        connection_cap(10, 200, 256)


def test_raising_in_this_process_reaches_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        limit = raise_open_file_limit()
        assert limit.error == ""
        assert limit.soft_before == min(soft, 256)
        assert limit.soft == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
        assert limit.soft == (hard if hard != resource.RLIM_INFINITY else nr_open)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class MacOSOpenFiles:
    """RLIMIT_NOFILE as macOS gives a process (launchd's default: soft 256, hard unlimited) and
    as its setrlimit(2) treats it: a soft limit above kern.maxfilesperproc is EINVAL ("It no
    longer accepts rlim_cur = RLIM_INFINITY for RLIM_NOFILE. Use rlim_cur = min(OPEN_MAX,
    rlim_max)", the man page's COMPATIBILITY section), which CPython raises as ValueError
    ("current limit exceeds maximum limit"). Linux never has an unlimited hard limit for open
    files (setrlimit refuses one above fs.nr_open), so this is the one case run on a stand-in."""

    MAX_FILES_PER_PROC = 10_240  # OPEN_MAX; kern.maxfilesperproc is at least that

    def __init__(self) -> None:
        self.soft, self.hard = 256, resource.RLIM_INFINITY

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        soft, hard = limits
        if hard != self.hard or soft == resource.RLIM_INFINITY or soft > self.MAX_FILES_PER_PROC:
            raise ValueError("current limit exceeds maximum limit")
        self.soft = soft


def test_an_unlimited_hard_limit_raises_the_soft_one_as_far_as_the_system_allows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`cryptopulse api` on a Mac: the soft limit of 256 must go up (to OPEN_MAX), not stay
    put and leave API_FD_RESERVE's 256 descriptors and no client."""
    macos = MacOSOpenFiles()
    monkeypatch.setattr(resource, "getrlimit", macos.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", macos.setrlimit)
    monkeypatch.setattr(limits, "NR_OPEN_PATH", tmp_path / "no-proc" / "nr_open")
    limit = raise_open_file_limit()
    assert limit.error == ""
    assert (limit.soft_before, limit.soft) == (256, MacOSOpenFiles.MAX_FILES_PER_PROC)
    assert macos.soft == MacOSOpenFiles.MAX_FILES_PER_PROC
    settings = fit_open_files(ApiSettings(api_max_connections=10_000))
    assert settings.api_max_connections == MacOSOpenFiles.MAX_FILES_PER_PROC - 256
