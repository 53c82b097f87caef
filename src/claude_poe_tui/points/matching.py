"""Matching Poe's history entries to the request log's records, by bot and time. Pure.

An entry (bot, creation time) can belong to a record of the same bot (compared without case) if
its time falls in the record's **window**:

* until the offsets are learned: the request's whole flight, ``ts - 2.5 s`` to ``end + 2.5 s``
  (``ts``: when the request reached the proxy; ``end``: when its answer ended; the slack absorbs
  the hop to Poe and clocks that disagree a little);
* once :class:`Offsets` has seen enough exact matches: around the point Poe stamps (the request's
  start or its end, whichever the offsets say is steadier), as wide as the offsets vary. Clocks
  further apart than the window leave requests estimated, never mismatched silently.

Each request is charged once, so a record gets one entry at most and an entry one record. Within a
group of records and entries linked by windows:

* requests one after another (none overlapping) with as many entries as requests: Poe's clock keeps
  their order, so the n-th entry is the n-th request's: **exact**;
* otherwise a largest assignment is chosen, nearest in time first, and a record's entry is
  **exact** when every largest assignment gives it that entry (no other way to pair the group up
  exists), **ambiguous** otherwise: concurrent requests to one bot (subagents) before the window
  has narrowed, or an entry of a request still in flight that could be this one's. A record without an entry keeps its estimate until the history is known to cover it
(the caller decides that); an entry without a record is another API client's, or belongs to a
request still in flight, and waits for the next round.
"""

from __future__ import annotations

import bisect
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from claude_poe_tui.points.history import HistoryEntry
from claude_poe_tui.points.model import PointsKind

SLACK_BEFORE = 2.5
SLACK_AFTER = 2.5
LEARN_AFTER = 10  # exact matches before the window narrows
MIN_HALF_WIDTH = 0.25
MAX_GROUP = 60  # a group larger than this (a burst of one bot) is split by time order, not searched


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record waiting for its points."""

    id: str
    bot: str
    ts: float
    end: float
    ok: bool
    """Answered without an error (status < 400)."""


@dataclass(frozen=True, slots=True)
class Match:
    points: float
    kind: PointsKind
    query_ids: tuple[str, ...]
    entry_time: float = 0.0


@dataclass(frozen=True, slots=True)
class Window:
    """Where an entry may fall relative to a record: ``anchor + low <= time <= anchor + high``."""

    anchor: str  # "flight" (ts - low .. end + high), "start" or "end"
    low: float
    high: float

    def bounds(self, record: Candidate) -> tuple[float, float]:
        if self.anchor == "start":
            return record.ts + self.low, record.ts + self.high
        if self.anchor == "end":
            return record.end + self.low, record.end + self.high
        return record.ts + self.low, record.end + self.high


WIDE = Window("flight", -SLACK_BEFORE, SLACK_AFTER)


class Offsets:
    """Where Poe's entries fall relative to our records, learned from exact matches."""

    def __init__(self, size: int = 200):
        self._from_start: deque[float] = deque(maxlen=size)
        self._from_end: deque[float] = deque(maxlen=size)

    def add(self, record: Candidate, entry_time: float) -> None:
        self._from_start.append(entry_time - record.ts)
        self._from_end.append(entry_time - record.end)

    def __len__(self) -> int:
        return len(self._from_start)

    def window(self) -> Window:
        if len(self._from_start) < LEARN_AFTER:
            return WIDE
        best: Window | None = None
        best_spread = float("inf")
        for anchor, values in (("start", self._from_start), ("end", self._from_end)):
            middle = statistics.median(values)
            spread = statistics.median(abs(v - middle) for v in values)
            half = max(MIN_HALF_WIDTH, 6 * spread + 0.1, max(abs(v - middle) for v in values) + 0.1)
            if half < best_spread and half < SLACK_BEFORE:
                best, best_spread = Window(anchor, middle - half, middle + half), half
        return best or WIDE

    def to_json(self) -> list[list[float]]:
        return [list(self._from_start), list(self._from_end)]


class _Groups:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, item: object) -> object:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            root = self.find(parent)
            self.parent[item] = root
            return root
        return item

    def join(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def match(records: Iterable[Candidate], entries: Iterable[HistoryEntry], window: Window = WIDE) -> dict[str, Match]:
    """Record id -> its match, for every record an entry is given to."""
    by_bot_records: dict[str, list[Candidate]] = {}
    for record in records:
        by_bot_records.setdefault(record.bot.lower(), []).append(record)
    by_bot_entries: dict[str, list[HistoryEntry]] = {}
    for entry in entries:
        if entry.is_api and entry.bot.lower() in by_bot_records:
            by_bot_entries.setdefault(entry.bot.lower(), []).append(entry)
    result: dict[str, Match] = {}
    for bot, bot_entries in by_bot_entries.items():
        result.update(_match_bot(by_bot_records[bot], bot_entries, window))
    return result


def _match_bot(records: Sequence[Candidate], entries: Sequence[HistoryEntry], window: Window) -> dict[str, Match]:
    spans = sorted(((*window.bounds(r), r) for r in records), key=lambda s: s[0])
    starts = [s[0] for s in spans]
    widest = max((high - low for low, high, _ in spans), default=0.0)
    candidates: dict[str, list[Candidate]] = {}
    groups = _Groups()
    for entry in entries:
        high_index = bisect.bisect_right(starts, entry.time)
        low_index = bisect.bisect_left(starts, entry.time - widest)
        found = [r for low, high, r in spans[low_index:high_index] if low <= entry.time <= high]
        if not found:
            continue
        candidates[entry.query_id] = found
        for record in found:
            groups.join(("e", entry.query_id), ("r", record.id))
    members: dict[object, tuple[list[HistoryEntry], dict[str, Candidate]]] = {}
    for entry in entries:
        if entry.query_id in candidates:
            group = members.setdefault(groups.find(("e", entry.query_id)), ([], {}))
            group[0].append(entry)
            for record in candidates[entry.query_id]:
                group[1][record.id] = record
    result: dict[str, Match] = {}
    for group_entries, group_records in members.values():
        result.update(_assign(group_entries, group_records, candidates, window))
    return result


def _assign(entries: list[HistoryEntry], records: dict[str, Candidate], candidates: dict[str, list[Candidate]],
            window: Window) -> dict[str, Match]:
    served = [r for r in records.values() if r.ok] or list(records.values())
    served.sort(key=lambda r: (r.ts, r.id))
    entries = sorted(entries, key=lambda e: (e.time, e.query_id))
    served_ids = {r.id for r in served}

    def expected(record: Candidate) -> float:
        low, high = window.bounds(record)
        return record.ts if window.anchor == "flight" else (low + high) / 2

    options: dict[str, list[HistoryEntry]] = {r.id: [] for r in served}
    for entry in entries:
        for record in candidates[entry.query_id]:
            if record.id in served_ids:
                options[record.id].append(entry)
    for record in served:
        options[record.id].sort(key=lambda e: (abs(e.time - expected(record)), e.query_id))

    if len(served) + len(entries) > MAX_GROUP:  # too large to search: time order, all ambiguous
        taken: set[str] = set()
        assigned = {}
        for record in served:
            entry = next((e for e in options[record.id] if e.query_id not in taken), None)
            if entry is not None:
                taken.add(entry.query_id)
                assigned[record.id] = entry
        return {rid: Match(e.points, PointsKind.AMBIGUOUS, (e.query_id,), e.time) for rid, e in assigned.items()}

    if len(entries) == len(served) and all(a.end <= b.ts for a, b in zip(served, served[1:])) and all(
            entry in options[record.id] for record, entry in zip(served, entries)):
        # Requests one after another, as many entries as requests: Poe's clock keeps their order, so
        # the first entry is the first request's, and so on (a swap would put them out of order).
        return {record.id: Match(entry.points, PointsKind.EXACT, (entry.query_id,), entry.time)
                for record, entry in zip(served, entries)}
    assigned = _largest(served, options)
    size = len(assigned)
    result: dict[str, Match] = {}
    for record_id, entry in assigned.items():
        # Exact when no largest assignment does without this pair.
        without = {rid: [e for e in opts if not (rid == record_id and e.query_id == entry.query_id)]
                   for rid, opts in options.items()}
        forced = len(_largest(served, without)) < size
        kind = PointsKind.EXACT if forced else PointsKind.AMBIGUOUS
        result[record_id] = Match(entry.points, kind, (entry.query_id,), entry.time)
    return result


def _largest(records: list[Candidate], options: dict[str, list[HistoryEntry]]) -> dict[str, HistoryEntry]:
    """A largest one-to-one assignment (augmenting paths), trying each record's nearest entries first."""
    holder: dict[str, str] = {}  # query id -> record id
    by_id = {e.query_id: e for opts in options.values() for e in opts}

    def place(record_id: str, visited: set[str]) -> bool:
        for entry in options[record_id]:
            if entry.query_id in visited:
                continue
            visited.add(entry.query_id)
            owner = holder.get(entry.query_id)
            if owner is None or place(owner, visited):
                holder[entry.query_id] = record_id
                return True
        return False

    for record in records:
        place(record.id, set())
    return {record_id: by_id[query_id] for query_id, record_id in holder.items()}
