"""The points store beside the request log, and the running totals built from it.

The store (``<log>.points.jsonl``) is appended to, one :class:`~.model.PointsLine` per change: the
estimate when a request ends, then what Poe's history says. The request log itself is never
rewritten. The latest line for an id wins; a line that replaces another says what it replaces
(``was``). One process writes it (the one holding the points lock); it compacts the file (latest
line per id, the last :data:`RETENTION_SECONDS`) by writing a new file and renaming it over the
old, so readers see either the old or the new file whole, and only once the file has doubled since
the last compaction (so rewriting it costs a constant amount per line appended).

:class:`Ledger` turns lines into totals per Claude Code session, per day (local time), per model
and day, and the points of the last hour, in memory that does not grow with the requests: totals
are running sums; the points by end time are sums per second (the last :data:`FINE_SECONDS`) and
per minute (the open window); a replacing line carries the figures it replaces, so no line has to
be kept to take it out again. The latest lines are kept for look-ups (``line``, ``in``), at most
:data:`OPEN_SECONDS` + 1 h and :data:`MAX_OPEN` of them; sessions are kept least-recently-active
first up to :data:`MAX_SESSIONS`, days up to :data:`MAX_DAYS`, team members (``[[clients]]``) per day
up to :data:`MAX_MEMBERS_PER_DAY` (members come from the config, so a day rarely has more).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from claude_poe_tui.points.model import PointsKind, PointsLine

RETENTION_SECONDS = 31 * 86400  # Poe keeps 30 days of history
OPEN_SECONDS = 7 * 3600  # how long after its first line a request's points may still change
MAX_SESSIONS = 1000
MAX_DAYS = 40
MAX_MODELS_PER_DAY = 200
MAX_MEMBERS_PER_DAY = 1000  # beyond: counted together under OTHER_MEMBERS (their budgets then count that sum)
OTHER_MEMBERS = "(other)"
MAX_OPEN = 10_000  # latest lines kept for look-ups (a request's lines come within its open window)
FINE_SECONDS = 2 * 3600  # points by the second their request ended, this far back (the last hour, the balance)
COARSE_STEP = 60.0  # and by the minute over the whole open window
COMPACT_BYTES = 8 * 1024 * 1024
COMPACT_WINDOW = 10_000  # requests a compaction holds at once to merge their lines
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


class _Spread:
    """Points (and estimated requests) by when their request ended, in ``step``-second slots over
    ``span`` seconds: a ring, so its size never changes. A slot is known by its number (end // step)."""

    __slots__ = ("step", "size", "keys", "points", "estimated")

    def __init__(self, step: float, span: float):
        self.step = step
        self.size = int(span // step) + 1
        self.keys = [-1] * self.size
        self.points = [0.0] * self.size
        self.estimated = [0] * self.size

    def add(self, end: float, points: float, estimated: bool, sign: int) -> None:
        key = int(end // self.step)
        i = key % self.size
        held = self.keys[i]
        if held != key:
            if held > key:
                return  # older than the span: nobody asks any more
            self.keys[i], self.points[i], self.estimated[i] = key, 0.0, 0
        self.points[i] += sign * points
        if estimated:
            self.estimated[i] += sign

    def covers(self, low: float, high: float) -> bool:
        return int(high // self.step) - int(low // self.step) < self.size

    def total(self, low: float, high: float) -> tuple[float, bool]:
        """Points of the slots from ``low``'s to ``high``'s, and whether any request in them is estimated."""
        last = int(high // self.step)
        first = max(int(low // self.step), last - self.size + 1)
        total, estimated = 0.0, False
        keys, points, counts, size = self.keys, self.points, self.estimated, self.size
        for key in range(first, last + 1):
            i = key % size
            if keys[i] == key:
                total += points[i]
                estimated = estimated or counts[i] > 0
        return round(total, 6), estimated


class Ledger:
    """Totals over the lines applied, a later line for an id replacing the earlier one."""

    def __init__(self, max_open: int = MAX_OPEN) -> None:
        self.max_open = max_open
        self._open: OrderedDict[str, tuple[PointsLine, float]] = OrderedDict()  # id -> (latest line, its first's time)
        self._newest_at = 0.0
        self._newest_end = 0.0
        self.forgot_at = 0.0
        """The newest first-line time of a line let go because :attr:`max_open` were kept: requests
        whose lines were all written after it are known by :meth:`line` if the store has them."""
        self._fine = _Spread(1.0, FINE_SECONDS)
        self._coarse = _Spread(COARSE_STEP, OPEN_SECONDS + 3600)
        self.sessions: OrderedDict[str, SessionTotals] = OrderedDict()
        self.days: dict[str, Totals] = {}
        self.models: dict[str, dict[str, Totals]] = {}  # day -> model -> totals
        self.members: dict[str, dict[str, Totals]] = {}  # day -> team member -> totals (member's requests only)
        self.lines_applied = 0

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._open

    def __len__(self) -> int:
        return len(self._open)

    def line(self, request_id: str) -> PointsLine | None:
        held = self._open.get(request_id)
        return held[0] if held else None

    def apply(self, line: PointsLine, replaces: PointsLine | None = None) -> None:
        """Count ``line``; take out what it replaces: the line kept for its id, else ``replaces``
        (the caller's own earlier line), else the figures the line says it replaces (``was``)."""
        self.lines_applied += 1
        held = self._open.get(line.id)
        if held is not None:
            if held[0] == line:
                return
            self._account(held[0], -1)
            self._open[line.id] = (line, held[1])
        else:
            if replaces is None and line.was is not None:
                replaces = replace(line, points=line.was[0], kind=line.was[1], was=None)
            if replaces is not None:
                self._account(replaces, -1)
            self._open[line.id] = (line, line.at)
        self._account(line, +1)
        self._newest_at = max(self._newest_at, line.at)
        self._newest_end = max(self._newest_end, line.end)
        self._forget_closed()

    def apply_all(self, lines: Iterable[PointsLine]) -> None:
        for line in lines:
            self.apply(line)

    def _forget_closed(self) -> None:
        """Lines older than the open window can no longer be replaced, and only the newest
        :attr:`max_open` are kept for look-ups: the totals keep the rest."""
        limit = self._newest_at - OPEN_SECONDS - 3600
        held = self._open
        while held:
            first_at = held[next(iter(held))][1]
            if len(held) > self.max_open:
                self.forgot_at = max(self.forgot_at, first_at)
            elif first_at >= limit:
                break
            held.popitem(last=False)

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
        if line.member:
            per_member = self.members.setdefault(day, {})
            if len(self.members) > MAX_DAYS:
                del self.members[min(self.members)]
            member = line.member
            if member not in per_member and len(per_member) >= MAX_MEMBERS_PER_DAY:
                member = OTHER_MEMBERS
            per_member.setdefault(member, Totals()).add(line, sign)
        if line.session:
            session = self.sessions.get(line.session)
            if session is None:
                session = self.sessions[line.session] = SessionTotals()
                if len(self.sessions) > MAX_SESSIONS:
                    self.sessions.popitem(last=False)
            elif sign > 0:
                self.sessions.move_to_end(line.session)
            session.add(line, sign)
        points, estimated = line.points or 0.0, line.kind is PointsKind.ESTIMATED
        self._fine.add(line.end, points, estimated, sign)
        self._coarse.add(line.end, points, estimated, sign)

    # -- figures --

    def session(self, session_id: str | None) -> SessionTotals | None:
        return self.sessions.get(session_id) if session_id else None

    def day(self, day: str) -> Totals:
        return self.days.get(day) or Totals()

    def member_day(self, member: str, day: str) -> Totals:
        """A team member's points on ``day``; one beyond :data:`MAX_MEMBERS_PER_DAY` counts the overflow's."""
        per_member = self.members.get(day)
        if not per_member:
            return Totals()
        totals = per_member.get(member)
        if totals is None and len(per_member) >= MAX_MEMBERS_PER_DAY:
            totals = per_member.get(OTHER_MEMBERS)
        return totals or Totals()

    def open_lines(self) -> Iterator[PointsLine]:
        """The latest lines kept (those of the last :data:`OPEN_SECONDS` + 1 h, at most :attr:`max_open`)."""
        return (line for line, _ in self._open.values())

    def last_hour(self, now: float, window: float = 3600.0) -> tuple[float, bool]:
        """Points of the requests that ended in the last ``window`` seconds (to the second), and
        whether any is estimated."""
        spread = self._fine if self._fine.covers(now - window, now) else self._coarse
        return spread.total(now - window, now)

    def spent_since(self, since: float) -> float | None:
        """Points of requests that ended after ``since`` (to the second, counting that second);
        ``None`` when that is too long ago to know."""
        if since < self._newest_at - OPEN_SECONDS:
            return None  # older than the open window
        high = max(since, self._newest_end)
        spread = self._fine if self._fine.covers(since, high) else self._coarse
        return spread.total(since, high)[0]


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
        self.compacted_size = 0  # the file's size after this object's last compaction

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

    def read(self, end: int | None = None) -> Iterator[PointsLine]:
        """Every line (up to byte ``end``), oldest first, in bounded chunks."""
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        with handle:
            pending = b""
            left = end
            while chunk := handle.read(CHUNK if left is None else min(CHUNK, left)):
                if left is not None:
                    left -= len(chunk)
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
        """Over :data:`COMPACT_BYTES` and twice its size after the last compaction (by this object)."""
        return self.size() > max(COMPACT_BYTES, 2 * self.compacted_size)

    def compact(self, now: float | None = None, lock: AbstractContextManager[Any] | None = None) -> int:
        """Keep the latest line per id of the last :data:`RETENTION_SECONDS`; returns how many.

        Streams: a request's lines are written within its open window, so lines are merged over the
        last :data:`COMPACT_WINDOW` requests (a line for an id already written out keeps its ``was``).
        ``lock``: what appenders hold; taken only to see where the file ends and, at the end, to copy
        what was appended meanwhile and rename, so appends wait for milliseconds, not the whole pass.
        """
        now = time.time() if now is None else now
        lock = lock if lock is not None else nullcontext()
        oldest = now - RETENTION_SECONDS
        with lock:
            end = self.size()
        tmp = self.path.with_name(f".{self.path.name}.compact")
        kept = 0
        window: OrderedDict[str, list[Any]] = OrderedDict()  # id -> [latest line, what its first line replaces]

        def out(entry: list[Any]) -> str:
            line, was = entry
            return (line if line.was == was else replace(line, was=was)).to_json() + "\n"

        with open(tmp, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), 0o600)
            batch: list[str] = []
            for line in self.read(end):
                if line.ts < oldest:
                    continue
                entry = window.get(line.id)
                if entry is not None:
                    entry[0] = line
                    continue
                window[line.id] = [line, line.was]
                while len(window) > COMPACT_WINDOW:
                    batch.append(out(window.popitem(last=False)[1]))
                    kept += 1
                if len(batch) >= 1000:
                    handle.write("".join(batch).encode("utf-8"))
                    batch.clear()
            batch.extend(out(entry) for entry in window.values())
            kept += len(window)
            handle.write("".join(batch).encode("utf-8"))
            with lock:
                try:
                    with open(self.path, "rb") as tail:
                        tail.seek(end)
                        while data := tail.read(CHUNK):  # appended during the pass: whole lines
                            handle.write(data)
                except FileNotFoundError:
                    pass
                handle.flush()
                os.replace(tmp, self.path)
                self.compacted_size = self.size()
        return kept


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
