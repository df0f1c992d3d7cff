"""How numbers read in log lines: the same rules as the dashboard's ``format.ts``."""

from __future__ import annotations

import math
from typing import Final

MISSING: Final = "—"


def format_price(value: float) -> str:
    """A price with the digits its size needs: ``97,123.45`` from one unit up, ``0.3812`` down to
    a cent, four significant digits below that (``0.00000001234``, never ``0.00``)."""
    size = abs(value)
    if not math.isfinite(value):
        return MISSING
    if size >= 1 or size == 0:
        return f"{value:,.2f}"
    if size >= 0.01:
        return f"{value:.4f}"
    return f"{value:.{3 - math.floor(math.log10(size))}f}"


def format_change(percent: float | None) -> str:
    """A 24 h change with its sign (``+1.23%``), or ``—`` when the source does not know it."""
    if percent is None or not math.isfinite(percent):
        return MISSING
    return f"{percent:+.2f}%"
