"""Matching Poe's history entries to the request log's records, by bot and time. Pure.

An entry (bot, creation time) can belong to a record of the same bot (compared without case) whose
request was in flight then: ``ts - before <= time <= end + after`` (``ts`` is when the request
reached the proxy, ``end`` when its answer ended; the slack absorbs the hop to Poe and clocks a
few seconds apart). Entries and records linked that way form groups:

* one record alone in its group gets all of the group's entries: **exact** (several entries: the
  request was sent to Poe more than once, e.g. LiteLLM's one retry after a reset connection);
* one entry whose group holds exactly one successful record (the others failed, and Poe does not
  charge for a refusal): **exact** as well;
* any other group (concurrent requests to one bot, e.g. subagents): each entry goes to the nearest
  unserved successful record in time, and every record that got one is **ambiguous** — the group's
  total is Poe's, its split is a guess.

Records without an entry are not in the result: they keep their estimate until the history is
known to cover them (the caller decides that).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from claude_poe_tui.points.history import HistoryEntry
from claude_poe_tui.points.model import PointsKind

SLACK_BEFORE = 5.0
SLACK_AFTER = 5.0


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


class _Groups:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, item: object) -> object:
        parent = self.parent.setdefault(item, item)
        if parent is not item:
            root = self.find(parent)
            self.parent[item] = root
            return root
        return item

    def join(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[ra] = rb


def match(records: Iterable[Candidate], entries: Iterable[HistoryEntry], *,
          before: float = SLACK_BEFORE, after: float = SLACK_AFTER) -> dict[str, Match]:
    """Record id -> its match, for every record some entry belongs to."""
    by_bot_records: dict[str, list[Candidate]] = {}
    for record in records:
        by_bot_records.setdefault(record.bot.lower(), []).append(record)
    by_bot_entries: dict[str, list[HistoryEntry]] = {}
    for entry in entries:
        if entry.is_api and entry.bot.lower() in by_bot_records:
            by_bot_entries.setdefault(entry.bot.lower(), []).append(entry)
    result: dict[str, Match] = {}
    for bot, bot_entries in by_bot_entries.items():
        result.update(_match_bot(by_bot_records[bot], bot_entries, before, after))
    return result


def _match_bot(records: Sequence[Candidate], entries: Sequence[HistoryEntry], before: float,
               after: float) -> dict[str, Match]:
    ordered = sorted(records, key=lambda r: r.ts)
    starts = [r.ts for r in ordered]
    longest = max((r.end - r.ts for r in ordered), default=0.0)
    candidates: dict[str, list[Candidate]] = {}
    groups = _Groups()
    for entry in entries:
        # Records that started at most `before` after the entry, and ended at most `after` before it.
        high = bisect.bisect_right(starts, entry.time + before)
        low = bisect.bisect_left(starts, entry.time - after - longest)
        found = [r for r in ordered[low:high] if r.end + after >= entry.time]
        if not found:
            continue  # not ours: another API client of the account, or a request we did not record
        candidates[entry.query_id] = found
        for record in found:
            groups.join(("e", entry.query_id), ("r", record.id))
    members: dict[object, tuple[list[HistoryEntry], dict[str, Candidate]]] = {}
    for entry in entries:
        if entry.query_id not in candidates:
            continue
        group = members.setdefault(groups.find(("e", entry.query_id)), ([], {}))
        group[0].append(entry)
        for record in candidates[entry.query_id]:
            group[1][record.id] = record
    result: dict[str, Match] = {}
    for group_entries, group_records in members.values():
        result.update(_split(group_entries, group_records, candidates))
    return result


def _split(entries: list[HistoryEntry], records: dict[str, Candidate],
           candidates: dict[str, list[Candidate]]) -> dict[str, Match]:
    entries = sorted(entries, key=lambda e: (e.time, e.query_id))
    ok = [r for r in records.values() if r.ok]
    assigned: dict[str, list[HistoryEntry]] = {}
    if len(records) == 1:
        (only,) = records.values()
        assigned[only.id] = entries
        exact = True
    elif len(entries) == 1 and len(ok) == 1:
        assigned[ok[0].id] = entries
        exact = True
    else:
        exact = False
        for entry in entries:
            options = candidates[entry.query_id]
            fresh_ok = [r for r in options if r.ok and r.id not in assigned]
            fresh = fresh_ok or [r for r in options if r.id not in assigned]
            pool = fresh or options
            chosen = min(pool, key=lambda r: (abs(entry.time - r.ts), r.ts, r.id))
            assigned.setdefault(chosen.id, []).append(entry)
    kind = PointsKind.EXACT if exact else PointsKind.AMBIGUOUS
    return {
        record_id: Match(round(sum(e.points for e in got), 3), kind, tuple(e.query_id for e in got))
        for record_id, got in assigned.items()
    }
