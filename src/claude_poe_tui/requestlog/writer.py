"""Appending records to the request log, off the request path, with size-based rotation.

The proxy calls :meth:`RequestLogWriter.submit`, which only puts the record on a queue; a daemon
thread serialises and appends whatever has queued up in one write, then rotates when the file has
grown past ``max_bytes``: ``requests.jsonl`` -> ``requests.jsonl.1`` -> ... -> ``.<backups>``.
Disk use therefore stays under about ``max_bytes * (backups + 1)``.
"""

from __future__ import annotations

import os
import queue
import threading
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
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

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
        try:
            fd = self._open()
            os.write(fd, data)
            if os.fstat(fd).st_size >= self.max_bytes:
                self._rotate()
        except OSError:
            self.dropped += count
            if self._fd is not None:
                try:
                    os.close(self._fd)
                finally:
                    self._fd = None

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
