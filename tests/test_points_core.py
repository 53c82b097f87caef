"""The points core without a network: history paging, matching, the store and its totals, budgets, pricing."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from claude_poe_tui.points.budget import BudgetLimits, BudgetName, balance_alerts, check_budgets
from claude_poe_tui.points.history import (
    FetchFailed,
    HistoryEntry,
    HistorySync,
    PageRequest,
    drive,
    parse_entry,
)
from claude_poe_tui.points.ledger import Ledger, PointsStore, StoreTail, day_of
from claude_poe_tui.points.matching import Candidate, Offsets, match
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.points.pricing import DEFAULT_POINTS_PER_USD, PriceTable, BotPrice


class FakeHistory:
    """Poe's points history in memory: newest first, ``limit`` and ``starting_after`` as Poe pages."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []  # oldest first
        self.requests: list[PageRequest] = []
        self.fail_on: set[int] = set()  # request numbers (1-based) that fail

    def add(self, bot: str, points: int, when: float, usage_type: str = "API") -> str:
        query_id = uuid.uuid4().hex[:12]
        self.entries.append({"query_id": query_id, "bot_name": bot, "creation_time": int(when * 1_000_000),
                             "cost_points": points, "usage_type": usage_type})
        return query_id

    def __call__(self, request: PageRequest) -> Any:
        self.requests.append(request)
        if len(self.requests) in self.fail_on:
            return FetchFailed("cannot reach Poe at http://poe.invalid: connection refused")
        newest_first = sorted(self.entries, key=lambda e: e["creation_time"], reverse=True)
        if request.starting_after:
            ids = [e["query_id"] for e in newest_first]
            newest_first = newest_first[ids.index(request.starting_after) + 1:]
        page = newest_first[: request.limit]
        return {"has_more": len(newest_first) > request.limit, "length": len(page), "data": page}


def test_history_reads_back_only_to_what_it_has_seen() -> None:
    now = time.time()
    clock = [now]
    poe = FakeHistory()
    for i in range(1000):  # 1000 entries over the last ~3 hours
        poe.add("GPT-4o", 10, now - 3 * 3600 + i * 10)
    sync = HistorySync(overlap=300, max_pages=20, clock=lambda: clock[0])
    first = drive(sync.poll(since=now - 2500), poe)
    # Back to ~40 minutes ago (the page that crosses it), not the 3 hours Poe holds.
    assert first.complete and first.error is None and first.pages == 2
    assert sync.watermark == pytest.approx(now - 3 * 3600 + 999 * 10)
    # New entries: the next poll reads the first page only (the new ones and the last 5 minutes again).
    new = {poe.add("GPT-4o", 10, now + 1 + i) for i in range(5)}
    clock[0] = now + 15
    before = len(poe.requests)
    second = drive(sync.poll(since=0), poe)
    assert len(poe.requests) - before == 1 and second.complete
    assert {e.query_id for e in second.entries} >= new
    assert poe.requests[-1].starting_after is None


def test_history_keeps_a_gap_when_a_poll_cannot_finish() -> None:
    now = time.time()
    clock = [now]
    poe = FakeHistory()
    sync = HistorySync(overlap=60, max_pages=2, clock=lambda: clock[0])
    poe.add("GPT-4o", 1, now - 1000)
    assert drive(sync.poll(since=now - 2000), poe).complete
    for i in range(450):  # 450 new entries: 5 pages, the budget is 2 a poll
        poe.add("GPT-4o", 1, now + i * 0.1)
    clock[0] = now + 60
    seen: set[str] = set()
    polls = 0
    while True:
        outcome = drive(sync.poll(since=0), poe)
        polls += 1
        seen |= {e.query_id for e in outcome.entries}
        if outcome.complete:
            break
        assert sync.gaps and polls < 10
    assert len(seen) == 451 and not sync.gaps  # everything, nothing skipped
    assert polls == 4 and len(poe.requests) == 1 + 4 * 2  # a page a poll for what is new, one for the gap


def test_history_reads_what_is_new_even_when_the_last_entry_seen_is_old() -> None:
    now = time.time()
    clock = [now]
    poe = FakeHistory()
    for _ in range(150):  # yesterday, all with the same time
        poe.add("GPT-5", 40, now - 86400, usage_type="Chat")
    sync = HistorySync(overlap=300, max_pages=10, clock=lambda: clock[0])
    assert drive(sync.poll(since=now), poe).complete  # nothing waits: the newest page is enough
    assert sync.watermark == pytest.approx(now - 86400)
    fresh = {poe.add("GPT-4o", 13, now + i) for i in range(10)}
    clock[0] = now + 20
    outcome = drive(sync.poll(since=now + 0.5), poe)  # a request of a moment ago waits for its points
    assert fresh <= {e.query_id for e in outcome.entries} and outcome.complete
    assert sync.watermark == pytest.approx(now + 9) and outcome.pages == 1


def test_history_failures_leave_nothing_skipped() -> None:
    now = time.time()
    clock = [now]
    poe = FakeHistory()
    for i in range(250):
        poe.add("GPT-4o", 1, now - 250 + i)
    sync = HistorySync(overlap=60, max_pages=10, clock=lambda: clock[0])
    poe.fail_on = {1}
    failed = drive(sync.poll(since=now - 400), poe)
    assert failed.error and "cannot reach Poe" in failed.error and not failed.complete
    assert sync.watermark is None and not sync.gaps
    poe.fail_on = {len(poe.requests) + 2}  # the second page of the next poll fails
    partial = drive(sync.poll(since=now - 400), poe)
    assert partial.error and len(partial.entries) == 100 and len(sync.gaps) == 1
    rest = drive(sync.poll(since=now - 400), poe)
    assert rest.complete
    assert {e.query_id for e in partial.entries} | {e.query_id for e in rest.entries} == {
        e["query_id"] for e in poe.entries}


def test_history_malformed_answers_are_errors_not_figures() -> None:
    sync = HistorySync(clock=time.time)
    outcome = drive(sync.poll(since=0), lambda request: {"detail": "upstream hiccup"})
    assert outcome.error and "no 'data' list" in outcome.error and not outcome.entries
    good = {"query_id": "a1", "bot_name": "GPT-4o", "creation_time": int(time.time() * 1e6), "cost_points": 5}
    bad = [{"query_id": "b", "bot_name": "GPT-4o", "creation_time": "yesterday", "cost_points": 5},
           {"query_id": "c", "bot_name": "GPT-4o", "creation_time": 1, "cost_points": "5"},
           "not an entry"]
    mixed = drive(HistorySync().poll(since=0), lambda request: {"has_more": False, "data": [good, *bad]})
    assert [e.query_id for e in mixed.entries] == ["a1"] and mixed.malformed == 3
    assert parse_entry(dict(good, cost_points=-1)) is None
    assert parse_entry(dict(good, creation_time=1_733_000_000_123)).time == pytest.approx(1_733_000_000.123)


def test_history_stays_far_below_poes_rate_limit() -> None:
    now = [time.time()]
    poe = FakeHistory()
    for i in range(5000):
        poe.add("GPT-4o", 1, now[0] - 5000 + i)
    sync = HistorySync(overlap=300, max_pages=10, max_per_minute=25, clock=lambda: now[0])
    for _ in range(5):  # five polls within one minute
        drive(sync.poll(since=now[0] - 5000), poe)
        now[0] += 5
    assert len(poe.requests) == 25
    now[0] += 61
    drive(sync.poll(since=0), poe)
    assert len(poe.requests) > 25


def candidate(rid: str, bot: str, ts: float, seconds: float, ok: bool = True) -> Candidate:
    return Candidate(rid, bot, ts, ts + seconds, ok)


def entry(query_id: str, bot: str, when: float, points: float, usage_type: str = "API") -> HistoryEntry:
    return HistoryEntry(query_id, bot, when, points, usage_type)


def test_matching_by_bot_and_time() -> None:
    t = 1_700_000_000.0
    records = [
        candidate("alone", "Claude-Sonnet-4.5", t, 4),
        candidate("one", "GPT-5", t, 3),
        candidate("then-two", "GPT-5", t + 3.5, 1),
        candidate("sub-a", "Claude-Haiku-4.5", t + 100, 10),
        candidate("sub-b", "Claude-Haiku-4.5", t + 102, 10),
        candidate("refused", "GPT-4o", t + 200, 1, ok=False),
        candidate("served", "GPT-4o", t + 200.5, 5),
        candidate("unmatched", "Gemini-2.5-Pro", t, 2),
    ]
    entries = [
        entry("q1", "claude-sonnet-4.5", t + 0.2, 6554),  # Poe's case may differ
        entry("q2", "GPT-5", t + 0.1, 40), entry("q3", "GPT-5", t + 3.6, 41),  # one after another, 0.5 s apart
        entry("q4", "Claude-Haiku-4.5", t + 100.1, 56), entry("q5", "Claude-Haiku-4.5", t + 102.2, 57),
        entry("q6", "GPT-4o", t + 200.6, 30),
        entry("q7", "Claude-Sonnet-4.5", t + 1, 999, usage_type="Chat"),  # the user on poe.com: never ours
        entry("q8", "Gemini-2.5-Pro", t + 60, 10),  # long after the request ended: not its
    ]
    found = match(records, entries)
    assert found["alone"].kind is PointsKind.EXACT and found["alone"].points == 6554
    assert (found["one"].kind, found["one"].query_ids) == (PointsKind.EXACT, ("q2",))
    assert (found["then-two"].kind, found["then-two"].query_ids) == (PointsKind.EXACT, ("q3",))
    # Before the second request is recorded (still in flight), the first could have either entry: its
    # nearest, but ambiguous.
    pair = [entry("q2", "GPT-5", t + 0.1, 40), entry("q3", "GPT-5", t + 3.6, 41)]
    early = match([candidate("one", "GPT-5", t, 3)], pair)
    assert (early["one"].kind, early["one"].query_ids) == (PointsKind.AMBIGUOUS, ("q2",))
    # Once exact matches have shown where Poe stamps its entries (here: 0.05-0.15 s after the request
    # arrived), the window narrows: the in-flight case and the concurrent subagents are exact.
    offsets = Offsets()
    for i in range(12):
        offsets.add(candidate(f"x{i}", "GPT-5", 1000.0 + i * 60, 5 + i), 1000.0 + i * 60 + 0.05 + (i % 3) * 0.05)
    window = offsets.window()
    assert window.anchor == "start" and -0.5 < window.low < 0.05 and 0.15 < window.high < 0.6
    early = match([candidate("one", "GPT-5", t, 3)], pair, window)
    assert (early["one"].kind, early["one"].query_ids) == (PointsKind.EXACT, ("q2",))
    narrow = match(records, entries, window)
    assert narrow["sub-a"].kind is narrow["sub-b"].kind is PointsKind.EXACT
    assert (narrow["sub-a"].points, narrow["sub-b"].points) == (56, 57)
    assert found["sub-a"].kind is found["sub-b"].kind is PointsKind.AMBIGUOUS
    assert (found["sub-a"].points, found["sub-b"].points) == (56, 57)  # nearest in time
    assert found["served"].kind is PointsKind.EXACT and "refused" not in found
    assert "unmatched" not in found


def test_ledger_replaces_estimates_and_keeps_totals(tmp_path: Path) -> None:
    t = time.time()
    est = PointsLine("r1", t, t + 2, "s1", "claude-sonnet", "Claude-Sonnet-4.5", 100.0, PointsKind.ESTIMATED, (), t + 2)
    other = PointsLine("r2", t + 5, t + 6, "s1", "claude-haiku", "GPT-4o", None, PointsKind.ESTIMATED, (), t + 6)
    exact = PointsLine("r1", t, t + 2, "s1", "claude-sonnet", "Claude-Sonnet-4.5", 130.0, PointsKind.EXACT, ("q",), t + 20)
    store = PointsStore(tmp_path / "requests.points.jsonl")
    store.append([est, other])
    store.append([exact])
    ledger = Ledger()
    ledger.apply_all(store.read())
    session = ledger.session("s1")
    assert session.points == 130 and session.requests == 2 and session.estimated_requests == 1
    assert session.unpriced == 1 and session.estimated == 0 and session.last_bot == "GPT-4o"
    assert ledger.day(day_of(t)).points == 130
    assert ledger.last_hour(t + 10) == (130.0, True)
    assert ledger.spent_since(t + 1) == 130.0 and ledger.spent_since(t + 100) == 0
    tail = StoreTail(store.path)
    assert [line.id for line in tail.read()[1]] == ["r1", "r2", "r1"]
    assert store.compact(t + 30) == 2
    replaced, lines = tail.read()
    assert replaced and sorted((line.id, line.points) for line in lines) == [("r1", 130.0), ("r2", None)]
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_ledger_memory_is_bounded() -> None:
    ledger = Ledger()
    t = time.time() - 30 * 86400
    for i in range(30_000):  # a month, one request every 86 s, a new session every 10 requests
        at = t + i * 86.4
        ledger.apply(PointsLine(f"r{i}", at, at + 1, f"s{i // 10}", "m", "GPT-4o", 1.0, PointsKind.EXACT, (), at + 1))
    assert len(ledger.sessions) == 1000 and len(ledger.days) <= 40
    assert len(list(ledger.open_lines())) < 400  # only the last ~8 hours can still change


def test_budgets_refuse_with_the_figures_and_how_to_raise_them() -> None:
    limits = BudgetLimits(session_points=5000, daily_points=50_000, min_balance=10_000)
    assert check_budgets(limits, session_points=4999, day_points=100, balance=20_000) is None
    session = check_budgets(limits, session_points=5230, session_estimated=True, day_points=6000, balance=20_000,
                            config_path="/home/u/.config/claude-poe-tui/config.toml")
    assert session.budget is BudgetName.SESSION and session.status == 402
    assert "about 5,230" in session.message and "session_points = 5,000" in session.message
    assert "/home/u/.config/claude-poe-tui/config.toml" in session.message
    assert session.anthropic_body()["error"]["type"] == "billing_error"
    daily = check_budgets(limits, session_points=None, day_points=50_000, balance=20_000)
    assert daily.budget is BudgetName.DAILY and "daily_points = 50,000" in daily.message
    low = check_budgets(limits, session_points=0, day_points=0, balance=9_999.5)
    assert low.budget is BudgetName.MIN_BALANCE and "min_balance = 10,000" in low.message
    assert check_budgets(BudgetLimits(), session_points=1e9, day_points=1e9, balance=0) is None
    alerts = balance_alerts(12_000, 1_000, 10_000)
    assert [a.kind.value for a in alerts] == ["runs_out_soon"] and "12.0 h" in alerts[0].message
    assert balance_alerts(12_000, 100, 10_000) == []
    assert [a.kind.value for a in balance_alerts(9_000, 0, 10_000)] == ["under_min_balance"]


def test_pricing_estimates_then_learns_the_rate_from_exact_matches() -> None:
    prices = PriceTable({"Claude-Sonnet-4.5": BotPrice(0.0000026, 0.000013)})
    first = prices.estimate("claude-sonnet-4.5", 10_000, 1_000)
    assert first == pytest.approx((10_000 * 0.0000026 + 1_000 * 0.000013) * DEFAULT_POINTS_PER_USD, abs=0.1)
    assert prices.estimate("GPT-4o", 10, 10) is None
    for _ in range(5):  # Poe charged twice what the default rate says
        assert prices.learn("Claude-Sonnet-4.5", first * 2, 10_000, 1_000)
    assert prices.estimate("Claude-Sonnet-4.5", 10_000, 1_000) == pytest.approx(first * 2, rel=0.01)
    assert prices.points_per_usd("Claude-Sonnet-4.5")[1] == "bot"
    again = PriceTable.from_prices_json(prices.prices_json())
    again.load_rates(json.loads(json.dumps(prices.rates_json())))
    assert again.estimate("Claude-Sonnet-4.5", 10_000, 1_000) == pytest.approx(first * 2, rel=0.01)


@pytest.mark.parametrize("module", ["claude_poe_tui.points.service", "claude_poe_tui.points.summary",
                                    "claude_poe_tui.commands.statusline"])
def test_points_modules_import_nothing_heavy(module: str) -> None:
    probe = f"import sys, json\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert not loaded & {"textual", "rich", "litellm", "httpx"}


# --- a long steady flow: what the service keeps and does per tick must not grow with it ---------


class FlowingPoe:
    """Poe's usage API for a steady flow of requests: request ``i`` (one every ``1 / rate`` seconds
    from ``t0``) made history entry ``q<i>`` ``offset`` seconds after it arrived. Pages are computed,
    not stored, so the test's own memory does not grow with the flow."""

    def __init__(self, t0: float, rate: float, offset: float, bot: str, points: int):
        self.t0, self.rate, self.offset, self.bot, self.points = t0, rate, offset, bot, points
        self.made = 0  # entries that exist so far
        self.pages = 0

    def entry(self, i: int) -> dict[str, Any]:
        when = self.t0 + i / self.rate + self.offset
        return {"query_id": f"q{i:09d}", "bot_name": self.bot, "creation_time": int(when * 1_000_000),
                "cost_points": self.points + i % 7, "usage_type": "API"}

    def history_page(self, client: Any, request: PageRequest) -> Any:
        self.pages += 1
        top = int(request.starting_after[1:]) if request.starting_after else self.made
        bottom = max(0, top - request.limit)
        return {"has_more": bottom > 0, "data": [self.entry(i) for i in range(top - 1, bottom - 1, -1)]}

    def balance(self, client: Any) -> int:
        return 10_000_000 - self.made


def test_a_long_flow_keeps_memory_and_tick_time_flat(tmp_path: Path) -> None:
    """50,000 requests to one bot, 5 a second (2.8 hours), with their history entries: the service's
    memory and the time a tick takes stay the same from the 20,000th request to the 50,000th.

    Memory is counted as the objects the garbage collector tracks (every container: each line,
    entry, record, dict and tuple kept); the sizes of the service's own structures are checked too."""
    import gc

    from claude_poe_tui.points.service import MAX_POOL, MAX_WAITING, PointsService, PointsSettings
    from claude_poe_tui.points.ledger import MAX_OPEN
    from claude_poe_tui.requestlog.record import RequestRecord

    rate, latency, tick, total = 5.0, 0.4, 5.0, 50_000
    t0 = time.time()
    clock = [t0]
    log = tmp_path / "requests.jsonl"
    settings = PointsSettings(request_log=str(log), poe_base_url="http://poe.invalid/v1",
                              prices={"gpt-4o": [0.0000025, 0.00001]}, models={"gpt-4o": "GPT-4o"},
                              budget=BudgetLimits(session_points=1e12, daily_points=1e12, min_balance=1.0))
    service = PointsService(settings, "key", clock=lambda: clock[0], poll_seconds=15.0)
    poe = FlowingPoe(t0, rate, 0.1, "GPT-4o", 30)
    service.api = poe  # the usage API's two calls, without a network
    service.open()
    ticks: dict[str, list[tuple[int, float]]] = {"poll": [], "other": []}  # (requests so far, CPU seconds)
    objects: dict[int, int] = {}
    unlogged: list[str] = []
    next_tick = t0 + tick
    try:
        for i in range(total):
            ts = t0 + i / rate
            clock[0] = ts + latency
            record = RequestRecord(ts=ts, id=f"req-{i:09d}", session=f"session-{i // 1000}", method="POST",
                                   path="/v1/messages", model="gpt-4o", poe_model="GPT-4o", route="chat",
                                   stream=True, status=200, error_type=None, error_message=None,
                                   latency_ms=latency * 1000, ttft_ms=50.0, input_tokens=1200, output_tokens=80)
            assert service.check(record.session) is None
            service.on_record(record)  # as the gateway: before the request log's writer thread has written it
            unlogged.append(record.to_json())
            poe.made = i + 1
            if clock[0] >= next_tick:
                next_tick += tick
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write("\n".join(unlogged) + "\n")
                unlogged.clear()
                cpu = time.process_time()
                service.follow_log()
                polled = service.poll_due()
                if polled:
                    service.poll_once(None)
                if service._summary_due():
                    service.write_summary()
                ticks["poll" if polled else "other"].append((i + 1, time.process_time() - cpu))
            if i + 1 in (20_000, total):
                gc.collect()
                objects[i + 1] = len(gc.get_objects())
    finally:
        service._release_lock()

    grown = objects[total] - objects[20_000]
    assert grown < 2_000, f"the service kept {grown:,} more objects at 50,000 requests than at 20,000"
    assert len(service._waiting) <= MAX_WAITING and len(service.ledger) <= MAX_OPEN
    assert len(service._pool) <= MAX_POOL and len(service._consumed) <= MAX_POOL and len(service._handed) < 100
    # Every request was counted once, and the history kept up: nearly all settled, none given up.
    assert service.ledger.day(day_of(t0)).requests + service.ledger.day(day_of(clock[0])).requests * (
        day_of(t0) != day_of(clock[0])) == total
    assert service.gave_up == 0 and service.history_complete and not service.history_error
    assert len(service._waiting) < rate * 200

    def median(kind: str, low: int, high: int) -> float:
        return statistics.median(cpu for n, cpu in ticks[kind] if low < n <= high)

    for kind in ("poll", "other"):
        early, late = median(kind, 15_000, 20_000), median(kind, 45_000, 50_000)
        assert late < 2 * early + 0.002, f"a {kind} tick took {late * 1000:.1f} ms at the end, {early * 1000:.1f} ms at 20,000"


def test_a_burst_faster_than_the_history_can_be_read_stays_bounded(tmp_path: Path) -> None:
    """200 requests a second to one bot for 2.5 minutes: more than Poe's history can be paged at
    our rate limit (100 entries a page), all overlapping (one group of thousands). The waiting
    requests are capped, the oldest keep their estimates, and a poll stays quick."""
    from claude_poe_tui.points.service import MAX_WAITING, PointsService, PointsSettings
    from claude_poe_tui.requestlog.record import RequestRecord

    rate, latency, total = 200.0, 2.0, 30_000
    t0 = time.time()
    clock = [t0]
    settings = PointsSettings(request_log=str(tmp_path / "requests.jsonl"), poe_base_url="http://poe.invalid/v1",
                              prices={"gpt-4o": [0.0000025, 0.00001]})
    service = PointsService(settings, "key", clock=lambda: clock[0], poll_seconds=15.0)
    poe = FlowingPoe(t0, rate, 0.5, "GPT-4o", 30)
    service.api = poe
    service.open()
    polls: list[float] = []
    try:
        for i in range(total):
            ts = t0 + i / rate
            clock[0] = ts + latency
            service.on_record(RequestRecord(
                ts=ts, id=f"req-{i:09d}", session="burst", method="POST", path="/v1/messages", model="gpt-4o",
                poe_model="GPT-4o", route="chat", stream=True, status=200, error_type=None, error_message=None,
                latency_ms=latency * 1000, ttft_ms=50.0, input_tokens=1200, output_tokens=80))
            poe.made = i + 1
            if service.poll_due():
                cpu = time.process_time()
                service.poll_once(None)
                polls.append(time.process_time() - cpu)
    finally:
        service._release_lock()
    assert len(service._waiting) == MAX_WAITING and service.gave_up == total - MAX_WAITING
    assert not service.history_complete and service.history_error is None  # behind, not failing
    assert service.ledger.session("burst").requests == total
    matched = [line for line in service.ledger.open_lines() if not line.estimated]
    assert matched and all(line.kind is PointsKind.AMBIGUOUS for line in matched)  # thousands overlap
    assert len({q for line in matched for q in line.query_ids}) == len(matched)  # an entry to one request
    assert len(polls) >= 8 and max(polls) < 2.0, polls


def test_bursts_are_matched_nearest_first_in_time_order() -> None:
    """A group too large to search (one bot, overlapping): each request in time order takes the
    nearest entry left in its window (ties: the smaller query id), as a plain search would."""
    import random

    rng = random.Random(7)
    t = 1_700_000_000.0
    for trial in range(40):
        records = [candidate(f"r{i}", "GPT-4o", t + rng.random() * 20, rng.choice([0.1, 1.0, 4.0]))
                   for i in range(rng.randint(40, 150))]
        entries = [entry(f"q{rng.randrange(10**6):06d}", "GPT-4o",
                         round(rng.choice(records).ts + rng.uniform(-2, 3), rng.choice([1, 6])), rng.randrange(1, 99))
                   for _ in range(rng.randint(30, 150))]
        entries = list({e.query_id: e for e in entries}.values())
        found = match(records, entries)
        taken: set[str] = set()
        expected = {}
        for record in sorted(records, key=lambda r: (r.ts, r.id)):
            options = [e for e in entries if record.ts - 2.5 <= e.time <= record.end + 2.5 and e.query_id not in taken]
            if options:
                best = min(options, key=lambda e: (abs(e.time - record.ts), e.query_id))
                taken.add(best.query_id)
                expected[record.id] = best.query_id
        assert all(m.kind is PointsKind.AMBIGUOUS for m in found.values())  # one group of over 60
        assert {rid: m.query_ids[0] for rid, m in found.items()} == expected, trial


def test_a_replacing_line_says_what_it_replaces_so_totals_keep_no_lines(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    import claude_poe_tui.points.ledger as ledger_module

    t = float(int(time.time()) - 600)
    first = [PointsLine(f"r{i}", t + i, t + i + 0.5, "s1", "gpt-4o", "GPT-4o", 10.0, PointsKind.ESTIMATED, (), t + i + 1)
             for i in range(6)]
    later = [replace(first[i], points=20.0 + i, kind=PointsKind.EXACT, query_ids=(f"q{i}",), at=t + 100 + i,
                     was=first[i].figures) for i in (0, 1, 5)]
    later.append(replace(later[0], points=5.0, kind=PointsKind.AMBIGUOUS, at=t + 200, was=later[0].figures))
    latest = {line.id: line for line in [*first, *later]}
    expected = sum(line.points for line in latest.values())

    small = Ledger(max_open=2)  # keeps two lines for look-ups: the totals need none
    small.apply_all([*first, *later])
    assert len(small) == 2 and small.session("s1").points == expected == 5 + 21 + 3 * 10 + 25
    assert small.session("s1").estimated_requests == 3 and small.day(day_of(t)).requests == 6
    assert small.last_hour(t + 300) == (81.0, True) and small.spent_since(t + 3.2) == 10 + 10 + 25
    assert PointsLine.from_json(later[-1].to_json()) == later[-1]  # `was` survives the store

    store = PointsStore(tmp_path / "requests.points.jsonl")
    store.append([*first, *later])
    monkeypatch.setattr(ledger_module, "COMPACT_WINDOW", 3)  # r0's estimate is written out before its answer comes

    class AppendsMeanwhile:
        """The appenders' lock: a line is appended between the pass and the rename."""

        entered = 0

        def __enter__(self) -> None:
            self.entered += 1
            if self.entered == 2:
                PointsStore(store.path).append([PointsLine("r9", t + 9, t + 10, "s1", "gpt-4o", "GPT-4o", 7.0,
                                                           PointsKind.ESTIMATED, (), t + 300)])

        def __exit__(self, *exc: object) -> None:
            return None

    kept = store.compact(t + 400, lock=AppendsMeanwhile())
    lines = list(store.read())
    assert kept == len(lines) - 1 and lines[-1].id == "r9"  # the line appended meanwhile is kept
    assert len(lines) == len(first) + len(later) + 1 - 2  # r5's two lines merged, r0's last two
    assert [line.was for line in lines if line.id == "r0"] == [None, first[0].figures]
    assert [(line.points, line.was) for line in lines if line.id == "r5"] == [(25.0, None)]
    again = Ledger(max_open=1)
    again.apply_all(lines)
    assert again.session("s1").points == expected + 7.0 and again.session("s1").requests == 7
    # Compaction rewrites the file only once it has doubled: a constant cost per line appended.
    monkeypatch.setattr(ledger_module, "COMPACT_BYTES", 100)
    assert store.size() > 100 and not store.needs_compaction()
    store.append(lines * 2)
    assert store.needs_compaction()
