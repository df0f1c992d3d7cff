"""Kafka connection settings (TLS, SASL/SCRAM) for both kinds of client we run.

kafka-python (producer, API fan-out, stream sink) and the Spark Kafka source and sink take the
same settings under different names; both are derived here from :class:`CommonSettings`.
"""

from __future__ import annotations

from typing import Any

from cryptopulse_common.settings import CommonSettings

_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def _password(settings: CommonSettings) -> str:
    secret = settings.kafka_sasl_password
    return secret.get_secret_value() if secret is not None else ""


def kafka_python_config(settings: CommonSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (KafkaProducer, KafkaConsumer, admin)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism or "SCRAM-SHA-512"
        config["sasl_plain_username"] = settings.kafka_sasl_username
        config["sasl_plain_password"] = _password(settings)
    if settings.kafka_ssl_cafile:
        config["ssl_cafile"] = settings.kafka_ssl_cafile
    return config


def spark_kafka_options(settings: CommonSettings) -> dict[str, str]:
    """``kafka.*`` options for Spark's Kafka source and sink."""
    options = {
        "kafka.bootstrap.servers": settings.kafka_bootstrap_servers,
        "kafka.security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        mechanism = settings.kafka_sasl_mechanism or "SCRAM-SHA-512"
        module = _PLAIN_LOGIN if mechanism == "PLAIN" else _SCRAM_LOGIN
        user = settings.kafka_sasl_username.replace('"', '\\"')
        password = _password(settings).replace('"', '\\"')
        options["kafka.sasl.mechanism"] = mechanism
        options["kafka.sasl.jaas.config"] = (
            f'{module} required username="{user}" password="{password}";'
        )
    if settings.kafka_ssl_cafile:
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = settings.kafka_ssl_cafile
    return options
