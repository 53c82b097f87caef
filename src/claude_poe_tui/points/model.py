"""What the points store keeps per request: one :class:`PointsLine` per change, keyed by request id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any


class PointsKind(str, Enum):
    """How a request's points are known."""

    EXACT = "exact"
    """Poe's history has one entry for it, and no other recorded request could have made that entry."""
    AMBIGUOUS = "ambiguous"
    """Poe's history has entries for a group of requests to the same bot at overlapping times: the
    group's total is Poe's, how it is split between them is a guess (in time order)."""
    ESTIMATED = "estimated"
    """From the catalog's price and the recorded tokens: the history has not said (yet), or could
    not be read. ``points`` is ``None`` when the catalog has no price for the bot either."""


@dataclass(frozen=True, slots=True)
class PointsLine:
    """One line of ``<log>.points.jsonl``; a later line for the same ``id`` replaces an earlier one."""

    id: str
    """The request log record's id."""
    ts: float
    """The record's arrival time (Unix seconds), as in the request log."""
    end: float
    """When its answer ended."""
    session: str | None
    model: str | None
    bot: str | None
    points: float | None
    kind: PointsKind
    query_ids: tuple[str, ...] = ()
    """Poe's history entries it was matched to."""
    at: float = 0.0
    """When this line was written."""
    was: tuple[float | None, PointsKind] | None = None
    """For a line that replaces an earlier one: that line's ``(points, kind)`` (everything else of a
    request's lines is the same), so a reader can take it out of its totals without having kept it.
    ``None`` for a request's first line (and for every line of a compacted store)."""
    member: str | None = None
    """The team member whose token was sent (``[[clients]] name``); ``None`` for the master key."""

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "id": self.id, "ts": round(self.ts, 3), "end": round(self.end, 3), "session": self.session,
            "model": self.model, "bot": self.bot, "points": self.points, "kind": self.kind.value,
            "at": round(self.at, 3),
        }
        if self.query_ids:
            data["query_ids"] = list(self.query_ids)
        if self.was is not None:
            data["was"] = [self.was[0], self.was[1].value]
        if self.member is not None:
            data["member"] = self.member
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str | bytes) -> PointsLine | None:
        """``None`` for anything that is not a complete line of ours."""
        try:
            data = json.loads(line)
            kind = PointsKind(data["kind"])
            points = data.get("points")
            if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
                return None
            ts = float(data["ts"])
            return cls(
                id=str(data["id"]), ts=ts, end=float(data.get("end", ts)), session=_str(data.get("session")),
                model=_str(data.get("model")), bot=_str(data.get("bot")),
                points=None if points is None else float(points), kind=kind,
                query_ids=tuple(q for q in data.get("query_ids") or () if isinstance(q, str)),
                at=float(data.get("at", ts)), was=_was(data.get("was")), member=_str(data.get("member")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @property
    def estimated(self) -> bool:
        return self.kind is PointsKind.ESTIMATED

    @property
    def figures(self) -> tuple[float | None, PointsKind]:
        """What a later line of the same request carries as :attr:`was`."""
        return self.points, self.kind

    def same_figures(self, other: PointsLine | None) -> bool:
        return (other is not None and other.points == self.points and other.kind is self.kind
                and other.query_ids == self.query_ids)


def _was(value: Any) -> tuple[float | None, PointsKind] | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    points, kind = value
    if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
        raise ValueError("was: points is not a number")
    return (None if points is None else float(points)), PointsKind(kind)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
