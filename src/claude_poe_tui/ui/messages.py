"""Messages the dashboard's parts send: workers and the proxy post them, the App handles them."""

from __future__ import annotations

from textual.message import Message

from claude_poe_tui.config.model import Config, ModelMapping
from claude_poe_tui.proxy.parent.process import ProxyEvent
from claude_poe_tui.requestlog.feed import FeedFigures
from claude_poe_tui.requestlog.record import RequestRecord


class ProxyEventArrived(Message):
    """A state change or an output line from the proxy (posted from its reader thread)."""

    def __init__(self, event: ProxyEvent) -> None:
        super().__init__()
        self.event = event


class MappingChange(Message):
    """The user asked to change the [[models]] list."""

    def __init__(
        self, action: str, index: int | None = None, mapping: ModelMapping | None = None, to: int | None = None
    ) -> None:
        super().__init__()
        self.action = action  # "add" | "update" | "delete" | "move"
        self.index = index
        self.mapping = mapping
        self.to = to


class ConfigApplied(Message):
    """The config was saved (and applied to the proxy, as ``outcome`` says)."""

    def __init__(self, config: Config, outcome: str, what: str) -> None:
        super().__init__()
        self.config = config
        self.outcome = outcome
        self.what = what


class ConfigRefused(Message):
    """A change was refused; nothing was written."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class RequestsRead(Message):
    """New requests from the request log (the whole recent history the first time) and figures."""

    def __init__(self, records: list[RequestRecord], figures: FeedFigures, *, history: bool = False) -> None:
        super().__init__()
        self.records = records
        self.figures = figures
        self.history = history
