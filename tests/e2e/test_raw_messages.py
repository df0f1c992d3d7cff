"""Raw messages written by hand to the ticks topic of the whole local pipeline (``cryptopulse
up``), with kcat (librdkafka's command-line client; nobody here wrote it), as an operator or a
foreign producer would: each one lands on the dead-letter topic, read back with kcat, with its
reason; the stream job counts it under that reason; every other coin keeps updating.

The messages: a bare ``NaN``, ``Infinity`` and ``-Infinity``, ``1e999``, a day-ahead source
clock and producer clock, nulls where a value is required, text that is no JSON, JSON that is no
object (``null``, ``42``, a string, an array), an object followed by garbage or by a second
tick (Spark's reader alone ignores what follows the first object), an empty message and a
tombstone, a 201-character and a 500,000-character id, a negative and a 1e300 price, a bad date,
an unknown schema version. A lagging coin (two minutes behind) and a tiny coin with an unknown
change are accepted and aggregated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cryptopulse_common.contract import DEAD_LETTER_TOPIC, TICKS_TOPIC, format_timestamp
from cryptopulse_local.kafka_broker import free_port
from tests.support.pipeline import running_pipeline, wait_healthy
from tests.support.stream_job import metric, wait_for

pytestmark = pytest.mark.e2e

DAY = timedelta(days=1)


def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("no kcat on PATH: `apt-get install kcat` (scripts/setup.sh dev does)")
    return path


def tick(coin: str, now: datetime, **changes: Any) -> str:
    record: dict[str, Any] = {
        "schema": 1,
        "id": coin,
        "symbol": coin[:4],
        "name": coin.title(),
        "current_price": 1.5,
        "market_cap": None,
        "total_volume": None,
        "price_change_percentage_24h": 2.0,
        "high_24h": None,
        "low_24h": None,
        "last_updated": format_timestamp(now - timedelta(seconds=1)),
        "observed_at": format_timestamp(now),
    }
    record.update(changes)
    return json.dumps(record)


def bare(coin: str, now: datetime, field: str, literal: str) -> str:
    """A tick whose ``field`` is the bare JSON-invalid ``literal`` (NaN, Infinity...)."""
    text = tick(coin, now, **{field: 7.25})
    return text.replace(f'"{field}": 7.25', f'"{field}": {literal}')


def refused(now: datetime) -> dict[str, tuple[str | None, str]]:
    """Case name -> (message, reason). The name is in each message (for the tombstone and the
    empty message, which hold nothing, it is matched by the dead letter's value)."""
    return {
        "nan": (bare("raw-nan", now, "current_price", "NaN"), "non_finite_number"),
        "infinity": (bare("raw-infinity", now, "current_price", "Infinity"), "non_finite_number"),
        "minus-infinity": (
            bare("raw-minus-infinity", now, "market_cap", "-Infinity"),
            "non_finite_number",
        ),
        "overflow": (bare("raw-overflow", now, "current_price", "1e999"), "non_finite_number"),
        "source-ahead": (
            tick("raw-source-ahead", now, last_updated=format_timestamp(now + DAY)),
            "source_time_ahead",
        ),
        "producer-ahead": (
            tick("raw-producer-ahead", now + DAY, last_updated=format_timestamp(now + DAY)),
            "observed_time_ahead",
        ),
        "null-price": (tick("raw-null-price", now, current_price=None), "missing_field"),
        "null-observed": (tick("raw-null-observed", now, observed_at=None), "missing_field"),
        "null-id": (tick("raw-null-id", now, id=None), "missing_field"),
        "not-json": ("{raw-not-json: this is not json", "not_json"),
        "json-null": ("null", "not_json"),
        "json-number": ("42", "not_json"),
        "json-string": ('"raw-json-string"', "not_json"),
        "json-array": (f"[{tick('raw-json-array', now)}]", "not_json"),
        "garbage-after": (tick("raw-garbage-after", now) + "garbage", "not_json"),
        "two-ticks": (tick("raw-two-ticks", now) + "\n" + tick("raw-two-ticks-2", now), "not_json"),
        "empty": ("", "not_json"),
        "tombstone": (None, "not_json"),
        "id-201": (tick("raw-id-201-" + "a" * 190, now), "out_of_range"),
        "id-500k": (tick("raw-id-500k-" + "b" * 500_000, now), "out_of_range"),
        "negative-price": (tick("raw-negative-price", now, current_price=-1.0), "out_of_range"),
        "huge-price": (tick("raw-huge-price", now, current_price=1e300), "out_of_range"),
        "bad-date": (
            tick("raw-bad-date", now, observed_at="2026-13-45T00:00:00Z"),
            "bad_timestamp",
        ),
        "schema-2": (tick("raw-schema-2", now, schema=2), "unknown_schema_version"),
    }


def produce(bootstrap: str, key: str, value: str | None, folder: Path) -> None:
    """One message, its value byte for byte (a file: kcat sends each file as one message)."""
    command = [kcat(), "-b", bootstrap, "-P", "-t", TICKS_TOPIC, "-X", "message.max.bytes=2000000"]
    if not value:  # kcat skips an empty file: "key;" on stdin, and -Z makes it NULL (a tombstone)
        options = ["-K", ";"] if value == "" else ["-K", ";", "-Z"]
        subprocess.run([*command, *options], input=f"{key};\n".encode(), check=True, timeout=60)
        return
    path = folder / key
    path.write_text(value)
    subprocess.run([*command, "-k", key, str(path)], check=True, timeout=60)


def dead_letters(bootstrap: str) -> list[dict[str, Any]]:
    """Every message on the dead-letter topic, read with kcat to its end."""
    command = [kcat(), "-b", bootstrap, "-C", "-t", DEAD_LETTER_TOPIC, "-o", "beginning"]
    command += ["-e", "-q", "-f", "%s\\n", "-X", "fetch.message.max.bytes=4000000"]
    output = subprocess.run(command, check=True, timeout=120, capture_output=True, text=True)
    return [json.loads(line) for line in output.stdout.splitlines() if line]


def case_of(letter: dict[str, Any], cases: dict[str, tuple[str | None, str]]) -> str | None:
    value = letter.get("value")
    if value is None:
        return "tombstone"
    if value == "":
        return "empty"
    text = value.lower()
    matches = [name for name in cases if f"raw-{name}" in text or value == cases[name][0]]
    return max(matches, key=len) if matches else None


def snapshot(api_url: str) -> dict[str, dict[str, Any]]:
    data = httpx.get(f"{api_url}/api/snapshot", timeout=10).json()["data"]
    return {record["coin_id"]: record for record in data}


def test_raw_messages_are_dead_lettered_with_their_reason_and_cost_nothing_else(
    tmp_path: Path,
) -> None:
    metrics_port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    with running_pipeline(
        state, STREAM_WINDOW_SECONDS="10", STREAM_METRICS_PORT=str(metrics_port)
    ) as pipeline:
        wait_healthy(pipeline)
        wait_for(lambda: "bitcoin" in snapshot(pipeline.api_url), "the first bitcoin window", 400)
        now = datetime.now(UTC)
        cases = refused(now)
        before = {
            reason: metric(
                metrics_port, f'cryptopulse_stream_malformed_records_total{{reason="{reason}"}}'
            )
            or 0.0
            for _, reason in cases.values()
        }
        first_window = snapshot(pipeline.api_url)["bitcoin"]["window_start"]
        folder = tmp_path / "messages"
        folder.mkdir()
        for name, (value, _reason) in cases.items():
            produce(pipeline.bootstrap_servers, name, value, folder)
        # Accepted: a coin whose source runs two minutes behind, and a tiny unknown one.
        lagging = tick(
            "raw-lagging", now, last_updated=format_timestamp(now - timedelta(minutes=2))
        )
        tiny = tick("raw-tiny", now, current_price=1.234e-8, price_change_percentage_24h=None)
        produce(pipeline.bootstrap_servers, "raw-lagging", lagging, folder)
        produce(pipeline.bootstrap_servers, "raw-tiny", tiny, folder)

        def found() -> Counter[str]:
            return Counter(
                name
                for letter in dead_letters(pipeline.bootstrap_servers)
                if (name := case_of(letter, cases)) is not None
            )

        wait_for(lambda: set(found()) == set(cases), "a dead letter for every case", 400)
        letters = {
            case_of(letter, cases): letter for letter in dead_letters(pipeline.bootstrap_servers)
        }
        wrong = {
            name: (letters[name]["reason"], reason)
            for name, (_value, reason) in cases.items()
            if letters[name]["reason"] != reason
        }
        assert not wrong, wrong
        for name, (value, _reason) in cases.items():
            letter = letters[name]
            assert (letter["origin"], letter["topic"]) == ("tick", TICKS_TOPIC), name
            assert letter["detail"], name
            if value is not None:
                assert letter["value"] == value, name

        expected = Counter(reason for _, reason in cases.values())
        wait_for(
            lambda: all(
                (
                    metric(
                        metrics_port, f'cryptopulse_stream_malformed_records_total{{reason="{r}"}}'
                    )
                    or 0
                )
                - before[r]
                >= n
                for r, n in expected.items()
            ),
            "the malformed-records counter moving by each reason",
        )
        wait_for(
            lambda: {"raw-lagging", "raw-tiny"} <= set(snapshot(pipeline.api_url)),
            "the lagging and the tiny coin aggregated",
            300,
        )
        market = snapshot(pipeline.api_url)
        assert market["raw-tiny"]["price"] == 1.234e-8
        assert market["raw-tiny"]["change_24h"] is None
        assert market["raw-tiny"]["trend"] is None
        assert not any(
            coin.startswith("raw-") for coin in market if coin not in ("raw-lagging", "raw-tiny")
        )
        # Every other coin keeps updating after the bad messages.
        wait_for(
            lambda: all(
                record["window_start"] > first_window
                for coin, record in snapshot(pipeline.api_url).items()
                if not coin.startswith("raw-")
            ),
            "every simulated coin in a later window",
            300,
        )
        assert pipeline.process.poll() is None, pipeline.log_tail()
