"""Poe's points history, read only as far back as not seen yet.

``GET <root>/usage/points_history?limit=100&starting_after=<query_id>`` answers
``{"has_more": bool, "data": [{"query_id", "bot_name", "creation_time" (µs), "cost_points",
"usage_type"}, ...]}``, newest first, 30 days kept, at most 100 entries a page.

:class:`HistorySync` decides which pages to ask for and keeps its place between polls; it does no
I/O (a generator that yields :class:`PageRequest` and is sent the decoded answer, or a
:class:`FetchFailed`), so the same logic runs under :func:`drive` with ``httpx.Client`` in a thread
and under :func:`adrive` with ``httpx.AsyncClient`` in the proxy child's event loop.

Each poll reads from the newest entry down to ``watermark - overlap``: entries are not guaranteed to
appear in creation order (a long streamed query may be written when it ends, with the time it
started), so the last ``overlap`` seconds are read again and entries are told apart by
``query_id``. When the page budget of a poll runs out before that point, or a page fails, the part
not read is kept as a :class:`Gap` and read in later polls, so no stretch of history is skipped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui.poe.client import poe_seconds

PAGE_SIZE = 100
HISTORY_KEPT_SECONDS = 30 * 86400
DEFAULT_OVERLAP = 300.0
DEFAULT_MAX_PAGES = 10
MAX_REQUESTS_PER_MINUTE = 60  # Poe allows 500 a minute per key; the proxy's own requests need the rest
MAX_GAPS = 8


class MalformedHistory(ValueError):
    """An answer that is not a page of history."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    query_id: str
    bot: str
    time: float
    """Unix seconds (Poe sends microseconds)."""
    points: float
    usage_type: str = "API"

    @property
    def is_api(self) -> bool:
        """Spent through the API (ours, or another API client); ``Chat`` and apps are never ours."""
        return self.usage_type.upper() == "API"


def parse_entry(raw: Any) -> HistoryEntry | None:
    """One entry; ``None`` when a field the matching needs is missing or of the wrong type."""
    if not isinstance(raw, dict):
        return None
    query_id, bot = raw.get("query_id"), raw.get("bot_name", raw.get("app_name"))
    cost, when = raw.get("cost_points"), poe_seconds(raw.get("creation_time"))
    if not isinstance(query_id, str) or not query_id or not isinstance(bot, str) or not bot or when is None:
        return None
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
        return None
    usage_type = raw.get("usage_type")
    return HistoryEntry(query_id, bot, when, float(cost), usage_type if isinstance(usage_type, str) and usage_type else "API")


@dataclass(frozen=True, slots=True)
class Page:
    entries: tuple[HistoryEntry, ...]
    has_more: bool
    last_query_id: str | None
    """Where the next page starts (the last entry's id, even when that entry was malformed)."""
    oldest: float | None
    malformed: int


def parse_page(payload: Any) -> Page:
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise MalformedHistory("the answer has no 'data' list")
    has_more = payload.get("has_more", False)
    if not isinstance(has_more, bool):
        raise MalformedHistory("'has_more' is not true or false")
    raw = payload["data"]
    entries = [entry for entry in (parse_entry(item) for item in raw) if entry is not None]
    last = raw[-1].get("query_id") if raw and isinstance(raw[-1], dict) else None
    times = [entry.time for entry in entries]
    return Page(tuple(entries), has_more, last if isinstance(last, str) and last else None,
                min(times) if times else None, len(raw) - len(entries))


@dataclass(frozen=True, slots=True)
class PageRequest:
    starting_after: str | None
    limit: int = PAGE_SIZE

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self.limit}
        if self.starting_after:
            params["starting_after"] = self.starting_after
        return params


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """What a driver sends back instead of a page when the request did not give one."""

    reason: str
    status: int | None = None
    """The HTTP status when Poe answered; ``None`` when it could not be reached."""


@dataclass(slots=True)
class Gap:
    """History not read yet: entries after ``after`` (a query id) down to ``until`` (Unix seconds)."""

    after: str
    until: float


@dataclass
class SyncOutcome:
    entries: list[HistoryEntry] = field(default_factory=list)
    pages: int = 0
    error: str | None = None
    malformed: int = 0
    started_at: float = 0.0
    complete: bool = False
    """Everything from the watermark back to the oldest time asked for has been read."""


class HistorySync:
    """Which pages to read, poll after poll; its state survives restarts through :meth:`to_json`."""

    def __init__(self, *, overlap: float = DEFAULT_OVERLAP, max_pages: int = DEFAULT_MAX_PAGES,
                 max_per_minute: int = MAX_REQUESTS_PER_MINUTE, clock: Callable[[], float] = time.time):
        self.overlap = overlap
        self.max_pages = max_pages
        self.max_per_minute = max_per_minute
        self.clock = clock
        self.watermark: float | None = None
        """Creation time of the newest entry read."""
        self.gaps: list[Gap] = []
        self._sent: deque[float] = deque()  # when each recent request went out (the rate limit)

    # -- persistence --

    def to_json(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "gaps": [[g.after, g.until] for g in self.gaps]}

    def load(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        mark = data.get("watermark")
        if isinstance(mark, (int, float)) and not isinstance(mark, bool):
            self.watermark = float(mark)
        gaps = data.get("gaps")
        if isinstance(gaps, list):
            self.gaps = [Gap(str(g[0]), float(g[1])) for g in gaps
                         if isinstance(g, list) and len(g) == 2 and isinstance(g[0], str)
                         and isinstance(g[1], (int, float))][:MAX_GAPS]

    # -- the rate limit --

    def requests_last_minute(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        while self._sent and self._sent[0] < now - 60:
            self._sent.popleft()
        return len(self._sent)

    def note_request(self) -> None:
        """A request to Poe made outside the history (the balance): it counts toward the limit."""
        self._sent.append(self.clock())

    def _budget(self) -> int:
        return max(0, min(self.max_pages, self.max_per_minute - self.requests_last_minute()))

    # -- one poll --

    def poll(self, since: float) -> Generator[PageRequest, Any, SyncOutcome]:
        """Read what is new, then what earlier polls left unread.

        ``since``: how far back the history matters (the oldest request still waiting for its
        points). The first poll reads back to it; later ones read what is new, then again back to it
        (at most ``overlap`` seconds before the newest entry seen) for entries Poe wrote late.
        """
        now = self.clock()
        outcome = SyncOutcome(started_at=now)
        budget = self._budget()
        horizon = now - HISTORY_KEPT_SECONDS
        self.gaps = [g for g in self.gaps if g.until > horizon]
        # Read again back to the oldest request still waiting (entries Poe wrote late), at most `overlap`.
        stop = max(horizon, since, self.watermark - self.overlap) if self.watermark is not None else max(horizon, since)

        def ask(request: PageRequest):
            nonlocal budget
            budget -= 1
            outcome.pages += 1
            self._sent.append(self.clock())
            answer = yield request
            if isinstance(answer, FetchFailed):
                return None, answer
            try:
                page = parse_page(answer)
            except MalformedHistory as exc:
                return None, FetchFailed(f"unexpected answer from Poe's points history: {exc}", 200)
            outcome.malformed += page.malformed
            outcome.entries.extend(page.entries)
            return page, None

        # From the newest entry down to what the last poll saw (that much is owed: when the budget
        # runs out before it, the rest becomes a gap), and on down to `overlap` seconds before it
        # when the budget allows (entries Poe wrote late; not owed). A page is kept for old gaps.
        owed = self.watermark if self.watermark is not None else max(horizon, since)
        top_budget = budget - 1 if self.gaps and budget > 1 else budget
        after: str | None = None
        reached = False  # read down past `owed`
        newest: float | None = None
        while top_budget > 0:
            top_budget -= 1
            page, failed = yield from ask(PageRequest(after))
            if failed is not None:
                outcome.error = failed.reason
                break
            assert page is not None
            if page.entries:
                top = max(entry.time for entry in page.entries)
                newest = top if newest is None else max(newest, top)
            end_of_history = not page.has_more or page.last_query_id is None
            reached = reached or end_of_history or (page.oldest is not None and page.oldest <= owed)
            if end_of_history or (reached and page.oldest is not None and page.oldest < stop):
                break
            after = page.last_query_id
        if not reached and after is not None:
            self.gaps.insert(0, Gap(after, owed))  # read the rest in later polls
            del self.gaps[MAX_GAPS:]
        if newest is not None and (reached or after is not None):
            self.watermark = newest if self.watermark is None else max(self.watermark, newest)

        # Then the stretches earlier polls could not finish, newest first.
        index = 0
        while budget > 0 and index < len(self.gaps) and outcome.error is None:
            gap = self.gaps[index]
            page, failed = yield from ask(PageRequest(gap.after))
            if failed is not None:
                outcome.error = failed.reason
                if failed.status is not None and 400 <= failed.status < 500 and failed.status not in (401, 429):
                    del self.gaps[index]  # Poe no longer knows that id (older than 30 days): give it up
                break
            assert page is not None
            if not page.has_more or page.last_query_id is None or (page.oldest is not None and page.oldest < gap.until):
                del self.gaps[index]
            else:
                gap.after = page.last_query_id
        outcome.complete = outcome.error is None and reached and not self.gaps
        return outcome


# --- drivers ------------------------------------------------------------------------------------


def drive(steps: Generator[PageRequest, Any, SyncOutcome], fetch: Callable[[PageRequest], Any]) -> SyncOutcome:
    """Run a poll with a blocking ``fetch`` (a decoded JSON answer, or a :class:`FetchFailed`)."""
    try:
        request = next(steps)
        while True:
            request = steps.send(fetch(request))
    except StopIteration as done:
        return done.value


async def adrive(steps: Generator[PageRequest, Any, SyncOutcome], fetch: Callable[[PageRequest], Any]) -> SyncOutcome:
    """The same with an ``async`` fetch."""
    try:
        request = next(steps)
        while True:
            request = steps.send(await fetch(request))
    except StopIteration as done:
        return done.value


def newest_first(entries: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    return sorted(entries, key=lambda entry: entry.time, reverse=True)
