"""The live view of the request log that a dashboard needs: history first, then new requests.

:class:`RequestFeed` reads what is on disk (rotated files, then the current one), keeps the most
recent records for a log view and rolling statistics for every window at once (so switching the
window needs no re-reading), then follows the current file for new requests. Memory stays bounded:
a ring of recent records and histogram buckets, however long it runs or however big the log is.

Plain Python, thread-safe: one thread feeds it, another may ask for figures.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_poe_tui.requestlog.reader import LogFollower, log_files, read_file
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.stats import WINDOWS, RollingStats

RECENT_KEPT = 5000  # records a log view can show; older ones stay in the file
BATCH = 2000  # records taken at once: a backlog is handed out in pieces, never all at once


@dataclass(frozen=True)
class FeedFigures:
    """One window's statistics, computed off the UI thread, ready to show."""

    window: str
    summary: dict[str, dict[str, Any]]
    series: dict[str, list[dict[str, Any]]]
    requests: int
    errors: int


class RequestFeed:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, recent: int = RECENT_KEPT,
                 observe: Callable[[list[RequestRecord]], None] | None = None):
        self.path = Path(path)
        self.clock = clock
        self.observe = observe
        """Called with every batch of records read, history included (the statistics only take
        their windows'): the dashboard counts Claude Code sessions this way."""
        self.recent_kept = recent
        self._lock = threading.Lock()
        self._stats = {label: RollingStats(seconds, clock=clock) for label, seconds in WINDOWS.items()}
        self._follower = LogFollower(self.path)

    def load_history(self, cancelled: Callable[[], bool] = lambda: False) -> list[RequestRecord]:
        """Read everything on disk into the statistics; returns the most recent records.

        The current file is read through the follower, which then goes on from where it stopped.
        """
        since = self.clock() - max(WINDOWS.values())
        recent: collections.deque[RequestRecord] = collections.deque(maxlen=self.recent_kept)
        for file in log_files(self.path):
            source = self._follower if file == self.path else read_file(file)
            batch: list[RequestRecord] = []
            seen: list[RequestRecord] = []
            for record in source:
                recent.append(record)
                seen.append(record)
                if record.ts >= since:
                    batch.append(record)
                if len(seen) >= BATCH:
                    self._feed(batch)
                    self._observe(seen)
                    batch, seen = [], []
                    if cancelled():
                        return list(recent)
            self._feed(batch)
            self._observe(seen)
        return list(recent)

    def poll(self, limit: int = BATCH) -> list[RequestRecord]:
        """Requests appended since the last call (at most ``limit``), fed into the statistics."""
        batch = self._follower.read(limit=limit)
        self._feed(batch)
        self._observe(batch)
        return batch

    def _observe(self, records: list[RequestRecord]) -> None:
        if records and self.observe is not None:
            self.observe(records)

    def _feed(self, records: list[RequestRecord]) -> None:
        if records:
            with self._lock:
                for stats in self._stats.values():
                    stats.feed(records)

    def figures(self, window: str) -> FeedFigures:
        with self._lock:
            stats = self._stats[window]
            summary, series = stats.summary(), stats.series()  # these drop expired buckets first
            requests, errors = stats.totals()
            return FeedFigures(window, summary, series, requests, errors)

    def close(self) -> None:
        self._follower.close()
