"""Create the ticks topic when it is missing, with the configured partitions and retention."""

from __future__ import annotations

import logging

from cryptopulse_common.contract import TOPIC_CONFIGS
from cryptopulse_common.kafka_config import kafka_python_config
from cryptopulse_common.logs import event
from cryptopulse_producer.settings import ProducerSettings

log = logging.getLogger(__name__)


def ensure_topic(
    settings: ProducerSettings, topic: str, configs: dict[str, str] | None = None
) -> bool:
    """Create ``topic`` if the cluster lacks it; True if this call created it. Its configuration
    is the retention setting plus ``configs`` (default: the contract's ``TOPIC_CONFIGS`` of that
    topic, LogAppendTime for the ticks).

    A cluster that manages its topics itself (Strimzi ``KafkaTopic``) already has it; a client
    that may not create topics is told so in the log and the producer carries on (the first send
    then says whether the topic exists).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    retention_ms = int(settings.producer_topic_retention_hours * 3600 * 1000)
    try:
        admin = KafkaAdminClient(
            **kafka_python_config(settings),
            client_id="cryptopulse-producer-admin",
            request_timeout_ms=10_000,
        )
    except KafkaError as error:
        event(log, f"could not check topic {topic}: {error!r}", logging.WARNING)
        return False
    try:
        if topic in admin.list_topics():
            return False
        try:
            admin.create_topics(
                {
                    topic: {
                        "num_partitions": settings.producer_topic_partitions,
                        "replication_factor": settings.producer_topic_replication_factor,
                        "configs": {
                            "retention.ms": str(retention_ms),
                            **(TOPIC_CONFIGS.get(topic, {}) if configs is None else configs),
                        },
                    }
                },
                wait_for_metadata=True,
            )
        except TopicAlreadyExistsError:  # created meanwhile by someone else
            return False
        event(
            log,
            f"created topic {topic}",
            partitions=settings.producer_topic_partitions,
            replication_factor=settings.producer_topic_replication_factor,
            retention_hours=settings.producer_topic_retention_hours,
        )
        return True
    except KafkaError as error:
        event(
            log,
            f"could not create topic {topic} ({type(error).__name__}: {error}); "
            "create it yourself or give the producer's principal CREATE on the cluster",
            logging.WARNING,
        )
        return False
    finally:
        admin.close()
