"""Per-member points budgets (``[[clients]] daily_points`` / ``session_points``): the config, the
ledger's points per member and day, the check, and a real proxy child refusing one member while the
master key and another member are served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy, start_proxy
from test_config import assert_refused, write
from test_points_service import wait_for

from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.points import ledger as ledger_module
from claude_poe_tui.points.budget import BudgetLimits, BudgetName, MemberLimits, check_budgets
from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.ledger import Ledger, PointsStore, day_of
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.compiler import compile_points_settings
from claude_poe_tui.points.service import PointsService, PointsSettings
from claude_poe_tui.points.summary import read_summary
from claude_poe_tui.requestlog.record import RequestRecord

OFFLINE = "http://127.0.0.1:9/v1"
PRICES = {"gpt-4o": [0.0000025, 0.00001]}  # 1,200 + 80 tokens: ~127 points at the starting rate

MEMBERS = """\
[budget]
daily_points = 50000

[[clients]]
name = "alice"
key = "env:ALICE_TOKEN"
daily_points = 1000

[[clients]]
name = "bob"
key = "env:BOB_TOKEN"
session_points = 300
"""


# --- the config -----------------------------------------------------------------------------------


def test_member_budgets_load_and_reach_the_points_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MEMBERS), environ={})
    alice, bob = config.clients
    assert (alice.daily_points, alice.session_points) == (1000, None)
    assert (bob.daily_points, bob.session_points) == (None, 300)
    limits = BudgetLimits.from_settings(config.budget, config.clients)
    assert limits.members == {"alice": MemberLimits(daily_points=1000), "bob": MemberLimits(session_points=300)}
    assert limits.daily_points == 50000 and limits.member(None) is None and limits.member("carol") is None
    # What the proxy child is given (start and reload), and read back there.
    sent = compile_points_settings(config, tmp_path / "requests.jsonl")
    assert sent["budget"]["members"]["alice"] == {"session_points": None, "daily_points": 1000}
    assert PointsSettings.from_json(json.loads(json.dumps(sent))).budget == limits
    # Members without budgets of their own: nothing for them, and [budget] alone still counts.
    plain = load_config(write(tmp_path, MEMBERS.replace("daily_points = 1000\n", "").replace("session_points = 300\n", "")),
                        environ={})
    assert BudgetLimits.from_settings(plain.budget, plain.clients).members == {}


@pytest.mark.parametrize(
    "change,line,key,words",
    [
        (("daily_points = 1000", "daily_points = 0"), 7, "clients[0].daily_points", "more than 0 points"),
        (("daily_points = 1000", "daily_points = -3"), 7, "clients[0].daily_points", "more than 0 points"),
        (("daily_points = 1000", 'daily_points = "lots"'), 7, "clients[0].daily_points", "must be a number"),
        (("daily_points = 1000", "daily_points = true"), 7, "clients[0].daily_points", "must be a number"),
        (("session_points = 300", "session_points = 0"), 12, "clients[1].session_points", "more than 0 points"),
        (("daily_points = 1000", "daily_point = 1000"), 7, "clients[0].daily_point", "did you mean 'daily_points'"),
        (("[budget]\ndaily_points = 50000\n", "[log]\npoints = false\n"), 2, "log.points",
         "members' daily_points or session_points"),
    ],
)
def test_bad_member_budgets_name_file_line_and_key(tmp_path: Path, change: tuple[str, str], line: int, key: str,
                                                   words: str) -> None:
    text = MEMBERS.replace(*change, 1)
    assert text != MEMBERS
    assert_refused(tmp_path, text, line, key, words)


# --- the ledger -----------------------------------------------------------------------------------


def test_the_ledger_counts_points_per_member_per_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = time.time()
    day = day_of(t)
    alice = PointsLine("r1", t, t + 1, "s1", "m", "GPT-4o", 100.0, PointsKind.ESTIMATED, (), t + 1, member="alice")
    bob = PointsLine("r2", t, t + 1, "s2", "m", "GPT-4o", 40.0, PointsKind.EXACT, ("q1",), t + 1, member="bob")
    master = PointsLine("r3", t, t + 1, "s3", "m", "GPT-4o", 500.0, PointsKind.EXACT, ("q2",), t + 1)
    exact = replace(alice, points=130.0, kind=PointsKind.EXACT, query_ids=("q3",), at=t + 20, was=alice.figures)
    store = PointsStore(tmp_path / "requests.points.jsonl")
    store.append([alice, bob, master])
    store.append([exact])
    assert '"member":"alice"' in store.path.read_text() and '"member"' not in master.to_json()

    ledger = Ledger()
    ledger.apply_all(store.read())
    assert ledger.member_day("alice", day).points == 130 and not ledger.member_day("alice", day).is_estimated
    assert ledger.member_day("bob", day).points == 40 and ledger.member_day("bob", day).requests == 1
    assert ledger.member_day("carol", day).points == 0 and ledger.day(day).points == 670  # the master key's too
    assert set(ledger.members[day]) == {"alice", "bob"}  # the master key is no member
    # A reader that follows the store line by line gets the same, with the estimate replaced.
    follower = Ledger()
    for line in store.read():
        follower.apply(line)
    assert follower.member_day("alice", day).points == 130
    # Compaction keeps the member.
    store.compact(t + 30)
    again = Ledger()
    again.apply_all(store.read())
    assert (again.member_day("alice", day).points, again.member_day("bob", day).points) == (130, 40)

    # Bounded: members beyond the cap share one figure; days beyond MAX_DAYS are let go.
    monkeypatch.setattr(ledger_module, "MAX_MEMBERS_PER_DAY", 3)
    capped = Ledger()
    for i in range(10):
        capped.apply(PointsLine(f"c{i}", t, t + 1, None, "m", "GPT-4o", 1.0, PointsKind.EXACT, (), t + 1,
                                member=f"m{i}"))
    assert len(capped.members[day]) == 4
    assert capped.member_day("m0", day).points == 1 and capped.member_day("m9", day).points == 7
    old = t - 50 * 86400
    for i in range(50):
        at = old + i * 86400
        capped.apply(PointsLine(f"d{i}", at, at + 1, None, "m", "GPT-4o", 1.0, PointsKind.EXACT, (), at + 1,
                                member="alice"))
    assert len(capped.members) <= ledger_module.MAX_DAYS


# --- the check ------------------------------------------------------------------------------------


def test_a_members_budget_refuses_that_member_only() -> None:
    limits = BudgetLimits(daily_points=1e6, members={"alice": MemberLimits(daily_points=1000),
                                                     "bob": MemberLimits(session_points=300)})
    assert check_budgets(limits, session_points=10, day_points=5000, member="alice", member_day_points=999) is None
    over = check_budgets(limits, session_points=10, day_points=5000, member="alice", member_day_points=1000.4,
                         member_day_estimated=True, config_path="/etc/team/config.toml")
    assert over is not None and over.budget is BudgetName.MEMBER_DAILY and over.status == 402
    assert over.anthropic_body()["error"]["type"] == "billing_error"
    assert "member 'alice' has spent about 1,000 Poe points today" in over.message
    assert "daily_points = 1,000 in the [[clients]] entry named 'alice'" in over.message
    assert "Raise daily_points in that entry of /etc/team/config.toml" in over.message
    assert over.to_json()["member"] == "alice" and over.to_json()["budget"] == "member_daily_points"
    # The master key and a member without a budget of their own: no member budget.
    assert check_budgets(limits, session_points=10, day_points=5000, member=None, member_day_points=1e9) is None
    assert check_budgets(limits, session_points=10, day_points=5000, member="carol", member_day_points=1e9) is None
    # A member's session budget counts the session's points.
    session = check_budgets(limits, session_points=300, day_points=5000, member="bob")
    assert session is not None and session.budget is BudgetName.MEMBER_SESSION
    assert "session_points = 300 in the [[clients]] entry named 'bob'" in session.message
    assert check_budgets(limits, session_points=300, day_points=5000, member="alice") is None
    # [budget] still holds for everyone, members included.
    team = check_budgets(limits, session_points=1, day_points=1e6, member="alice", member_day_points=1)
    assert team is not None and team.budget is BudgetName.DAILY
    # Figures from elsewhere that are not budgets are dropped, never half taken.
    odd = BudgetLimits.from_json({"members": {"x": {"daily_points": 0}, "y": {"daily_points": "a"}, "z": 5, "w": {}}})
    assert odd.members == {} and not odd.any


def record(member: str | None, session: str, ts: float, request_id: str) -> RequestRecord:
    return RequestRecord(ts=ts, id=request_id, session=session, method="POST", path="/v1/messages", model="gpt-4o",
                         poe_model="GPT-4o", route="chat", stream=True, status=200, error_type=None,
                         error_message=None, latency_ms=400.0, ttft_ms=50.0, input_tokens=1200, output_tokens=80,
                         member=member)


def test_the_service_checks_each_members_own_day(tmp_path: Path) -> None:
    now = time.time()
    log = tmp_path / "requests.jsonl"
    settings = PointsSettings(request_log=str(log), poe_base_url=OFFLINE, prices=PRICES, config_path="/x/config.toml",
                              budget=BudgetLimits(members={"alice": MemberLimits(daily_points=100)}))
    service = PointsService(settings, None, clock=lambda: now)
    service.open()
    try:
        assert service.check("s-a", "alice") is None
        service.on_record(record("alice", "s-a", now - 2, "r-a1"))
        refusal = service.check("s-a", "alice")
        assert refusal is not None and refusal.budget is BudgetName.MEMBER_DAILY and refusal.estimated
        assert refusal.figure > 100 and "/x/config.toml" in refusal.message
        assert service.check("s-a", None) is None  # the master key, in that same session
        assert service.check("s-b", "bob") is None
        service.on_record(record("bob", "s-b", now - 1, "r-b1"))
        service.write_summary()
        summary = read_summary(PointsFiles(log).summary)
        assert summary["members_today"]["alice"]["points"] == round(refusal.figure, 1)
        assert set(summary["members_today"]) == {"alice", "bob"}
        gauge = summary["budget_status"]["member_daily_points"]
        assert list(gauge) == ["alice"] and gauge["alice"]["limit"] == 100 and gauge["alice"]["estimated"]
        # The dashboard's Sessions pane shows it under the budgets, as the summary has it.
        from claude_poe_tui.ui.panes.sessions import budget_lines

        shown = budget_lines(None, summary, []).plain
        spent = f"{refusal.figure:,.0f}"
        assert f"Members today  alice ~{spent}/100 " in shown, shown
        assert "bob" not in shown.split("Members today")[1]  # no budget of his own: not a gauge
        # A reload raises the budget: it holds from the next check.
        service.set_budget(BudgetLimits(members={"alice": MemberLimits(daily_points=1e9)}))
        assert service.check("s-a", "alice") is None
        service.set_budget(settings.budget)
    finally:
        service._release_lock()
    # A restart reads the store back: the member's day is still counted.
    restarted = PointsService(settings, None, clock=lambda: now)
    restarted.open()
    try:
        again = restarted.check("s-c", "alice")
        assert again is not None and again.budget is BudgetName.MEMBER_DAILY
        assert restarted.check("s-c", "bob") is None
    finally:
        restarted._release_lock()


# --- a real proxy child ---------------------------------------------------------------------------

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef00"
HEADERS = {"anthropic-version": "2023-06-01"}


def ask(proxy: RunningProxy, key: str) -> httpx.Response:
    return httpx.post(f"{proxy.url}/v1/messages", headers={**HEADERS, "x-api-key": key}, timeout=30,
                      json={"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})


def ask_until_refused(proxy: RunningProxy, key: str, tries: int = 5) -> list[httpx.Response]:
    """A refusal may come one request late (the first request's points are known once it ends)."""
    answers = []
    for _ in range(tries):
        answers.append(ask(proxy, key))
        if answers[-1].status_code != 200:
            break
    return answers


def members_block(alice_budget: float | None, bob_budget: float | None) -> str:
    text = ""
    for name, budget in (("alice", alice_budget), ("bob", bob_budget)):
        text += f'\n[[clients]]\nname = "{name}"\nkey = "env:{name.upper()}_TOKEN"\n'
        if budget is not None:
            text += f"daily_points = {budget}\n"
    return text


@pytest.mark.proxy
def test_a_member_over_their_daily_points_gets_402_while_others_are_served(tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.poe.catalog import parse_models_response, save_cache

    state = tmp_path / "state"
    state.mkdir()
    # Poe's catalog, as `init` caches it: the gateway estimates each request's points from its prices.
    entries = parse_models_response(httpx.get(f"{poe.base_url}/models").json())
    save_cache(state / "poe-models.json", entries, source=poe.base_url)
    dotenv = {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY, "ALICE_TOKEN": ALICE, "BOB_TOKEN": BOB}
    running = start_proxy(tmp_path, poe, models=(("gpt-4o", "GPT-4o"),), extra=members_block(1, None), dotenv=dotenv)
    try:
        pid = running.process.pid
        answers = ask_until_refused(running, ALICE)
        assert answers[0].status_code == 200 and answers[-1].status_code == 402, [a.status_code for a in answers]
        error = answers[-1].json()["error"]
        assert error["type"] == "billing_error"
        assert "member 'alice'" in error["message"] and "daily_points = 1 in the [[clients]] entry named 'alice'" \
            in error["message"] and str(running.config_path) in error["message"]
        # The chat route refuses her too, in OpenAI's shape.
        chat = httpx.post(f"{running.url}/v1/chat/completions", headers={"authorization": f"Bearer {ALICE}"},
                          timeout=30, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 402 and "daily_points" in chat.json()["error"]["message"]
        # The master key has no member budget; Bob has none of his own.
        assert ask(running, MASTER_KEY).status_code == 200
        assert ask(running, BOB).status_code == 200

        # Raise Alice's budget, give Bob a tiny one: applied by a reload, no restart.
        running.config_path.write_text(running.config_path.read_text().split("[[clients]]")[0].rstrip() + "\n"
                                       + members_block(1_000_000, 1))
        config = load_config(running.config_path)
        running.process.apply(config, resolve_secrets(config))
        assert running.process.pid == pid
        assert ask(running, ALICE).status_code == 200
        bob = ask_until_refused(running, BOB)
        assert bob[-1].status_code == 402 and "member 'bob'" in bob[-1].json()["error"]["message"]
        assert ask(running, MASTER_KEY).status_code == 200

        # stats --json: each member's points today and daily budget, from the summary the proxy keeps.
        summary_path = PointsFiles(running.request_log).summary

        def summary_has_bobs_budget() -> bool:
            summary = read_summary(summary_path) or {}
            return "bob" in (summary.get("budget_status") or {}).get("member_daily_points", {})

        wait_for(summary_has_bobs_budget, what="the summary to count with Bob's budget")
        stats = subprocess.run([sys.executable, "-m", "claude_poe_tui", "stats", "--json", "--config",
                                str(running.config_path)], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(running.state_dir)})
        members = json.loads(stats.stdout)["members"]
        assert members["alice"]["points_today"] > 0 and members["alice"]["daily_budget"] == 1_000_000
        assert members["bob"]["points_today"] > 0 and members["bob"]["daily_budget"] == 1
        assert "points_today" not in members["(master key)"]
        text = subprocess.run([sys.executable, "-m", "claude_poe_tui", "stats", "--config", str(running.config_path)],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(running.state_dir)}).stdout
        bob_line = next(line for line in text.splitlines() if line.strip().startswith("bob "))
        assert "today" in bob_line and bob_line.endswith("of 1 (daily_points)"), text
    finally:
        running.process.stop()
