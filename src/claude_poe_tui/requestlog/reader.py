"""Reading the request log: its history, and new lines as the proxy appends them.

The writer appends whole lines and rotates by renaming (``requests.jsonl`` -> ``.1`` -> ...), so a
follower keeps its file open: after a rotation it drains the renamed file, then moves to the new one
from its start. A file that shrinks under it was truncated: it starts over from byte 0. A last line
without its newline yet is kept back until the rest arrives.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.writer import rotated_path

CHUNK = 1 << 20  # bytes read at a time: bounds the memory a big backlog needs


def _parse(line: bytes) -> RequestRecord | None:
    return RequestRecord.from_json(line) if line.strip() else None


class LogFollower:
    """Follows one request log path from a byte offset, through rotation and truncation."""

    def __init__(self, path: Path, *, from_end: bool = False, offset: int = 0):
        self.path = Path(path)
        self.from_end = from_end
        self.start_offset = offset
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self.offset = 0  # bytes of the open file consumed (complete lines only)
        self._pending = b""  # the start of a line whose newline has not been written yet
        self._ready: list[bytes] = []  # complete lines read but not handed out yet
        self.skipped = 0  # lines that were not records (corrupt or foreign)
        self._started = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._identity = None

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, *, first: bool, path: Path | None = None) -> bool:
        try:
            fd = os.open(path or self.path, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return False
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # a device (/dev/full, /dev/zero) never ends: not a log
            os.close(fd)
            return False
        self._fd, self._identity = fd, (st.st_dev, st.st_ino)
        if first and self.from_end:
            self.offset = st.st_size
        elif first:
            self.offset = min(self.start_offset, st.st_size)
        else:
            self.offset = 0
        self._pending = b""
        return True

    def _drain(self) -> None:
        """Read everything the open file has past our offset into complete lines."""
        assert self._fd is not None
        if os.fstat(self._fd).st_size < self.offset + len(self._pending):  # truncated under us
            self.offset, self._pending = 0, b""
        position = self.offset + len(self._pending)
        while True:
            chunk = os.pread(self._fd, CHUNK, position)
            if not chunk:
                return
            position += len(chunk)
            data = self._pending + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                self._ready.extend(data[:cut].splitlines())
                self.offset += cut
            self._pending = data[cut:]
            if len(self._ready) > 4096:  # let the caller take these before reading more
                return

    def _identity_of(self, path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _successor(self) -> Path | None:
        """The file written after ours, if the writer has rotated ours away; else ``None``.

        Several rotations may have happened since the last read, so ours is looked up among the
        rotated files (``.k``) and the next one is ``.k-1``, down to the current file.
        """
        if self._identity_of(self.path) == self._identity:
            return None
        index = 1
        while (identity := self._identity_of(rotated_path(self.path, index))) is not None:
            if identity == self._identity:
                following = rotated_path(self.path, index - 1) if index > 1 else self.path
                return following if following.exists() else None
            index += 1
        # Ours is gone (rotated past the kept backups): carry on with the current file.
        return self.path if self.path.exists() else None

    def read(self, limit: int | None = None) -> list[RequestRecord]:
        """New records since the last call (at most ``limit``; the rest wait for the next call)."""
        out: list[RequestRecord] = []
        if self._fd is None:
            if not self._open(first=not self._started):
                return out
            self._started = True
        while limit is None or len(out) < limit:
            if not self._ready:
                self._drain()
            if not self._ready:
                following = self._successor()
                if following is None:
                    break
                # The writer renamed our file away: it is complete, so what is pending was never a
                # line. Move to the next file from its start.
                self.close()
                if not self._open(first=False, path=following):
                    break
                continue
            if limit is None:
                take, self._ready = self._ready, []
            else:
                take = self._ready[: limit - len(out)]
                del self._ready[: len(take)]
            for line in take:
                record = _parse(line)
                if record is None:
                    self.skipped += 1
                else:
                    out.append(record)
        return out

    def __iter__(self) -> Iterator[RequestRecord]:
        """Everything available now, in batches, without holding it all in memory."""
        while batch := self.read(limit=4096):
            yield from batch


def log_files(path: Path) -> list[Path]:
    """The request log's files, oldest first: ``.N`` ... ``.1``, then the current one."""
    rotated = []
    index = 1
    while rotated_path(path, index).exists():
        rotated.append(rotated_path(path, index))
        index += 1
    files = list(reversed(rotated))
    if path.exists():
        files.append(path)
    return files


def read_file(path: Path) -> Iterator[RequestRecord]:
    with LogFollower(path) as follower:
        yield from follower


def read_history(path: Path, *, since: float | None = None) -> Iterator[RequestRecord]:
    """Every record still on disk, oldest first; ``since`` skips older ones (Unix time)."""
    for file in log_files(Path(path)):
        for record in read_file(file):
            if since is None or record.ts >= since:
                yield record


def read_tail(path: Path, count: int) -> list[RequestRecord]:
    """The last ``count`` records of the log (across its rotated files), oldest first, in bounded memory."""
    import collections

    if count <= 0:
        return []
    kept: collections.deque[RequestRecord] = collections.deque(maxlen=count)
    for record in read_history(path):
        kept.append(record)
    return list(kept)
