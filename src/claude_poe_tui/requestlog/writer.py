"""Appending records to the request log, off the request path, with size-based rotation.

The proxy calls :meth:`RequestLogWriter.submit`, which only puts the record on a queue; a daemon
thread serialises and appends whatever has queued up in one write, then rotates when the file has
grown past ``max_bytes``: ``requests.jsonl`` -> ``requests.jsonl.1`` -> ... -> ``.<backups>``.
Disk use therefore stays under about ``max_bytes * (backups + 1)``.

Several processes may write one log (``[proxy] workers``): each write and each rotation happens
under an exclusive lock on ``<log>.lock``, and a writer whose file was rotated away by another
reopens the path before it writes, so records neither interleave nor land in a rotated file.

A write that fails (disk full, a read-only file system, permissions) loses its records, never the
log's shape: the file is cut back to where the write began, so no half line is left to merge with
the next record (and if even that fails, the next write starts on a new line). :attr:`failing` says
why and :attr:`dropped` how many records were lost; both show on the proxy's status page, in
``serve``'s output, the dashboard and ``doctor``. The next write that succeeds clears ``failing``.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path

from claude_poe_tui.requestlog.record import RequestRecord

_STOP = object()


def rotated_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


class RequestLogWriter:
    def __init__(self, path: Path, *, max_bytes: int, backups: int):
        self.path = Path(path)
        self.max_bytes = max(1024, int(max_bytes))
        self.backups = max(0, int(backups))
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="request-log-writer", daemon=True)
        self._fd: int | None = None
        self.dropped = 0  # records that could not be written (disk full, permissions)
        self.failing: str | None = None  # why the last write failed; None once writing works again
        self.failing_since: float | None = None
        self._needs_newline = False  # a failed write left a partial line that could not be cut

    def start(self) -> RequestLogWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def submit(self, record: RequestRecord) -> None:
        """Queue a record; never blocks, never raises."""
        self._queue.put(record)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    # -- the writer thread --

    def _open(self) -> int:
        if self._fd is not None:
            # Another process may have rotated the log: write to the file the path names now.
            try:
                same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(self._fd)
                self._fd = None
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _lock(self) -> int | None:
        """An exclusive lock shared by every process writing this log (None where there is no flock)."""
        try:
            import fcntl
        except ImportError:
            return None
        try:
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @staticmethod
    def _unlock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing drops the flock

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while True:  # take everything already queued: one write for a burst
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines = []
            for item in batch:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, RequestRecord):
                    lines.append(item.to_json())
            if lines:
                self._write(("\n".join(lines) + "\n").encode("utf-8"), len(lines))
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes, count: int) -> None:
        lock = self._lock()
        try:
            self._write_locked(data, count)
        finally:
            self._unlock(lock)

    def _write_locked(self, data: bytes, count: int) -> None:
        start: int | None = None
        try:
            fd = self._open()
            start = os.fstat(fd).st_size
            if self._needs_newline:
                data = b"\n" + data
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError("nothing was written")
                view = view[written:]
            self._needs_newline = False
            if self.failing is not None:
                self.failing = self.failing_since = None
            if os.fstat(fd).st_size >= self.max_bytes:
                self._rotate()
        except OSError as exc:
            self.dropped += count
            if self.failing is None:
                self.failing_since = time.time()
            self.failing = f"{exc.strerror or exc} ({self.path})"
            self._cut_back(start)
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = None

    def _cut_back(self, size: int | None) -> None:
        """Remove a partial write, so the file ends on a whole record again."""
        if size is None or self._fd is None:
            return
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            self._needs_newline = True

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.backups == 0:
            if self.path.exists():
                os.truncate(self.path, 0)
            return
        for index in range(self.backups - 1, 0, -1):
            source = rotated_path(self.path, index)
            if source.exists():
                os.replace(source, rotated_path(self.path, index + 1))
        os.replace(self.path, rotated_path(self.path, 1))
