"""The always-visible line: the proxy's state as a word, its URL, uptime, request and error counts."""

from __future__ import annotations

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


class StatusBar(Static):
    """``● running  http://127.0.0.1:4000  up 3m12s  124 requests  3 errors in 1h  (own proxy, pid 123)``"""

    state: reactive[ProxyState] = reactive(ProxyState.STOPPED)
    detail: reactive[str] = reactive("")
    url: reactive[str] = reactive("")
    uptime: reactive[float | None] = reactive(None)
    requests: reactive[int] = reactive(0)
    errors: reactive[int] = reactive(0)
    window: reactive[str] = reactive("1h")
    owner: reactive[str] = reactive("")

    def render(self) -> Text:
        symbol, style = STATE_STYLES[self.state]
        text = Text()
        text.append(f" {symbol} {self.state.value} ", style=style)
        text.append(f" {self.url or '-'} ", style="bold")
        text.append(f" up {format_uptime(self.uptime)} ")
        text.append(f" {counted(self.requests, 'request')} ")
        text.append(f" {counted(self.errors, 'error')} ", style="bold red" if self.errors else "")
        text.append(f"in {self.window} ", style="dim")
        if self.owner:
            text.append(f" {self.owner} ", style="dim")
        if self.detail and self.state in (ProxyState.FAILED, ProxyState.STOPPED, ProxyState.STARTING):
            text.append(f"  {self.detail}", style="italic")
        return text
