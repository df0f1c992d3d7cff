"""Settings shared by every service, and the bridge that turns a settings class into CLI flags.

A setting has one name: the field ``kafka_bootstrap_servers`` is read from the environment
variable ``KAFKA_BOOTSTRAP_SERVERS`` and from the flag ``--kafka-bootstrap-servers``; a flag
wins over the environment, which wins over the default.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cryptopulse_common.contract import DEFAULT_MAX_CLOCK_SKEW_SECONDS
from cryptopulse_common.logs import LogFormat
from cryptopulse_common.ports import KAFKA_PORT, LOCALHOST


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    kafka_bootstrap_servers: str = Field(
        default=f"{LOCALHOST}:{KAFKA_PORT}",
        description="Kafka bootstrap servers, comma separated host:port.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol."
    )
    kafka_sasl_mechanism: str = Field(
        default="", description="Kafka SASL mechanism (SCRAM-SHA-512 with a Strimzi KafkaUser)."
    )
    kafka_sasl_username: str = Field(default="", description="Kafka SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="Kafka SASL password (from a Secret; never logged)."
    )
    kafka_ssl_cafile: str = Field(
        default="", description="PEM CA certificate of the Kafka TLS listener."
    )
    max_clock_skew_seconds: float = Field(
        default=DEFAULT_MAX_CLOCK_SKEW_SECONDS,
        ge=0,
        description="How far a timestamp may be ahead of the clock that bounds it: a tick's "
        "last_updated ahead of its observed_at, observed_at ahead of the broker's append time, "
        "an aggregate ahead of the API's clock. Beyond it the record is refused "
        "(docs/contract.md).",
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING).")
    log_format: LogFormat = Field(default="text", description="Log line format: text or json.")


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def env_name(field: str) -> str:
    return field.upper()


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_settings_arguments(
    parser: argparse.ArgumentParser, classes: Iterable[type[BaseSettings]]
) -> None:
    """Add one flag per settings field (each name once, whichever class declares it first)."""
    seen: set[str] = {action.dest for action in parser._actions}
    for cls in classes:
        group = parser.add_argument_group(cls.__name__)
        for name, info in cls.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            default = info.get_default(call_default_factory=True)
            help_text = f"{info.description or name} [env {env_name(name)}; default {default!r}]"
            group.add_argument(
                flag_name(name), dest=name, default=argparse.SUPPRESS, help=help_text
            )


def explicit_settings(namespace: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (flags not given are absent from the namespace)."""
    return {key: value for key, value in vars(namespace).items() if not key.startswith("_")}


def load_settings(cls: type[SettingsT], overrides: Mapping[str, Any] | None = None) -> SettingsT:
    known = {k: v for k, v in (overrides or {}).items() if k in cls.model_fields}
    return cls(**known)


def settings_as_env(settings: BaseSettings) -> dict[str, str]:
    """The environment that makes a child process load the same settings."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            env[env_name(name)] = value.get_secret_value()
        elif isinstance(value, (list, tuple)):
            env[env_name(name)] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            env[env_name(name)] = "true" if value else "false"
        else:
            env[env_name(name)] = str(value)
    return env
