"""``cryptopulse reset-watermark``'s refusals and the starting-offsets file's life; the cure
itself runs on a real frozen checkpoint in tests/e2e/test_frozen_watermark.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryptopulse_local.cli import main as cli
from cryptopulse_stream.main import failure_hint
from cryptopulse_stream.recovery import (
    AGGREGATES_QUERY,
    RecoveryError,
    reset_watermark,
    starting_offsets,
    starting_offsets_file,
)


def test_nothing_to_reset_is_said_not_done(tmp_path: Path) -> None:
    with pytest.raises(RecoveryError, match="nothing to reset"):
        reset_watermark(tmp_path)
    (tmp_path / AGGREGATES_QUERY / "offsets").mkdir(parents=True)
    with pytest.raises(RecoveryError, match="no committed batch yet"):
        reset_watermark(tmp_path)
    assert (tmp_path / AGGREGATES_QUERY).is_dir()  # left as it was
    assert cli(["reset-watermark", "--stream-checkpoint-dir", str(tmp_path / "none")]) == 1


def test_the_offsets_a_reset_left_start_the_next_checkpoint_once(tmp_path: Path) -> None:
    assert starting_offsets(tmp_path, "earliest") == "earliest"
    offsets = '{"crypto_market_data":{"0":15,"1":0,"2":0}}'
    starting_offsets_file(tmp_path).write_text(offsets + "\n")
    assert starting_offsets(tmp_path, "earliest") == offsets
    assert starting_offsets(tmp_path, "earliest") == offsets  # no batch planned yet: still used
    planned = tmp_path / AGGREGATES_QUERY / "offsets"
    planned.mkdir(parents=True)
    (planned / "0").write_text("v1\n")  # the new checkpoint has offsets of its own
    assert starting_offsets(tmp_path, "earliest") == "earliest"
    assert not starting_offsets_file(tmp_path).exists()


def test_an_old_builds_state_error_says_what_to_run() -> None:
    error = (
        "[STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE] Provided value schema does not match "
        "existing state value schema."
    )
    assert "cryptopulse reset-watermark" in failure_hint(error)
    assert failure_hint("something else") == ""
