"""Recover a frozen watermark: a new aggregation checkpoint that starts where the old one stopped.

Spark keeps the event-time watermark in the checkpoint's offset log, and a watermark only moves
forward: one tick stamped a day ahead (written before the contract bounded event time, or by a
build with a laxer tolerance) freezes every window until that day, across restarts. The cure is a
new checkpoint, without losing the place in the topic:

1. read the offsets of the last committed batch from the old checkpoint (``offsets/<n>`` for
   the newest ``commits/<n>``): Spark's ``startingOffsets`` JSON,
2. move the old checkpoint aside (``window_aggregates.frozen-<UTC time>``), never delete it,
3. leave the offsets in ``window_aggregates.starting-offsets.json`` next to it; the next
   ``cryptopulse stream`` starts its new checkpoint there (and removes the file once the new
   checkpoint has its own offsets).

What is lost: the partial state of the windows still open (their next records count only the
ticks read after the reset), and nothing else; ticks the frozen watermark dropped stay on the
topic. The dead-letter query's checkpoint holds no watermark and is left alone. Run it with the
stream job stopped (Spark does not lock a checkpoint). Approach as in Databricks' "How to
restart a structured streaming query from last written offset".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptopulse_common.logs import event
from cryptopulse_common.metric_catalog import AGGREGATES_QUERY as AGGREGATES_QUERY

log = logging.getLogger("cryptopulse.stream.recovery")

STARTING_OFFSETS_SUFFIX = ".starting-offsets.json"


class RecoveryError(RuntimeError):
    """The checkpoint cannot be reset; the message says why and what to do."""


@dataclass(frozen=True)
class ResetReport:
    moved_to: Path
    starting_offsets: str
    offsets_file: Path
    batch: int
    watermark: datetime | None

    def describe(self) -> str:
        frozen = self.watermark.isoformat() if self.watermark else "none"
        return (
            f"moved the aggregation checkpoint aside to {self.moved_to} (watermark was {frozen}, "
            f"last committed batch {self.batch}); the next `cryptopulse stream` starts a new "
            f"checkpoint at {self.starting_offsets} ({self.offsets_file}). Lost: the partial "
            "state of windows still open (their next records count only ticks read from now)."
        )


def starting_offsets_file(checkpoint_dir: Path, query: str = AGGREGATES_QUERY) -> Path:
    return checkpoint_dir / f"{query}{STARTING_OFFSETS_SUFFIX}"


def _batches(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit())


def read_offset_entry(checkpoint: Path, batch: int) -> tuple[str, int | None]:
    """The source offsets JSON and the watermark (ms) of offset log entry ``batch``.

    Spark's format (OffsetSeqLog): ``v1``, the batch metadata (``batchWatermarkMs``...), then one
    line of offsets JSON per source; this job has one source, the ticks topic.
    """
    path = checkpoint / "offsets" / str(batch)
    try:
        lines = path.read_text().splitlines()
        metadata = json.loads(lines[1])
        offsets = lines[2]
        json.loads(offsets)
    except (OSError, IndexError, ValueError) as error:
        raise RecoveryError(f"cannot read the offset log entry {path}: {error}") from error
    watermark = metadata.get("batchWatermarkMs")
    return offsets, int(watermark) if watermark is not None else None


def reset_watermark(checkpoint_dir: Path, now: datetime | None = None) -> ResetReport:
    """Move the aggregation checkpoint aside and leave its offsets for a new one (see module)."""
    checkpoint = checkpoint_dir / AGGREGATES_QUERY
    if not (checkpoint / "offsets").is_dir():
        raise RecoveryError(
            f"no aggregation checkpoint at {checkpoint}: nothing to reset (check "
            "STREAM_CHECKPOINT_DIR)"
        )
    committed = _batches(checkpoint / "commits")
    if not committed:
        raise RecoveryError(
            f"{checkpoint} has no committed batch yet: its watermark has not moved; restart the "
            "job as it is"
        )
    batch = committed[-1]
    offsets, watermark_ms = read_offset_entry(checkpoint, batch)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    moved_to = checkpoint.with_name(f"{AGGREGATES_QUERY}.frozen-{stamp}")
    if moved_to.exists():
        raise RecoveryError(f"{moved_to} exists already; wait a second and run again")
    offsets_file = starting_offsets_file(checkpoint_dir)
    checkpoint.rename(moved_to)
    offsets_file.write_text(offsets + "\n")
    watermark = (
        datetime.fromtimestamp(watermark_ms / 1000, UTC) if watermark_ms is not None else None
    )
    report = ResetReport(moved_to, offsets, offsets_file, batch, watermark)
    event(log, report.describe(), logging.WARNING)
    return report


def starting_offsets(checkpoint_dir: Path, default: str, query: str = AGGREGATES_QUERY) -> str:
    """``startingOffsets`` for ``query``: the file a reset left while the new checkpoint has no
    offsets of its own, else ``default``. Removes the file once the checkpoint has offsets (Spark
    ignores startingOffsets from then on)."""
    path = starting_offsets_file(checkpoint_dir, query)
    if not path.exists():
        return default
    if _batches(checkpoint_dir / query / "offsets"):
        path.unlink()
        event(log, f"the new checkpoint has its own offsets; removed {path}")
        return default
    offsets = path.read_text().strip()
    event(log, f"starting a new checkpoint at the offsets a reset left: {offsets}", file=str(path))
    return offsets


def main() -> int:
    """``python -m cryptopulse_stream.recovery`` (in the stream image): reset the checkpoint at
    ``STREAM_CHECKPOINT_DIR``; ``cryptopulse reset-watermark`` is the same command locally."""
    from cryptopulse_common.logs import configure
    from cryptopulse_stream.settings import StreamSettings

    settings = StreamSettings()
    configure("stream", settings.log_level, settings.log_format)
    try:
        report = reset_watermark(Path(settings.stream_checkpoint_dir))
    except RecoveryError as error:
        print(f"reset-watermark: {error}", flush=True)
        return 1
    print(report.describe(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
