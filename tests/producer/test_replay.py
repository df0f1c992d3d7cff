"""Recordings and the replay source: pace, retiming, looping, and the shipped example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from cryptopulse_common.contract import DEFAULT_COIN_IDS, parse_timestamp
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_producer.recording import (
    EXAMPLE_RECORDING,
    RecordedResponse,
    RecordingError,
    main,
    read_recording,
    simulated_recording,
)
from cryptopulse_producer.replay import ReplaySource
from tests.support.coingecko_fake import DOCUMENTED_ROW_FIELDS

START = datetime(2026, 8, 10, 14, 25, tzinfo=UTC)
NOW = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def recording(responses: int = 3, spacing: float = 6.0) -> list[RecordedResponse]:
    return list(
        simulated_recording(
            list(DEFAULT_COIN_IDS[:2]), responses, timedelta(seconds=spacing), 1, START
        )
    )


def replay(entries: list[RecordedResponse], **options: object) -> ReplaySource:
    metrics = ProducerMetrics(CollectorRegistry())
    return ReplaySource(entries, metrics, clock=NOW.timestamp, **options)  # type: ignore[arg-type]


def test_the_shipped_example_is_small_and_every_row_is_a_documented_valid_row() -> None:
    assert EXAMPLE_RECORDING.stat().st_size < 200_000
    entries = read_recording(EXAMPLE_RECORDING)
    assert len(entries) >= 10
    for entry in entries:
        assert isinstance(entry.response, list)
        assert {row["id"] for row in entry.response} == set(DEFAULT_COIN_IDS)
        for row in entry.response:
            # Every field CoinGecko documents, as the independent fake server has them.
            assert set(DOCUMENTED_ROW_FIELDS) <= set(row)
    source = replay(entries, speed=0)
    polls = [source.poll() for _ in entries]
    assert all(not poll.rejected and not poll.errors for poll in polls)
    assert sum(len(poll.ticks) for poll in polls) == len(entries) * len(DEFAULT_COIN_IDS)
    assert source.poll().finished


def test_the_example_can_be_made_again(tmp_path: Path) -> None:
    out = tmp_path / "again.jsonl"
    assert main([str(out)]) == 0
    assert out.read_bytes() == EXAMPLE_RECORDING.read_bytes()


def test_recorded_pace_and_accelerated_pace() -> None:
    entries = recording(responses=3, spacing=6.0)
    as_recorded = replay(entries, speed=1.0, retime=False)
    assert [as_recorded.poll().next_poll_in for _ in range(3)] == [6.0, 6.0, 0.0]
    faster = replay(entries, speed=10.0, retime=False)
    assert [faster.poll().next_poll_in for _ in range(2)] == pytest.approx([0.6, 0.6])
    flat_out = replay(entries, speed=0, retime=False)
    assert [flat_out.poll().next_poll_in for _ in range(2)] == [0.0, 0.0]


def test_without_retime_the_recorded_times_are_published() -> None:
    entries = recording()
    tick = replay(entries, retime=False).poll().ticks[0]
    assert tick.last_updated == entries[0].response[0]["last_updated"]  # type: ignore[index]
    assert parse_timestamp(tick.observed_at) == entries[0].observed_at


def test_retime_moves_the_recording_to_now_at_the_replay_pace() -> None:
    entries = recording(responses=3, spacing=6.0)
    source = replay(entries, speed=2.0, retime=True)
    first, second = source.poll(), source.poll()
    observed = [parse_timestamp(poll.ticks[0].observed_at) for poll in (first, second)]
    assert observed[0] == NOW
    assert observed[1] - observed[0] == timedelta(seconds=3)  # 6 s recorded, twice as fast
    event = parse_timestamp(first.ticks[0].last_updated)
    lag = entries[0].observed_at - parse_timestamp(entries[0].response[0]["last_updated"])  # type: ignore[index]
    assert observed[0] - event == lag / 2


def test_flat_out_the_recording_ends_now_never_ahead_of_the_clock() -> None:
    """At speed 0 everything is published at once: with the first response at now the later
    ones would claim observations minutes ahead (the stream job dead-letters those as
    observed_time_ahead); the replayed timeline ends now instead."""
    entries = recording(responses=3, spacing=6.0)
    source = replay(entries, speed=0)
    observed = [parse_timestamp(source.poll().ticks[0].observed_at) for _ in range(3)]
    assert observed == [NOW - timedelta(seconds=12), NOW - timedelta(seconds=6), NOW]


def test_looping_continues_the_timeline() -> None:
    entries = recording(responses=2, spacing=5.0)
    source = replay(entries, speed=1.0, loop=True, retime=True)
    polls = [source.poll() for _ in range(5)]
    assert not any(poll.finished for poll in polls)
    times = [parse_timestamp(poll.ticks[0].last_updated) for poll in polls]
    assert times == sorted(times)
    assert len(set(times)) == 5
    assert [poll.next_poll_in for poll in polls[:3]] == [5.0, 5.0, 5.0]


def test_a_bad_recording_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(recording(1)[0].line().decode() + "\n{not json\n")
    with pytest.raises(RecordingError, match=r"bad.jsonl:2 is not a recorded response"):
        read_recording(path)
    with pytest.raises(RecordingError, match="does not exist"):
        read_recording(tmp_path / "missing.jsonl")


def test_recorded_bad_bodies_replay_as_errors_not_crashes() -> None:
    entries = [
        RecordedResponse(START, {"error": "rate limited"}),
        RecordedResponse(START + timedelta(seconds=1), [{"id": "bitcoin"}]),
    ]
    source = replay(entries, speed=0)
    first, second = source.poll(), source.poll()
    (error,) = first.errors
    assert "not a list" in error
    assert second.ticks == []
    assert second.rejected[0].coin_id == "bitcoin"
