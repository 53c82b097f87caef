"""The points store beside the request log, and the running totals built from it.

The store (``<log>.points.jsonl``) is appended to, one :class:`~.model.PointsLine` per change: the
estimate when a request ends, then what Poe's history says. The request log itself is never
rewritten. The latest line for an id wins. One process writes it (the one holding the points
lock); it compacts the file (latest line per id, the last :data:`RETENTION_SECONDS`) by writing a
new file and renaming it over the old, so readers see either the old or the new file whole.

:class:`Ledger` turns lines into totals per Claude Code session, per day (local time), per model
and day, and the points of the last hour, in bounded memory: a line can only be replaced while
its request is "open" (:data:`OPEN_SECONDS`), so only those lines are kept to undo; sessions are
kept least-recently-active first up to :data:`MAX_SESSIONS`, days up to :data:`MAX_DAYS`.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_poe_tui.points.model import PointsKind, PointsLine

RETENTION_SECONDS = 31 * 86400  # Poe keeps 30 days of history
OPEN_SECONDS = 7 * 3600  # how long after its first line a request's points may still change
MAX_SESSIONS = 1000
MAX_DAYS = 40
MAX_MODELS_PER_DAY = 200
COMPACT_BYTES = 8 * 1024 * 1024
CHUNK = 1 << 20


def day_of(ts: float) -> str:
    """The calendar day (local time) a request belongs to, for ``daily_points``."""
    return time.strftime("%Y-%m-%d", time.localtime(ts))


@dataclass(slots=True)
class Totals:
    points: float = 0.0
    """Every point known: history (exact and ambiguous) and estimates."""
    estimated: float = 0.0
    """Of ``points``, those only estimated."""
    ambiguous: float = 0.0
    """Of ``points``, those from ambiguous matches (their sum is Poe's, their split a guess)."""
    requests: int = 0
    estimated_requests: int = 0
    unpriced: int = 0
    """Requests with no figure at all yet: no catalog price and no history entry."""
    first: float | None = None
    last: float | None = None

    def add(self, line: PointsLine, sign: int) -> None:
        points = line.points or 0.0
        self.points += sign * points
        self.requests += sign
        if line.kind is PointsKind.ESTIMATED:
            self.estimated += sign * points
            self.estimated_requests += sign
            if line.points is None:
                self.unpriced += sign
        elif line.kind is PointsKind.AMBIGUOUS:
            self.ambiguous += sign * points
        if sign > 0:
            self.first = line.ts if self.first is None else min(self.first, line.ts)
            self.last = line.end if self.last is None else max(self.last, line.end)

    @property
    def is_estimated(self) -> bool:
        return self.estimated_requests > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "points": round(self.points, 1),
            "estimated_points": round(self.estimated, 1),
            "ambiguous_points": round(self.ambiguous, 1),
            "requests": self.requests,
            "estimated_requests": self.estimated_requests,
            "unpriced_requests": self.unpriced,
            "first": self.first,
            "last": self.last,
        }


@dataclass(slots=True)
class SessionTotals(Totals):
    last_bot: str | None = None
    last_model: str | None = None
    bots: dict[str, float] = field(default_factory=dict)

    def add(self, line: PointsLine, sign: int) -> None:
        Totals.add(self, line, sign)
        if line.bot:
            self.bots[line.bot] = self.bots.get(line.bot, 0.0) + sign * (line.points or 0.0)
            if sign > 0 and (self.last is None or line.end >= self.last):
                self.last_bot, self.last_model = line.bot, line.model

    def to_json(self) -> dict[str, Any]:
        data = Totals.to_json(self)
        data.update(last_bot=self.last_bot, last_model=self.last_model,
                    bots={bot: round(p, 1) for bot, p in sorted(self.bots.items(), key=lambda kv: -kv[1])[:10]})
        return data


class Ledger:
    """Totals over the lines applied, a later line for an id replacing the earlier one."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[PointsLine, float]] = {}  # id -> (latest line, when its first was written)
        self._newest_at = 0.0
        self.sessions: OrderedDict[str, SessionTotals] = OrderedDict()
        self.days: dict[str, Totals] = {}
        self.models: dict[str, dict[str, Totals]] = {}  # day -> model -> totals
        self.lines_applied = 0

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._open

    def line(self, request_id: str) -> PointsLine | None:
        held = self._open.get(request_id)
        return held[0] if held else None

    def apply(self, line: PointsLine) -> None:
        self.lines_applied += 1
        held = self._open.get(line.id)
        if held is not None:
            if held[0] == line:
                return
            self._account(held[0], -1)
            self._open[line.id] = (line, held[1])
        else:
            self._open[line.id] = (line, line.at)
        self._account(line, +1)
        self._newest_at = max(self._newest_at, line.at)
        self._forget_closed()

    def apply_all(self, lines: Iterable[PointsLine]) -> None:
        for line in lines:
            self.apply(line)

    def _forget_closed(self) -> None:
        """Lines older than the open window can no longer be replaced: keep only their totals."""
        limit = self._newest_at - OPEN_SECONDS - 3600
        while self._open:
            first_id = next(iter(self._open))
            if self._open[first_id][1] >= limit:
                break
            del self._open[first_id]

    def _account(self, line: PointsLine, sign: int) -> None:
        day = day_of(line.ts)
        totals = self.days.get(day)
        if totals is None:
            totals = self.days[day] = Totals()
            if len(self.days) > MAX_DAYS:
                del self.days[min(self.days)]
        totals.add(line, sign)
        per_model = self.models.setdefault(day, {})
        if len(self.models) > MAX_DAYS:
            del self.models[min(self.models)]
        name = line.model or "-"
        if name not in per_model and len(per_model) >= MAX_MODELS_PER_DAY:
            name = "(other)"
        per_model.setdefault(name, Totals()).add(line, sign)
        if line.session:
            session = self.sessions.get(line.session)
            if session is None:
                session = self.sessions[line.session] = SessionTotals()
                if len(self.sessions) > MAX_SESSIONS:
                    self.sessions.popitem(last=False)
            elif sign > 0:
                self.sessions.move_to_end(line.session)
            session.add(line, sign)

    # -- figures --

    def session(self, session_id: str | None) -> SessionTotals | None:
        return self.sessions.get(session_id) if session_id else None

    def day(self, day: str) -> Totals:
        return self.days.get(day) or Totals()

    def open_lines(self) -> Iterator[PointsLine]:
        return (line for line, _ in self._open.values())

    def last_hour(self, now: float, window: float = 3600.0) -> tuple[float, bool]:
        """Points of the requests that ended in the last ``window`` seconds, and whether any is estimated."""
        total, estimated = 0.0, False
        for line, _ in self._open.values():
            if now - window <= line.end <= now:
                total += line.points or 0.0
                estimated = estimated or line.kind is PointsKind.ESTIMATED
        return total, estimated

    def spent_since(self, since: float) -> float | None:
        """Points of requests that ended after ``since``; ``None`` when that is too long ago to know."""
        if since < self._newest_at - OPEN_SECONDS:
            return None  # lines that old may have been forgotten
        return sum(line.points or 0.0 for line, _ in self._open.values() if line.end > since)


# --- the file -----------------------------------------------------------------------------------


def _lines_in(data: bytes) -> Iterator[PointsLine]:
    for raw in data.splitlines():
        if raw.strip():
            line = PointsLine.from_json(raw)
            if line is not None:
                yield line


class PointsStore:
    """``<log>.points.jsonl``: appended by its one writer, read whole or followed by anyone."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.dropped = 0  # lines that could not be written (disk full, permissions)

    def append(self, lines: Sequence[PointsLine]) -> None:
        """Append in one write; never raises (a store that cannot be written only loses detail)."""
        if not lines:
            return
        data = ("\n".join(line.to_json() for line in lines) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError:
            self.dropped += len(lines)

    def read(self) -> Iterator[PointsLine]:
        """Every line, oldest first, in bounded chunks."""
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        with handle:
            pending = b""
            while chunk := handle.read(CHUNK):
                data = pending + chunk
                cut = data.rfind(b"\n") + 1
                yield from _lines_in(data[:cut])
                pending = data[cut:]

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def needs_compaction(self) -> bool:
        return self.size() > COMPACT_BYTES

    def compact(self, now: float | None = None) -> int:
        """Keep the latest line per id of the last :data:`RETENTION_SECONDS`; returns how many."""
        now = time.time() if now is None else now
        latest: dict[str, PointsLine] = {}
        for line in self.read():
            if line.ts >= now - RETENTION_SECONDS:
                latest.pop(line.id, None)
                latest[line.id] = line  # re-inserted: the file stays in write order
        text = "".join(line.to_json() + "\n" for line in latest.values())
        tmp = self.path.with_name(f".{self.path.name}.compact")
        with open(tmp, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600) if hasattr(os, "fchmod") else None
            handle.write(text)
        os.replace(tmp, self.path)
        return len(latest)


class StoreTail:
    """New lines of the store since the last call; says when the file was replaced (compacted)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self._identity: tuple[int, int] | None = None
        self._pending = b""

    def read(self, max_bytes: int | None = None) -> tuple[bool, list[PointsLine]]:
        """``(replaced, lines)``: ``replaced`` means start over (lines are then the whole new file,
        or with ``max_bytes`` its first complete lines within that many bytes: call again for the
        rest, so a big store is read in bounded pieces)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False, []
        identity = (st.st_dev, st.st_ino)
        replaced = self._identity is not None and (identity != self._identity or st.st_size < self.offset)
        if replaced or self._identity is None:
            self.offset, self._pending = 0, b""
        self._identity = identity
        if st.st_size <= self.offset + len(self._pending):
            return replaced, []
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset + len(self._pending))
                data = self._pending + (handle.read() if max_bytes is None else handle.read(max_bytes))
        except OSError:
            return replaced, []
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        self._pending = data[cut:]
        return replaced, list(_lines_in(data[:cut]))
