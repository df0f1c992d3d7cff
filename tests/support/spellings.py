"""Timestamp spellings every boundary must judge alike (``timestamps.json``, read by the Python
tests and by the dashboard's vitest suite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

_SPELLINGS = json.loads(Path(__file__).with_name("timestamps.json").read_text(encoding="utf-8"))
ACCEPTED_TIMESTAMPS: Final[tuple[str, ...]] = tuple(_SPELLINGS["accepted"])
REFUSED_TIMESTAMPS: Final[tuple[str, ...]] = tuple(_SPELLINGS["refused"])
