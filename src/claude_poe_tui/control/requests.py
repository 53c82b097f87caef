"""Following the request log for a live view, on a thread of its own (as toolong's ``Watcher``).

:class:`RequestLogWatcher` reads the log's history once, then looks for new requests a few times
a second, and hands both to a callback together with the statistics of the chosen window. It
never has more than one update in flight: until the receiver calls :meth:`~RequestLogWatcher.shown`,
new requests gather here (bounded) instead of as a queue of updates the screen falls behind on.
Figures are sent at least once a second even without requests, since windows age.

The same thread follows the points the proxy keeps beside the log (a
:class:`~claude_poe_tui.control.points.PointsFollower`, when given one) and counts Claude Code
sessions (:class:`~claude_poe_tui.control.sessions.SessionsTracker`); updates carry what changed.
The records come from a :class:`~claude_poe_tui.requestlog.feed.RequestFeed`: the log file, or
(``feed=``) a remote gateway's stream (:mod:`claude_poe_tui.control.remote`).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_poe_tui.control.points import CHANGES_KEPT, ModelPoints, PointsFollower
from claude_poe_tui.control.sessions import SessionRow, SessionsTracker
from claude_poe_tui.points.model import PointsLine
from claude_poe_tui.requestlog.feed import BATCH, RECENT_KEPT, FeedFigures, RequestFeed
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.stats import WINDOWS

POLL_INTERVAL = 0.25  # seconds between looks at the log when it has nothing new
FIGURES_EVERY = 1.0  # seconds: figures age even without requests
SESSIONS_EVERY = 1.0  # seconds between two recounts of the sessions' rows
SESSION_ROWS = 300  # sessions sent to the screen, the most recently active first


@dataclass(frozen=True)
class RequestsUpdate:
    records: list[RequestRecord]
    """New requests, oldest first (the whole recent history when ``history``)."""
    figures: FeedFigures
    history: bool = False
    points: list[PointsLine] = field(default_factory=list)
    """Points lines new or changed since the last update (the latest per request)."""
    model_points: dict[str, ModelPoints] | None = None
    """Per model, the points of ``figures.window``; None without a points store (a remote gateway)."""
    summary: dict[str, Any] | None = None
    """The proxy's points summary as last read (balance, burn rate, budgets, alerts)."""
    summary_changed: bool = False
    sessions: list[SessionRow] | None = None
    """The sessions' rows, when they changed."""
    sessions_total: int = 0
    points_reset: bool = False
    """The points store was replaced (compacted): ``points`` holds its lines afresh."""
    points_loaded: bool = False
    """This update ends the first reading of the points store."""
    points_error: str | None = None
    """Why the points are no longer followed, if they are not."""


class RequestLogWatcher:
    def __init__(self, path: Path, on_update: Callable[[RequestsUpdate], None], *,
                 clock: Callable[[], float] = time.time, window: str = "1h",
                 on_error: Callable[[BaseException], None] | None = None,
                 interval: float = POLL_INTERVAL, points: PointsFollower | None = None,
                 feed: Callable[..., RequestFeed] | None = None) -> None:
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r}; one of {', '.join(WINDOWS)}")
        self.path = Path(path)
        self.on_update = on_update
        self.on_error = on_error
        self.clock = clock
        self.interval = interval
        self.points = points
        self.points_error: str | None = None
        """Why the points store stopped being followed (the requests are followed still)."""
        self.sessions = SessionsTracker()
        self._make_feed = feed or (lambda **kwargs: RequestFeed(self.path, **kwargs))
        self._window = window
        self._feed: RequestFeed | None = None
        self._model_points_key: tuple | None = None
        self._model_points: dict[str, ModelPoints] | None = None
        self._closed = threading.Event()
        self._in_flight = threading.Event()  # an update the receiver has not shown yet
        self._thread: threading.Thread | None = None

    # -- the window --

    @property
    def window(self) -> str:
        return self._window

    @window.setter
    def window(self, label: str) -> None:
        if label not in WINDOWS:
            raise ValueError(f"unknown window {label!r}; one of {', '.join(WINDOWS)}")
        self._window = label

    def next_window(self) -> str:
        labels = list(WINDOWS)
        self.window = labels[(labels.index(self._window) + 1) % len(labels)]
        return self._window

    def figures(self, window: str | None = None) -> FeedFigures | None:
        """The statistics now (thread-safe); None before the watcher has started reading."""
        feed = self._feed
        return feed.figures(window or self._window) if feed is not None else None

    def model_points(self, window: str | None = None) -> dict[str, ModelPoints] | None:
        """Per model, the points of the window (thread-safe); None without a points store."""
        points = self.points
        return points.model_points(window or self._window) if points is not None else None

    # -- running --

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="request-log-watcher", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def shown(self) -> None:
        """The receiver has shown the last update: the next one may come."""
        self._in_flight.clear()

    def _send(self, records: list[RequestRecord], figures: FeedFigures, history: bool = False, *,
              points: list[PointsLine] = (), summary_changed: bool = False, sessions: bool = False,
              points_reset: bool = False, points_loaded: bool = False) -> None:
        self._in_flight.set()
        follower = self.points
        rows = None
        if sessions:
            rows = self.sessions.rows(follower.sessions() if follower is not None else None, limit=SESSION_ROWS)
        model_points = None
        if follower is not None:
            # Summed over the window's buckets: at once for another window or a store read afresh, else at
            # most once a second (when a figure changed, or since the window moved on).
            window, version, now = figures.window, follower.version, time.monotonic()
            last = self._model_points_key
            if (last is None or last[0] != window or points_loaded or points_reset
                    or (now - last[2] >= 1.0 and (last[1] != version or now - last[2] >= FIGURES_EVERY * 5))):
                self._model_points_key = (window, version, now)
                self._model_points = follower.model_points(window)
            model_points = self._model_points
        self.on_update(RequestsUpdate(
            records, figures, history, list(points), model_points,
            follower.summary if follower is not None else None, summary_changed, rows, len(self.sessions),
            points_reset, points_loaded, self.points_error,
        ))

    def _run(self) -> None:
        feed = self._feed = self._make_feed(clock=self.clock, observe=self.sessions.add)
        follower = self.points
        try:
            recent = feed.load_history(cancelled=self._closed.is_set)
            if self._closed.is_set():
                return
            # The history first: the points store (read next, in pieces) can take a second or two.
            self._send(recent, feed.figures(self._window), history=True, sessions=follower is None)
            pending: list[RequestRecord] = []
            points: collections.OrderedDict[str, PointsLine] = collections.OrderedDict()
            summary_changed = points_reset = False
            sessions_due = True
            points_loaded = follower is None
            sent_at = sessions_at = time.monotonic()
            while not self._closed.is_set():
                batch = feed.poll()
                pending = (pending + batch)[-RECENT_KEPT:] if pending else batch
                if follower is not None:
                    try:
                        changes = follower.poll()
                    except Exception as exc:  # the points stop; the requests go on
                        follower = self.points = None
                        self.points_error = f"{type(exc).__name__}: {exc}"
                        summary_changed = points_loaded = True
                        continue
                    if changes.reset:
                        points.clear()
                        points_reset = True
                    for line in changes.lines:
                        points.pop(line.id, None)
                        points[line.id] = line
                    while len(points) > CHANGES_KEPT:
                        points.popitem(last=False)
                    summary_changed = summary_changed or changes.summary_changed
                    sessions_due = sessions_due or bool(changes.lines)
                sessions_due = sessions_due or self.sessions.changed
                now = time.monotonic()
                first_points = not points_loaded
                due = pending or points or summary_changed or first_points or now - sent_at >= FIGURES_EVERY
                if due and not self._in_flight.is_set():
                    recount = sessions_due and (now - sessions_at >= SESSIONS_EVERY or first_points)
                    self._send(pending, feed.figures(self._window), points=list(points.values()),
                               summary_changed=summary_changed, sessions=recount, points_reset=points_reset,
                               points_loaded=first_points)
                    pending, points, summary_changed, points_reset, points_loaded = [], collections.OrderedDict(), False, False, True
                    sent_at = now
                    if recount:
                        sessions_due, sessions_at = False, now
                if len(batch) < BATCH:
                    self._closed.wait(self.interval)
        except Exception as exc:  # reported, not lost in a thread nobody watches
            if self.on_error is not None and not self._closed.is_set():
                self.on_error(exc)
        finally:
            feed.close()
            if self.points is not None:
                self.points.close()
