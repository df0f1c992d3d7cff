"""Settings of the local runner itself (where state and downloaded jars live)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from cryptopulse_common.ports import KAFKA_CONTROLLER_PORT
from cryptopulse_common.settings import CommonSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIST = REPO_ROOT / "services" / "dashboard" / "dist"


class LocalSettings(CommonSettings):
    cryptopulse_state_dir: str = Field(
        default=".cryptopulse", description="Local state: Kafka data, checkpoints, logs."
    )
    cryptopulse_cache_dir: str = Field(
        default=str(Path.home() / ".cache" / "cryptopulse"),
        description="Cache of jars downloaded from Maven Central.",
    )
    kafka_controller_port: int = Field(
        default=KAFKA_CONTROLLER_PORT, description="Port of the local broker's KRaft controller."
    )
    kafka_partitions: int = Field(default=3, ge=1, description="Partitions of created topics.")
    kafka_heap: str = Field(default="512m", description="Java heap of the local broker.")

    @property
    def state_dir(self) -> Path:
        return Path(self.cryptopulse_state_dir).resolve()

    @property
    def cache_dir(self) -> Path:
        return Path(self.cryptopulse_cache_dir).expanduser().resolve()

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        first = self.kafka_bootstrap_servers.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or "127.0.0.1", int(port)
