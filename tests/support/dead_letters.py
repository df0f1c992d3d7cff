"""A dead-letter writer that keeps what it is given, for sink tests without a broker (the
end-to-end tests read the real dead-letter topic instead)."""

from __future__ import annotations

import threading

from cryptopulse_common.contract import DeadLetter


class CollectedDeadLetters:
    """Implements ``cryptopulse_stream.sink.DeadLetterWriter``: every letter, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._letters: list[DeadLetter] = []

    def write(self, letters: list[DeadLetter]) -> None:
        with self._lock:
            self._letters += letters

    @property
    def letters(self) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters)
