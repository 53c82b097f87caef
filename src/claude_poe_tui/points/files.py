"""Where the points live: beside the request log, named after it.

``requests.jsonl`` -> ``requests.points.jsonl`` (the store), ``requests.points-summary.json`` (the
snapshot the status line reads) and ``requests.points.lock`` (held by the one process that polls
Poe and writes the store). Plain ``pathlib``: the status line imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PointsFiles:
    request_log: Path

    @property
    def _stem(self) -> str:
        name = self.request_log.name
        return name[: -len(".jsonl")] if name.endswith(".jsonl") else name

    @property
    def store(self) -> Path:
        """One JSON line per request and change: estimates, then what Poe's history says."""
        return self.request_log.with_name(f"{self._stem}.points.jsonl")

    @property
    def summary(self) -> Path:
        """Balance, totals per session and day, burn rate, the poller's place in the history."""
        return self.request_log.with_name(f"{self._stem}.points-summary.json")

    @property
    def lock(self) -> Path:
        """Held (``flock``) by the process that polls Poe and writes the two files above."""
        return self.request_log.with_name(f"{self._stem}.points.lock")
