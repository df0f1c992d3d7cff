"""scripts/install-control-plane.sh against what happens to a shared cache: a damaged binary, a
build killed half-way, another caller holding the lock. Each run gets its own cache folder
holding copies of the real binaries (never the shared ones), and a Go module proxy that cannot
serve anything, so a run that decides to rebuild shows it and fails at once instead of
compiling for tens of minutes."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kube.controlplane import INSTALL_SCRIPT, Binaries, installed_binaries

pytestmark = pytest.mark.kube

SCRIPT_DEADLINE_SECONDS = 120.0  # a deadline for a run that has nothing (or cannot) build


def versioned_dir(binary: Path) -> str:
    return binary.parent.name  # <name>-<version>


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache folder with copies of the built binaries and their stamps."""
    built: Binaries = installed_binaries()
    root = tmp_path / "cache"
    for binary in (built.etcd, built.kube_apiserver):
        shutil.copytree(binary.parent, root / "control-plane" / versioned_dir(binary))
    return root


def script_env(tmp_path: Path, cache: Path, proxy: str = "off") -> dict[str, str]:
    for name in ("gomodcache", "gocache", "tmp", "gotmp"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {
        **os.environ,
        "CRYPTOPULSE_CACHE_DIR": str(cache),
        "GOPROXY": proxy,
        "GOMODCACHE": str(tmp_path / "gomodcache"),
        "GOCACHE": str(tmp_path / "gocache"),
        "TMPDIR": str(tmp_path / "tmp"),
        "GOTMPDIR": str(tmp_path / "gotmp"),
    }


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(INSTALL_SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_DEADLINE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"install-control-plane.sh still running after the deadline: {expired}")


def test_built_binaries_need_no_lock(tmp_path: Path, cache: Path) -> None:
    """A caller whose binaries are built answers at once, even while another holds the lock
    (building, or a read-only cache where the lock file cannot be opened for writing)."""
    lock = cache / "control-plane" / ".lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run_script(script_env(tmp_path, cache))
    assert result.returncode == 0, result.stderr
    assert f"etcd={cache}/control-plane/" in result.stdout


def test_a_damaged_binary_is_rebuilt_not_trusted(tmp_path: Path, cache: Path) -> None:
    """A truncated etcd whose stamp is intact (a disk filled up, a copy cut short) is rebuilt:
    without the check the script said "ready" and every kube test failed on a crashing etcd."""
    etcd = next((cache / "control-plane").glob("etcd-*/etcd"))
    etcd.write_bytes(etcd.read_bytes()[: 1 << 20])
    result = run_script(script_env(tmp_path, cache))
    assert "building etcd" in result.stderr, result.stderr
    assert result.returncode != 0  # the rebuild could not download anything (GOPROXY=off)
    assert "GOPROXY=off" in result.stderr, result.stderr


def test_a_killed_builds_partial_binary_is_removed(tmp_path: Path, cache: Path) -> None:
    """A build killed with SIGKILL leaves ``<name>.partial.<pid>`` (100 MB for kube-apiserver);
    the next run that builds removes it."""
    kube = next((cache / "control-plane").glob("kube-apiserver-*/kube-apiserver"))
    kube.unlink()
    stale = kube.parent / "kube-apiserver.partial.4242"
    stale.write_bytes(b"\0" * 4096)
    result = run_script(script_env(tmp_path, cache))
    assert "building kube-apiserver" in result.stderr, result.stderr
    assert not stale.exists()


@pytest.fixture
def silent_proxy() -> Iterator[str]:
    """A Go module proxy URL that accepts connections and never answers: ``go`` waits on it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_an_interrupted_build_leaves_nothing_behind(tmp_path: Path, silent_proxy: str) -> None:
    """Ctrl-C or a CI timeout while ``go`` fetches modules: the script's wrapper module (and
    any partial binary) is removed, and it exits as interrupted."""
    env = script_env(tmp_path, tmp_path / "empty-cache", proxy=silent_proxy)
    work = tmp_path / "tmp"
    build = subprocess.Popen(
        [str(INSTALL_SCRIPT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SCRIPT_DEADLINE_SECONDS
        # The wrapper module exists once `go mod init` ran: the build is under way.
        while not list(work.glob("*/go.mod")):
            if build.poll() is not None:
                pytest.fail(f"the script ended before it was interrupted: {build.communicate()[1]}")
            if time.monotonic() > deadline:
                pytest.fail("the script never started its build")
            time.sleep(0.1)
        os.killpg(build.pid, signal.SIGTERM)
        _, stderr = build.communicate(timeout=SCRIPT_DEADLINE_SECONDS)
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
            build.communicate()
    assert build.returncode == 128 + signal.SIGTERM, stderr
    assert not list(work.iterdir()), "the interrupted build's wrapper module was left behind"
    assert not list((tmp_path / "empty-cache").rglob("*.partial.*"))
