"""Matching Poe's history entries to the request log's records, by bot and time. Pure.

An entry (bot, creation time) can belong to a record of the same bot (compared without case) whose
request was in flight then: ``ts - before <= time <= end + after`` (``ts`` is when the request
reached the proxy, ``end`` when its answer ended; 2.5 s of slack absorb the hop to Poe and clocks
that disagree a little — clocks further apart than that leave requests estimated, never
mismatched silently). Entries and records linked that way form groups:

* a group with one successful record (the others failed, and Poe does not charge a refusal): the
  entry nearest its start is its own, **exact**;
* requests one after another (none overlapping), with as many entries as requests: Poe's clock keeps
  their order, so the n-th entry is the n-th request's, **exact**;
* any other group (concurrent requests to one bot, e.g. subagents): each entry goes to the nearest
  unserved successful record in time, and every record that got one is **ambiguous** — the group's
  total is Poe's, its split is a guess.

A record gets one entry at most; an entry left over (another API client of the account, or a
request still in flight) waits for the next round.

Records without an entry are not in the result: they keep their estimate until the history is
known to cover them (the caller decides that).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from claude_poe_tui.points.history import HistoryEntry
from claude_poe_tui.points.model import PointsKind

SLACK_BEFORE = 2.5  # Poe's clock a little ahead of ours, or the proxy's time to pass the request on
SLACK_AFTER = 2.5  # Poe's clock a little behind, or an entry stamped when the answer ended


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
    served = sorted((r for r in records.values() if r.ok), key=lambda r: r.ts) or sorted(
        records.values(), key=lambda r: r.ts)
    assigned: dict[str, HistoryEntry] = {}
    exact = False
    if len(served) == 1:
        # One request could have been charged: the entry nearest its start is its own. (Any other
        # entry of the group is another API client's, or a request still in flight, not recorded yet.)
        only = served[0]
        assigned[only.id] = min((e for e in entries if only in candidates[e.query_id]),
                                key=lambda e: (abs(e.time - only.ts), e.query_id))
        exact = True
    elif len(entries) == len(served) and _one_after_another(served) and all(
            served[i] in candidates[entries[i].query_id] for i in range(len(served))):
        # Requests one after another, as many entries as requests: Poe's clock keeps their order,
        # so the first entry is the first request's, and so on.
        assigned = {record.id: entry for record, entry in zip(served, entries)}
        exact = True
    else:
        for entry in entries:
            options = [r for r in candidates[entry.query_id] if r.id not in assigned]
            fresh = [r for r in options if r.ok] or options
            if fresh:
                chosen = min(fresh, key=lambda r: (abs(entry.time - r.ts), r.ts, r.id))
                assigned[chosen.id] = entry
    kind = PointsKind.EXACT if exact else PointsKind.AMBIGUOUS
    return {record_id: Match(entry.points, kind, (entry.query_id,)) for record_id, entry in assigned.items()}


def _one_after_another(records: list[Candidate]) -> bool:
    return all(a.end <= b.ts for a, b in zip(records, records[1:]))
