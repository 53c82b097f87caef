"""The dashboard: ``claude-poe-tui`` with no command.

The App routes messages. What the dashboard does lives in plain-Python controllers beside the
core (``claude_poe_tui.control``): config edits, budgets and key storage (:class:`ConfigController`),
the Poe key check, following the request log and the points beside it (:class:`RequestLogWatcher`,
its own thread), the gateway's status page (:class:`StatusWatcher`, its own thread) and the proxy
(:class:`ProxyController`, its own thread). Their callbacks become messages here; workers run the
calls that block; panes show what they are given and post what the user asks. Nothing here
imports LiteLLM: the proxy is a child process.

With ``remote`` (``claude-poe-tui --attach URL``) the same panes show a gateway on another machine:
its status, its requests streamed live (:mod:`claude_poe_tui.control.remote`), its mappings in
full, edited through its authenticated mapping endpoint (when it runs under ``serve``); nothing
here starts or stops it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from claude_poe_tui.config import Config, load_config
from claude_poe_tui.control.config import ConfigController
from claude_poe_tui.control.points import PointsFollower, alert_messages
from claude_poe_tui.control.proxy import ProxyAction, ProxyController
from claude_poe_tui.control.requests import RequestLogWatcher
from claude_poe_tui.control.sessions import NO_SESSION
from claude_poe_tui.errors import ConfigError, UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import OutputLine, ProxyState, StateChanged
from claude_poe_tui.proxy.parent.session import ProxySession, SessionMode
from claude_poe_tui.requestlog.feed import FeedFigures
from claude_poe_tui.ui.commands import DashboardCommands
from claude_poe_tui.ui.key_bar import KeyBar
from claude_poe_tui.ui.memory import forget_removed_widgets, freeze_long_lived_objects
from claude_poe_tui.ui.messages import (
    ConfigApplied,
    ConfigRefused,
    CopyDone,
    EditMemberBudgets,
    MappingChange,
    PoeKeyChecked,
    ProxyActionFailed,
    ProxyEventArrived,
    RemoteLinkChanged,
    RemoteMappingsRead,
    RequestLogFailed,
    RequestsRead,
    StatusRead,
)
from claude_poe_tui.ui.panes.keys import KeysPane
from claude_poe_tui.ui.panes.latency import LatencyPane
from claude_poe_tui.ui.panes.logs import LogsPane
from claude_poe_tui.ui.panes.models import ModelsPane
from claude_poe_tui.ui.output_view import OutputView
from claude_poe_tui.ui.panes.output import OutputPane
from claude_poe_tui.ui.panes.sessions import SessionsPane
from claude_poe_tui.ui.screens.crash import CrashScreen
from claude_poe_tui.ui.screens.help import HelpScreen
from claude_poe_tui.ui.status_bar import StatusBar

if TYPE_CHECKING:  # imported where used: a dashboard of its own proxy starts without them
    from claude_poe_tui.control.remote import RemoteGateway, RemoteMappings, RemoteTarget
    from claude_poe_tui.control.status import StatusReport, StatusWatcher
    from claude_poe_tui.ui.screens.budget_editor import BudgetEditorScreen

PANES = ("models", "keys", "logs", "latency", "output", "sessions")
PANE_TITLES = {"models": "Models", "keys": "Keys", "logs": "Logs", "latency": "Latency", "output": "Proxy output",
               "sessions": "Sessions"}
FORGET_REMOVED_WIDGETS_EVERY = 30  # ticks (seconds); see ui/memory.py
ACTION_WORDS = {ProxyAction.CONNECT: "start", ProxyAction.START: "start", ProxyAction.STOP: "stop",
                ProxyAction.RESTART: "restart", ProxyAction.REFRESH: "check"}

# The clock the statistics read; a module attribute so tests can fix it.
current_time = time.time


class PoeTuiApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "claude-poe-tui"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit",
                tooltip="Quit; a proxy this dashboard started stops, an attached serve keeps running"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key, by pane"),
        Binding("1", "pane('models')", "Models", show=False, id="app.pane.models"),
        Binding("2", "pane('keys')", "Keys", show=False, id="app.pane.keys"),
        Binding("3", "pane('logs')", "Logs", show=False, id="app.pane.logs"),
        Binding("4", "pane('latency')", "Latency", show=False, id="app.pane.latency"),
        Binding("5,o", "pane('output')", "Proxy output", show=False, id="app.pane.output"),
        Binding("6", "pane('sessions')", "Sessions", show=False, id="app.pane.sessions"),
        Binding("s", "toggle_proxy", "Start/stop", id="proxy.toggle", tooltip="Start or stop the proxy"),
        Binding("r", "restart_proxy", "Restart", id="proxy.restart", tooltip="Restart the proxy (keeps its port)"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
    ]

    def __init__(
        self,
        config_path: Path,
        *,
        state_paths: StatePaths | None = None,
        start_proxy: bool = True,
        remote: RemoteTarget | None = None,
    ) -> None:
        super().__init__()
        self.config_path = Path(config_path)
        self.state_paths = state_paths or StatePaths.default()
        self.start_proxy = start_proxy
        self.remote = remote
        self.gateway_status: StatusWatcher | None = None
        self.last_status: StatusReport | None = None
        self.points_summary: dict | None = None  # the proxy's points summary, as last read
        self.latest_model_points: dict | None = None  # per model, points of the window (Latency)
        self._alerts_shown: set[str] = set()
        self._points_error_told = False
        self.gateway: RemoteGateway | None = None  # what is known of a remote gateway
        self.remote_mappings: RemoteMappings | None = None  # its mappings, read and edited
        self.remote_mappings_full = False  # Models shows them in full (else only their names)
        self._remote_names_seen: list[str] | None = None
        self._latest_sessions: tuple[list, int] | None = None
        self._sessions_shown_at = 0.0
        self._sessions_held = False  # rows that came too soon after the last drawing
        self.config: Config | None = None
        self.config_error: str | None = None
        self.proxy: ProxyController | None = None
        self.configs: ConfigController | None = None
        self.request_log: RequestLogWatcher | None = None
        self.request_history_shown = False  # the log's history has reached the panes
        self.points_shown = False  # the points store's first reading has reached the panes
        self.latest_figures: FeedFigures | None = None  # the statistics, for Latency
        self._latency_shown_at = 0.0
        self._ticks = 0  # seconds since mount, counted by _tick

    # -- layout --

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with TabbedContent(id="panes", initial="models"):
            with TabPane("1 Models", id="models"):
                yield ModelsPane()
            with TabPane("2 Keys", id="keys"):
                yield KeysPane()
            with TabPane("3 Logs", id="logs"):
                yield LogsPane()
            with TabPane("4 Latency", id="latency"):
                yield LatencyPane()
            with TabPane("5 Proxy output", id="output"):
                yield OutputPane()
            with TabPane("6 Sessions", id="sessions"):
                yield SessionsPane()
        yield KeyBar(id="keys-bar")

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Notifications are plain text, always.

        Their messages carry Poe's error text, the proxy's output, paths and keys from the user's
        files: read as markup, ``[proxy] master_key`` lost its ``[proxy]`` and a Poe message with
        ``[/bold]`` crashed the dashboard.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def closing(self) -> bool:
        """The dashboard's widgets are gone (it is exiting) while a timer or a thread's message may
        still arrive: those have nothing left to show."""
        return not self.query(StatusBar)

    @property
    def session(self) -> ProxySession | None:
        return self.proxy.session if self.proxy is not None else None

    @property
    def window_label(self) -> str:
        return self.request_log.window if self.request_log is not None else "1h"

    def on_mount(self) -> None:
        self.query_one(SessionsPane).clock = lambda: current_time()
        self.status.clock = lambda: current_time()
        if self.remote is not None:
            self._mount_remote(self.remote)
        else:
            self.read_config()
        self.set_interval(1.0, self._tick)
        if self.config is not None and self.remote is None:
            self.start_request_feed()
            self.load_catalog()
            if self.start_proxy and self.proxy is not None:
                self.proxy.request(ProxyAction.CONNECT)
        self._focus_now(self._pane_focus_target("models"))

    def on_unmount(self) -> None:
        if self.request_log is not None:
            self.request_log.close()
        if self.gateway_status is not None:
            self.gateway_status.close()

    @property
    def request_log_path(self) -> Path:
        assert self.config is not None
        return self.state_paths.request_log_for(self.config.log.path)

    # -- config --

    def read_config(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.config_error = str(exc)
            self.status.state = ProxyState.STOPPED
            self.status.detail = f"config: {exc}"
            self.notify(str(exc), title="The config cannot be used", severity="error", timeout=30)
            return
        self._show_config(config)
        if self.proxy is None:
            self.proxy = ProxyController(
                ProxySession(config, self.state_paths),
                on_event=lambda event: self.post_message(ProxyEventArrived(event)),
                on_failure=lambda action, reason: self.post_message(ProxyActionFailed(action, reason)),
            )
            self.configs = ConfigController(self.config_path, self.proxy.apply)
        self.status.url = config.base_url

    def _show_config(self, config: Config, *, select: int | None = None) -> None:
        self.config = config
        self.config_error = None
        self.query_one(ModelsPane).show_config(config, select=select)
        self.query_one(KeysPane).show_config(config)
        self.query_one(SessionsPane).show_points(config.budget, self.points_summary)
        self.sub_title = str(config.path)

    @on(MappingChange)
    def _on_mapping_change(self, change: MappingChange) -> None:
        if self.remote_mappings is not None:
            self.edit_remote_mapping(change, list(self.query_one(ModelsPane).mappings))
            return
        self.edit_mapping(change)

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def edit_remote_mapping(self, change: MappingChange, shown: list) -> None:
        """The whole list, edited, to the gateway's mapping endpoint; what its file says then comes back."""
        assert self.remote_mappings is not None
        try:
            self.post_message(RemoteMappingsRead(self.remote_mappings.edit(shown, change.edit)))
        except UserError as exc:
            self.post_message(ConfigRefused(str(exc)))

    @work(thread=True, exclusive=True, group="remote-mappings", exit_on_error=False)
    def load_remote_mappings(self) -> None:
        assert self.remote_mappings is not None
        try:
            self.post_message(RemoteMappingsRead(self.remote_mappings.fetch()))
        except UserError as exc:
            self.post_message(RemoteMappingsRead(None, str(exc)))

    @on(RemoteMappingsRead)
    def _on_remote_mappings(self, message: RemoteMappingsRead) -> None:
        if self.gateway is None or self.closing:
            return
        models = self.query_one(ModelsPane)
        listing = message.listing
        if listing is None:  # an older gateway, a config it cannot read, no answer: the names, read-only
            self.remote_mappings_full = False
            self._show_remote_models(force=True)
            return
        self.remote_mappings_full = True
        models.show_remote_mappings(self.gateway.target.url, listing.config, listing.mappings, listing.why_not,
                                    select=listing.row)
        if listing.what:
            self.notify(f"{listing.what}. Written to {listing.config or 'its config file'} on the gateway; its serve "
                        "applies it within a couple of seconds.", title="Saved on the gateway")

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def edit_mapping(self, change: MappingChange) -> None:
        assert self.configs is not None
        try:
            self.post_message(ConfigApplied(self.configs.edit_mapping(change.edit)))
        except UserError as exc:
            self.post_message(ConfigRefused(str(exc)))

    @on(ConfigApplied)
    def _on_config_applied(self, message: ConfigApplied) -> None:
        if self.closing:
            return
        if message.editor is not None and message.editor in self.screen_stack:
            message.editor.dismiss(None)
        self._show_config(message.change.config, select=message.change.row)
        self.notify(message.change.message(self.config_path.name), title="Config saved")

    @on(ConfigRefused)
    def _on_config_refused(self, message: ConfigRefused) -> None:
        if message.editor is not None and message.editor in self.screen_stack:
            message.editor.refused(message.reason)  # said where the values are typed, to be corrected
            return
        self.notify(message.reason, title="Not saved", severity="error", timeout=15)

    # -- keys --

    @on(KeysPane.StoreKey)
    def _on_store_key(self, message: KeysPane.StoreKey) -> None:
        self.store_key(message)

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def store_key(self, message: KeysPane.StoreKey) -> None:
        if self.config is None or self.configs is None:
            return
        try:
            if message.pool is not None:
                changed = self.configs.store_pool_key(self.config, message.pool, message.value)
            else:
                changed = self.configs.store_key(self.config, message.kind, message.value)
            self.post_message(ConfigApplied(changed))
        except UserError as exc:
            self.post_message(ConfigRefused(str(exc)))

    @on(KeysPane.CheckPoeKey)
    def _on_check_key(self, message: KeysPane.CheckPoeKey) -> None:
        self.check_poe_key(message.pool)

    @work(thread=True, exclusive=True, group="poe-key", exit_on_error=False)
    def check_poe_key(self, pool=None) -> None:
        from claude_poe_tui.control.keys import check_poe_key, check_pool_key

        if self.config is not None:
            check = check_pool_key(self.config, pool) if pool is not None else check_poe_key(self.config)
            self.post_message(PoeKeyChecked(check))

    @on(PoeKeyChecked)
    def _on_key_checked(self, message: PoeKeyChecked) -> None:
        if not self.closing:
            self.query_one(KeysPane).show_check(message.check)

    @on(KeysPane.CopyKey)
    def _on_copy_key(self, message: KeysPane.CopyKey) -> None:
        self.copy_text(message.label, message.value)

    @work(thread=True, exclusive=True, group="copy", exit_on_error=False)
    def copy_text(self, what: str, text: str) -> None:
        from claude_poe_tui.clipboard import copy_text

        self.post_message(CopyDone(what, text, copy_text(text)))

    @on(CopyDone)
    def _on_copied(self, message: CopyDone) -> None:
        from claude_poe_tui.clipboard import CopyMethod

        if message.result.method is CopyMethod.OSC52:
            self.copy_to_clipboard(message.text)  # the terminal may take it; nothing tells us
        self.notify(message.result.message(message.what), title="Copy",
                    severity="information" if message.result.certain else "warning",
                    timeout=5 if message.result.certain else 12)

    # -- the request log --

    def start_request_feed(self) -> None:
        """Follow the request log: Logs shows each request, Latency the statistics."""
        if self.request_log is not None:
            self.request_log.close()
        self.request_log = RequestLogWatcher(
            self.request_log_path,
            on_update=lambda update: self.post_message(RequestsRead(update)),
            on_error=lambda exc: self.post_message(RequestLogFailed(str(exc))),
            clock=lambda: current_time(),
            points=PointsFollower(self.request_log_path, clock=lambda: current_time()),
        )
        self.request_log.start()

    @on(RequestsRead)
    def _show_requests(self, message: RequestsRead) -> None:
        update = message.update
        try:
            logs = self.query_one(LogsPane)
            if update.records:
                logs.add_records(update.records)
                if self.gateway is not None and self.gateway.take_records(update.records):
                    self._show_remote_models(force=True)
            if update.points or update.points_reset:
                logs.add_points(update.points, reset=update.points_reset)
            if update.points_error and not self._points_error_told:
                self._points_error_told = True
                self.notify(f"{update.points_error}. Requests are still shown; points, balance and budgets are not "
                            "updated any more.", title="The points beside the request log cannot be read",
                            severity="error", timeout=20)
            if update.points_loaded:
                self.points_shown = True
                self.call_after_refresh(freeze_long_lived_objects)  # the store's figures live as long
            if update.summary_changed:
                self._show_points_summary(update.summary)
            if update.figures.window == self.window_label:  # else computed just before the window changed
                self.latest_model_points = update.model_points
                self._show_figures(update.figures)
            if update.sessions is not None:
                self._latest_sessions = (update.sessions, update.sessions_total)
                self._show_sessions()
            if update.history:
                self.request_history_shown = True
                self.call_after_refresh(freeze_long_lived_objects)
        except NoMatches:  # the app is closing: its panes are gone
            pass
        finally:
            if self.request_log is not None:
                self.request_log.shown()

    def _show_sessions(self, *, now: bool = False) -> None:
        """Sessions redraws while it is on screen, at most once a second (as Latency); rows held back
        by that are drawn by the next tick."""
        if self._latest_sessions is None or self.query_one(TabbedContent).active != "sessions":
            return
        if not now and time.monotonic() - self._sessions_shown_at < 1.0:
            self._sessions_held = True
            return
        self._sessions_shown_at, self._sessions_held = time.monotonic(), False
        self.query_one(SessionsPane).show_sessions(*self._latest_sessions)

    # -- points: balance, burn rate, budgets, low balance --

    def _show_points_summary(self, summary: dict | None) -> None:
        self.points_summary = summary
        self.status.points = summary
        budget = self.config.budget if self.config is not None else None
        self.query_one(SessionsPane).show_points(budget, summary)
        alerts = alert_messages(summary)
        for message in sorted(alerts - self._alerts_shown):
            self.notify(message, title="Low Poe balance", severity="warning", timeout=30)
        self._alerts_shown = alerts  # a notice that clears and comes back is told again

    @on(SessionsPane.EditBudgets)
    def _on_edit_budgets(self) -> None:
        if self.config is None:
            self.notify(self.config_error or "no config", severity="error")
            return

        from claude_poe_tui.ui.screens.budget_editor import BudgetEditorScreen

        self.push_screen(BudgetEditorScreen(self.config.budget, self.config_path.name))

    @on(EditMemberBudgets)
    def _on_edit_member_budgets(self, message: EditMemberBudgets) -> None:
        if self.config is None:
            self.notify(self.config_error or "no config", severity="error")
            return
        member = next((client for client in self.config.clients if client.name == message.member), None)
        if member is None:
            self.notify(f"{self.config_path.name} has no [[clients]] entry named {message.member!r} (any more): "
                        "its requests were recorded under that name before.", severity="warning", timeout=8)
            return
        from claude_poe_tui.ui.screens.budget_editor import MEMBER_FIELDS, BudgetEditorScreen

        self.push_screen(BudgetEditorScreen(member, self.config_path.name, fields=MEMBER_FIELDS, member=member.name))

    def on_budget_editor_screen_save(self, message: BudgetEditorScreen.Save) -> None:  # named, as the screen is imported where used
        self.save_budgets(message.editor, message.editor.member, message.values)

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def save_budgets(self, editor: BudgetEditorScreen, member: str | None, values: dict) -> None:
        """``[budget]`` (``member`` None) or one member's; the dialog waits for the outcome."""
        assert self.configs is not None
        try:
            change = (self.configs.set_budgets(values) if member is None
                      else self.configs.set_member_budgets(member, values))
            self.post_message(ConfigApplied(change, editor))
        except UserError as exc:
            self.post_message(ConfigRefused(str(exc), editor))

    @on(SessionsPane.ShowRequests)
    def _on_show_session(self, message: SessionsPane.ShowRequests) -> None:
        if message.session == NO_SESSION:
            self.notify("Requests without a session id cannot be picked out by session; Logs shows them all.",
                        timeout=6)
            self.action_pane("logs")
            return
        self.action_pane("logs")
        self.query_one(LogsPane).filter_by(f"session:{message.session}")

    @on(RequestLogFailed)
    def _request_log_failed(self, message: RequestLogFailed) -> None:
        self.notify(f"{self.request_log_path}: {message.reason}", title="The request log cannot be followed",
                    severity="error", timeout=20)

    def _show_figures(self, figures: FeedFigures, *, now: bool = False) -> None:
        self.latest_figures = figures
        self._show_latency(now=now)
        self.status.requests, self.status.errors, self.status.window = figures.requests, figures.errors, figures.window

    def _show_latency(self, *, now: bool = False) -> None:
        """Latency redraws only while it is the pane on screen, and at most once a second.

        A redraw of its tables and charts costs a few milliseconds of the event loop; at a few
        updates a second that is time keys would wait behind, for figures nobody sees.
        """
        figures = self.latest_figures
        if figures is None or self.query_one(TabbedContent).active != "latency":
            return
        if not now and time.monotonic() - self._latency_shown_at < 1.0:
            return
        self._latency_shown_at = time.monotonic()
        self.query_one(LatencyPane).show(figures.summary, figures.series, figures.window, self.latest_model_points)

    @on(LatencyPane.WindowChange)
    def _next_window(self) -> None:
        if self.request_log is None:
            return
        window = self.request_log.next_window()
        figures = self.request_log.figures()
        if figures is not None:
            self.latest_model_points = self.request_log.model_points(window)
            self._show_figures(figures, now=True)
        self.notify(f"Statistics over the last {window}.", timeout=3)

    # -- the Poe catalog --

    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def load_catalog(self, refresh: bool = False) -> None:
        from claude_poe_tui.ui.catalog_source import load_bot_ids

        assert self.config is not None
        ids, note = load_bot_ids(self.config, self.state_paths, refresh=refresh)
        self.call_from_thread(self.query_one(ModelsPane).show_catalog, ids, note)

    # -- the proxy --

    def _refuse_remote(self, verb: str) -> bool:
        if self.remote is not None:
            self.notify(f"This dashboard shows the gateway at {self.remote.url}: {verb} it on its machine "
                        "(claude-poe-tui serve there, or its service manager).", severity="warning", timeout=8)
            return True
        return False

    def action_toggle_proxy(self) -> None:
        if self._refuse_remote("start or stop"):
            return
        if self.proxy is None:
            self.notify(self.config_error or "no config", severity="error")
            return
        if not self.proxy.can_control:
            self.notify("This proxy is run by `claude-poe-tui serve`: stop it there.", severity="warning")
            return
        self.proxy.request(self.proxy.toggle_action())

    def action_restart_proxy(self) -> None:
        if self._refuse_remote("restart"):
            return
        if self.proxy is None:
            return
        if not self.proxy.can_control:
            self.notify("This proxy is run by `claude-poe-tui serve`: restart it there.", severity="warning")
            return
        self.proxy.request(ProxyAction.RESTART)

    @on(ProxyActionFailed)
    def _on_proxy_action_failed(self, message: ProxyActionFailed) -> None:
        title = ("The proxy did not start" if message.action is ProxyAction.CONNECT
                 else f"Proxy {ACTION_WORDS[message.action]} failed")
        self.notify(message.reason, title=title, severity="error", timeout=20)

    @on(ProxyEventArrived)
    def _on_proxy_event(self, message: ProxyEventArrived) -> None:
        if self.closing:
            return
        event = message.event
        if isinstance(event, OutputLine):
            self.query_one(OutputPane).add_lines([event.text])
            return
        if isinstance(event, StateChanged):
            self._show_proxy_state()
            if event.state is ProxyState.RUNNING:
                self._watch_status()
            session = self.session
            # A crash the proxy restarts from by itself stays in Proxy output and is said once (the
            # status line shows it only until the proxy runs again); the crash screen is for one
            # that stays down.
            if event.state is ProxyState.FAILED and event.restarting_in is not None:
                # Its last output is right above in the pane: the cause is enough there and in the notice.
                self.query_one(OutputPane).add_lines([f"claude-poe-tui: {event.cause}"])
                self.notify(f"The proxy crashed and starts again by itself: {event.cause}. Proxy output (5) "
                            "shows what it printed last.", severity="warning")
            if (event.state is ProxyState.FAILED and event.restarting_in is None
                    and session and session.mode is SessionMode.OWNED):
                self.push_screen(CrashScreen(event.cause, session.output), self._after_crash)  # shows the output itself

    def _after_crash(self, restart: bool | None) -> None:
        if restart and self.proxy is not None:
            self.proxy.request(ProxyAction.RESTART)

    def _show_proxy_state(self) -> None:
        if self.proxy is None:
            return
        session = self.proxy.session
        status = self.status
        status.state = session.state
        status.detail = session.detail
        status.uptime = session.uptime
        status.owner = self.proxy.owner

    def _tick(self) -> None:
        if self.closing:
            return
        self._ticks += 1
        if self._ticks % FORGET_REMOVED_WIDGETS_EVERY == 0:
            forget_removed_widgets()
        if self.proxy is not None:
            self.status.uptime = self.proxy.session.uptime
            self.proxy.tick()
        if self._sessions_held:
            self._show_sessions()
        if self.gateway is not None:
            started = self.gateway.started_at
            self.status.uptime = time.time() - started if started is not None else None

    # -- the gateway's status page (pool keys out, members; everything for a remote gateway) --

    def _watch_status(self) -> None:
        """Ask the proxy's status page every few seconds, from the moment it runs."""
        if self.gateway_status is not None:
            self.gateway_status.look_now()
            return
        if self.remote is not None:
            url, key, words = self.remote.url, self.remote.key, self.remote.key_words
        else:
            if self.config is None:
                return
            from claude_poe_tui.keys import KeyKind, describe_key

            url, key, words = self.config.base_url, describe_key(self.config, KeyKind.MASTER).value, "the master key"
        from claude_poe_tui.control.status import StatusWatcher

        self.gateway_status = StatusWatcher(url, key, lambda report: self.post_message(StatusRead(report)),
                                            key_words=words, with_points=self.remote is not None)
        self.gateway_status.start()

    @on(StatusRead)
    def _on_status(self, message: StatusRead) -> None:
        report = message.report
        self.last_status = report
        try:
            self.query_one(KeysPane).show_status(report)
            if self.gateway is not None:
                self.gateway.take_status(report)
                self._show_remote_state()
                self._show_remote_models()
                if report.ok:  # its balance, burn rate, budgets and alerts (its files are on its machine)
                    self._show_points_summary(report.points)
        except NoMatches:
            pass

    # -- a remote gateway --

    def _mount_remote(self, remote: RemoteTarget) -> None:
        from claude_poe_tui.control.remote import PointsStream, RemoteFeed, RemoteGateway, RequestStream

        self.gateway = RemoteGateway(remote)
        self.status.url = remote.url
        self.status.owner = f"remote gateway (key: {remote.key_name})"
        self.status.state = ProxyState.STARTING
        self.status.detail = "connecting"
        self.sub_title = f"{remote.url} (remote)"
        self.query_one(KeysPane).show_remote(remote.url, remote.key, remote.key_name, remote.key_origin)
        sessions = self.query_one(SessionsPane)
        sessions.remote = remote.url
        sessions.refresh_bindings()
        self.query_one(LogsPane).points_note = "not known here yet: the gateway has sent none for it (are its points off?)"
        sessions.show_points(None, None)
        self.query_one(ModelsPane).show_remote(remote.url, [], {})
        from claude_poe_tui.control.remote import RemoteMappings

        self.remote_mappings = RemoteMappings(remote)
        output = self.query_one(OutputPane)
        output.add_lines([f"This dashboard shows the gateway at {remote.url}; its own output is on its machine."])
        stream = RequestStream(remote, on_state=lambda up, why: self.post_message(RemoteLinkChanged(up, why)))
        self.request_log = RequestLogWatcher(
            Path(stream.url),
            on_update=lambda update: self.post_message(RequestsRead(update)),
            on_error=lambda exc: self.post_message(RequestLogFailed(str(exc))),
            clock=lambda: current_time(),
            feed=lambda **kwargs: RemoteFeed(stream, **kwargs),
            # Its points per request, followed as a local store is (the summary comes with its status).
            points=PointsFollower(Path(stream.url), clock=lambda: current_time(), source=PointsStream(remote)),
        )
        self.request_log.start()
        self._watch_status()

    @on(RemoteLinkChanged)
    def _on_remote_link(self, message: RemoteLinkChanged) -> None:
        if self.gateway is not None and not self.closing:
            self.gateway.take_link(message.connected, message.detail)
            if message.connected:
                self._remote_names_seen = None  # back again: its mappings are read anew
            self._show_remote_state()

    def _show_remote_state(self) -> None:
        """Running when the status page answers and the request stream is up; else disconnected, and why."""
        assert self.gateway is not None
        if self.gateway.answering:
            self.status.state, self.status.detail = ProxyState.RUNNING, ""
        self.status.disconnected = self.gateway.disconnected

    def _show_remote_models(self, *, force: bool = False) -> None:
        assert self.gateway is not None
        models, names = self.query_one(ModelsPane), self.gateway.names
        if names and names != self._remote_names_seen and self.remote_mappings is not None:
            # New names on the status page (the gateway came up, or applied an edit): read them in full.
            self._remote_names_seen = names
            self.load_remote_mappings()
        if self.remote_mappings_full:
            return
        if names and (force or [m.name for m in models.mappings] != names):
            models.show_remote(self.gateway.target.url, names, self.gateway.bots)

    # -- navigation and help --

    def action_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane
        # Focused now, not after the next refresh as Widget.focus() does: a key typed right after
        # the digit (`3` then `G`) must already reach the new pane.
        self._focus_now(self._pane_focus_target(pane))

    @staticmethod
    def _focus_now(widget: Widget) -> None:
        """Focus ``widget`` at once, on its own screen (a dialog may be on top): ``Widget.focus()``
        waits for the next refresh, and a key typed meanwhile would reach the old widget."""
        widget.screen.set_focus(widget)

    def _pane_focus_target(self, pane: str) -> Widget:
        focus_targets = {
            "models": "#models-table",
            "keys": "#keys-table",
            "logs": "#logs-table",
            "latency": "#latency-table",
            "output": "#output-log",
            "sessions": "#sessions-table",
        }
        return self.query_one(focus_targets[pane])

    def _focus_pane(self, pane: str) -> None:
        # Called after a refresh: a digit typed meanwhile may have chosen another pane, and that
        # choice stands.
        if self.query_one(TabbedContent).active == pane:
            self._focus_now(self._pane_focus_target(pane))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane in PANES and self.query_one(TabbedContent).active == pane:  # not a stale event
            self.call_after_refresh(self._focus_pane, pane)
            if pane == "latency":
                self._show_latency(now=True)
            if pane == "sessions":
                self._show_sessions(now=True)

    def action_back(self) -> None:
        pane = self.query_one(TabbedContent).active
        if pane in PANES:
            self._focus_pane(pane)

    def help_sections(self) -> list[tuple[str, str, list[Binding]]]:
        def bindings(source: object) -> list[Binding]:
            return [b for b in getattr(source, "BINDINGS", []) if isinstance(b, Binding)]

        return [
            ("Everywhere", "ctrl+p: command palette with every action", bindings(self)),
            ("1 Models", ModelsPane.HELP, bindings(ModelsPane)),
            ("2 Keys", KeysPane.HELP, bindings(KeysPane)),
            ("3 Logs", LogsPane.HELP, bindings(LogsPane)),
            ("4 Latency", LatencyPane.HELP, bindings(LatencyPane)),
            ("5 Proxy output", OutputPane.HELP, [b for b in bindings(OutputView) if b.id]),
            ("6 Sessions", SessionsPane.HELP, bindings(SessionsPane)),
        ]

    async def action_models_action(self, action: str) -> None:
        self.action_pane("models")
        await self.query_one(ModelsPane).run_action(action)

    async def action_keys_action(self, action: str) -> None:
        self.action_pane("keys")
        await self.query_one(KeysPane).run_action(action)

    async def action_sessions_action(self, action: str) -> None:
        self.action_pane("sessions")
        await self.query_one(SessionsPane).run_action(action)

    async def action_logs_action(self, action: str) -> None:
        self.action_pane("logs")
        await self.query_one(LogsPane).run_action(action)

    def action_refresh_catalog(self) -> None:
        if self.config is not None and self.remote is None:
            self.query_one(ModelsPane).show_catalog(None, "Poe catalog: refreshing…")
            self.load_catalog(refresh=True)

    def action_help(self) -> None:
        # Built once and kept: composing it anew on every `?` cost time, and left its widgets behind.
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(self.help_sections()), name="help")
        self.push_screen("help")

    async def action_quit(self) -> None:
        if self.gateway_status is not None:
            self.gateway_status.close(0.1)
        if self.proxy is not None:
            if self.proxy.session.mode is SessionMode.OWNED:
                self.status.state = ProxyState.STOPPING
                self.status.detail = "stopping the proxy"
            await asyncio.to_thread(self.proxy.shutdown)
        self.exit()
