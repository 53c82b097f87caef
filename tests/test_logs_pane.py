"""The Logs pane keeps its newest ROWS_KEPT requests, follows the newest, and pauses when moved up."""

from __future__ import annotations

from textual.app import App, ComposeResult

from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.panes import logs
from claude_poe_tui.ui.panes.logs import LogsPane


def record(n: int) -> RequestRecord:
    return RequestRecord(
        ts=1_800_000_000.0 + n, id=f"req-{n}", session=None, method="POST", path="/v1/messages",
        model="claude-sonnet-5", poe_model="Claude-Sonnet-5", route="messages", stream=False,
        status=200 if n % 10 else 500, error_type=None if n % 10 else "api_error", error_message=None,
        latency_ms=100.0 + n, ttft_ms=None, input_tokens=1, output_tokens=1,
    )


class LogsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogsPane()


def ids(pane: LogsPane) -> list[str]:
    return [pane.table.record_at(row).id for row in range(pane.table.row_count)]


async def test_the_newest_rows_are_kept_followed_and_paused(monkeypatch) -> None:
    monkeypatch.setattr(logs, "ROWS_KEPT", 50)
    app = LogsApp()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(LogsPane)
        table = pane.table
        table.focus()
        pane.add_records([record(n) for n in range(40)])
        pane.add_records([record(n) for n in range(40, 75)])  # 25 too many: the oldest go
        await pilot.pause()
        assert ids(pane) == [f"req-{n}" for n in range(25, 75)]
        assert table.cursor_row == 49 and pane.following  # at the newest
        assert table.scroll_y == table.max_scroll_y  # and it is on screen

        await pilot.press("up", "up")
        assert table.cursor_row == 47 and not pane.following
        pane.add_records([record(n) for n in range(75, 80)])
        await pilot.pause()
        # Paused: the cursor stays on its request while old rows go under it.
        assert table.record_at(table.cursor_row).id == "req-72"
        assert pane.unseen == 5 and "5 new requests" in str(pane.query_one("#logs-status").render())

        await pilot.press("G")
        assert pane.following and table.record_at(table.cursor_row).id == "req-79"

        pane.add_records([record(n) for n in range(80, 200)])  # more than the pane keeps
        await pilot.pause()
        assert ids(pane) == [f"req-{n}" for n in range(150, 200)]

        await pilot.press("slash", *"status:5xx", "enter")
        assert ids(pane) == ["req-150", "req-160", "req-170", "req-180", "req-190"]
        await pilot.press("home", "enter")
        assert app.screen.record.id == "req-150"


async def test_a_key_that_moves_up_is_not_undone_by_rows_already_on_their_way() -> None:
    app = LogsApp()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(LogsPane)
        pane.table.focus()
        pane.add_records([record(n) for n in range(30)])
        await pilot.pause()
        pane.table.action_cursor(-1)  # the key, then a batch before any message is handled
        pane.add_records([record(n) for n in range(30, 40)])
        await pilot.pause()
        assert pane.table.record_at(pane.table.cursor_row).id == "req-28"
        assert not pane.following and pane.unseen == 10
        await pilot.press("end")
        assert pane.following and pane.table.record_at(pane.table.cursor_row).id == "req-39"
