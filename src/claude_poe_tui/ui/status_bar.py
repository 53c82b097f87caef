"""The always-visible line: the proxy's state, its URL, the Poe balance and burn rate, uptime,
request and error counts.

When the terminal is too narrow for all of it, the least useful parts go first (whose proxy it
is, then the uptime, then the burn rate), never the state, the URL or the counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.wording import counted

STATE_STYLES = {
    ProxyState.RUNNING: ("●", "bold green"),
    ProxyState.STARTING: ("◌", "bold yellow"),
    ProxyState.STOPPING: ("◌", "bold yellow"),
    ProxyState.STOPPED: ("○", "bold"),
    ProxyState.FAILED: ("✖", "bold red"),
}


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600:02d}h"


def format_points(value: float) -> str:
    """``987,654``; ``12.3M`` from ten million."""
    if abs(value) >= 10_000_000:
        return f"{value / 1_000_000:,.1f}M"
    return f"{value:,.0f}"


STALE_AFTER = 3600.0  # seconds: an older balance says when Poe gave it


def balance_parts(summary: dict[str, Any] | None, now: float | None = None) -> tuple[Text | None, Text | None]:
    """The balance and the burn rate as the status bar shows them, from the proxy's points summary
    (``None`` for what it does not say). ``~``: partly estimated; ``⚠``: a low-balance notice;
    ``(as of 14:05)``: Poe said it more than an hour ago (no proxy has asked since)."""
    if not summary:
        return None, None
    balance = summary.get("balance") or {}
    live = balance.get("live") if balance.get("live") is not None else balance.get("points")
    shown = None
    if isinstance(live, (int, float)) and not isinstance(live, bool):
        alerts = summary.get("alerts") or []
        shown = Text("balance ")
        shown.append(f"{'~' if balance.get('live_estimated') else ''}{format_points(float(live))}",
                     style="bold red" if alerts else "bold")
        if alerts:
            shown.append(" ⚠", style="bold red")
        said_at = balance.get("at")
        if now is not None and isinstance(said_at, (int, float)) and now - said_at > STALE_AFTER:
            day = "%H:%M" if now - said_at < 20 * 3600 else "%m-%d %H:%M"
            shown.append(f" (as of {time.strftime(day, time.localtime(said_at))})", style="dim")
    burn = summary.get("burn_rate") or {}
    rate = burn.get("points_per_hour")
    burning = None
    if isinstance(rate, (int, float)) and not isinstance(rate, bool):
        burning = Text(f"{'~' if burn.get('estimated') else ''}{format_points(float(rate))} pts/h")
    return shown, burning


class StatusBar(Static):
    """``● running  http://127.0.0.1:4000  balance 987,654  1,200 pts/h  up 3m12s  124 requests  3 errors in 1h  (own proxy, pid 123)``"""

    state: reactive[ProxyState] = reactive(ProxyState.STOPPED)
    detail: reactive[str] = reactive("")
    url: reactive[str] = reactive("")
    uptime: reactive[float | None] = reactive(None)
    requests: reactive[int] = reactive(0)
    errors: reactive[int] = reactive(0)
    window: reactive[str] = reactive("1h")
    owner: reactive[str] = reactive("")
    points: reactive[dict | None] = reactive(None, always_update=True)
    """The proxy's points summary (balance, burn rate, alerts), as last read."""
    disconnected: reactive[str] = reactive("")
    """A remote gateway that cannot be reached: why (shown instead of the state)."""
    clock: Callable[[], float] = time.time
    def parts(self) -> list[tuple[Text, int]]:
        """Each part of the line with its priority (higher stays longer)."""
        parts: list[tuple[Text, int]] = []
        if self.disconnected:
            parts.append((Text(" ✖ disconnected ", style="bold red"), 100))
        else:
            symbol, style = STATE_STYLES[self.state]
            parts.append((Text(f" {symbol} {self.state.value} ", style=style), 100))
        parts.append((Text(f" {self.url or '-'} ", style="bold"), 95))
        balance, burn = balance_parts(self.points, self.clock())
        if balance is not None:
            parts.append((Text(" ") + balance + Text(" "), 85))
        if burn is not None:
            parts.append((Text(" ") + burn + Text(" "), 55))
        parts.append((Text(f" up {format_uptime(self.uptime)} "), 50))
        counts = Text(f" {counted(self.requests, 'request')} ")
        counts.append(f" {counted(self.errors, 'error')} ", style="bold red" if self.errors else "")
        counts.append(f"in {self.window} ", style="dim")
        parts.append((counts, 90))
        if self.owner:
            parts.append((Text(f" {self.owner} ", style="dim"), 30))
        if self.disconnected:
            parts.append((Text(f"  {self.disconnected}", style="italic"), 60))
        elif self.detail and self.state in (ProxyState.FAILED, ProxyState.STOPPED, ProxyState.STARTING):
            parts.append((Text(f"  {self.detail}", style="italic"), 60))
        return parts

    def render(self) -> Text:
        parts = self.parts()
        width = self.size.width or (self.app.size.width if self.is_attached else 0) or 10**6
        shown = list(range(len(parts)))
        while len(shown) > 1 and sum(cell_len(parts[i][0].plain) for i in shown) > width:
            # The least useful part goes; the detail (always last) is cut with … rather than dropped
            # while there is room for a useful part of it.
            drop = min(shown, key=lambda i: (parts[i][1], -i))
            if drop == shown[-1] and parts[drop][1] >= 60 and sum(cell_len(parts[i][0].plain) for i in shown if i != drop) < width - 12:
                break
            shown.remove(drop)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index in shown:
            text.append_text(parts[index][0])
        return text
