"""The Logs pane keeps its newest ROWS_KEPT rows: dropping the oldest in one pass keeps the table right."""

from __future__ import annotations

from textual.app import App, ComposeResult

from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.panes import logs
from claude_poe_tui.ui.panes.logs import LogsPane, LogTable


def record(n: int) -> RequestRecord:
    return RequestRecord(
        ts=1_800_000_000.0 + n, id=f"req-{n}", session=None, method="POST", path="/v1/messages",
        model="claude-sonnet-5", poe_model="Claude-Sonnet-5", route="messages", stream=False, status=200,
        error_type=None, error_message=None, latency_ms=100.0 + n, ttft_ms=None, input_tokens=1, output_tokens=1,
    )


class LogsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogsPane()


def ids(table: LogTable) -> list[str]:
    return [table.get_row_at(index)[6] for index in range(table.row_count)]


async def test_the_oldest_rows_go_in_batches_and_the_rest_keep_their_order(monkeypatch) -> None:
    monkeypatch.setattr(logs, "ROWS_KEPT", 50)
    app = LogsApp()
    async with app.run_test() as pilot:
        pane = app.query_one(LogsPane)
        table = pane.table
        pane.add_records([record(n) for n in range(40)])
        pane.add_records([record(n) for n in range(40, 75)])  # 25 too many: dropped at once
        await pilot.pause()
        assert table.row_count == 50
        assert ids(table) == [f"{100 + n:,.0f}" for n in range(25, 75)]
        assert [int(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(50)] == list(range(25, 75))
        assert table.cursor_row == 49 and pane.following  # still at the newest

        table.move_cursor(row=10)  # paused: the cursor keeps its row index, as with remove_row
        await pilot.pause()
        assert not pane.following
        pane.add_records([record(n) for n in range(75, 80)])
        await pilot.pause()
        assert table.row_count == 50 and table.cursor_row == 10
        assert ids(table)[-1] == f"{100 + 79:,.0f}"
        assert pane.unseen == 5

        pane.add_records([record(n) for n in range(80, 200)])  # more than the pane keeps
        await pilot.pause()
        assert ids(table) == [f"{100 + n:,.0f}" for n in range(150, 200)]
        table.remove_oldest(50)
        assert table.row_count == 0
