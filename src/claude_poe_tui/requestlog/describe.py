"""A request record as one readable line (``claude-poe-tui logs``, and the words the Logs filter
searches).

Only what the record holds is said: a request refused before it was routed (a wrong key: 401)
has no model and no bot, and the line says nothing about them rather than ``- -> ?``.
"""

from __future__ import annotations

import time
from typing import Any

from claude_poe_tui.requestlog.record import RequestRecord


def failed_before(record: RequestRecord) -> list[str]:
    """``["Claude-Opus-4.8 429", …]``: the bots tried before the one that answered, in order."""
    out = []
    for entry in record.failed or []:
        if not isinstance(entry, dict):
            continue
        bot = entry.get("poe_model") or entry.get("model") or "?"
        status = entry.get("status")
        out.append(f"{bot} {status}" if status is not None else str(bot))
    return out


def without_model(record: RequestRecord) -> str:
    """Why a record has no model: refused before routing (a wrong key: 401), or a request that names
    none (Claude Code's ``GET /v1/models`` discovery)."""
    return "refused before it was routed" if record.status >= 400 else "names no model"


def target(record: RequestRecord) -> str:
    """``claude-sonnet-5 -> Claude-Sonnet-5 (messages)``; empty when the request never got a model."""
    if not record.model and not record.poe_model:
        return ""
    text = record.model or "(no model)"
    if record.answered_model and record.answered_model != record.model:
        text += f" -> {record.answered_model}"
    if record.poe_model:
        text += f" -> {record.poe_model}"
    if record.route:
        text += f" ({record.route})"
    failed = failed_before(record)
    if failed:
        text += ", after " + ", ".join(failed)
    return text


def describe(record: RequestRecord) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(record.ts))
    parts = [when, str(record.status), f"{record.method} {record.path}"]
    where = target(record)
    if where:
        parts.append(where)
    timing = f"{record.latency_ms:.0f} ms"
    if record.ttft_ms is not None:
        timing += f", first token {record.ttft_ms:.0f} ms"
    parts.append(timing)
    if record.input_tokens is not None or record.output_tokens is not None:
        parts.append(f"{record.input_tokens or 0} in / {record.output_tokens or 0} out")
    who: list[Any] = []
    if record.agent_id:
        who.append(f"subagent {record.agent_id}")
    if record.member:
        who.append(f"member {record.member}")
    if who:
        parts.append(", ".join(who))
    line = "  ".join(parts)
    if record.error_type or record.error_message:
        line += f"  {record.error_type or 'error'}: {record.error_message or ''}".rstrip()
    return line
