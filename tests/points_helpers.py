"""Points files beside a request log, written the way the proxy writes them.

The store lines go through the points package's :class:`PointsStore` (what the proxy appends), and
the summary is written by a real :class:`PointsService` holding the writer's lock: it reads the
store and the request log back, as the proxy does at start, and writes the summary from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claude_poe_tui.points.budget import BudgetLimits
from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.ledger import PointsStore
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.points.service import PointsService, PointsSettings
from claude_poe_tui.points.summary import read_summary
from claude_poe_tui.requestlog.record import RequestRecord

OFFLINE = "http://127.0.0.1:9/v1"


def line_for(record: RequestRecord, points: float | None, kind: PointsKind, *, at: float | None = None,
             query_ids: tuple[str, ...] = ()) -> PointsLine:
    end = record.ts + (record.latency_ms or 0.0) / 1000.0
    return PointsLine(record.id, record.ts, end, record.session, record.model, record.poe_model, points, kind,
                      query_ids, at if at is not None else end + 1.0)


def append_lines(request_log: Path, lines: list[PointsLine]) -> None:
    PointsStore(PointsFiles(request_log).store).append(lines)


def write_summary(request_log: Path, *, now: float, balance: int | None = None,
                  budget: BudgetLimits = BudgetLimits(), history_error: str | None = None,
                  prices: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """Have a points service (the writer) read the store and the log and write the summary."""
    settings = PointsSettings(request_log=str(request_log), poe_base_url=OFFLINE, budget=budget,
                              prices=prices or {})
    service = PointsService(settings, "unused-key", clock=lambda: now)
    service.open()
    try:
        if balance is not None:
            service.balance, service.balance_at = balance, now
        service.history_at, service.history_error = (now, None) if history_error is None else (None, history_error)
        service.write_summary()
    finally:
        service._release_lock()
    summary = read_summary(PointsFiles(request_log).summary)
    assert summary is not None
    return summary
