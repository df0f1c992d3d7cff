from __future__ import annotations

from cryptopulse_common.kafka_config import kafka_python_config, spark_kafka_options
from cryptopulse_common.settings import CommonSettings, settings_as_env


def test_plaintext_by_default() -> None:
    settings = CommonSettings(kafka_bootstrap_servers="broker:9092")
    assert kafka_python_config(settings) == {
        "bootstrap_servers": "broker:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert spark_kafka_options(settings) == {
        "kafka.bootstrap.servers": "broker:9092",
        "kafka.security.protocol": "PLAINTEXT",
    }


def test_scram_over_tls_for_both_kinds_of_client() -> None:
    settings = CommonSettings(
        kafka_bootstrap_servers="cluster-kafka-bootstrap:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="cryptopulse",
        kafka_sasl_password='p"w',
        kafka_ssl_cafile="/etc/kafka-ca/ca.crt",
    )
    python = kafka_python_config(settings)
    assert python["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (python["sasl_plain_username"], python["sasl_plain_password"]) == ("cryptopulse", 'p"w')
    assert python["ssl_cafile"] == "/etc/kafka-ca/ca.crt"
    spark = spark_kafka_options(settings)
    assert spark["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="cryptopulse" password="p\\"w";'
    )
    assert spark["kafka.ssl.truststore.type"] == "PEM"
    assert spark["kafka.ssl.truststore.location"] == "/etc/kafka-ca/ca.crt"


def test_the_password_is_not_printed_but_reaches_child_processes() -> None:
    settings = CommonSettings(kafka_sasl_password="hunter2")
    assert "hunter2" not in repr(settings)
    assert settings_as_env(settings)["KAFKA_SASL_PASSWORD"] == "hunter2"
