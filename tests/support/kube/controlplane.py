"""A real Kubernetes control plane for tests: etcd and kube-apiserver as plain processes on
loopback, the way controller-runtime's envtest runs them (no kubelet, no controllers, no
containers).

The binaries are built from the Go module proxy by ``scripts/install-control-plane.sh`` (the one
place their versions are written); this module asks that script where they are. The API server
runs with RBAC authorization (``--authorization-mode=RBAC``), its default admission plugins
(PodSecurity and ServiceAccount among them), a static admin token in ``system:masters``, a
service-account signing key, and a serving certificate from a CA generated per run.

What is not there: kube-controller-manager (no ReplicaSets or Pods appear for a Deployment, no
``default`` ServiceAccount appears in a new namespace, no garbage collection), the scheduler and
a kubelet (no Pod status). :mod:`tests.support.kube.status` writes those statuses as the kubelet
and the operators would; :func:`tests.support.kube.objects.create_namespace` creates the
``default`` ServiceAccount as the controller manager would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from cryptopulse_local.kafka_broker import free_port
from cryptopulse_local.processes import parent_death_signal, stop_process
from tests.support.kube import certs

REPO_ROOT = Path(__file__).resolve().parents[3]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-control-plane.sh"
# Deadlines, not measurements: on a loaded two-core machine etcd and the API server's post-start
# hooks (RBAC bootstrap roles, priority-and-fairness config) can take tens of seconds.
START_DEADLINE_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0
# A port chosen free can be taken before the process binds it (another process's listener or
# outgoing connection on a busy shared machine): start again on new ports, this many times.
PORT_ATTEMPTS = 3
PORT_IN_USE = "bind: address already in use"  # Go's net package, in etcd's and the server's log
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(RuntimeError):
    """The control plane could not be found or started; the message says what to do."""


class PortInUseError(ControlPlaneError):
    """A process could not listen on the port chosen for it: another process took it first."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    etcd: Path


def installed_binaries() -> Binaries:
    """Where ``scripts/install-control-plane.sh`` puts the binaries, checked to exist.

    Raises :class:`ControlPlaneError` naming the command to run when they are missing.
    """
    result = subprocess.run(
        [str(INSTALL_SCRIPT), "--bin-dir"], capture_output=True, text=True, check=True, timeout=30
    )
    paths = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    binaries = Binaries(Path(paths["kube-apiserver"]), Path(paths["etcd"]))
    for path in (binaries.kube_apiserver, binaries.etcd):
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ControlPlaneError(
                f"{path} is missing: run scripts/install-control-plane.sh (make test runs it; "
                "a first build compiles kube-apiserver and etcd from the Go module proxy)"
            )
    return binaries


@dataclass(frozen=True)
class ControlPlane:
    """A running control plane: its URL, CA and admin token, a kubeconfig file, the time it
    took from the first process start to ``/readyz`` answering 200, and the process ids of
    ``etcd`` and ``kube-apiserver`` (by those names)."""

    url: str
    credentials: certs.Credentials
    kubeconfig: Path
    directory: Path
    startup_seconds: float
    pids: dict[str, int]

    def tls(self) -> ssl.SSLContext:
        """A client TLS context that trusts this control plane's CA only."""
        return ssl.create_default_context(cafile=str(self.credentials.ca_cert))

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for name in ("etcd", "kube-apiserver"):
            with contextlib.suppress(OSError):
                text = (self.directory / f"{name}.log").read_text(errors="replace")
                parts.append(f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)


def write_kubeconfig(path: Path, url: str, credentials: certs.Credentials) -> Path:
    """A kubeconfig with one cluster, one admin user (bearer token) and one current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cryptopulse-test",
                "cluster": {"server": url, "certificate-authority": str(credentials.ca_cert)},
            }
        ],
        "users": [{"name": certs.ADMIN_USER, "user": {"token": credentials.admin_token}}],
        "contexts": [
            {
                "name": "cryptopulse-test",
                "context": {"cluster": "cryptopulse-test", "user": certs.ADMIN_USER},
            }
        ],
        "current-context": "cryptopulse-test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output in ``log``; it gets SIGTERM if this process dies without
    stopping it (a test run killed by a CI timeout or ``kill``), instead of running on."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            argv,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=parent_death_signal(),
        )


def _wait_until(
    check: Iterator[bool], process: subprocess.Popen[bytes], what: str, log: Path
) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    for ok in check:
        if ok:
            return
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            error = PortInUseError if PORT_IN_USE in tail else ControlPlaneError
            raise error(f"{what} exited with {process.returncode}; its log ({log}):\n{tail}")
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"{what} not ready after {START_DEADLINE_SECONDS:.0f} s")
        time.sleep(0.25)


def _polls(url: str, client: httpx.Client) -> Iterator[bool]:
    while True:
        try:
            yield client.get(url, timeout=5).status_code == 200
        except httpx.HTTPError:
            yield False


@contextmanager
def running_control_plane(
    directory: Path, binaries: Binaries | None = None
) -> Iterator[ControlPlane]:
    """Start etcd and kube-apiserver on free loopback ports with state in ``directory``; stop
    both (SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT_SECONDS`) when the block exits, and
    have Linux stop them if the calling process dies first (see :func:`_start`). A port taken
    between its choice and its use starts both again on new ports (:data:`PORT_ATTEMPTS`).

    Raises :class:`ControlPlaneError` when a binary is missing, a process exits early, or
    ``/readyz`` does not answer 200 within :data:`START_DEADLINE_SECONDS`.
    """
    binaries = binaries or installed_binaries()
    directory.mkdir(parents=True, exist_ok=True)
    credentials = certs.generate(directory / "pki")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                plane = _launch(directory, binaries, credentials, processes)
                break
            except PortInUseError:
                if attempt == PORT_ATTEMPTS:
                    raise
                _stop(processes)
                shutil.rmtree(directory / "etcd", ignore_errors=True)
        yield plane
    finally:
        _stop(processes)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        stop_process(process, STOP_TIMEOUT_SECONDS)
    processes.clear()


def _launch(
    directory: Path,
    binaries: Binaries,
    credentials: certs.Credentials,
    processes: list[subprocess.Popen[bytes]],
) -> ControlPlane:
    """Start etcd, then kube-apiserver, on newly chosen ports (appending each to
    ``processes``), and wait until each answers."""
    etcd_client, etcd_peer, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_client}"
    started = time.monotonic()
    etcd_log = directory / "etcd.log"
    etcd = _start(
        [
            str(binaries.etcd),
            "--name=cryptopulse-test",
            f"--data-dir={directory / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=cryptopulse-test=http://127.0.0.1:{etcd_peer}",
            # A throwaway store: no fsync (envtest does the same), quiet logs.
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        etcd_log,
    )
    processes.append(etcd)
    with httpx.Client() as plain:
        _wait_until(_polls(f"{etcd_url}/health", plain), etcd, "etcd", etcd_log)

    api_log = directory / "kube-apiserver.log"
    apiserver = _start(
        [
            str(binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={directory / 'pki'}",
            f"--tls-cert-file={credentials.serving_cert}",
            f"--tls-private-key-file={credentials.serving_key}",
            f"--client-ca-file={credentials.ca_cert}",
            f"--token-auth-file={credentials.token_file}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={credentials.service_account_public_key}",
            f"--service-account-signing-key-file={credentials.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC",
            # The "kubernetes" Service's endpoints cannot be a loopback address: do not
            # reconcile them (nothing here connects through that Service).
            "--endpoint-reconciler-type=none",
            "--anonymous-auth=false",
            "--profiling=false",
        ],
        api_log,
    )
    processes.append(apiserver)
    url = f"https://127.0.0.1:{api_port}"
    headers = {"Authorization": f"Bearer {credentials.admin_token}"}
    tls = ssl.create_default_context(cafile=str(credentials.ca_cert))
    with httpx.Client(verify=tls, headers=headers) as client:
        _wait_until(_polls(f"{url}/readyz", client), apiserver, "kube-apiserver", api_log)
    return ControlPlane(
        url=url,
        credentials=credentials,
        kubeconfig=write_kubeconfig(directory / "kubeconfig", url, credentials),
        directory=directory,
        startup_seconds=time.monotonic() - started,
        pids={"etcd": etcd.pid, "kube-apiserver": apiserver.pid},
    )
