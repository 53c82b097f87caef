"""Noticing that a file changed: its inode, size and modification time, looked at once a second.

``serve`` watches its config file with it, so a hand edit (or the gateway's mapping endpoint)
applies to the running proxy. Polling, not inotify: it works the same on every system and on
mounted volumes, and a stat a second costs nothing. Plain Python.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

Signature = tuple[int, int, int, int] | None


def signature(path: Path) -> Signature:
    """What changes when the file is written or replaced; None when it is missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class FileWatch:
    """Calls ``on_change()`` (on its own thread) when ``path`` changes; :meth:`settle` takes the
    file as it is now as seen, for changes made by the watcher's owner itself."""

    def __init__(self, path: Path, on_change: Callable[[], None], *, interval: float = 1.0,
                 settle_time: float = 0.2) -> None:
        self.path = Path(path)
        self.on_change = on_change
        self.interval = interval
        self.settle_time = settle_time
        self._seen = signature(self.path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def settle(self) -> None:
        self._seen = signature(self.path)

    def start(self) -> FileWatch:
        self._thread = threading.Thread(target=self._run, name="config-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = signature(self.path)
            if now == self._seen:
                continue
            # An editor that writes in place may not be done: wait until the file holds still.
            while not self._stop.wait(self.settle_time):
                again = signature(self.path)
                if again == now:
                    break
                now = again
            if self._stop.is_set():
                return
            self._seen = now
            if now is None:
                continue  # removed (or mid-replace): the next version is what counts
            try:
                self.on_change()
            except Exception:  # the owner's bug must not end the watching
                pass
