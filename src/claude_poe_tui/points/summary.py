"""The points summary: a small JSON file the poller rewrites, for readers that must be quick.

``claude-poe-tui statusline`` runs on every Claude Code status refresh with a 50 ms budget, so it
reads this instead of the store: the balance (with the time Poe said it), the poller's health, the
budgets, the burn rate, today's totals and the most recently active sessions' totals. ``doctor``
and the dashboard read it too. Written atomically (temporary file, then rename) and without
``fsync``: it is a cache of the store, rebuilt at the next write, and a reader never sees half of
it. This module imports only ``json`` and ``os``.

Shape (``version`` 1)::

    {"version": 1, "written_at": 1733000000.0, "pid": 1234,
     "balance": {"points": 987654, "at": 1733000000.0, "live": 987000.5, "error": null},
     "history": {"ok": true, "at": ..., "error": null, "malformed": 0, "complete": true},
     "budget": {"session_points": 50000, "daily_points": null, "min_balance": 10000,
                "members": {"alice": {"session_points": null, "daily_points": 100000}}},
     "budget_status": {"min_balance": {"limit": 10000, "balance": 987000.5, "estimated": true},
                       "member_daily_points": {"alice": {"limit": 100000, "spent": 1234.5, ...}}, ...},
     "burn_rate": {"points_per_hour": 1234.5, "estimated": false},
     "today": {"day": "2026-11-30", "points": ..., "estimated_points": ..., ...},
     "members_today": {"alice": {"points": ..., "estimated_points": ..., ...}},
     "sessions": {"<session id>": {"points": ..., "estimated_points": ..., "last_bot": ..., ...}},
     "models": {"claude-sonnet-4-5": "Claude-Sonnet-4.5"},
     "alerts": [{"kind": "runs_out_soon", "message": "..."}],
     "poller": {"watermark": ..., "gaps": [...]}, "rates": {...}}
"""

from __future__ import annotations

import json
import os

VERSION = 1
MAX_SESSIONS = 200
MAX_MEMBERS = 200  # members_today: those who spent most (the status line reads this file on every refresh)


def write_summary(path, data: dict) -> None:
    """Replace the file with ``data`` in one step; never raises (the next write tries again)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, separators=(",", ":"), ensure_ascii=False))  # dumps: the C encoder
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def read_summary(path) -> dict | None:
    """The summary, or ``None`` when there is none or it is not one (never raises)."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None
