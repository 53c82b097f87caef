"""Points for the dashboard: the proxy's points store and summary, followed, never written.

The proxy that holds the points lock appends one line per request and change to
``<log>.points.jsonl`` and rewrites ``<log>.points-summary.json`` beside the request log (see
:mod:`claude_poe_tui.points.files`). :class:`PointsFollower` reads both with the points package's
own readers (:class:`~claude_poe_tui.points.ledger.StoreTail`, :func:`~claude_poe_tui.points.summary.read_summary`)
and keeps what the screen needs, in bounded memory:

* the latest line of the most recent requests, for the Logs column and a request's details;
* per-model totals in one-minute buckets over the longest statistics window, for Latency's points
  per request and per hour (a line that replaces an earlier one moves the earlier one's figures
  out first, as long as the request is still open: the same rule as the proxy's own ledger);
* per-session totals (the points package's :class:`~claude_poe_tui.points.ledger.Ledger`), for Sessions;
* the summary as last written: balance, burn rate, budgets, alerts.

Plain Python, no Textual. One thread calls :meth:`PointsFollower.poll`; others may ask for figures.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.ledger import Ledger, StoreTail, Totals
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.points.summary import read_summary
from claude_poe_tui.requestlog.stats import WINDOWS

RECENT_LINES = 12_000  # lines kept by request id (Logs keeps 5000 rows); older rows show no points
BUCKET_SECONDS = 60
KEPT_SECONDS = max(WINDOWS.values()) + BUCKET_SECONDS  # the longest window, and the bucket it starts in
CHANGES_KEPT = 5000  # changed lines waiting to be handed to the screen; older ones are only in the figures


def points_text(line: PointsLine | None) -> str:
    """How a request's points read in a table: ``1,234`` exact, ``≈1,234`` ambiguous, ``~12``
    estimated, ``~?`` not priced yet; ``-`` when there is no line (it never reached Poe)."""
    if line is None:
        return "-"
    if line.points is None:
        return "~?"
    figure = f"{line.points:,.0f}" if line.points >= 10 or line.points == 0 else f"{line.points:,.1f}"
    if line.kind is PointsKind.ESTIMATED:
        return f"~{figure}"
    if line.kind is PointsKind.AMBIGUOUS:
        return f"≈{figure}"
    return figure


def points_words(line: PointsLine) -> str:
    """A request's points in a sentence, for its details."""
    if line.kind is PointsKind.EXACT:
        source = "exact: Poe's points history"
        if line.query_ids:
            source += f" (query {', '.join(line.query_ids)})"
        return f"{points_text(line)} points ({source})"
    if line.kind is PointsKind.AMBIGUOUS:
        return (f"{points_text(line)} points (ambiguous: concurrent requests to {line.bot or 'the bot'} share "
                f"Poe's entries {', '.join(line.query_ids) or ''}; their total is Poe's, this request's part a guess)")
    if line.points is None:
        return "not known yet (estimated: Poe's catalog has no price for the bot, and its history has not said)"
    return f"{points_text(line)} points (estimated from the catalog's price and the tokens; Poe's history has not said yet)"


@dataclass(frozen=True)
class ModelPoints:
    """One model's points over a window."""

    points: float
    requests: int
    estimated_requests: int
    ambiguous_points: float
    hours: float

    @property
    def per_request(self) -> float | None:
        return self.points / self.requests if self.requests else None

    @property
    def per_hour(self) -> float:
        return self.points / self.hours if self.hours > 0 else 0.0

    @property
    def estimated(self) -> bool:
        return self.estimated_requests > 0


@dataclass(frozen=True)
class SessionPoints:
    points: float
    estimated: bool
    ambiguous: bool
    requests: int
    first: float | None
    last: float | None
    bots: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PointsChanges:
    lines: list[PointsLine]
    """Lines new or changed since the last poll (the latest per request), oldest first."""
    reset: bool = False
    """The store was replaced (compacted): forget earlier lines and take these."""
    summary_changed: bool = False


def _sum(totals: list[Totals]) -> Totals:
    out = Totals()
    for t in totals:
        out.points += t.points
        out.estimated += t.estimated
        out.ambiguous += t.ambiguous
        out.requests += t.requests
        out.estimated_requests += t.estimated_requests
        out.unpriced += t.unpriced
    return out


class PointsFollower:
    def __init__(self, request_log: Path, *, clock: Callable[[], float] = time.time, recent: int = RECENT_LINES):
        self.files = PointsFiles(Path(request_log))
        self.clock = clock
        self.recent_kept = recent
        self._lock = threading.Lock()
        self._tail = StoreTail(self.files.store)
        self._reset()
        self._summary_stamp: tuple[int, int, int] | None = None
        self.summary: dict[str, Any] | None = None

    def _reset(self) -> None:
        self.ledger = Ledger()
        self._recent: OrderedDict[str, PointsLine] = OrderedDict()
        self._buckets: dict[int, dict[str, Totals]] = {}  # minute -> model -> totals

    # -- following --

    def poll(self) -> PointsChanges:
        """Read what the store and the summary gained since the last call (blocking, small reads)."""
        replaced, lines = self._tail.read()
        changed: OrderedDict[str, PointsLine] = OrderedDict()
        with self._lock:
            if replaced:
                self._reset()
            for line in lines:
                self._take(line)
                changed.pop(line.id, None)
                changed[line.id] = line
                if len(changed) > CHANGES_KEPT:
                    changed.popitem(last=False)
            if lines:
                self._expire()
        summary_changed = self._read_summary()
        return PointsChanges(list(changed.values()), replaced, summary_changed)

    def _take(self, line: PointsLine) -> None:
        earlier = self.ledger.line(line.id) or self._recent.get(line.id)
        if earlier is not None:
            self._count(earlier, -1)
        self._count(line, +1)
        self.ledger.apply(line)
        self._recent.pop(line.id, None)
        self._recent[line.id] = line
        while len(self._recent) > self.recent_kept:
            self._recent.popitem(last=False)

    def _count(self, line: PointsLine, sign: int) -> None:
        minute = int(line.ts // BUCKET_SECONDS)
        models = self._buckets.get(minute)
        if models is None:
            if sign < 0:
                return  # its bucket is gone already: older than every window
            models = self._buckets[minute] = {}
        models.setdefault(line.model or "-", Totals()).add(line, sign)

    def _expire(self) -> None:
        oldest = int((self.clock() - KEPT_SECONDS) // BUCKET_SECONDS)
        for minute in [m for m in self._buckets if m < oldest]:
            del self._buckets[minute]

    def _read_summary(self) -> bool:
        try:
            st = os.stat(self.files.summary)
        except OSError:
            changed = self.summary is not None
            self.summary, self._summary_stamp = None, None
            return changed
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._summary_stamp:
            return False
        self._summary_stamp = stamp
        self.summary = read_summary(self.files.summary)
        return True

    # -- figures (any thread) --

    def line(self, request_id: str) -> PointsLine | None:
        with self._lock:
            return self._recent.get(request_id)

    def model_points(self, window: str) -> dict[str, ModelPoints]:
        """Per model, the points of the requests that arrived in the last ``window``."""
        seconds = WINDOWS[window]
        first = int((self.clock() - seconds) // BUCKET_SECONDS) + 1
        with self._lock:
            per_model: dict[str, list[Totals]] = {}
            for minute, models in self._buckets.items():
                if minute >= first:
                    for model, totals in models.items():
                        per_model.setdefault(model, []).append(totals)
            out = {}
            for model, parts in sorted(per_model.items()):
                total = _sum(parts)
                if total.requests > 0:
                    out[model] = ModelPoints(round(total.points, 1), total.requests, total.estimated_requests,
                                             round(total.ambiguous, 1), seconds / 3600)
            return out

    def sessions(self) -> dict[str, SessionPoints]:
        """Per Claude Code session, every point the store knows of (the most recent 1000 sessions)."""
        with self._lock:
            return {sid: SessionPoints(round(t.points, 1), t.estimated_requests > 0, t.ambiguous > 0, t.requests,
                                       t.first, t.last, {bot: round(p, 1) for bot, p in t.bots.items()})
                    for sid, t in self.ledger.sessions.items()}
