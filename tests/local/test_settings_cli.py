from __future__ import annotations

import pytest

from cryptopulse_api.settings import UpdateMessageType
from cryptopulse_common.contract import LEGACY_UPDATE_MESSAGE, MARKET_UPDATE_MESSAGE
from cryptopulse_local.cli import build_parser, up_settings
from cryptopulse_producer.settings import ProducerSettings


def test_flags_override_environment_which_overrides_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptopulse_common.settings import explicit_settings, load_settings

    assert ProducerSettings().producer_interval_seconds == 1.0
    monkeypatch.setenv("PRODUCER_INTERVAL_SECONDS", "5")
    assert ProducerSettings().producer_interval_seconds == 5.0
    namespace = build_parser().parse_args(["producer", "--producer-interval-seconds", "0.5"])
    settings = load_settings(ProducerSettings, explicit_settings(namespace))
    assert settings.producer_interval_seconds == 0.5


def test_help_names_each_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "API_PORT",
        "PRODUCER_SOURCE",
        "STREAM_WINDOW_SECONDS",
        "CRYPTOPULSE_STATE_DIR",
    ):
        assert f"env {name}" in text


def test_up_derives_the_ingest_url_and_checkpoint_from_other_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("STREAM_INGEST_URL", raising=False)
    _local, api, env = up_settings({"api_port": "8123", "cryptopulse_state_dir": str(tmp_path)})
    assert api.api_port == 8123
    assert env["STREAM_INGEST_URL"] == "http://127.0.0.1:8123/ingest"
    assert env["STREAM_CHECKPOINT_DIR"].startswith(str(tmp_path))
    assert env["API_PORT"] == "8123"


def test_explicit_ingest_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_INGEST_URL", "http://api.example:9000/ingest")
    _local, _api, env = up_settings({})
    assert env["STREAM_INGEST_URL"] == "http://api.example:9000/ingest"


def test_invalid_setting_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from cryptopulse_local.cli import main

    with pytest.raises(SystemExit) as info:
        main(["producer", "--producer-source", "nasdaq"])
    assert info.value.code == 2
    assert "producer_source" in capsys.readouterr().err


def test_update_message_types_match_the_contract() -> None:
    assert set(UpdateMessageType.__args__) == {MARKET_UPDATE_MESSAGE, LEGACY_UPDATE_MESSAGE}  # type: ignore[attr-defined]


def test_the_stream_command_posts_where_up_would(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """run_stream loads these settings: `cryptopulse stream` alone (the doctor's fix for a
    stopped job) derives its ingest URL from API_PORT as `up` does, so it posts to the API that
    `up` or `cryptopulse api` started (before, it posted to port 8000 whatever API_PORT said)."""
    from cryptopulse_local.cli import pipeline_settings

    monkeypatch.delenv("STREAM_INGEST_URL", raising=False)
    monkeypatch.setenv("API_PORT", "18123")
    stream = pipeline_settings({"cryptopulse_state_dir": str(tmp_path)}).stream
    assert stream.stream_ingest_url == "http://127.0.0.1:18123/ingest"
    assert stream.stream_checkpoint_dir.startswith(str(tmp_path))
