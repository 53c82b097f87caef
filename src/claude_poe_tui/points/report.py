"""Points over a time window, read from the store: per model and per Claude Code session.

For ``stats`` and ``doctor`` (one-shot commands): the latest line per request of the window, summed.
Memory is bounded by the window's requests (a line per request).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from claude_poe_tui.points.files import PointsFiles
from claude_poe_tui.points.ledger import PointsStore, Totals
from claude_poe_tui.points.model import PointsLine
from claude_poe_tui.points.summary import read_summary


def latest_lines(request_log: Path, since: float) -> dict[str, PointsLine]:
    """Request id -> its latest line, for requests that arrived at or after ``since``."""
    latest: dict[str, PointsLine] = {}
    for line in PointsStore(PointsFiles(Path(request_log)).store).read():
        if line.ts >= since:
            latest[line.id] = line
    return latest


def _figures(totals: Totals, hours: float) -> dict[str, Any]:
    data = totals.to_json()
    data["estimated"] = totals.is_estimated
    data["points_per_request"] = round(totals.points / totals.requests, 1) if totals.requests else None
    data["points_per_hour"] = round(totals.points / hours, 1) if hours > 0 else None
    return data


def points_by_model(lines: Iterable[PointsLine], window_seconds: float) -> dict[str, dict[str, Any]]:
    per_model: dict[str, Totals] = {}
    for line in lines:
        per_model.setdefault(line.model or "-", Totals()).add(line, +1)
    return {model: _figures(t, window_seconds / 3600) for model, t in sorted(per_model.items())}


def points_by_session(lines: Iterable[PointsLine]) -> dict[str, dict[str, Any]]:
    per_session: dict[str, Totals] = {}
    bots: dict[str, dict[str, float]] = {}
    for line in lines:
        key = line.session or "(no session)"
        per_session.setdefault(key, Totals()).add(line, +1)
        if line.bot:
            spent = bots.setdefault(key, {})
            spent[line.bot] = spent.get(line.bot, 0.0) + (line.points or 0.0)
    out = {}
    for session, totals in sorted(per_session.items(), key=lambda kv: -(kv[1].last or 0)):
        data = _figures(totals, 0)
        del data["points_per_hour"]
        data["bots"] = {bot: round(p, 1) for bot, p in sorted(bots.get(session, {}).items(), key=lambda kv: -kv[1])}
        out[session] = data
    return out


def summary_for(request_log: Path) -> dict[str, Any] | None:
    """The summary the proxy keeps beside the request log (``None`` when no proxy has written one)."""
    return read_summary(PointsFiles(Path(request_log)).summary)


def last_hour_rate(request_log: Path, now: float) -> tuple[float, bool]:
    """Points per hour over the last hour, from the store; and whether part of it is estimated."""
    total, estimated = 0.0, False
    for line in latest_lines(request_log, now - 3600 - 900).values():
        if now - 3600 <= line.end <= now:
            total += line.points or 0.0
            estimated = estimated or line.estimated
    return total, estimated
