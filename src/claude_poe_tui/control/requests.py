"""Following the request log for a live view, on a thread of its own (as toolong's ``Watcher``).

:class:`RequestLogWatcher` reads the log's history once, then looks for new requests a few times
a second, and hands both to a callback together with the statistics of the chosen window. It
never has more than one update in flight: until the receiver calls :meth:`~RequestLogWatcher.shown`,
new requests gather here (bounded) instead of as a queue of updates the screen falls behind on.
Figures are sent at least once a second even without requests, since windows age.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.requestlog.feed import BATCH, RECENT_KEPT, FeedFigures, RequestFeed
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.stats import WINDOWS

POLL_INTERVAL = 0.25  # seconds between looks at the log when it has nothing new
FIGURES_EVERY = 1.0  # seconds: figures age even without requests


@dataclass(frozen=True)
class RequestsUpdate:
    records: list[RequestRecord]
    """New requests, oldest first (the whole recent history when ``history``)."""
    figures: FeedFigures
    history: bool = False


class RequestLogWatcher:
    def __init__(self, path: Path, on_update: Callable[[RequestsUpdate], None], *,
                 clock: Callable[[], float] = time.time, window: str = "1h",
                 on_error: Callable[[BaseException], None] | None = None,
                 interval: float = POLL_INTERVAL) -> None:
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r}; one of {', '.join(WINDOWS)}")
        self.path = Path(path)
        self.on_update = on_update
        self.on_error = on_error
        self.clock = clock
        self.interval = interval
        self._window = window
        self._feed: RequestFeed | None = None
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

    def _send(self, records: list[RequestRecord], figures: FeedFigures, history: bool = False) -> None:
        self._in_flight.set()
        self.on_update(RequestsUpdate(records, figures, history))

    def _run(self) -> None:
        feed = self._feed = RequestFeed(self.path, clock=self.clock)
        try:
            recent = feed.load_history(cancelled=self._closed.is_set)
            if self._closed.is_set():
                return
            self._send(recent, feed.figures(self._window), history=True)
            pending: list[RequestRecord] = []
            sent_at = time.monotonic()
            while not self._closed.is_set():
                batch = feed.poll()
                pending = (pending + batch)[-RECENT_KEPT:] if pending else batch
                due = pending or time.monotonic() - sent_at >= FIGURES_EVERY
                if due and not self._in_flight.is_set():
                    self._send(pending, feed.figures(self._window))
                    pending = []
                    sent_at = time.monotonic()
                if len(batch) < BATCH:
                    self._closed.wait(self.interval)
        except Exception as exc:  # reported, not lost in a thread nobody watches
            if self.on_error is not None and not self._closed.is_set():
                self.on_error(exc)
        finally:
            feed.close()
