"""The points service: estimates per request, Poe's history polled while requests flow, budgets.

One :class:`PointsService` per request log. In the proxy child (asyncio)::

    points = PointsService(PointsSettings.from_json(gateway_config["points"]), os.environ.get(key_env))
    await points.astart()                       # opens the files (in a thread), starts the poller task
    refusal = points.check(session_id, member)  # before forwarding: None, or a BudgetRefusal to answer with
    points.on_record(record)                    # after each request (the RequestRecord the log gets)
    await points.astop()                        # at shutdown: last summary written

In a thread (the dashboard, tests)::

    points.start_thread(); ...; points.stop_thread()

Several processes may serve one request log (``[proxy] workers``, a dashboard beside a ``serve``):
the first to take the lock file (``flock``) is the **writer** — it follows the request log, polls
Poe, appends to the store and writes the summary; the others are **readers** that follow the store
(and count their own requests' estimates until the writer's lines arrive), and take over when the
writer goes away.

Polling: at start (the balance), then every ``poll_seconds`` (10–30) while requests flow or while
some request still waits for its points; never more than
:data:`~claude_poe_tui.points.history.MAX_REQUESTS_PER_MINUTE` requests a minute to Poe (its limit
is 500); after a failure, less often (up to every 5 minutes). Whatever fails — Poe unreachable, an
error status, an answer that is not a page of history — the requests keep their estimates, marked
``estimated``, and the summary says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from claude_poe_tui.points.budget import BudgetLimits, BudgetRefusal, balance_alerts, check_budgets
from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.history import FetchFailed, HistoryEntry, HistorySync, SyncOutcome, adrive, drive
from claude_poe_tui.points.ledger import OPEN_SECONDS, Ledger, PointsStore, StoreTail, day_of
from claude_poe_tui.points.matching import SLACK_BEFORE, Candidate, Match, Offsets, match
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.points.pricing import PriceTable
from claude_poe_tui.points.summary import MAX_MEMBERS, MAX_SESSIONS, VERSION, read_summary, write_summary
from claude_poe_tui.points.usage_api import UsageApi, usage_root

DEFAULT_POLL_SECONDS = 15.0
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 10.0, 30.0
MAX_BACKOFF_SECONDS = 300.0
CLOSE_GRACE = 60.0  # Poe's history is read this long after a request ended before its points are final
LONGEST_REQUEST = 900.0  # history entries are kept this long for requests still in flight
MAX_POOL = 20_000  # history entries kept for the matching, and query ids remembered as given away
MAX_WAITING = 10_000  # requests waiting for their points; beyond, the oldest keeps what it has (more than
# Poe's history can be read for at MAX_REQUESTS_PER_MINUTE: 100 entries a page, ~90 s of waiting each)
MAX_HANDED = 50_000  # requests handed over (on_record) whose request-log line has not been read yet
TICK = 1.0  # how often the loop looks at the clock; the summary is rewritten at most this often


class Role(str, Enum):
    WRITER = "writer"
    READER = "reader"


@dataclass(frozen=True)
class PointsSettings:
    """What the service needs; crosses from the parent to the proxy child as JSON."""

    request_log: str
    poe_base_url: str
    api_key_env: str = "POE_API_KEY"
    budget: BudgetLimits = field(default_factory=BudgetLimits)
    config_path: str = ""
    prices: dict[str, list[float]] = field(default_factory=dict)
    """Bot (lower case) -> ``[prompt, completion]`` US dollars per token, from Poe's catalog."""
    models: dict[str, str] = field(default_factory=dict)
    """Mapped model name -> Poe bot (for the status line before a session's first request)."""
    poll_seconds: float = DEFAULT_POLL_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {"request_log": self.request_log, "poe_base_url": self.poe_base_url, "api_key_env": self.api_key_env,
                "budget": self.budget.to_json(), "config_path": self.config_path, "prices": self.prices,
                "models": self.models, "poll_seconds": self.poll_seconds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PointsSettings:
        return cls(
            request_log=str(data["request_log"]), poe_base_url=str(data["poe_base_url"]),
            api_key_env=str(data.get("api_key_env") or "POE_API_KEY"),
            budget=BudgetLimits.from_json(data.get("budget")), config_path=str(data.get("config_path") or ""),
            prices=dict(data.get("prices") or {}), models=dict(data.get("models") or {}),
            poll_seconds=float(data.get("poll_seconds") or DEFAULT_POLL_SECONDS),
        )


def traffic_since_last_call(counter: Callable[[], int]) -> Callable[[], bool]:
    """``has_traffic`` from a count that only grows (e.g. the gateway's requests served)."""
    seen = [counter()]

    def has_traffic() -> bool:
        now = counter()
        moved, seen[0] = now != seen[0], now
        return moved

    return has_traffic


@dataclass(slots=True)
class _Waiting:
    """A request whose points may still change."""

    candidate: Candidate
    input_tokens: int | None
    output_tokens: int | None
    estimate: PointsLine
    current: PointsLine
    """The request's latest line (what a line replacing it says it replaces)."""
    placed: bool = False
    """Its exact match has taught the offsets where Poe stamps entries (once per request)."""


@dataclass
class PollReport:
    """What one poll did (for the dashboard, tests and the benchmark)."""

    requests_to_poe: int
    balance: int | None
    history_error: str | None
    entries: int
    lines_written: int
    still_waiting: int
    balance_error: str | None = None
    cpu_seconds: float = 0.0


class PointsService:
    def __init__(self, settings: PointsSettings, api_key: str | None, *, clock: Callable[[], float] = time.time,
                 poll_seconds: float | None = None, close_grace: float = CLOSE_GRACE):
        self.settings = settings
        self.close_grace = close_grace
        self.files = PointsFiles(Path(settings.request_log))
        self.store = PointsStore(self.files.store)
        self.clock = clock
        self.poll_seconds = min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, poll_seconds or settings.poll_seconds))
        if poll_seconds is not None and poll_seconds < MIN_POLL_SECONDS:
            self.poll_seconds = poll_seconds  # tests and benchmarks only
        self.prices = PriceTable.from_prices_json(settings.prices)
        self.sync = HistorySync(clock=clock)
        self.api = UsageApi(usage_root(settings.poe_base_url), api_key) if api_key else None
        self.ledger = Ledger()
        self.role: Role | None = None
        self._lock = threading.RLock()
        self._lock_fd: int | None = None
        # Everything below that is kept per request or per history entry is bounded: by time (the
        # matching window, the open window) and by count (MAX_WAITING, MAX_POOL, the ledger's MAX_OPEN).
        self.max_waiting = MAX_WAITING
        self.max_pool = MAX_POOL
        self._waiting: OrderedDict[str, _Waiting] = OrderedDict()  # in the order taken
        self._pool: OrderedDict[str, HistoryEntry] = OrderedDict()
        self._consumed: OrderedDict[str, float] = OrderedDict()  # query id -> its time: given to a settled request, never again
        self.gave_up = 0  # requests let go while waiting because MAX_WAITING were waiting: they keep their estimate
        self._handed: OrderedDict[str, None] = OrderedDict()  # taken by on_record, not yet met in the request log
        self.offsets = Offsets()  # where Poe's entries fall around our requests: narrows the matching window
        self._unwritten: list[PointsLine] = []  # estimates waiting for the next append (one write a tick)
        self._log = None  # a LogFollower on the request log (writer)
        self._tail: StoreTail | None = None  # the store followed (reader)
        self._local: OrderedDict[str, PointsLine] = OrderedDict()  # a reader's own estimates, until the writer's lines arrive
        self.balance: int | None = None
        self.balance_at: float | None = None
        self.balance_error: str | None = None
        self.history_at: float | None = None
        self.history_error: str | None = None if api_key else "no Poe API key: points are estimates only"
        self.history_malformed = 0
        self.history_complete = False
        self._traffic = False
        self._polled_once = False
        self._next_poll = 0.0
        self._failures = 0
        self._dirty = True
        self._last_write = 0.0
        self._last_refresh = 0.0
        self._last_promote = 0.0
        self.polls: list[PollReport] = []  # the last few, newest last
        self._live_cache: tuple[tuple, tuple[float | None, bool]] | None = None
        self._stop_event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._thread_stop = threading.Event()

    # --- opening --------------------------------------------------------------------------------

    def open(self) -> Role:
        """Take the writer's role if nobody holds it, and load what the files hold. Blocking (reads files)."""
        with self._lock:
            if self._take_lock():
                self._open_writer()
            else:
                self.role = Role.READER
                self._tail = StoreTail(self.files.store)
                self._refresh(force=True)
            return self.role

    def _take_lock(self) -> bool:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): every process writes; run one proxy per request log there
            return True
        try:
            self.files.lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.files.lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def _open_writer(self) -> None:
        from claude_poe_tui.requestlog.reader import LogFollower

        self.role = Role.WRITER
        self._tail = None
        now = self.clock()
        saved = read_summary(self.files.summary) or {}
        self.sync.load(saved.get("poller"))
        self.prices.load_rates(saved.get("rates"))
        balance = saved.get("balance") or {}
        if isinstance(balance.get("points"), (int, float)) and isinstance(balance.get("at"), (int, float)):
            self.balance, self.balance_at = int(balance["points"]), float(balance["at"])
        if self.store.needs_compaction():
            self.store.compact(now)
        ledger = Ledger()
        newest_ts: float | None = None
        for line in self.store.read():
            ledger.apply(line)
            newest_ts = line.ts if newest_ts is None else max(newest_ts, line.ts)
        for line in self._local.values():  # a reader's own estimates the writer never wrote
            if line.id not in ledger:
                ledger.apply(line)
                self.store.append([line])
        self._local.clear()
        self.ledger = ledger
        # Requests the store has not covered yet: those after its newest line, and those still estimated.
        waiting_from = [line.ts for line in ledger.open_lines()
                        if line.kind is PointsKind.ESTIMATED and line.ts >= now - OPEN_SECONDS]
        start_of_today = time.mktime(time.strptime(day_of(now), "%Y-%m-%d"))
        since = min([*waiting_from, (newest_ts - 60.0) if newest_ts is not None else start_of_today])
        # Not before what the ledger still knows by id: an earlier request the store has would count twice.
        since = max(since, ledger.forgot_at)
        self._catch_up(since)
        self._log = LogFollower(self.files.request_log)
        for record in self._log:
            if record.ts >= since:
                self._take(record, catching_up=True)

    def _catch_up(self, since: float) -> None:
        """Records in rotated request-log files since ``since`` (the current file is followed after)."""
        from claude_poe_tui.requestlog.reader import log_files, read_file

        rotated = [path for path in log_files(self.files.request_log) if path != self.files.request_log]
        needed = []
        for path in reversed(rotated):  # newest first: stop at the first file that starts before `since`
            needed.append(path)
            first = next(iter(read_file(path)), None)
            if first is None or first.ts < since:
                break
        for path in reversed(needed):
            for record in read_file(path):
                if record.ts >= since:
                    self._take(record, catching_up=True)

    # --- per request ----------------------------------------------------------------------------

    def on_record(self, record: Any) -> None:
        """A request has ended (the gateway's :class:`~claude_poe_tui.requestlog.record.RequestRecord`).

        Cheap (a dictionary look-up, an estimate and one small append); safe from any thread.
        """
        with self._lock:
            if self._take(record) and self.role is Role.WRITER:
                self._handed[record.id] = None  # the log follower meets it again: skipped then
                while len(self._handed) > MAX_HANDED:  # (a log that cannot be written)
                    self._handed.popitem(last=False)

    def _take(self, record: Any, *, catching_up: bool = False) -> bool:
        """Estimate the request and let it wait for Poe's history; ``False`` when it was not taken."""
        bot = record.poe_model
        if not bot or not record.id:
            return False  # never reached Poe (unknown model, refused key): nothing charged
        if record.id in self._waiting or (record.id in self.ledger and not catching_up) or record.id in self._local:
            return False
        now = self.clock()
        ok = record.status < 400
        end = record.ts + (record.latency_ms or 0.0) / 1000.0
        points = self.prices.estimate(bot, record.input_tokens, record.output_tokens) if ok else 0.0
        estimate = PointsLine(record.id, record.ts, end, record.session, record.model, bot, points,
                              PointsKind.ESTIMATED, (), now, member=getattr(record, "member", None))
        self._traffic = True
        self._dirty = True
        if self.role is not Role.WRITER:
            self._local[record.id] = estimate
            self.ledger.apply(estimate)
            while len(self._local) > self.max_waiting:  # the writer is far behind: keep only the newest
                self._local.popitem(last=False)
            return True
        known = self.ledger.line(record.id)
        if known is not None and not known.estimated:
            return False  # the history has already said
        if known is None:
            self._unwritten.append(estimate)  # written with the next tick's append, off the request path
            self.ledger.apply(estimate)
        if record.ts >= now - OPEN_SECONDS:
            self._waiting[record.id] = _Waiting(Candidate(record.id, bot, record.ts, end, ok),
                                                record.input_tokens, record.output_tokens, known or estimate,
                                                known or estimate)
            while len(self._waiting) > self.max_waiting:
                self._waiting.popitem(last=False)  # keeps its latest line: the history comes too late for it
                self.gave_up += 1
        return True

    def set_budget(self, budget: BudgetLimits) -> None:
        """New ``[budget]`` limits (a reload): they hold from the next check, and the summary says so."""
        with self._lock:
            self.settings = dataclasses.replace(self.settings, budget=budget)
            self._dirty = True

    def check(self, session: str | None, member: str | None = None) -> BudgetRefusal | None:
        """Before a request is forwarded: ``None``, or the refusal to answer with (see :mod:`.budget`).
        ``member``: the team member whose token was sent (``None``: the master key)."""
        limits = self.settings.budget
        if not limits.any:
            return None
        with self._lock:
            if self.role is Role.READER:
                self._refresh()
            now = self.clock()
            totals = self.ledger.session(session)
            today = self.ledger.day(day_of(now))
            live, live_estimated = self._live_balance() if limits.min_balance is not None else (None, False)
            own = self.ledger.member_day(member, day_of(now)) if limits.member(member) is not None else None
            return check_budgets(
                limits,
                session_points=totals.points if totals else (0.0 if session else None),
                session_estimated=bool(totals and totals.is_estimated),
                day_points=today.points, day_estimated=today.is_estimated,
                balance=live, balance_estimated=live_estimated, config_path=self.settings.config_path,
                member=member, member_day_points=own.points if own else 0.0,
                member_day_estimated=bool(own and own.is_estimated),
            )

    def _live_balance(self) -> tuple[float | None, bool]:
        """Poe's balance less what requests spent since Poe said it (those are not in it yet)."""
        if self.balance is None or self.balance_at is None:
            return None, False
        key = (id(self.ledger), self.ledger.lines_applied, self.balance, self.balance_at)
        if self._live_cache is not None and self._live_cache[0] == key:
            return self._live_cache[1]
        spent = self.ledger.spent_since(self.balance_at)
        value = (float(self.balance), True) if spent is None else (self.balance - spent, spent > 0)
        self._live_cache = (key, value)
        return value

    # --- polling --------------------------------------------------------------------------------

    def poll_due(self, has_traffic: Callable[[], bool] | None = None) -> bool:
        if self.role is not Role.WRITER or self.api is None:
            return False
        now = self.clock()
        if now < self._next_poll:
            return False
        traffic = self._traffic
        if has_traffic is not None:
            traffic = has_traffic() or traffic
        if not self._polled_once or traffic or self._waiting:
            return True
        self._next_poll = now + self.poll_seconds
        return False

    def _since(self) -> float:
        """How far back the history matters: to the oldest request still waiting for its points."""
        oldest = min((w.candidate.ts for w in self._waiting.values()), default=self.clock())
        return oldest - SLACK_BEFORE

    def follow_log(self) -> int:
        """Take the request log's new records (the writer; other workers' requests arrive this way),
        and write the estimates taken since the last call."""
        if self._log is None:
            return 0
        with self._lock:
            records = self._log.read(limit=20_000)
            for record in records:
                if record.id in self._handed:
                    del self._handed[record.id]  # taken already, when it was handed over
                else:
                    self._take(record)
            self._flush()
            return len(records)

    def _flush(self) -> None:
        if self._unwritten:
            lines, self._unwritten = self._unwritten, []
            self.store.append(lines)

    def poll_once(self, client: Any) -> PollReport:
        """One poll with a blocking ``httpx.Client`` (a thread)."""
        cpu = time.thread_time()
        self.follow_log()
        with self._lock:
            since = self._since()
            self._traffic = False
        balance = self.api.balance(client)
        self.sync.note_request()
        outcome = drive(self.sync.poll(since), lambda request: self.api.history_page(client, request))
        report = self._apply_poll(balance, outcome)
        report.cpu_seconds = time.thread_time() - cpu
        return report

    async def apoll_once(self, client: Any) -> PollReport:
        """One poll with an ``httpx.AsyncClient`` (the event loop); file work goes to a thread.
        (Its ``cpu_seconds`` is the whole process's CPU during the poll.)"""
        cpu = time.process_time()
        await asyncio.to_thread(self.follow_log)
        with self._lock:
            since = self._since()
            self._traffic = False
        balance = await self.api.abalance(client)
        self.sync.note_request()
        outcome = await adrive(self.sync.poll(since), lambda request: self.api.ahistory_page(client, request))
        report = await asyncio.to_thread(self._apply_poll, balance, outcome)
        report.cpu_seconds = time.process_time() - cpu
        return report

    def _apply_poll(self, balance: int | FetchFailed, outcome: SyncOutcome) -> PollReport:
        with self._lock:
            now = self.clock()
            self._polled_once = True
            if isinstance(balance, FetchFailed):
                self.balance_error = balance.reason
            else:
                self.balance, self.balance_at, self.balance_error = balance, now, None
            self.history_malformed = outcome.malformed
            self.history_complete = outcome.complete
            if outcome.error is None:
                self.history_at, self.history_error = outcome.started_at, None
            else:
                self.history_error = outcome.error
            if outcome.malformed and self.history_error is None:
                self.history_error = f"{outcome.malformed} entries of Poe's points history could not be read"
            for entry in outcome.entries:
                if entry.is_api and entry.query_id not in self._consumed:
                    self._pool[entry.query_id] = entry
            candidates = [w.candidate for w in self._waiting.values()]
            entries = list(self._pool.values())
            window = self.offsets.window()
        # Matching takes the longest: requests go on being taken (and budgets checked) meanwhile; one
        # that arrives now has no match this round, as it would have had none a moment earlier.
        matches = match(candidates, entries, window)
        with self._lock:
            written = self._settle(now, outcome, matches)
            failed = outcome.error is not None or isinstance(balance, FetchFailed)
            self._failures = self._failures + 1 if failed else 0
            delay = self.poll_seconds * (2 ** min(self._failures, 5)) if failed else self.poll_seconds
            self._next_poll = now + min(delay, max(MAX_BACKOFF_SECONDS, self.poll_seconds))
            self._dirty = True
            report = PollReport(
                requests_to_poe=outcome.pages + 1,
                balance=None if isinstance(balance, FetchFailed) else balance,
                history_error=outcome.error, entries=len(outcome.entries), lines_written=written,
                still_waiting=len(self._waiting),
                balance_error=balance.reason if isinstance(balance, FetchFailed) else None,
            )
            self.polls = [*self.polls[-19:], report]
        if self.store.needs_compaction():  # appends wait only for its last step
            self.store.compact(now, lock=self._lock)
        return report

    def _settle(self, now: float, outcome: SyncOutcome, matches: dict[str, Match]) -> int:
        """Take the matches of the waiting requests to the history read so far; close those it is
        known to cover."""
        covered = outcome.error is None and outcome.complete and outcome.malformed == 0
        lines: list[PointsLine] = []
        for request_id, waiting in list(self._waiting.items()):
            found = matches.get(request_id)
            closing = (covered and waiting.candidate.end + self.close_grace < outcome.started_at) or (
                waiting.candidate.ts < now - OPEN_SECONDS)
            if found is not None:
                line = replace(waiting.estimate, points=found.points, kind=found.kind, query_ids=found.query_ids)
                if found.kind is PointsKind.EXACT and not waiting.placed:
                    waiting.placed = True
                    self.offsets.add(waiting.candidate, found.entry_time)  # narrows the window from the next poll
            elif closing and covered and not waiting.candidate.ok:
                line = replace(waiting.estimate, points=0.0, kind=PointsKind.EXACT)  # refused: nothing charged
            else:
                line = waiting.estimate
            current = waiting.current
            if not line.same_figures(current):
                line = replace(line, at=now, was=current.figures)
                lines.append(line)
                self.ledger.apply(line, replaces=current)
                waiting.current = line
            if closing:
                del self._waiting[request_id]
                if found is not None:
                    for query_id in found.query_ids:
                        entry = self._pool.pop(query_id, None)
                        self._consumed[query_id] = entry.time if entry else now
                    if found.kind is PointsKind.EXACT:
                        self.prices.learn(waiting.candidate.bot, found.points, waiting.input_tokens,
                                          waiting.output_tokens)
        self._flush()
        self.store.append(lines)
        keep_from = min([now - LONGEST_REQUEST, *(w.candidate.ts for w in self._waiting.values())]) - SLACK_BEFORE
        for query_id in [q for q, e in self._pool.items() if e.time < keep_from]:
            del self._pool[query_id]
        while len(self._pool) > self.max_pool:
            self._pool.popitem(last=False)
        # The history is read again `overlap` seconds back: remember what was given away that long.
        forget = now - self.sync.overlap - LONGEST_REQUEST
        while self._consumed and next(iter(self._consumed.values())) < forget:  # about in time order (later is harmless)
            self._consumed.popitem(last=False)
        while len(self._consumed) > self.max_pool:
            self._consumed.popitem(last=False)
        return len(lines)

    # --- readers --------------------------------------------------------------------------------

    def _refresh(self, force: bool = False) -> None:
        """A reader's view: the store's new lines (everything again after a compaction)."""
        now = self.clock()
        if self._tail is None or (not force and now - self._last_refresh < TICK):
            return
        self._last_refresh = now
        replaced, lines = self._tail.read()
        if replaced:
            self.ledger = Ledger()
            self.ledger.apply_all(self._local.values())
        for line in lines:
            self.ledger.apply(line, replaces=self._local.pop(line.id, None))
        if lines:
            self._dirty = True

    def _maybe_promote(self) -> None:
        now = self.clock()
        if self.role is Role.READER and now - self._last_promote >= self.poll_seconds:
            self._last_promote = now
            with self._lock:
                if self._take_lock():
                    self._open_writer()

    # --- the summary ----------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Everything the status line, ``doctor`` and the dashboard show (see :mod:`.summary`)."""
        with self._lock:
            now = self.clock()
            per_hour, hour_estimated = self.ledger.last_hour(now)
            live, live_estimated = self._live_balance()
            today_key = day_of(now)
            sessions = list(self.ledger.sessions.items())[-MAX_SESSIONS:]
            alerts = balance_alerts(live, per_hour, self.settings.budget.min_balance)
            return {
                "version": VERSION,
                "written_at": now,
                "pid": os.getpid(),
                "role": self.role.value if self.role else None,
                "balance": {"points": self.balance, "at": self.balance_at,
                            "live": None if live is None else round(live, 1), "live_estimated": live_estimated,
                            "error": self.balance_error},
                "history": {"ok": self.history_error is None and self.history_at is not None, "at": self.history_at,
                            "error": self.history_error, "malformed": self.history_malformed,
                            "complete": self.history_complete, "waiting": len(self._waiting),
                            "gave_up": self.gave_up},
                "budget": self.settings.budget.to_json(),
                "budget_status": self._budget_status(now, live, live_estimated),
                "burn_rate": {"points_per_hour": round(per_hour, 1), "estimated": hour_estimated},
                "today": {"day": today_key, **self.ledger.day(today_key).to_json()},
                "models_today": {m: t.to_json() for m, t in sorted(self.ledger.models.get(today_key, {}).items())},
                "members_today": self._members_today(today_key),
                "sessions": {sid: totals.to_json() for sid, totals in sessions},
                "models": self.settings.models,
                "alerts": [{"kind": a.kind.value, "message": a.message} for a in alerts],
                "poller": self.sync.to_json(),
                "rates": self.prices.rates_json(),
                "requests_last_minute": self.sync.requests_last_minute(),
            }

    def _members_today(self, day: str) -> dict[str, Any]:
        """Today's points per team member, those who spent most first (at most :data:`MAX_MEMBERS`)."""
        spent = sorted(self.ledger.members.get(day, {}).items(), key=lambda item: (-item[1].points, item[0]))
        return {name: totals.to_json() for name, totals in spent[:MAX_MEMBERS]}

    def _budget_status(self, now: float, live: float | None, live_estimated: bool) -> dict[str, Any]:
        """How close each budget is (the dashboard's gauges); per-session figures are in ``sessions``."""
        limits = self.settings.budget
        today = self.ledger.day(day_of(now))
        status: dict[str, Any] = {}
        if limits.daily_points is not None:
            status["daily_points"] = {"limit": limits.daily_points, "spent": round(today.points, 1),
                                      "share": round(today.points / limits.daily_points, 4),
                                      "estimated": today.is_estimated}
        if limits.min_balance is not None:
            status["min_balance"] = {"limit": limits.min_balance, "balance": None if live is None else round(live, 1),
                                     "estimated": live_estimated}
        if limits.session_points is not None:
            status["session_points"] = {"limit": limits.session_points}
        members = {}
        for name, own in sorted(limits.members.items()):
            if own.daily_points is not None:
                spent = self.ledger.member_day(name, day_of(now))
                members[name] = {"limit": own.daily_points, "spent": round(spent.points, 1),
                                 "share": round(spent.points / own.daily_points, 4), "estimated": spent.is_estimated}
        if members:
            status["member_daily_points"] = members
        return status

    def write_summary(self) -> None:
        if self.role is not Role.WRITER:
            return
        with self._lock:
            self._flush()
        data = self.summary()
        self._dirty = False
        self._last_write = self.clock()
        write_summary(self.files.summary, data)

    def _summary_due(self) -> bool:
        return self.role is Role.WRITER and self._dirty and self.clock() - self._last_write >= TICK

    # --- running: asyncio -----------------------------------------------------------------------

    async def astart(self, has_traffic: Callable[[], bool] | None = None, client: Any = None) -> None:
        """Open (in a thread) and start the poller as a task of the running loop."""
        await asyncio.to_thread(self.open)
        self._stop_event = asyncio.Event()
        self._task = asyncio.create_task(self.run(has_traffic, client), name="points-poller")

    async def astop(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 15)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    async def run(self, has_traffic: Callable[[], bool] | None = None, client: Any = None) -> None:
        import httpx

        if self.role is None:
            await asyncio.to_thread(self.open)
        own = client is None
        client = httpx.AsyncClient() if own else client
        stop = self._stop_event or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    await self._atick(client, has_traffic)
                except Exception as exc:  # the poller must outlive anything odd; the summary says what
                    self.history_error = f"points poller: {type(exc).__name__}: {exc}"
                    self._next_poll = self.clock() + self.poll_seconds
                try:
                    await asyncio.wait_for(stop.wait(), TICK)
                except asyncio.TimeoutError:
                    pass
        finally:
            if self.role is Role.WRITER:
                await asyncio.to_thread(self.write_summary)
            if own:
                await client.aclose()
            self._release_lock()

    async def _atick(self, client: Any, has_traffic: Callable[[], bool] | None) -> None:
        if self.role is Role.READER:
            self._maybe_promote()
            self._refresh()
        elif self._log is not None:
            await asyncio.to_thread(self.follow_log)  # other workers' requests, and ours if not handed over
        if self.poll_due(has_traffic):
            await self.apoll_once(client)
        if self._summary_due():
            await asyncio.to_thread(self.write_summary)

    # --- running: a thread ----------------------------------------------------------------------

    def start_thread(self, has_traffic: Callable[[], bool] | None = None) -> None:
        """Open and poll in a daemon thread (the dashboard). Stop with :meth:`stop_thread`."""
        self._thread_stop.clear()
        self._thread = threading.Thread(target=self._run_thread, args=(has_traffic,), name="points-poller",
                                        daemon=True)
        self._thread.start()

    def stop_thread(self, timeout: float = 15.0) -> None:
        self._thread_stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run_thread(self, has_traffic: Callable[[], bool] | None) -> None:
        import httpx

        if self.role is None:
            self.open()
        with httpx.Client() as client:
            try:
                while not self._thread_stop.is_set():
                    try:
                        if self.role is Role.READER:
                            self._maybe_promote()
                            self._refresh()
                        else:
                            self.follow_log()
                        if self.poll_due(has_traffic):
                            self.poll_once(client)
                        if self._summary_due():
                            self.write_summary()
                    except Exception as exc:  # as in run(): never let the thread die
                        self.history_error = f"points poller: {type(exc).__name__}: {exc}"
                        self._next_poll = self.clock() + self.poll_seconds
                    self._thread_stop.wait(TICK)
            finally:
                self.write_summary()
                self._release_lock()
