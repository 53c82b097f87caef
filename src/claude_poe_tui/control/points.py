"""Points for the dashboard: the proxy's points store and summary, followed, never written.

The proxy that holds the points lock appends one line per request and change to
``<log>.points.jsonl`` and rewrites ``<log>.points-summary.json`` beside the request log (see
:mod:`claude_poe_tui.points.files`). :class:`PointsFollower` reads both with the points package's
own readers (:class:`~claude_poe_tui.points.ledger.StoreTail`, in bounded pieces, and
:func:`~claude_poe_tui.points.summary.read_summary`) and keeps what the screen needs:

* the latest line of the most recent requests (:data:`KEPT_LINES`), for the Logs column and a
  request's details, and so that a line replacing an earlier one (an estimate, then Poe's figure)
  moves the earlier one's points out of every total first;
* per-model totals in one-minute buckets over the longest statistics window, for Latency's points
  per request and per hour;
* per-session totals (the most recently active :data:`MAX_SESSIONS`), for Sessions;
* the summary as last written: balance, burn rate, budgets, alerts.

Memory is bounded by those counts, whatever the rate: the proxy's own ledger keeps every line of
the last hours, which at a team gateway's rate is millions. A line that comes for a request whose
earlier line was forgotten (it ended before every line still kept) is not counted again: its
earlier figure stands (so an estimate may stay an estimate, marked ``~``), never counted twice.
Lines are kept as tuples of strings and numbers, which the garbage collector does not walk.

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
from claude_poe_tui.points.ledger import StoreTail
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.points.summary import read_summary
from claude_poe_tui.requestlog.stats import WINDOWS

KEPT_LINES = 20_000  # requests whose latest line is kept (Logs shows 5000): a few MiB
RECENT_LINES = KEPT_LINES
MAX_SESSIONS = 1000
BUCKET_SECONDS = 60
KEPT_SECONDS = max(WINDOWS.values()) + BUCKET_SECONDS  # the longest window, and the bucket it starts in
CHANGES_KEPT = 5000  # changed lines waiting to be handed to the screen; older ones are only in the figures
READ_BYTES = 1 << 20  # the store is read a MiB at a time
KINDS = tuple(PointsKind)

# A line as kept: (ts, end, session, model, bot, points, kind index, query ids). Strings are interned.
Kept = tuple[float, float, "str | None", "str | None", "str | None", "float | None", int, tuple[str, ...]]


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


def alert_messages(summary: dict[str, Any] | None) -> set[str]:
    """The low-balance notices the summary carries, as sentences (``summary["alerts"]``)."""
    alerts = (summary or {}).get("alerts") or []
    return {a["message"][:1].upper() + a["message"][1:] + "." for a in alerts
            if isinstance(a, dict) and isinstance(a.get("message"), str) and a["message"]}


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


@dataclass(slots=True)
class _Totals:
    points: float = 0.0
    estimated_points: float = 0.0
    ambiguous_points: float = 0.0
    requests: int = 0
    estimated_requests: int = 0

    def add(self, points: float | None, kind: PointsKind, sign: int) -> None:
        figure = points or 0.0
        self.points += sign * figure
        self.requests += sign
        if kind is PointsKind.ESTIMATED:
            self.estimated_points += sign * figure
            self.estimated_requests += sign
        elif kind is PointsKind.AMBIGUOUS:
            self.ambiguous_points += sign * figure


@dataclass(slots=True)
class _SessionTotals(_Totals):
    first: float | None = None
    last: float | None = None
    bots: dict[str, float] = field(default_factory=dict)


class PointsFollower:
    """``source``: where the lines come from instead of the store beside ``request_log`` (a remote
    gateway's :class:`~claude_poe_tui.control.remote.PointsStream`; anything with ``read(max_bytes)``
    as :class:`StoreTail` has). With a source there is no summary file: the summary comes another way."""

    def __init__(self, request_log: Path, *, clock: Callable[[], float] = time.time, kept: int = KEPT_LINES,
                 max_sessions: int = MAX_SESSIONS, source: Any = None):
        self.files = PointsFiles(Path(request_log))
        self.clock = clock
        self.kept = kept
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._tail = source if source is not None else StoreTail(self.files.store)
        self._summary_file = source is None
        self._reset()
        self._summary_stamp: tuple[int, int, int] | None = None
        self.summary: dict[str, Any] | None = None

    def _reset(self) -> None:
        # Request id -> its latest line, least recently changed first. (An OrderedDict: taking the first
        # entry of a plain dict again and again walks the holes its deletions left, quadratic.)
        self._lines: OrderedDict[str, Kept] = OrderedDict()
        self._forgotten_end = float("-inf")  # the latest end of a line no longer kept
        self.not_recounted = 0  # lines for forgotten requests (their earlier figure stands)
        self._buckets: dict[int, dict[str, _Totals]] = {}  # minute -> model -> totals
        self._sessions: OrderedDict[str, _SessionTotals] = OrderedDict()  # least recently active first
        self._strings: dict[str, str] = {}
        self.version = 0  # bumped whenever a figure changes

    # -- following --

    def poll(self) -> PointsChanges:
        """Read what the store and the summary gained since the last call (blocking, bounded reads)."""
        changed: OrderedDict[str, PointsLine] = OrderedDict()
        reset = False
        while True:
            replaced, lines = self._tail.read(max_bytes=READ_BYTES)
            with self._lock:
                if replaced:
                    self._reset()
                    changed.clear()
                    reset = True
                for line in lines:
                    if self._take(line):
                        changed.pop(line.id, None)
                        changed[line.id] = line
                        if len(changed) > CHANGES_KEPT:
                            changed.popitem(last=False)
                if lines:
                    self._expire()
            if not lines:
                break
        summary_changed = self._read_summary()
        return PointsChanges(list(changed.values()), reset, summary_changed)

    def close(self) -> None:
        """Stop a source that runs by itself (a remote stream's thread); a file needs nothing."""
        close = getattr(self._tail, "close", None)
        if close is not None:
            close()

    def _intern(self, text: str | None) -> str | None:
        if text is None:
            return None
        kept = self._strings.get(text)
        if kept is None:
            if len(self._strings) > 4 * self.max_sessions + 1000:
                self._strings.clear()  # only a saving, never needed for correctness
            kept = self._strings[text] = text
        return kept

    def _take(self, line: PointsLine) -> bool:
        """Count ``line`` (moving its request's earlier line out first); False when it is not counted."""
        earlier = self._lines.pop(line.id, None)
        if earlier is None and line.end <= self._forgotten_end:
            self.not_recounted += 1
            return False
        if earlier is not None:
            self._count(earlier, -1)
        kept: Kept = (line.ts, line.end, self._intern(line.session), self._intern(line.model), self._intern(line.bot),
                      line.points, KINDS.index(line.kind), line.query_ids)
        self._count(kept, +1)
        self._lines[line.id] = kept
        while len(self._lines) > self.kept:
            self._forgotten_end = max(self._forgotten_end, self._lines.popitem(last=False)[1][1])
        self.version += 1
        return True

    def _count(self, kept: Kept, sign: int) -> None:
        ts, end, session, model, bot, points, kind_index, _ = kept
        kind = KINDS[kind_index]
        minute = int(ts // BUCKET_SECONDS)
        models = self._buckets.get(minute)
        if models is None and sign > 0:
            models = self._buckets[minute] = {}
        if models is not None:  # (an earlier line's bucket may be gone already: older than every window)
            models.setdefault(model or "-", _Totals()).add(points, kind, sign)
        if session:
            totals = self._sessions.pop(session, None)
            if totals is None:
                if sign < 0:
                    return  # the session was forgotten (least recently active)
                totals = _SessionTotals()
            self._sessions[session] = totals  # now the most recently active
            totals.add(points, kind, sign)
            if sign > 0:
                totals.first = ts if totals.first is None else min(totals.first, ts)
                totals.last = end if totals.last is None else max(totals.last, end)
            if bot:
                totals.bots[bot] = totals.bots.get(bot, 0.0) + sign * (points or 0.0)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def _expire(self) -> None:
        oldest = int((self.clock() - KEPT_SECONDS) // BUCKET_SECONDS)
        for minute in [m for m in self._buckets if m < oldest]:
            del self._buckets[minute]

    def _read_summary(self) -> bool:
        if not self._summary_file:
            return False
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
            kept = self._lines.get(request_id)
        if kept is None:
            return None
        ts, end, session, model, bot, points, kind_index, query_ids = kept
        return PointsLine(request_id, ts, end, session, model, bot, points, KINDS[kind_index], query_ids)

    def model_points(self, window: str) -> dict[str, ModelPoints]:
        """Per model, the points of the requests that arrived in the last ``window``."""
        seconds = WINDOWS[window]
        first = int((self.clock() - seconds) // BUCKET_SECONDS) + 1
        with self._lock:
            sums: dict[str, list[float]] = {}
            for minute, models in self._buckets.items():
                if minute < first:
                    continue
                for model, t in models.items():
                    acc = sums.get(model)
                    if acc is None:
                        acc = sums[model] = [0.0, 0, 0, 0.0]
                    acc[0] += t.points
                    acc[1] += t.requests
                    acc[2] += t.estimated_requests
                    acc[3] += t.ambiguous_points
        return {model: ModelPoints(round(p, 1), int(n), int(e), round(a, 1), seconds / 3600)
                for model, (p, n, e, a) in sorted(sums.items()) if n > 0}

    def sessions(self) -> dict[str, SessionPoints]:
        """Per Claude Code session, its points (the most recently active :data:`MAX_SESSIONS`)."""
        with self._lock:
            return {sid: SessionPoints(round(t.points, 1), t.estimated_requests > 0, t.ambiguous_points > 0,
                                       t.requests, t.first, t.last, {bot: round(p, 1) for bot, p in t.bots.items()})
                    for sid, t in self._sessions.items()}
