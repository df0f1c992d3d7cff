"""Recordings of raw ``/coins/markets`` responses: JSON lines, one response per line.

Each line is ``{"observed_at": "<ISO 8601 UTC, ms>", "response": <the body as received>}``. The
coingecko source appends to a recording when ``COINGECKO_RECORD_PATH`` is set; the replay source
reads one back. ``python -m cryptopulse_producer.recording OUT`` writes a recording of the
simulated market (how the example in ``services/producer/recordings/`` was made).
"""

from __future__ import annotations

import argparse
import json
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import orjson

from cryptopulse_common.contract import DEFAULT_COIN_IDS, format_timestamp, parse_timestamp
from cryptopulse_producer.mapping import loads_market_json

OBSERVED_AT_KEY: Final = "observed_at"
RESPONSE_KEY: Final = "response"
RECORDINGS_DIR: Final = Path(__file__).resolve().parents[1] / "recordings"
EXAMPLE_RECORDING: Final = RECORDINGS_DIR / "simulated-10-coins.jsonl"


class RecordingError(ValueError):
    pass


@dataclass(frozen=True)
class RecordedResponse:
    observed_at: datetime
    response: object

    def line(self) -> bytes:
        """The JSON line; a body with NaN or Infinity keeps them as the source sent them
        (Python's writer) instead of turning them into null (orjson)."""
        item = {OBSERVED_AT_KEY: format_timestamp(self.observed_at), RESPONSE_KEY: self.response}
        if _has_non_finite(self.response):
            return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
        return orjson.dumps(item)


def _has_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(item) for item in value)
    return False


class RecordingWriter:
    """Appends responses to a JSON lines file, one write and flush per response."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("ab")
        self._lock = threading.Lock()

    def append(self, observed_at: datetime, response: object) -> None:
        with self._lock:
            self._file.write(RecordedResponse(observed_at, response).line() + b"\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_recording(path: Path) -> list[RecordedResponse]:
    """Every response of a recording, in file order; a bad line is an error naming its number."""
    if not path.exists():
        raise RecordingError(f"recording {path} does not exist")
    entries = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                item = loads_market_json(raw)
                if not isinstance(item, dict):
                    raise TypeError(f"a line is {type(item).__name__}, not an object")
                entries.append(
                    RecordedResponse(parse_timestamp(item[OBSERVED_AT_KEY]), item[RESPONSE_KEY])
                )
            except (KeyError, TypeError, ValueError) as error:
                raise RecordingError(
                    f"{path}:{number} is not a recorded response "
                    f'({{"{OBSERVED_AT_KEY}": ..., "{RESPONSE_KEY}": ...}}): {error}'
                ) from error
    if not entries:
        raise RecordingError(f"recording {path} is empty")
    return entries


def simulated_recording(
    coin_ids: Sequence[str], responses: int, spacing: timedelta, seed: int, start: datetime
) -> Iterator[RecordedResponse]:
    """``responses`` simulated ``/coins/markets`` bodies, ``spacing`` apart from ``start``."""
    from cryptopulse_producer.simulate import SimulatedMarket

    market = SimulatedMarket(list(coin_ids), seed=seed, start=start)
    for index in range(responses):
        moment = start + spacing * (index + 1)
        # CoinGecko refreshes rows shortly before we observe them.
        yield RecordedResponse(moment + timedelta(milliseconds=350), market.poll_rows(moment))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cryptopulse_producer.recording",
        description="Write a recording of the simulated market in the replay format.",
    )
    parser.add_argument("out", type=Path, help="JSON lines file to write (overwritten)")
    parser.add_argument("--responses", type=int, default=20, help="responses to record")
    parser.add_argument("--spacing-seconds", type=float, default=6.0, help="time between them")
    parser.add_argument("--seed", type=int, default=42, help="seed of the simulated market")
    parser.add_argument("--coins", default=",".join(DEFAULT_COIN_IDS), help="coin ids")
    parser.add_argument(
        "--start", default="2026-08-10T14:25:00Z", help="time of the first response (ISO 8601)"
    )
    args = parser.parse_args(argv)
    entries = simulated_recording(
        [coin for coin in args.coins.split(",") if coin],
        args.responses,
        timedelta(seconds=args.spacing_seconds),
        args.seed,
        parse_timestamp(args.start).astimezone(UTC),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(b"".join(entry.line() + b"\n" for entry in entries))
    print(f"wrote {args.responses} responses to {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
