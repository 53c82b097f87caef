"""The dashboard's points and sessions without the screen: following the store and the summary the
proxy keeps beside the request log, per-model points over a window, sessions joined to their
points, the watcher carrying them, budgets written to the config, pool keys described."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from claude_poe_tui.config import load_config
from claude_poe_tui.control.config import apply_budget_edit
from claude_poe_tui.control.keys import describe_pool
from claude_poe_tui.control.points import PointsFollower, points_text
from claude_poe_tui.control.requests import RequestLogWatcher
from claude_poe_tui.control.sessions import NO_SESSION, SessionsTracker
from claude_poe_tui.errors import ConfigError
from claude_poe_tui.points.budget import BudgetLimits
from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.ledger import PointsStore
from claude_poe_tui.points.model import PointsKind
from claude_poe_tui.requestlog.record import RequestRecord
from conftest import OFFLINE_POE, write_config
from points_helpers import append_lines, line_for, write_summary

NOW = 1_795_000_000.0


def request(n: int, *, ts: float, model: str = "claude-sonnet-5", bot: str | None = "Claude-Sonnet-5",
            session: str | None = "sess-a", status: int = 200, **fields) -> RequestRecord:
    base = dict(ts=ts, id=f"req-{n}", session=session, method="POST", path="/v1/messages", model=model,
                poe_model=bot, route="messages", stream=True, status=status, error_type=None, error_message=None,
                latency_ms=1000.0, ttft_ms=200.0, input_tokens=100, output_tokens=10)
    return RequestRecord(**{**base, **fields})


def test_points_read_as_they_are_known() -> None:
    record = request(1, ts=NOW)
    assert points_text(line_for(record, 1234.0, PointsKind.EXACT)) == "1,234"
    assert points_text(line_for(record, 1234.0, PointsKind.AMBIGUOUS)) == "≈1,234"
    assert points_text(line_for(record, 12.0, PointsKind.ESTIMATED)) == "~12"
    assert points_text(line_for(record, 2.5, PointsKind.ESTIMATED)) == "~2.5"
    assert points_text(line_for(record, None, PointsKind.ESTIMATED)) == "~?"
    assert points_text(None) == "-"


def test_the_follower_takes_estimates_then_poes_figures_once_each(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    a = request(1, ts=NOW - 600, model="claude-sonnet-5")
    b = request(2, ts=NOW - 300, model="claude-sonnet-5")
    c = request(3, ts=NOW - 7200, model="gpt-5", bot="GPT-5", session="sess-b")  # 2 h ago: in 6h, not in 1h
    follower = PointsFollower(log, clock=lambda: NOW)
    assert follower.poll().lines == []  # no store yet

    append_lines(log, [line_for(a, 100.0, PointsKind.ESTIMATED), line_for(b, 300.0, PointsKind.ESTIMATED),
                       line_for(c, 50.0, PointsKind.EXACT)])
    first = follower.poll()
    assert [line.id for line in first.lines] == ["req-1", "req-2", "req-3"]
    hour = follower.model_points("1h")
    assert set(hour) == {"claude-sonnet-5"}
    sonnet = hour["claude-sonnet-5"]
    assert (sonnet.points, sonnet.requests, sonnet.per_request, sonnet.per_hour, sonnet.estimated) == (
        400.0, 2, 200.0, 400.0, True)
    six = follower.model_points("6h")
    assert six["gpt-5"].points == 50.0 and six["gpt-5"].per_hour == pytest.approx(50.0 / 6)

    # Poe's history says: request 1 cost 120 (exact), request 2 is shared (ambiguous). The estimates go.
    append_lines(log, [line_for(a, 120.0, PointsKind.EXACT, at=NOW), line_for(b, 280.0, PointsKind.AMBIGUOUS, at=NOW)])
    second = follower.poll()
    assert [(line.id, line.kind) for line in second.lines] == [("req-1", PointsKind.EXACT),
                                                               ("req-2", PointsKind.AMBIGUOUS)]
    sonnet = follower.model_points("1h")["claude-sonnet-5"]
    assert (sonnet.points, sonnet.requests, sonnet.estimated) == (400.0, 2, False)
    assert follower.line("req-1").points == 120.0
    sessions = follower.sessions()
    assert sessions["sess-a"].points == 400.0 and sessions["sess-a"].ambiguous and not sessions["sess-a"].estimated
    assert sessions["sess-b"].bots == {"GPT-5": 50.0}
    assert follower.poll().lines == []  # nothing new: nothing handed out again


def test_a_compacted_store_is_read_again_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    a = request(1, ts=NOW - 60)
    append_lines(log, [line_for(a, 10.0, PointsKind.ESTIMATED), line_for(a, 12.0, PointsKind.EXACT)])
    follower = PointsFollower(log, clock=lambda: NOW)
    follower.poll()
    assert PointsStore(PointsFiles(log).store).compact(NOW) == 1  # what the proxy does past 8 MiB
    changes = follower.poll()
    assert changes.reset and [line.points for line in changes.lines] == [12.0]
    assert follower.model_points("15m")["claude-sonnet-5"].points == 12.0  # counted once, not twice


def test_the_summary_is_read_when_the_proxy_rewrites_it(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(request(1, ts=NOW - 60).to_json() + "\n")
    follower = PointsFollower(log, clock=lambda: NOW)
    assert not follower.poll().summary_changed and follower.summary is None
    write_summary(log, now=NOW, balance=5000, budget=BudgetLimits(min_balance=20000))
    changes = follower.poll()
    assert changes.summary_changed
    assert follower.summary["balance"]["points"] == 5000
    assert [a["kind"] for a in follower.summary["alerts"]] == ["under_min_balance"]
    assert not follower.poll().summary_changed


def test_sessions_count_every_request_and_take_points_from_the_store() -> None:
    tracker = SessionsTracker(max_sessions=3)
    tracker.add([request(1, ts=NOW - 100), request(2, ts=NOW - 50, bot="GPT-5", status=529, agent_id="agent-1"),
                 request(3, ts=NOW - 10, session=None, bot=None, model=None, status=401)])
    rows = tracker.rows(None)
    assert [row.session for row in rows] == [NO_SESSION, "sess-a"]  # the most recent first
    sess = rows[1]
    assert (sess.requests, sess.errors, sess.subagent_requests, sess.points) == (2, 1, 1, None)
    assert sess.first == NOW - 100 and sess.last == NOW - 50 + 1.0
    assert {bot for bot, _ in sess.bots} == {"Claude-Sonnet-5", "GPT-5"}
    for n in range(4, 8):  # bounded: the least recently active go
        tracker.add([request(n, ts=NOW + n, session=f"sess-{n}")])
    assert len(tracker) == 3 and "sess-a" not in {row.session for row in tracker.rows(None)}


def test_the_watcher_carries_points_summary_and_sessions(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    records = [request(1, ts=NOW - 120), request(2, ts=NOW - 60, session="sess-b")]
    log.write_text("".join(r.to_json() + "\n" for r in records))
    append_lines(log, [line_for(records[0], 40.0, PointsKind.EXACT)])
    write_summary(log, now=NOW, balance=900_000)
    updates = []
    watcher = RequestLogWatcher(log, updates.append, clock=lambda: NOW, interval=0.02,
                                points=PointsFollower(log, clock=lambda: NOW))
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while not any(u.points_loaded for u in updates):
            assert time.monotonic() < deadline, "the points never came"
            watcher.shown()
            time.sleep(0.02)
        # The history first (the store may take a while), then the store's first reading.
        assert updates[0].history and len(updates[0].records) == 2 and not updates[0].points_loaded
        first = next(u for u in updates if u.points_loaded)
        assert first.summary_changed and first.summary["balance"]["points"] == 900_000
        assert {line.id: line.kind for line in first.points}["req-1"] is PointsKind.EXACT
        assert {row.session: row.points for row in first.sessions} == {"sess-a": 40.0, "sess-b": 0.0}
        # req-2 got its estimate when the summary was written (no catalog price here: a figure still unknown).
        sonnet = first.model_points["claude-sonnet-5"]
        assert (sonnet.points, sonnet.requests, sonnet.estimated_requests) == (40.0, 2, 1)
        watcher.shown()
        append_lines(log, [line_for(records[1], 75.0, PointsKind.EXACT, at=NOW + 1)])
        deadline = time.monotonic() + 10
        while not any(line.id == "req-2" and line.points == 75.0 for u in updates for line in u.points):
            assert time.monotonic() < deadline, "the new line never came"
            watcher.shown()
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while not any(u.sessions and {r.session: r.points for r in u.sessions}.get("sess-b") == 75.0 for u in updates):
            assert time.monotonic() < deadline, "the sessions were never recounted"
            watcher.shown()
            time.sleep(0.05)
    finally:
        watcher.close()


def test_budgets_are_written_with_comments_kept_and_zero_is_the_configs_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url=OFFLINE_POE, extra="\n# my budget note\n[budget]\ndaily_points = 100 # per day\n")
    config = apply_budget_edit(path, {"session_points": 50_000.0, "daily_points": 200_000.0, "min_balance": None})
    assert (config.budget.session_points, config.budget.daily_points, config.budget.min_balance) == (50_000, 200_000, None)
    text = path.read_text()
    assert "# my budget note" in text and "daily_points = 200000 # per day" in text and "session_points = 50000" in text
    config = apply_budget_edit(path, {"daily_points": None})  # removed: no limit
    assert config.budget.daily_points is None and "daily_points" not in path.read_text()
    before = path.read_text()
    with pytest.raises(ConfigError) as refused:
        apply_budget_edit(path, {"session_points": 0.0})
    assert "budget.session_points" in str(refused.value) and "must be more than 0 points" in str(refused.value)
    assert refused.value.line is not None
    assert path.read_text() == before  # nothing written


def test_a_pool_is_described_key_by_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url=OFFLINE_POE, dotenv={"LITELLM_MASTER_KEY": "sk-m", "POE_KEY_A": "poe-key-a-0123456789"})
    text = path.read_text().replace('api_key = "env:POE_API_KEY"', 'api_keys = ["env:POE_KEY_A", "env:POE_KEY_B"]')
    path.write_text(text)
    keys = describe_pool(load_config(path), environ={})
    assert [(k.env_name, k.value) for k in keys] == [("POE_KEY_A", "poe-key-a-0123456789"), ("POE_KEY_B", None)]
    assert "poe-key-a" not in keys[0].masked and keys[0].masked.endswith("6789")
    assert str(path.parent / ".env") in keys[0].where and keys[1].where.startswith("nowhere: POE_KEY_B")


def test_the_follower_keeps_a_bounded_number_of_lines_and_never_counts_one_twice(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    records = [request(n, ts=NOW - 500 + n * 10) for n in range(6)]
    follower = PointsFollower(log, clock=lambda: NOW, kept=3, max_sessions=2)
    append_lines(log, [line_for(r, 10.0, PointsKind.ESTIMATED) for r in records[:5]])
    follower.poll()
    assert follower.line("req-0") is None and follower.line("req-4").points == 10.0  # the oldest went
    assert follower.model_points("1h")["claude-sonnet-5"].points == 50.0
    # Poe's figure for a request no longer kept: its estimate stands, not counted twice.
    append_lines(log, [line_for(records[0], 99.0, PointsKind.EXACT, at=NOW)])
    assert follower.poll().lines == [] and follower.not_recounted == 1
    assert follower.model_points("1h")["claude-sonnet-5"].points == 50.0
    # For one still kept: replaced. A new request: added.
    append_lines(log, [line_for(records[4], 30.0, PointsKind.EXACT, at=NOW), line_for(records[5], 5.0, PointsKind.ESTIMATED)])
    assert [line.id for line in follower.poll().lines] == ["req-4", "req-5"]
    assert follower.model_points("1h")["claude-sonnet-5"].points == 75.0
    for n in range(3):  # sessions are bounded too: the least recently active go
        append_lines(log, [line_for(request(10 + n, ts=NOW - 5, session=f"other-{n}"), 1.0, PointsKind.EXACT)])
    follower.poll()
    assert list(follower.sessions()) == ["other-1", "other-2"]


def test_a_big_store_is_read_in_pieces(tmp_path: Path) -> None:
    from claude_poe_tui.control import points as points_module

    log = tmp_path / "requests.jsonl"
    records = [request(n, ts=NOW - 3000 + n * 0.1, session=f"s-{n % 7}") for n in range(20_000)]
    append_lines(log, [line_for(r, 1.0, PointsKind.ESTIMATED) for r in records])
    assert PointsFiles(log).store.stat().st_size > 3 * points_module.READ_BYTES
    reads = []
    follower = PointsFollower(log, clock=lambda: NOW)
    tail_read = follower._tail.read
    follower._tail.read = lambda max_bytes=None: reads.append(max_bytes) or tail_read(max_bytes=max_bytes)
    changes = follower.poll()
    assert len(reads) > 3 and set(reads) == {points_module.READ_BYTES}
    assert len(changes.lines) == points_module.CHANGES_KEPT and changes.lines[-1].id == "req-19999"
    assert follower.model_points("1h")["claude-sonnet-5"].requests == 20_000
    assert sum(s.requests for s in follower.sessions().values()) == 20_000


def test_points_that_cannot_be_read_stop_alone(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(request(1, ts=NOW - 60).to_json() + "\n")
    follower = PointsFollower(log, clock=lambda: NOW)

    def broken():
        raise PermissionError(13, "Permission denied", str(PointsFiles(log).store))

    follower.poll = broken
    updates = []
    watcher = RequestLogWatcher(log, updates.append, clock=lambda: NOW, interval=0.02, points=follower)
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while not any(u.points_error for u in updates):
            assert time.monotonic() < deadline, "the failure was never said"
            watcher.shown()
            time.sleep(0.02)
        failed = next(u for u in updates if u.points_error)
        assert "Permission denied" in failed.points_error and failed.model_points is None
        with log.open("a") as handle:  # requests are still followed
            handle.write(request(2, ts=NOW - 30).to_json() + "\n")
        while not any(r.id == "req-2" for u in updates for r in u.records):
            assert time.monotonic() < deadline, "requests stopped with the points"
            watcher.shown()
            time.sleep(0.02)
    finally:
        watcher.close()


def test_a_pool_key_is_stored_under_its_own_variable(tmp_path: Path) -> None:
    from claude_poe_tui.control.keys import store_pool_key
    from claude_poe_tui.secrets import read_dotenv

    path = write_config(tmp_path, poe_base_url=OFFLINE_POE,
                        dotenv={"LITELLM_MASTER_KEY": "sk-m", "POE_KEY_A": "poe-old-a-0123", "POE_KEY_B": "poe-b-0123"})
    path.write_text(path.read_text().replace('api_key = "env:POE_API_KEY"', 'api_keys = ["env:POE_KEY_A", "env:POE_KEY_B"]'))
    config = load_config(path, environ={})
    before = path.read_text()
    environ: dict[str, str] = {}
    stored = store_pool_key(config, describe_pool(config, environ)[0], "poe-new-a-4567", environ=environ)
    assert read_dotenv(path.parent / ".env") == {"LITELLM_MASTER_KEY": "sk-m", "POE_KEY_A": "poe-new-a-4567",
                                                  "POE_KEY_B": "poe-b-0123"}
    assert "pool key 1 stored as POE_KEY_A" in stored.what and path.read_text() == before  # no key in the config
    with pytest.raises(Exception, match="must not be empty"):
        store_pool_key(config, describe_pool(config, environ)[1], "  ", environ=environ)
