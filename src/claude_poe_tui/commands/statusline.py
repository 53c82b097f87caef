"""``claude-poe-tui statusline``: one line for Claude Code's status bar, in a few milliseconds.

Claude Code runs the command of its ``statusLine`` setting on every status refresh and passes JSON
on stdin: ``session_id``, ``model{id, display_name}``, ``workspace``, ``cost``,
``context_window``. This prints, for that session::

    Claude-Sonnet-4.5 · session ~12,345 pts · balance 987,654 · p50 2.3 s

the Poe bot answering the session's model, the session's points (``~``: partly estimated; with a
session budget, ``12,345/50,000``), the balance (live: Poe's figure less what was spent since),
and the median latency of that bot's recent requests. No network: it reads the request log's tail
and the points summary the proxy keeps (:mod:`claude_poe_tui.points.summary`). ``--log PATH``
(written by ``claude-settings --statusline``) says where the request log is; without it the config
is read to find out, which costs ~30 ms more. Whatever goes wrong it prints a line and exits 0:
a status line has nowhere to show an error.

Imports are kept to ``json``, ``os`` and ``sys`` on the fast path (measured with
``python -X importtime``): no argparse, no dataclasses, no config model.
"""

from __future__ import annotations

import json
import os
import sys

TAIL_BYTES = 128 * 1024
LATENCY_SAMPLES = 50
ONE_M_SUFFIX = "[1m]"


def add_arguments(parser) -> None:  # for `claude-poe-tui statusline --help`
    parser.add_argument("--log", metavar="PATH", help="the request log (default: the config's)")


def run(args) -> int:
    return main(["--log", args.log] if getattr(args, "log", None) else [], config=getattr(args, "config", None))


def _options(argv: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            options[name] = value
        elif arg.startswith("--") and index + 1 < len(argv):
            options[arg[2:]] = argv[index + 1]
            index += 1
        index += 1
    return options


def _request_log(options: dict[str, str], config: str | None) -> str | None:
    if options.get("log"):
        return os.path.expanduser(options["log"])
    try:  # the slow path: the config's [log] path, else the state folder's
        import tomllib

        from claude_poe_tui.paths import StatePaths, locate_config

        location = locate_config(options.get("config") or config)
        configured = ""
        if location.path.exists():
            with open(location.path, "rb") as handle:
                log = tomllib.load(handle).get("log")
            configured = log.get("path", "") if isinstance(log, dict) else ""
        return str(StatePaths.default().request_log_for(configured if isinstance(configured, str) else ""))
    except Exception:
        return None


def _read_stdin() -> dict:
    if sys.stdin is None or sys.stdin.isatty():
        return {}
    try:
        data = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _tail_records(path: str) -> list[dict]:
    """The request log's last records, newest first (the current file's last ``TAIL_BYTES``)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the first is cut
    records = []
    for line in reversed(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _points(value: float) -> str:
    if value >= 10_000_000:
        return f"{value / 1_000_000:,.1f}M"
    return f"{value:,.0f}"


def _latency(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def compose(stdin: dict, summary: dict | None, records: list[dict]) -> str:
    """The line, from what Claude Code sent, the points summary and the request log's tail."""
    session = stdin.get("session_id") if isinstance(stdin.get("session_id"), str) else None
    model = stdin.get("model") if isinstance(stdin.get("model"), dict) else {}
    model_id = model.get("id") if isinstance(model.get("id"), str) else ""
    name = model_id[: -len(ONE_M_SUFFIX)] if model_id.endswith(ONE_M_SUFFIX) else model_id
    summary = summary or {}
    totals = (summary.get("sessions") or {}).get(session) if session else None
    totals = totals if isinstance(totals, dict) else None

    # The bot answering the session's model: what last answered it in this session (a fallback
    # shows), else what the mapping says, else what last answered that model at all.
    bot = next((r.get("poe_model") for r in records
                if session and r.get("session") == session and r.get("model") == name and r.get("poe_model")), None)
    bot = bot or (summary.get("models") or {}).get(name)
    bot = bot or next((r.get("poe_model") for r in records if r.get("model") == name and r.get("poe_model")), None)
    bot = bot or (totals or {}).get("last_bot")
    parts = [bot or f"{model.get('display_name') or name or '?'} (no Poe bot yet)"]

    budget = summary.get("budget") or {}
    if totals is not None:
        figure = float(totals.get("points") or 0)
        mark = "~" if totals.get("estimated_requests") or not (summary.get("history") or {}).get("ok", False) else ""
        limit = budget.get("session_points")
        shown = f"{mark}{_points(figure)}" + (f"/{_points(float(limit))}" if limit else "")
        parts.append(f"session {shown} pts")
    elif session:
        parts.append("session 0 pts" if summary else "session ? pts")  # no summary: no proxy has counted yet

    balance = summary.get("balance") or {}
    live = balance.get("live") if balance.get("live") is not None else balance.get("points")
    if isinstance(live, (int, float)):
        warn = " ⚠" if summary.get("alerts") else ""
        parts.append(f"balance {'~' if balance.get('live_estimated') else ''}{_points(float(live))}{warn}")

    latencies = sorted(float(r["latency_ms"]) for r in [r for r in records if bot and r.get("poe_model") == bot
                                                        and isinstance(r.get("status"), int) and r["status"] < 400
                                                        and isinstance(r.get("latency_ms"), (int, float))][:LATENCY_SAMPLES])
    if latencies:
        parts.append(f"p50 {_latency(latencies[(len(latencies) - 1) // 2])}")

    history = summary.get("history") or {}
    if summary and history.get("error") and not history.get("ok"):
        parts.append("points estimated: Poe's history unreadable")
    return " · ".join(parts)


def main(argv: list[str], config: str | None = None) -> int:
    try:
        options = _options(argv)
        stdin = _read_stdin()
        path = _request_log(options, config)
        summary = records = None
        if path:
            from claude_poe_tui.points.summary import read_summary

            name = os.path.basename(path)
            stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
            summary = read_summary(os.path.join(os.path.dirname(path), f"{stem}.points-summary.json"))
            records = _tail_records(path)
        line = compose(stdin, summary, records or [])
    except Exception:  # never a traceback in the status bar
        line = "claude-poe-tui"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0
