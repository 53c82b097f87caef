"""``claude-poe-tui stats``: per-model figures from the request log over a time window."""

from __future__ import annotations

import argparse
import json
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="an object keyed by model name, for scripts")
    parser.add_argument("--window", default="1h", metavar="DURATION",
                        help="how far back to look: 90s, 15m, 1h, 24h, 7d (default 1h)")


def run(args: argparse.Namespace) -> int:
    import time

    from claude_poe_tui.commands._common import request_log_from_args
    from claude_poe_tui.errors import UserError
    from claude_poe_tui.requestlog.reader import read_history
    from claude_poe_tui.requestlog.stats import RollingStats, parse_duration

    try:
        window = parse_duration(args.window)
    except ValueError as exc:
        raise UserError(f"--window: {exc}") from None
    from claude_poe_tui.points.report import latest_lines, points_by_model, points_by_session, summary_for

    path = request_log_from_args(args)
    now = time.time()
    stats = RollingStats(window, clock=lambda: now)
    records = list(read_history(path, since=now - window))
    stats.feed(records, now)
    summary = stats.summary(now)
    lines = latest_lines(path, now - window).values()
    points = points_by_model(lines, window)
    for model, figures in summary.items():
        figures["points"] = points.get(model)
    sessions = points_by_session(lines)
    kept = summary_for(path) or {}
    members = per_member(records, {line.id: line for line in lines}, kept)
    if args.json:
        print(json.dumps({
            "window": stats.window_label,
            "models": summary,
            "sessions": sessions,
            "members": members,
            "balance": kept.get("balance"),
            "burn_rate": kept.get("burn_rate"),
            "history": kept.get("history"),
        }, indent=2))
        return 0
    if not summary:
        where = path if path.exists() else f"{path} (not written yet)"
        print(f"No requests in the last {stats.window_label}. Request log: {where}")
        return 0
    print(format_table(summary, stats.window_label))
    if sessions:
        print(format_sessions(sessions))
    if members:
        print(format_members(members))
    return 0


MASTER_KEY_HOLDER = "(master key)"


def per_member(records, points_lines: dict, kept: dict | None = None) -> dict:
    """Requests, errors and points per team member (``[[clients]]``) over the window; {} when no
    member's token was used. ``kept``: the proxy's points summary, for each member's points today
    (``points_today``, ``daily_budget`` when their entry sets ``daily_points``)."""
    if not any(r.member for r in records):
        return {}
    members: dict[str, dict] = {}
    for record in records:
        figures = members.setdefault(record.member or MASTER_KEY_HOLDER,
                                     {"requests": 0, "errors": 0, "points": 0.0, "estimated": False})
        figures["requests"] += 1
        figures["errors"] += 0 if record.ok else 1
        line = points_lines.get(record.id)
        if line is not None and line.points is not None:
            figures["points"] = round(figures["points"] + line.points, 1)
            figures["estimated"] = figures["estimated"] or line.estimated
    from claude_poe_tui.points.ledger import day_of
    from claude_poe_tui.points.summary import MAX_MEMBERS

    kept = kept or {}
    same_day = (kept.get("today") or {}).get("day") == day_of(time.time())  # a summary from yesterday says nothing
    today = (kept.get("members_today") or {}) if same_day else {}
    budgets = (kept.get("budget_status") or {}).get("member_daily_points") or {}
    for name, figures in members.items():
        if name == MASTER_KEY_HOLDER:
            continue
        totals = today.get(name) if isinstance(today, dict) else None
        if isinstance(totals, dict) and isinstance(totals.get("points"), (int, float)):
            figures["points_today"] = totals["points"]
        elif same_day and isinstance(today, dict) and len(today) < MAX_MEMBERS:
            figures["points_today"] = 0.0  # the proxy counted today and this member spent nothing
        budget = budgets.get(name) if isinstance(budgets, dict) else None
        if isinstance(budget, dict) and isinstance(budget.get("limit"), (int, float)):
            figures["daily_budget"] = budget["limit"]
    return dict(sorted(members.items(), key=lambda item: -item[1]["requests"]))


def format_members(members: dict) -> str:
    lines = ["Members ([[clients]]; ~ partly estimated):"]
    width = max(len(name) for name in members)
    for name, f in members.items():
        line = f"  {name.ljust(width)}  {f['requests']:>6,} requests  {f['errors']:>5,} errors  {_pts(f):>10} points"
        if f.get("points_today") is not None:
            line += f"  today {f['points_today']:,.0f}"
            if f.get("daily_budget") is not None:
                line += f" of {f['daily_budget']:,.0f} (daily_points)"
        lines.append(line)
    return "\n".join(lines)


def _pts(figures: dict | None) -> str:
    if not figures or figures.get("points") is None:
        return "-"
    return ("~" if figures.get("estimated") else "") + f"{figures['points']:,.0f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def format_table(summary: dict, window_label: str) -> str:
    from claude_poe_tui.requestlog.stats import NO_MODEL, NO_MODEL_LABEL

    header = ("model", "Poe bot", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "ttft p50", "tok/s", "points",
              "pts/req", "pts/h")
    rows = [header]
    for model, f in summary.items():
        tps = f.get("tokens_per_second")
        points = f.get("points") or {}
        rows.append((
            NO_MODEL_LABEL if model == NO_MODEL else model, f.get("poe_model") or "-", f"{f['requests']:,}",
            f"{f['errors']:,}",
            _ms(f["p50_ms"]), _ms(f["p95_ms"]), _ms(f["p99_ms"]), _ms(f["ttft_p50_ms"]),
            "-" if tps is None else f"{tps:.1f}", _pts(points),
            _ms(points.get("points_per_request")), _ms(points.get("points_per_hour")),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"Last {window_label}:"]
    for row in rows:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    errors = [(m, f["errors_by_type"]) for m, f in summary.items() if f["errors_by_type"]]
    for model, by_type in errors:
        lines.append(f"errors for {model}: " + ", ".join(f"{kind} {n}" for kind, n in by_type.items()))
    return "\n".join(lines)


def format_sessions(sessions: dict, limit: int = 10) -> str:
    """The most recent Claude Code sessions of the window: requests, points, bots."""
    lines = ["Sessions (most recent first; ~ partly estimated):"]
    for session, f in list(sessions.items())[:limit]:
        bots = ", ".join(f["bots"]) or "-"
        lines.append(f"  {session[:36]:<36}  {f['requests']:>6,} requests  {_pts(f):>10} points  {bots}")
    if len(sessions) > limit:
        lines.append(f"  … and {len(sessions) - limit} more (--json lists them all)")
    return "\n".join(lines)
