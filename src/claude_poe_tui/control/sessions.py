"""Claude Code sessions, for the dashboard's Sessions pane: requests, bots, points, first and last time.

Claude Code sends ``x-claude-code-session-id`` on every request; the request log keeps it as
``session``. :class:`SessionsTracker` counts the requests of each session from the records it is
fed (the log's history, then each new request), and :func:`session_rows` joins those counts to the
points the store knows per session (:meth:`~claude_poe_tui.control.points.PointsFollower.sessions`).
Requests without a session id (other clients, requests refused before routing) are counted
together under :data:`NO_SESSION`.

Bounded: the most recently active :data:`MAX_SESSIONS` sessions are kept. Plain Python, no Textual.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from claude_poe_tui.control.points import SessionPoints
from claude_poe_tui.requestlog.record import RequestRecord

MAX_SESSIONS = 1000
NO_SESSION = "(no session)"


@dataclass(slots=True)
class _Counts:
    requests: int = 0
    errors: int = 0
    first: float | None = None
    last: float | None = None
    bots: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    member: str | None = None
    subagent_requests: int = 0

    def add(self, record: RequestRecord) -> None:
        self.requests += 1
        if record.status >= 400:
            self.errors += 1
        end = record.ts + (record.latency_ms or 0.0) / 1000.0
        self.first = record.ts if self.first is None else min(self.first, record.ts)
        self.last = end if self.last is None else max(self.last, end)
        if record.poe_model:
            self.bots[record.poe_model] += 1
        if record.model:
            self.models[record.model] += 1
        if record.member:
            self.member = record.member
        if record.agent_id:
            self.subagent_requests += 1


@dataclass(frozen=True)
class SessionRow:
    session: str
    requests: int
    errors: int
    first: float | None
    last: float | None
    bots: tuple[tuple[str, float], ...]
    """``(bot, points)`` most points first; bots the points store has not seen count requests only (points 0)."""
    models: tuple[str, ...]
    member: str | None
    subagent_requests: int
    points: float | None
    """None when nothing is known about the session's points (no points store, a remote gateway)."""
    points_estimated: bool = False
    points_ambiguous: bool = False

    def budget_share(self, session_budget: float | None) -> float | None:
        if not session_budget or self.points is None or self.session == NO_SESSION:
            return None
        return self.points / session_budget


def _edge(pick, *values: float | None) -> float | None:
    present = [value for value in values if value is not None]
    return pick(present) if present else None


class SessionsTracker:
    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, _Counts] = OrderedDict()
        self.changed = False

    def add(self, records: Iterable[RequestRecord]) -> None:
        for record in records:
            key = record.session or NO_SESSION
            counts = self._sessions.get(key)
            if counts is None:
                counts = self._sessions[key] = _Counts()
                if len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(key)
            counts.add(record)
            self.changed = True

    def __len__(self) -> int:
        return len(self._sessions)

    def rows(self, points: Mapping[str, SessionPoints] | None = None, limit: int | None = None) -> list[SessionRow]:
        """Every session, the most recently active first; ``points`` from the store, when there is one."""
        self.changed = False
        rows = []
        keys = list(self._sessions)
        if points:
            keys += [sid for sid in points if sid not in self._sessions]
        for key in keys:
            counts = self._sessions.get(key)
            known = points.get(key) if points else None
            if counts is None:  # only in the points store: its requests are older than the log kept
                counts = _Counts(requests=known.requests, first=known.first, last=known.last,
                                 bots=Counter({bot: 0 for bot in known.bots}))
            bot_points = dict(known.bots) if known else {}
            bots = sorted({*counts.bots, *bot_points},
                          key=lambda bot: (-bot_points.get(bot, 0.0), -counts.bots.get(bot, 0), bot))
            first = _edge(min, counts.first, known.first if known else None)
            last = _edge(max, counts.last, known.last if known else None)
            rows.append(SessionRow(
                session=key, requests=counts.requests, errors=counts.errors, first=first, last=last,
                bots=tuple((bot, bot_points.get(bot, 0.0)) for bot in bots),
                models=tuple(m for m, _ in counts.models.most_common()), member=counts.member,
                subagent_requests=counts.subagent_requests,
                points=known.points if known else (None if points is None else 0.0 if key != NO_SESSION else None),
                points_estimated=bool(known and known.estimated), points_ambiguous=bool(known and known.ambiguous),
            ))
        rows.sort(key=lambda row: -(row.last or 0.0))
        return rows[:limit] if limit is not None else rows
