"""A team member's budgets (``[[clients]] daily_points`` / ``session_points``) edited from the
dashboard's Sessions pane: the edit written into that one entry of a real config file (comments,
order and file mode kept), refused in the editor with the config's own error (file untouched),
cleared back to no limit, said plainly over a remote gateway, and taken by a real proxy child
without a restart."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx
import pytest
from textual.widgets import Input
from textual.widgets._toast import Toast

from claude_poe_tui.config import load_config
from claude_poe_tui.control.config import apply_budget_edit, apply_member_budget_edit
from claude_poe_tui.errors import ConfigError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.screens.budget_editor import BudgetEditorScreen
from conftest import MASTER_KEY, OFFLINE_POE, POE_KEY, PoeStandin, write_config
from test_dashboard_models import wait_for
from test_dashboard_points import MODELS, request
from test_dashboard_remote import remote
from test_untrusted_text import plain

ALICE_TOKEN = "alice-literal-token-5f3c9a71e2"  # written in the file itself: it must never show
MEMBERS = f"""
# The team: one entry per person.
[[clients]]
name = "alice"  # design
key = "{ALICE_TOKEN}"
# her own ceiling, agreed in November
daily_points = 1000  # per day
session_points = 400

[[clients]]
name = "bob"
key = "env:BOB_TOKEN"
daily_points = 700  # bob's
"""


def member_dashboard(tmp_path: Path) -> tuple[PoeTuiApp, Path]:
    """The dashboard (no proxy) over a 0600 config with two members, and a session of each plus one
    with the master key in the request log."""
    now = time.time()
    config = write_config(tmp_path / "config", poe_base_url=OFFLINE_POE, models=MODELS, extra=MEMBERS,
                          dotenv={"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY, "BOB_TOKEN": "bob-t0ken-9"})
    os.chmod(config, 0o600)
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    records = [request(1, now - 300, "gpt-5", "GPT-5", "sess-master"),
               request(2, now - 200, "gpt-5", "GPT-5", "sess-bob", member="bob"),
               request(3, now - 100, "gpt-5", "GPT-5", "sess-alice", member="alice")]
    (state / "requests.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    return PoeTuiApp(config, state_paths=StatePaths(state), start_proxy=False), config


async def select_session(pilot, app: PoeTuiApp, session: str) -> None:
    await pilot.press("6")
    table = app.query_one("#sessions-table")
    await wait_for(pilot, lambda: table.row_count == 3, timeout=15, what="three sessions")
    table.move_cursor(row=[str(table.cells_at(i)["session"]) for i in range(table.row_count)].index(session))
    await pilot.pause()


def shown_text(app: PoeTuiApp) -> str:
    """Every toast, and the dialog's text when one is open."""
    texts = [plain(t) for t in app.screen.query(Toast)]
    texts += [plain(s) for s in app.screen.query("Static")]
    texts += [w.value for w in app.screen.query(Input)]
    return "\n".join(texts)


# --- in the dashboard -----------------------------------------------------------------------------


async def test_a_members_budgets_are_edited_from_sessions_with_comments_kept(tmp_path: Path) -> None:
    app, config = member_dashboard(tmp_path)
    before = config.read_text()
    async with app.run_test(size=(160, 44), notifications=True) as pilot:
        await select_session(pilot, app, "sess-alice")
        assert "m: alice's budgets" in plain(app.query_one("#sessions-hint"))
        await pilot.press("m")
        editor = app.screen
        assert isinstance(editor, BudgetEditorScreen) and editor.member == "alice"
        assert "Budgets of member alice" in shown_text(app)
        assert "Saved to the [[clients]] entry named 'alice' in config.toml" in shown_text(app)
        assert editor.query_one("#budget-daily_points", Input).value == "1,000"
        assert editor.query_one("#budget-session_points", Input).value == "400"
        assert not editor.query("#budget-min_balance")  # [budget] alone has a balance to keep
        editor.query_one("#budget-daily_points", Input).value = "2.5k"
        editor.query_one("#budget-session_points", Input).value = "600"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, BudgetEditorScreen), timeout=15, what="the save")
        await wait_for(pilot, lambda: any("alice's budgets: daily_points 2,500, session_points 600" in plain(t)
                                          for t in app.screen.query(Toast)), timeout=10, what="the notice")
        assert ALICE_TOKEN not in shown_text(app)

        # Only her two lines changed; every comment, her key and Bob's entry are as they were.
        after = config.read_text()
        assert after == before.replace("daily_points = 1000  # per day", "daily_points = 2500  # per day").replace(
            "session_points = 400", "session_points = 600")
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        alice = next(c for c in app.config.clients if c.name == "alice")
        assert (alice.daily_points, alice.session_points, alice.key) == (2500, 600, ALICE_TOKEN)

        # Cleared: the line goes (no limit of her own), her other lines and Bob's daily_points stay.
        await pilot.press("m")
        app.screen.query_one("#budget-daily_points", Input).value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: "daily_points = 2500" not in config.read_text(), timeout=15, what="the clearing")
        cleared = config.read_text()
        assert cleared == after.replace("daily_points = 2500  # per day\n", "")
        assert "# her own ceiling, agreed in November\nsession_points = 600" in cleared
        assert "daily_points = 700  # bob's" in cleared
        reloaded = load_config(config, environ={})
        assert [(c.name, c.daily_points, c.session_points) for c in reloaded.clients] == [
            ("alice", None, 600), ("bob", 700, None)]
        await wait_for(pilot, lambda: not isinstance(app.screen, BudgetEditorScreen), timeout=10, what="closed")
        assert ALICE_TOKEN not in shown_text(app)


async def test_a_member_without_a_session_is_edited_from_keys(tmp_path: Path) -> None:
    """Sessions reach only members who sent a request; Keys lists every [[clients]] entry."""
    app, config = member_dashboard(tmp_path)
    config.write_text(config.read_text() + '\n[[clients]]\nname = "carol"\nkey = "carol-token-7d1e0b4a"\n')
    app = PoeTuiApp(config, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(160, 44), notifications=True) as pilot:
        await pilot.press("2")
        table = app.query_one("#keys-table")
        await wait_for(pilot, lambda: table.row_count == 5, timeout=10, what="the keys and three members")
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=labels.index("member carol"))
        await pilot.pause()
        assert "enter: their budgets" in plain(app.query_one("#keys-selected"))
        await pilot.press("enter")
        assert isinstance(app.screen, BudgetEditorScreen) and app.screen.member == "carol"
        assert app.screen.query_one("#budget-daily_points", Input).value == ""  # no limit of her own yet
        app.screen.query_one("#budget-daily_points", Input).value = "3000"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, BudgetEditorScreen), timeout=15, what="the save")
        assert [(c.name, c.daily_points) for c in load_config(config, environ={}).clients][-1] == ("carol", 3000)
        assert "carol-token-7d1e0b4a" not in shown_text(app)


@pytest.mark.parametrize(("typed", "size"), [("0", (160, 44)), ("-5", (80, 24))])
async def test_a_refused_member_budget_is_said_in_the_editor_and_nothing_is_written(
        tmp_path: Path, typed: str, size: tuple[int, int]) -> None:
    app, config = member_dashboard(tmp_path)
    before = config.read_bytes()
    async with app.run_test(size=size, notifications=True) as pilot:
        await select_session(pilot, app, "sess-bob")
        await pilot.press("m")
        editor = app.screen
        assert isinstance(editor, BudgetEditorScreen) and editor.member == "bob"
        editor.query_one("#budget-daily_points", Input).value = typed
        await pilot.press("enter")
        message = editor.query_one("#budget-message")
        await wait_for(pilot, lambda: "more than 0 points" in plain(message), timeout=15, what="the refusal")
        # The loader's own error: file, line, key, as when the file itself says so.
        line = before.decode().splitlines().index("daily_points = 700  # bob's") + 1
        assert plain(message).startswith(f"{config}:{line}: clients[1].daily_points: "), plain(message)
        await pilot.pause()
        # In sight, whole, even where the dialog scrolls (80x24): it sits below the fields.
        assert editor.query_one("#budget-editor").content_region.contains_region(message.region)
        assert app.screen is editor  # still open, the value kept to be corrected
        assert editor.query_one("#budget-daily_points", Input).value == typed
        assert config.read_bytes() == before
        assert ALICE_TOKEN not in shown_text(app)

        # Corrected in the same dialog: saved, and the dialog closes.
        editor.query_one("#budget-daily_points", Input).value = "800"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not editor, timeout=15, what="the save")
        assert "daily_points = 800  # bob's" in config.read_text()


async def test_the_member_key_says_what_it_cannot_do(tmp_path: Path) -> None:
    app, config = member_dashboard(tmp_path)
    before = config.read_bytes()
    async with app.run_test(size=(160, 44), notifications=True) as pilot:
        await select_session(pilot, app, "sess-master")
        assert "m:" not in plain(app.query_one("#sessions-hint"))
        await pilot.press("m")
        assert not isinstance(app.screen, BudgetEditorScreen)
        await wait_for(pilot, lambda: any("Select a session of a team member" in plain(t)
                                          for t in app.screen.query(Toast)), timeout=5, what="the notice")
    assert config.read_bytes() == before


async def test_over_a_remote_gateway_the_member_key_says_where_they_are_edited(tmp_path: Path) -> None:
    app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote("http://127.0.0.1:9"))
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await pilot.press("6", "m")
        await wait_for(pilot, lambda: any("edited in its own config, on its machine" in plain(t)
                                          for t in app.screen.query(Toast)), timeout=5, what="the notice")
        assert not isinstance(app.screen, BudgetEditorScreen)
        entries = {entry.plain.strip(): key for entry, key in app.query_one("#keys-bar")._entries()}
        assert entries["m Member's budgets"] == "m"  # enabled: pressed, it says so


# --- the edit itself ------------------------------------------------------------------------------

BEFORE_MODELS = """\
# team gateway
[proxy]
port = 4000  # fixed

[[clients]]
name = "alice"
key = "env:ALICE_TOKEN"  # hers
# bob: no budget yet
[[clients]]
name = "bob"
key = "env:BOB_TOKEN"

# the mappings
[[models]]
name = "gpt-5"
poe_model = "GPT-5"
"""


def test_the_edit_touches_one_entry_wherever_the_entries_are(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BEFORE_MODELS)
    config = apply_member_budget_edit(path, "bob", {"daily_points": 1500.0, "session_points": None})
    assert path.read_text() == BEFORE_MODELS.replace('key = "env:BOB_TOKEN"\n',
                                                     'key = "env:BOB_TOKEN"\ndaily_points = 1500\n')
    assert [c.daily_points for c in config.clients] == [None, 1500]
    # [budget] edits of a file whose [[clients]] come before [[models]] keep the comment above the
    # mappings where it was (a blank line used to be slipped in between).
    apply_budget_edit(path, {"daily_points": 9000.0})
    assert "\n# the mappings\n[[models]]\n" in path.read_text()

    # Written inline: edited where it is.
    path.write_text('clients = [{ name = "carol", key = "env:CAROL_TOKEN", daily_points = 5 }]\n' + BEFORE_MODELS
                    .split("[[clients]]")[0])
    apply_member_budget_edit(path, "carol", {"daily_points": None, "session_points": 30.0})
    assert load_config(path, environ={}).clients[0].session_points == 30
    assert "daily_points" not in path.read_text()

    # A member no longer in the file: said, nothing written.
    text = path.read_bytes()
    with pytest.raises(ConfigError, match="no \\[\\[clients\\]\\] entry named 'dave'"):
        apply_member_budget_edit(path, "dave", {"daily_points": 1.0})
    assert path.read_bytes() == text


# --- a real proxy child ---------------------------------------------------------------------------

ALICE = "alice-token-0123456789abcdef"


@pytest.mark.proxy
async def test_a_member_budget_lowered_in_the_dashboard_refuses_their_next_request(tmp_path: Path,
                                                                                   poe: PoeStandin) -> None:
    from claude_poe_tui.poe.catalog import parse_models_response, save_cache

    state = tmp_path / "state"
    state.mkdir()
    # Poe's catalog, as `init` caches it: the gateway estimates each request's points from its prices.
    save_cache(state / "poe-models.json", parse_models_response(httpx.get(f"{poe.base_url}/models").json()),
               source=poe.base_url)
    config = write_config(tmp_path / "config", poe_base_url=poe.base_url, models=(("gpt-4o", "GPT-4o"),),
                          extra='\n[[clients]]\nname = "alice"\nkey = "env:ALICE_TOKEN"\ndaily_points = 1000000\n',
                          dotenv={"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY, "ALICE_TOKEN": ALICE})
    app = PoeTuiApp(config, state_paths=StatePaths(state))

    def ask(key: str) -> httpx.Response:
        return httpx.post(f"{app.session.url}/v1/messages", timeout=30, json={
            "model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": key, "anthropic-version": "2023-06-01", "x-claude-code-session-id": "s-alice"})

    def counted_with() -> float | None:
        members = ((app.points_summary or {}).get("budget") or {}).get("members") or {}
        return (members.get("alice") or {}).get("daily_points")

    async with app.run_test(size=(160, 44), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.session.state is ProxyState.RUNNING,
                       what="the proxy")
        pid = app.session.pid
        assert ask(ALICE).status_code == 200  # her session, under her name, in Sessions
        await pilot.press("6")
        table = app.query_one("#sessions-table")
        await wait_for(pilot, lambda: table.row_count == 1 and str(table.cells_at(0)["member"]) == "alice",
                       timeout=20, what="her session")
        await pilot.press("m")
        assert isinstance(app.screen, BudgetEditorScreen)
        app.screen.query_one("#budget-daily_points", Input).value = "1"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "daily_points = 1\n" in config.read_text(), timeout=30, what="the budget saved")
        await wait_for(pilot, lambda: not isinstance(app.screen, BudgetEditorScreen), timeout=30, what="applied")
        await wait_for(pilot, lambda: any("applied to the proxy" in plain(t) for t in app.screen.query(Toast)),
                       timeout=10, what="the notice")  # (shown just after the dialog closes)
        # The running proxy counts with it, and refuses her next request: no restart.
        await wait_for(pilot, lambda: counted_with() == 1, timeout=20, what="the proxy counting with her new budget")
        refused = ask(ALICE)
        assert refused.status_code == 402, refused.text
        error = refused.json()["error"]
        assert error["type"] == "billing_error"
        assert "daily_points = 1 in the [[clients]] entry named 'alice'" in error["message"]
        assert ask(MASTER_KEY).status_code == 200  # the master key has no member budget
        assert app.session.pid == pid and app.session.state is ProxyState.RUNNING
        await pilot.press("ctrl+q")
