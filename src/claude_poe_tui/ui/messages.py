"""Messages the dashboard's parts send: controllers' callbacks and workers post them, the App handles them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from claude_poe_tui.clipboard import CopyResult
from claude_poe_tui.control.config import ConfigChanged
from claude_poe_tui.control.keys import PoeKeyCheck
from claude_poe_tui.control.mappings import MappingEdit
from claude_poe_tui.control.proxy import ProxyAction
from claude_poe_tui.control.requests import RequestsUpdate
from claude_poe_tui.proxy.parent.process import ProxyEvent

if TYPE_CHECKING:
    from claude_poe_tui.control.status import StatusReport
    from claude_poe_tui.ui.screens.budget_editor import BudgetEditorScreen


class ProxyEventArrived(Message):
    """A state change or an output line from the proxy (posted from its reader thread)."""

    def __init__(self, event: ProxyEvent) -> None:
        super().__init__()
        self.event = event


class ProxyActionFailed(Message):
    """A start, stop, restart or connect did not work; ``reason`` says why."""

    def __init__(self, action: ProxyAction, reason: str) -> None:
        super().__init__()
        self.action = action
        self.reason = reason


class MappingChange(Message):
    """The user asked to change the [[models]] list."""

    def __init__(self, edit: MappingEdit) -> None:
        super().__init__()
        self.edit = edit


class ConfigApplied(Message):
    """The config was saved (and applied to the proxy, as ``change.outcome`` says); ``editor``: the
    dialog that waited for this save, to be closed."""

    def __init__(self, change: ConfigChanged, editor: BudgetEditorScreen | None = None) -> None:
        super().__init__()
        self.change = change
        self.editor = editor


class ConfigRefused(Message):
    """A change was refused; nothing was written. ``editor``: the dialog that waited for this save,
    which says why (else a notice does)."""

    def __init__(self, reason: str, editor: BudgetEditorScreen | None = None) -> None:
        super().__init__()
        self.reason = reason
        self.editor = editor


class RequestsRead(Message):
    """New requests from the request log (the whole recent history the first time) and figures."""

    def __init__(self, update: RequestsUpdate) -> None:
        super().__init__()
        self.update = update

    @property
    def records(self):
        return self.update.records

    @property
    def figures(self):
        return self.update.figures

    @property
    def history(self) -> bool:
        return self.update.history


class RequestLogFailed(Message):
    """The request log could not be followed any more."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class PoeKeyChecked(Message):
    """Poe's answer about the Poe key (or why there is none)."""

    def __init__(self, check: PoeKeyCheck) -> None:
        super().__init__()
        self.check = check


class CopyDone(Message):
    """Text was copied (``result`` says how far it got); ``what`` names it for the user."""

    def __init__(self, what: str, text: str, result: CopyResult) -> None:
        super().__init__()
        self.what = what
        self.text = text
        self.result = result


class StatusRead(Message):
    """The gateway's status page was asked (``report.ok``: it answered)."""

    def __init__(self, report: StatusReport) -> None:
        super().__init__()
        self.report = report


class RemoteLinkChanged(Message):
    """A remote gateway's request stream came up or went down (``detail`` says why and what next)."""

    def __init__(self, connected: bool, detail: str) -> None:
        super().__init__()
        self.connected = connected
        self.detail = detail


class RemoteMappingsRead(Message):
    """A remote gateway's mappings in full (``listing``), after a look or an edit; or why they could
    not be read (``error``)."""

    def __init__(self, listing: object | None, error: str | None = None) -> None:
        super().__init__()
        self.listing = listing  # a control.remote.RemoteMappingList
        self.error = error


class EditMemberBudgets(Message):
    """Open the budget editor for ``member``'s ``[[clients]]`` entry (from Sessions or Keys)."""

    def __init__(self, member: str) -> None:
        super().__init__()
        self.member = member
