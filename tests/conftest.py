"""Shared fixtures: a real Kafka broker and a real local SparkSession, started once per run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cryptopulse_common.contract import ALL_TOPICS
from cryptopulse_local.kafka_broker import LocalKafka, free_port

CACHE_DIR = Path(os.environ.get("CRYPTOPULSE_CACHE_DIR", Path.home() / ".cache" / "cryptopulse"))


@contextmanager
def started_broker(data_dir: Path) -> Iterator[LocalKafka]:
    """A real single-node KRaft broker on free ports, with the pipeline's topics."""
    broker = LocalKafka(
        data_dir=data_dir, cache_dir=CACHE_DIR, port=free_port(), controller_port=free_port()
    )
    broker.start(topics=ALL_TOPICS)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """The broker shared by the whole run (its topics collect every test's messages)."""
    with started_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local SparkSession configured as the stream job configures its own."""
    from cryptopulse_stream.session import build_session
    from cryptopulse_stream.settings import StreamSettings

    session = build_session(
        StreamSettings(stream_spark_master="local[2]", stream_shuffle_partitions=2),
        app_name="cryptopulse-tests",
    )
    try:
        yield session
    finally:
        session.stop()
