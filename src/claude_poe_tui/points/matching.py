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
from itertools import accumulate

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
    """Split one bot's records and entries into groups, then assign within each.

    Found by sweeping time, not pair by pair (a burst of one bot links thousands of pairs): two
    entries next to each other in time are in one group exactly when one record's window holds both
    (a chain of windows from one to the other must cross the gap between them in one window).
    """
    spans = sorted(((*window.bounds(r), r) for r in records), key=lambda s: s[0])
    if not spans:
        return {}
    lows = [low for low, _, _ in spans]
    reach = list(accumulate((high for _, high, _ in spans), max))  # the furthest window end starting by each low
    linked: list[HistoryEntry] = []  # entries some record's window holds, in time order
    groups: list[int] = []  # the group of each
    group, previous_reach = -1, float("-inf")
    for entry in sorted(entries, key=lambda e: (e.time, e.query_id)):
        k = bisect.bisect_right(lows, entry.time)
        if not k or reach[k - 1] < entry.time:
            continue  # in nobody's window
        if previous_reach < entry.time:
            group += 1
        groups.append(group)
        linked.append(entry)
        previous_reach = reach[k - 1]
    if not linked:
        return {}
    times = [entry.time for entry in linked]
    members: dict[int, list[tuple[float, float, Candidate]]] = {}
    for span in spans:  # a window holding an entry: its group (one window never holds two groups' entries)
        j = bisect.bisect_left(times, span[0])
        if j < len(times) and times[j] <= span[1]:
            members.setdefault(groups[j], []).append(span)
    result: dict[str, Match] = {}
    first = 0
    while first < len(linked):
        last = first
        while last + 1 < len(linked) and groups[last + 1] == groups[first]:
            last += 1
        group_entries, group_spans = linked[first:last + 1], members[groups[first]]
        group_records = [r for _, _, r in group_spans]
        served = [r for r in group_records if r.ok] or group_records
        if len(served) + len(group_entries) > MAX_GROUP:  # too large to search: time order, all ambiguous
            result.update(_nearest_in_time_order(group_entries, served, window))
        else:
            candidates = {e.query_id: [r for low, high, r in group_spans if low <= e.time <= high]
                          for e in group_entries}
            result.update(_assign(group_entries, {r.id: r for r in group_records}, candidates, window))
        first = last + 1
    return result


def _expected(record: Candidate, window: Window) -> float:
    """Where the record's entry is most likely: its start, or the middle of a learned window."""
    if window.anchor == "flight":
        return record.ts
    low, high = window.bounds(record)
    return (low + high) / 2


def _nearest_in_time_order(entries: list[HistoryEntry], served: list[Candidate], window: Window) -> dict[str, Match]:
    """Records in time order each take the nearest entry left in their window (ties: the smaller
    query id): all ambiguous. ``entries`` sorted by (time, query id)."""
    times = [entry.time for entry in entries]
    n = len(entries)
    right = list(range(n + 1))  # right[i]: the first entry at or after i not taken (n: none), path-halved
    left = list(range(-1, n))  # left[i + 1]: the last entry at or before i not taken (-1: none)

    def after(i: int) -> int:
        while right[i] != i:
            right[i] = right[right[i]]
            i = right[i]
        return i

    def before(i: int) -> int:
        while left[i + 1] != i:
            left[i + 1] = left[left[i + 1] + 1]
            i = left[i + 1]
        return i

    result: dict[str, Match] = {}
    for record in sorted(served, key=lambda r: (r.ts, r.id)):
        low, high = window.bounds(record)
        a, b = bisect.bisect_left(times, low), bisect.bisect_right(times, high)
        if a >= b:
            continue
        x = _expected(record, window)
        p = bisect.bisect_left(times, x, a, b)
        best: tuple[float, str, int] | None = None
        r = after(p)
        if r < b:
            best = (abs(times[r] - x), entries[r].query_id, r)
        l = before(p - 1)
        if l >= a:
            l = after(max(a, bisect.bisect_left(times, times[l], a, b)))  # the smallest query id at that time
            option = (abs(times[l] - x), entries[l].query_id, l)
            if best is None or option < best:
                best = option
        if best is None:
            continue
        i = best[2]
        right[i] = i + 1
        left[i + 1] = i - 1
        entry = entries[i]
        result[record.id] = Match(entry.points, PointsKind.AMBIGUOUS, (entry.query_id,), entry.time)
    return result


def _assign(entries: list[HistoryEntry], records: dict[str, Candidate], candidates: dict[str, list[Candidate]],
            window: Window) -> dict[str, Match]:
    """One group of at most :data:`MAX_GROUP`: exact where only one assignment is largest."""
    served = [r for r in records.values() if r.ok] or list(records.values())
    served.sort(key=lambda r: (r.ts, r.id))
    entries = sorted(entries, key=lambda e: (e.time, e.query_id))
    served_ids = {r.id for r in served}

    options: dict[str, list[HistoryEntry]] = {r.id: [] for r in served}
    for entry in entries:
        for record in candidates[entry.query_id]:
            if record.id in served_ids:
                options[record.id].append(entry)
    for record in served:
        options[record.id].sort(key=lambda e: (abs(e.time - _expected(record, window)), e.query_id))

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
