"""Producer settings (environment variables and ``cryptopulse producer`` flags)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field, SecretStr, model_validator

from cryptopulse_common.contract import DEFAULT_COIN_IDS
from cryptopulse_common.ports import LOCALHOST, PRODUCER_METRICS_PORT
from cryptopulse_common.settings import CommonSettings

SourceName = Literal["simulate", "coingecko", "replay"]
CoinGeckoPlan = Literal["demo", "pro"]
Compression = Literal["gzip", "none"]

COINGECKO_PUBLIC_URL: Final = "https://api.coingecko.com/api/v3"
COINGECKO_PRO_URL: Final = "https://pro-api.coingecko.com/api/v3"
# The free tier allows a few calls a minute: one poll every 30 s leaves room for retries.
COINGECKO_DEFAULT_INTERVAL_SECONDS: Final = 30.0


class ProducerSettings(CommonSettings):
    producer_source: SourceName = Field(
        default="simulate",
        description="Market source: simulate (embedded, seeded), coingecko (live API) or replay "
        "(a recording of /coins/markets responses).",
    )
    producer_coins: str = Field(
        default=",".join(DEFAULT_COIN_IDS),
        description="CoinGecko coin ids to publish, comma separated.",
    )
    producer_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between polls of the source (simulate: down to 0.1; coingecko: "
        f"{COINGECKO_DEFAULT_INTERVAL_SECONDS:.0f} unless set, the free tier's pace; replay "
        "follows the recording).",
    )
    producer_max_polls: int = Field(
        default=0, ge=0, description="Stop after this many polls (0 = run until stopped)."
    )
    producer_connect_attempts: int = Field(
        default=5,
        ge=0,
        description="Attempts to reach Kafka at start before giving up (0 = keep trying until "
        "stopped: the chart's setting, where the pod is un-Ready meanwhile).",
    )
    producer_connect_backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Wait before connect attempt N is N times this, at most "
        "producer_connect_backoff_max_seconds.",
    )
    producer_connect_backoff_max_seconds: float = Field(
        default=30.0, ge=0, description="Longest wait between two connect attempts."
    )
    producer_linger_ms: int = Field(
        default=20, ge=0, description="Kafka batching: wait up to this long to fill a batch."
    )
    producer_batch_bytes: int = Field(
        default=262_144,
        ge=1024,
        description="Kafka batching: bytes per partition batch (kafka-python's 16 KB default "
        "wakes its sender thread for nearly every tick under load).",
    )
    producer_compression: Compression = Field(
        default="gzip", description="Kafka batch compression: gzip or none."
    )
    producer_delivery_timeout_seconds: float = Field(
        default=120.0,
        ge=1,
        description="Kafka client's time to deliver a tick (retrying) before the producer "
        "takes it back into its own buffer to resend.",
    )
    producer_buffer_max_records: int = Field(
        default=50_000,
        ge=1,
        description="Ticks held unacknowledged while Kafka is unreachable; newer ticks beyond "
        "this are dropped and counted.",
    )
    producer_flush_timeout_seconds: float = Field(
        default=20.0, ge=0, description="On SIGTERM, wait this long for buffered ticks to be sent."
    )
    producer_topic_partitions: int = Field(
        default=3, ge=1, description="Partitions of the ticks topic when the producer creates it."
    )
    producer_topic_replication_factor: int = Field(
        default=-1,
        description="Replication factor of the ticks topic when the producer creates it "
        "(-1 = the broker's default.replication.factor).",
    )
    producer_topic_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="retention.ms of the ticks topic when the producer creates it, in hours.",
    )
    producer_metrics_host: str = Field(
        default=LOCALHOST,
        description="Interface of /health and /metrics (0.0.0.0 in a container).",
    )
    producer_metrics_port: int = Field(
        default=PRODUCER_METRICS_PORT,
        ge=0,
        description="Port of the producer's /health and /metrics (0 = any free port).",
    )
    producer_health_max_silent_intervals: float = Field(
        default=5.0,
        gt=0,
        description="/health answers 503 when no tick was acknowledged by Kafka for this many "
        "poll intervals (and at least producer_health_min_silent_seconds).",
    )
    producer_health_min_silent_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Lower bound of the silence /health tolerates, in seconds.",
    )
    simulate_seed: int = Field(default=42, description="Seed of the simulated market.")
    simulate_coin_count: int = Field(
        default=0, ge=0, description="Simulate this many coins (0 = the producer_coins list)."
    )
    coingecko_api_key: SecretStr | None = Field(
        default=None,
        description="CoinGecko API key (from a Kubernetes Secret; never logged). Unset = the "
        "keyless public API.",
    )
    coingecko_api_plan: CoinGeckoPlan = Field(
        default="demo",
        description="Plan of coingecko_api_key: demo (header x-cg-demo-api-key, public URL) or "
        "pro (header x-cg-pro-api-key, pro-api URL).",
    )
    coingecko_base_url: str | None = Field(
        default=None,
        description=f"CoinGecko API base URL (unset = {COINGECKO_PUBLIC_URL}, or "
        f"{COINGECKO_PRO_URL} for the pro plan).",
    )
    coingecko_vs_currency: str = Field(default="usd", description="Quote currency.")
    coingecko_timeout_seconds: float = Field(
        default=10.0, gt=0, description="HTTP timeout of one CoinGecko request."
    )
    coingecko_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts per request (429, 5xx, timeouts, connection errors) before the "
        "poll gives up until the next interval.",
    )
    coingecko_backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        description="First retry backoff; doubles per attempt, with jitter, when no header "
        "says how long to wait.",
    )
    coingecko_backoff_max_seconds: float = Field(
        default=60.0, ge=0, description="Cap of the exponential backoff."
    )
    coingecko_record_path: str = Field(
        default="",
        description="Append every raw /coins/markets response to this JSON lines file "
        "(empty = off); replay reads the same format.",
    )
    replay_path: str = Field(
        default="",
        description="Recording the replay source reads (empty = the example recording shipped "
        "with the producer).",
    )
    replay_speed: float = Field(
        default=1.0,
        ge=0,
        description="Replay pace: 1 = as recorded, 10 = ten times faster, 0 = as fast as possible.",
    )
    replay_loop: bool = Field(
        default=False, description="Start the recording over when it ends (else stop)."
    )
    replay_retime: bool = Field(
        default=True,
        description="Shift recorded times so the replay happens now (keeps their spacing, "
        "divided by replay_speed); false publishes the recorded times.",
    )

    @model_validator(mode="after")
    def _source_defaults(self) -> ProducerSettings:
        if (
            self.producer_source == "coingecko"
            and "producer_interval_seconds" not in self.model_fields_set
        ):
            self.producer_interval_seconds = COINGECKO_DEFAULT_INTERVAL_SECONDS
        return self

    @property
    def coin_ids(self) -> list[str]:
        return [coin.strip() for coin in self.producer_coins.split(",") if coin.strip()]

    @property
    def coingecko_url(self) -> str:
        if self.coingecko_base_url:
            return self.coingecko_base_url.rstrip("/")
        if self.coingecko_api_key is not None and self.coingecko_api_plan == "pro":
            return COINGECKO_PRO_URL
        return COINGECKO_PUBLIC_URL

    @property
    def kafka_stall_seconds(self) -> float:
        """Records in flight with no report from the Kafka client for this long: it is wedged
        (it reports every record within its delivery timeout)."""
        return self.producer_delivery_timeout_seconds * 1.5 + 10.0

    @property
    def health_max_silence_seconds(self) -> float:
        return max(
            self.producer_health_max_silent_intervals * self.producer_interval_seconds,
            self.producer_health_min_silent_seconds,
        )
