"""Points per request against a real proxy child and the stand-in Poe's history.

The proxy records requests; a :class:`PointsService` (as the proxy child or the dashboard runs it)
estimates them, polls the stand-in's ``/usage/points_history`` and ``/usage/current_balance``,
matches, keeps the store and the summary, and checks budgets. This module runs its own stand-in,
so the history holds only its requests.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import POE_KEY, PoeStandin, RunningProxy, free_port, read_records, start_proxy, start_standin
from poe_standin import CATALOG

from claude_poe_tui.config import load_config
from claude_poe_tui.points.budget import BudgetName
from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.ledger import PointsStore
from claude_poe_tui.points.model import PointsKind
from claude_poe_tui.compiler import compile_points_settings
from claude_poe_tui.points.service import PointsService, PointsSettings, Role
from claude_poe_tui.points.summary import read_summary
from claude_poe_tui.poe.catalog import Catalog

pytestmark = pytest.mark.proxy

CLAUDE = "claude-sonnet-4-5-20250929"  # -> Claude-Sonnet-4.5 (messages route)
CHAT = "claude-haiku-4-5-20251001"  # -> GPT-4o (chat route)


@pytest.fixture(scope="module")
def own_poe() -> Iterator[PoeStandin]:
    standin = start_standin()
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


@pytest.fixture(scope="module")
def metered(own_poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    # The proxy keeps no points itself: each test runs the points service it examines.
    running = start_proxy(tmp_path_factory.mktemp("points"), own_poe, extra="\n[log]\npoints = false\n")
    yield running
    running.process.stop()


def settings_for(proxy: RunningProxy, *, base_url: str | None = None, **budget: float) -> PointsSettings:
    config = load_config(proxy.config_path)
    data = compile_points_settings(config, proxy.request_log, Catalog.from_entries(CATALOG))
    data["budget"].update(budget)
    if base_url:
        data["poe_base_url"] = base_url
    return PointsSettings.from_json(data)


def fresh_log(proxy: RunningProxy) -> None:
    """Each test starts with no points store or summary (the request log is the proxy's own)."""
    files = PointsFiles(proxy.request_log)
    for path in (files.store, files.summary):
        path.unlink(missing_ok=True)


def ask(proxy: RunningProxy, session: str, model: str = CLAUDE, text: str = "Say hello") -> None:
    client = proxy.anthropic(default_headers={"x-claude-code-session-id": session})
    client.messages.create(model=model, max_tokens=50, messages=[{"role": "user", "content": text}])


def wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def session_lines(service: PointsService, session: str) -> list:
    return [line for line in service.ledger.open_lines() if line.session == session]


def history(poe: PoeStandin) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"starting_after": after} if after else {})}
        page = httpx.get(f"{poe.url}/usage/points_history", params=params,
                         headers={"authorization": f"Bearer {POE_KEY}"}).json()
        entries.update({e["query_id"]: e for e in page["data"]})
        if not page["has_more"]:
            return entries
        after = page["data"][-1]["query_id"]


def statusline(proxy: RunningProxy, session: str, model: str = CLAUDE) -> subprocess.CompletedProcess[str]:
    stdin = json.dumps({"session_id": session, "model": {"id": model, "display_name": "Sonnet"},
                        "workspace": {"current_dir": "/tmp"}, "cost": {"total_cost_usd": 0.01}})
    script = Path(sys.executable).parent / "claude-poe-tui"
    return subprocess.run([str(script), "statusline", "--log", str(proxy.request_log)], input=stdin,
                          capture_output=True, text=True, timeout=30)


def test_points_per_request_come_from_poes_history(metered: RunningProxy, own_poe: PoeStandin) -> None:
    fresh_log(metered)
    session = f"session-{uuid.uuid4()}"
    seen = len(read_records(metered.request_log))
    ask(metered, session, CLAUDE)
    ask(metered, session, CHAT, "Say hello to the chat route")
    records = read_records(metered.request_log, at_least=seen + 2)[seen:]
    service = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=1.0)
    service.start_thread()
    try:
        wait_for(lambda: len(session_lines(service, session)) == 2
                 and all(line.kind is PointsKind.EXACT for line in session_lines(service, session)),
                 what="both requests matched exactly")
        ask(metered, session, CLAUDE, "And once more")  # while the poller runs: estimated at once, then exact
        wait_for(lambda: len(session_lines(service, session)) == 3, what="the third request")
        wait_for(lambda: all(line.kind is PointsKind.EXACT for line in session_lines(service, session)),
                 what="the third request matched")
        wait_for(lambda: not service._waiting, what="every request settled")
    finally:
        service.stop_thread()
    records = [r for r in read_records(metered.request_log) if r["session"] == session]
    spent = history(own_poe)
    for record in records:
        line = service.ledger.line(record["id"])
        assert line is not None and line.bot == record["poe_model"]
        (query_id,) = line.query_ids
        assert spent[query_id]["bot_name"] == record["poe_model"]
        # The stand-in charges 10 points plus the output tokens: Poe's figure, not an estimate.
        assert line.points == spent[query_id]["cost_points"] == 10 + record["output_tokens"]
    store = list(PointsStore(PointsFiles(metered.request_log).store).read())
    kinds = [(l.id, l.kind) for l in store if l.session == session]
    assert [k for i, k in kinds if i == records[-1]["id"]] == [PointsKind.ESTIMATED, PointsKind.EXACT]
    summary = read_summary(PointsFiles(metered.request_log).summary)
    totals = summary["sessions"][session]
    assert totals["points"] == sum(10 + r["output_tokens"] for r in records) and totals["estimated_requests"] == 0
    assert totals["last_bot"] == "Claude-Sonnet-4.5"
    assert summary["balance"]["points"] == httpx.get(
        f"{own_poe.url}/usage/current_balance", headers={"authorization": f"Bearer {POE_KEY}"}).json()[
        "current_point_balance"]
    assert summary["history"]["ok"] and summary["history"]["complete"]
    # Three exact matches taught the points rate for this workload.
    assert summary["rates"].get("*", [0, 0, 0])[2] >= 3
    line = statusline(metered, session)
    assert line.returncode == 0 and line.stderr == ""
    shown = line.stdout.strip()
    assert shown.startswith("Claude-Sonnet-4.5 · session ")
    assert f"session {totals['points']:,.0f} pts" in shown and "~" not in shown.split("·")[1]
    assert f"balance {summary['balance']['live']:,.0f}" in shown and " · p50 " in shown


def test_concurrent_requests_to_one_bot_are_ambiguous(metered: RunningProxy, own_poe: PoeStandin) -> None:
    fresh_log(metered)
    session = f"subagents-{uuid.uuid4()}"
    own_poe.fault(200, delay=0.5, count=2)  # both take half a second at Poe: they overlap
    workers = [threading.Thread(target=ask, args=(metered, session, CHAT, f"agent {i}")) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    service = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=1.0)
    service.start_thread()
    try:
        wait_for(lambda: len(session_lines(service, session)) == 2
                 and all(line.kind is PointsKind.AMBIGUOUS for line in session_lines(service, session)),
                 what="two ambiguous matches")
    finally:
        service.stop_thread()
    lines = session_lines(service, session)
    spent = history(own_poe)
    assert sum(line.points for line in lines) == sum(spent[q]["cost_points"] for l in lines for q in l.query_ids)
    assert len({q for l in lines for q in l.query_ids}) == 2


def test_budgets_refuse_once_reached(metered: RunningProxy) -> None:
    fresh_log(metered)
    session, other = f"budget-{uuid.uuid4()}", f"other-{uuid.uuid4()}"
    service = PointsService(settings_for(metered, session_points=10), POE_KEY, poll_seconds=0.2, close_grace=1.0)
    service.open()
    assert service.role is Role.WRITER and service.check(session) is None
    seen = len(read_records(metered.request_log))
    ask(metered, session)
    (record,) = read_records(metered.request_log, at_least=seen + 1)[seen:]
    from claude_poe_tui.requestlog.record import RequestRecord

    service.on_record(RequestRecord.from_dict(record))  # as the gateway will: estimated at once
    assert service.ledger.session(session).estimated_requests == 1
    assert service.check(session) is None  # the catalog's estimate for a few tokens: ~1.5 points
    with httpx.Client() as client:
        service.poll_once(client)
    refusal = service.check(session)  # Poe's history: 10 + 3 output tokens
    assert refusal is not None and refusal.budget is BudgetName.SESSION and refusal.status == 402
    assert "session_points = 10" in refusal.message and "spent 13 Poe points" in refusal.message and str(metered.config_path) in refusal.message
    assert service.check(other) is None and service.check(None) is None

    low = PointsService(settings_for(metered, min_balance=2_000_000), POE_KEY, poll_seconds=0.2)
    low.role = Role.READER  # a second service on the same log only reads; give it its own balance
    with httpx.Client() as client:
        low.api and setattr(low, "balance", low.api.balance(client))
    low.balance_at = time.time()
    refusal = low.check(session)
    assert refusal is not None and refusal.budget is BudgetName.MIN_BALANCE and "min_balance = 2,000,000" in refusal.message
    service._release_lock()


def test_unreachable_poe_leaves_estimates_marked_as_such(metered: RunningProxy) -> None:
    fresh_log(metered)
    session = f"offline-{uuid.uuid4()}"
    ask(metered, session)
    service = PointsService(settings_for(metered, base_url=f"http://127.0.0.1:{free_port()}/v1"), POE_KEY,
                            poll_seconds=0.2, close_grace=1.0)
    service.start_thread()
    try:
        wait_for(lambda: service.polls, what="a poll")
        wait_for(lambda: read_summary(PointsFiles(metered.request_log).summary) is not None, what="the summary")
    finally:
        service.stop_thread()
    (line,) = session_lines(service, session)
    assert line.kind is PointsKind.ESTIMATED and line.points and line.points > 0  # the catalog's price
    summary = read_summary(PointsFiles(metered.request_log).summary)
    assert not summary["history"]["ok"] and "cannot reach Poe" in summary["history"]["error"]
    assert summary["balance"]["points"] is None and "cannot reach Poe" in summary["balance"]["error"]
    assert summary["sessions"][session]["estimated_requests"] == 1
    assert service.polls[-1].history_error and service._failures >= 1  # backing off
    shown = statusline(metered, session).stdout
    assert "session ~" in shown and "history unreadable" in shown


def test_malformed_history_then_recovery(metered: RunningProxy, own_poe: PoeStandin) -> None:
    fresh_log(metered)
    session = f"malformed-{uuid.uuid4()}"
    ask(metered, session)
    own_poe.fault(200, path="/usage/points_history", body="<html>maintenance</html>")
    own_poe.fault(200, path="/usage/points_history", body='{"data": "soon"}')
    service = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=1.0)
    service.open()
    with httpx.Client() as client:
        first = service.poll_once(client)
        assert first.history_error and "not JSON" in first.history_error
        assert session_lines(service, session)[0].kind is PointsKind.ESTIMATED
        second = service.poll_once(client)
        assert second.history_error and "no 'data' list" in second.history_error
        assert service.summary()["history"]["ok"] is False
        third = service.poll_once(client)
    assert third.history_error is None
    (line,) = session_lines(service, session)
    assert line.kind is PointsKind.EXACT
    service._release_lock()


def test_polls_only_while_requests_flow(metered: RunningProxy, own_poe: PoeStandin) -> None:
    fresh_log(metered)
    session = f"idle-{uuid.uuid4()}"
    served = [0]
    from claude_poe_tui.points.service import traffic_since_last_call

    service = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.3, close_grace=0.5)
    service.start_thread(traffic_since_last_call(lambda: served[0]))
    try:
        wait_for(lambda: service.polls, what="the first poll (the balance)")
        time.sleep(1.0)
        own_poe.clear()
        time.sleep(1.5)  # idle: nothing asked of Poe
        assert [r for r in own_poe.requests() if r["path"].startswith("/usage")] == []
        for _ in range(3):
            ask(metered, session)
            served[0] += 1
            time.sleep(0.5)
        wait_for(lambda: len(session_lines(service, session)) == 3 and not service._waiting, what="settled")
        asked = [r for r in own_poe.requests() if r["path"].startswith("/usage")]
        assert asked and len(asked) <= 2 * (len(service.polls) + 1)  # a balance and a page or so each poll
        time.sleep(0.5)
        own_poe.clear()
        time.sleep(1.5)
        assert [r for r in own_poe.requests() if r["path"].startswith("/usage")] == []
    finally:
        service.stop_thread()
    assert all(line.kind is PointsKind.EXACT for line in session_lines(service, session))


async def test_the_poller_runs_as_an_asyncio_task(metered: RunningProxy) -> None:
    fresh_log(metered)
    session = f"async-{uuid.uuid4()}"
    service = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=0.5)
    await service.astart()
    try:
        assert service.role is Role.WRITER
        await asyncio.to_thread(ask, metered, session)
        deadline = time.monotonic() + 30
        while not (session_lines(service, session) and session_lines(service, session)[0].kind is PointsKind.EXACT):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await service.astop()
    assert service._task is None and service._lock_fd is None
    assert read_summary(PointsFiles(metered.request_log).summary)["sessions"][session]["requests"] == 1


def test_one_writer_and_readers_that_take_over(metered: RunningProxy) -> None:
    fresh_log(metered)
    session = f"workers-{uuid.uuid4()}"
    writer = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=0.5)
    reader = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=0.5)
    assert writer.open() is Role.WRITER and reader.open() is Role.READER
    ask(metered, session)
    with httpx.Client() as client:
        writer.follow_log()
        writer.poll_once(client)
    reader._refresh(force=True)
    (line,) = session_lines(reader, session)
    assert line.kind is PointsKind.EXACT and reader.ledger.session(session).points == line.points
    reader.poll_once  # readers never poll:
    assert not reader.poll_due()
    writer._release_lock()
    reader._last_promote = 0
    reader._maybe_promote()
    assert reader.role is Role.WRITER and reader.ledger.session(session).points == line.points
    reader._release_lock()


def test_a_restart_reads_only_what_is_new(metered: RunningProxy, own_poe: PoeStandin) -> None:
    fresh_log(metered)
    own_poe.spend("GPT-5", 7, usage_type="Chat", when=time.time() - 3600, count=250)  # an hour ago: 3 pages
    own_poe.clear()
    first = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=0.5)
    first.open()
    with httpx.Client() as client:
        first.poll_once(client)
    first.write_summary()
    first._release_lock()
    pages = [r for r in own_poe.requests() if r["path"] == "/usage/points_history"]
    assert len(pages) == 1  # nothing waits for points: no need to read the hour-old pages
    own_poe.spend("GPT-5", 7, count=150)  # another API client of the account, just now
    own_poe.clear()
    again = PointsService(settings_for(metered), POE_KEY, poll_seconds=0.2, close_grace=0.5)
    again.open()
    assert again.sync.watermark == first.sync.watermark  # its place in the history survived the restart
    with httpx.Client() as client:
        report = again.poll_once(client)
    pages = [r for r in own_poe.requests() if r["path"] == "/usage/points_history"]
    assert len(pages) == 2 and report.requests_to_poe == 3  # the 150 new entries, not the 250 old ones
    assert again.sync.watermark > first.sync.watermark
    again._release_lock()
