"""The dashboard: ``claude-poe-tui`` with no command.

The App owns the state (config, proxy session, request statistics) and does the I/O in workers;
panes show what it gives them and post messages for what the user asks. Nothing here imports
LiteLLM: the proxy is a child process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane
from textual.worker import get_current_worker

from claude_poe_tui.config import Config, load_config, resolve_secrets
from claude_poe_tui.config.edit import ConfigEditor
from claude_poe_tui.config.load import Secrets
from claude_poe_tui.errors import ConfigError, UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import OutputLine, ProxyState, StateChanged
from claude_poe_tui.proxy.parent.session import ProxySession, SessionMode
from claude_poe_tui.requestlog.feed import BATCH as FEED_BATCH
from claude_poe_tui.requestlog.feed import RECENT_KEPT, FeedFigures, RequestFeed
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.stats import WINDOWS
from claude_poe_tui.ui.commands import DashboardCommands
from claude_poe_tui.ui.key_bar import KeyBar
from claude_poe_tui.ui.memory import forget_removed_widgets, freeze_long_lived_objects
from claude_poe_tui.ui.messages import ConfigApplied, ConfigRefused, MappingChange, ProxyEventArrived, RequestsRead
from claude_poe_tui.ui.panes.keys import KeysPane
from claude_poe_tui.ui.panes.latency import LatencyPane
from claude_poe_tui.ui.panes.logs import LogsPane
from claude_poe_tui.ui.panes.models import ModelsPane
from claude_poe_tui.ui.panes.output import OutputPane
from claude_poe_tui.ui.screens.crash import CrashScreen
from claude_poe_tui.ui.screens.help import HelpScreen
from claude_poe_tui.ui.status_bar import StatusBar
from claude_poe_tui.wording import counted

PANES = ("models", "keys", "logs", "latency", "output")
PANE_TITLES = {"models": "Models", "keys": "Keys", "logs": "Logs", "latency": "Latency", "output": "Proxy output"}
FEED_INTERVAL = 0.25  # seconds between looks at the request log
FORGET_REMOVED_WIDGETS_EVERY = 30  # ticks (seconds); see ui/memory.py

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
    ) -> None:
        super().__init__()
        self.config_path = Path(config_path)
        self.state_paths = state_paths or StatePaths.default()
        self.start_proxy = start_proxy
        self.config: Config | None = None
        self.config_error: str | None = None
        self.session: ProxySession | None = None
        self.window_label = "1h"
        self.request_feed: RequestFeed | None = None  # made by the log worker
        self.request_history_shown = False  # the log's history has reached the panes
        self._requests_in_flight = threading.Event()  # a RequestsRead not yet shown
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

    def on_mount(self) -> None:
        self.read_config()
        self.set_interval(1.0, self._tick)
        if self.config is not None:
            self.start_request_feed()
            self.load_catalog()
            if self.start_proxy:
                self.connect_proxy()
        self._focus_now(self._pane_focus_target("models"))

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
        if self.session is None:
            self.session = ProxySession(config, self.state_paths)
            self.session.add_listener(lambda event: self.post_message(ProxyEventArrived(event)))
        self.status.url = config.base_url

    def _show_config(self, config: Config) -> None:
        self.config = config
        self.config_error = None
        self.query_one(ModelsPane).show_config(config)
        self.query_one(KeysPane).show_config(config)
        self.sub_title = str(config.path)

    def secrets(self, config: Config | None = None) -> Secrets | None:
        config = config or self.config
        if config is None:
            return None
        try:
            return resolve_secrets(config)
        except UserError:
            return None

    @on(MappingChange)
    def _on_mapping_change(self, change: MappingChange) -> None:
        self.apply_mapping_change(change)

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def apply_mapping_change(self, change: MappingChange) -> None:
        try:
            editor = ConfigEditor.open(self.config_path)
            if change.action == "add":
                editor.add_model(change.mapping)
                what = f"added {change.mapping.name} → {change.mapping.poe_model}"
            elif change.action == "update":
                editor.update_model(change.index, change.mapping)
                what = f"updated {change.mapping.name} → {change.mapping.poe_model}"
            elif change.action == "delete":
                what = f"deleted {editor.models()[change.index].name}"
                editor.delete_model(change.index)
            else:
                editor.move_model(change.index, change.to)
                what = "reordered the mappings"
            config = editor.save()
        except (ConfigError, UserError) as exc:
            self.post_message(ConfigRefused(str(exc)))
            return
        self.post_message(ConfigApplied(config, self._apply_to_proxy(config), what))

    def _apply_to_proxy(self, config: Config) -> str:
        if self.session is None or self.session.state is not ProxyState.RUNNING:
            if self.session is not None:
                self.session.config = config
            return "saved"
        try:
            return self.session.apply(config, self.secrets(config))
        except UserError as exc:
            return f"saved, but not applied: {exc}"

    @on(ConfigApplied)
    def _on_config_applied(self, message: ConfigApplied) -> None:
        self._show_config(message.config)
        self.notify(f"{message.what}. Saved {self.config_path.name}; {message.outcome}.", title="Config saved")

    @on(ConfigRefused)
    def _on_config_refused(self, message: ConfigRefused) -> None:
        self.notify(message.reason, title="Not saved", severity="error", timeout=15)

    # -- keys --

    @on(KeysPane.StoreKey)
    def _on_store_key(self, message: KeysPane.StoreKey) -> None:
        self.store_key(message.kind, message.value)

    @work(thread=True, exclusive=True, group="config", exit_on_error=False)
    def store_key(self, kind, value: str) -> None:
        import os

        from claude_poe_tui.keys import store_key

        if self.config is None:
            return
        try:
            stored = store_key(self.config, kind, value)
            if stored.shadowed:
                # The environment wins over .env; the user asked for this key here, so this
                # dashboard (and the proxy it starts) uses it. Their shell keeps its own value.
                os.environ[stored.env_name] = value
            config = load_config(self.config_path)
        except UserError as exc:
            self.post_message(ConfigRefused(str(exc)))
            return
        what = stored.message()
        if stored.shadowed:
            what += f"; this dashboard uses the new value, your shell still sets ${stored.env_name}"
        self.post_message(ConfigApplied(config, self._apply_to_proxy(config), what))

    @on(KeysPane.CheckPoeKey)
    def _on_check_key(self) -> None:
        self.check_poe_key()

    @work(thread=True, exclusive=True, group="poe-key", exit_on_error=False)
    def check_poe_key(self) -> None:
        from rich.text import Text

        from claude_poe_tui.keys import KeyKind, describe_key
        from claude_poe_tui.poe.client import PoeClient, PoeError

        if self.config is None:
            return
        info = describe_key(self.config, KeyKind.POE)
        if info.value is None:
            result = Text(f"The Poe key is not set: {info.where()}.", style="bold red")
        else:
            client = PoeClient(self.config.poe.base_url, info.value, key_origin=info.where())
            try:
                balance = client.balance()
                history = client.points_history(max_pages=3)
            except PoeError as exc:
                result = Text(f"✗ {exc}", style="bold red")
            else:
                result = Text(f"✓ Poe accepts the key. Balance: {balance:,} points.", style="bold green")
                spent = history.spent_per_bot()
                if spent:
                    result.append("\nPoints spent recently, per bot:", style="bold")
                    for bot, points, count in spent[:10]:
                        result.append(f"\n  {bot:<28} {points:>10,} points  {counted(count, 'request'):>14}")
        self.call_from_thread(self.query_one(KeysPane).show_check, result)

    # -- the request log --

    def start_request_feed(self) -> None:
        """Follow the request log: Logs shows each request, Latency the statistics."""
        self.follow_request_log(self.request_log_path)

    @work(thread=True, exclusive=True, group="request-log", exit_on_error=False)
    def follow_request_log(self, path: Path) -> None:
        worker = get_current_worker()
        feed = self.request_feed = RequestFeed(path, clock=lambda: current_time())
        try:
            recent = feed.load_history(cancelled=lambda: worker.is_cancelled)
            self._post_requests(recent, feed.figures(self.window_label), history=True)
            pending: list[RequestRecord] = []
            shown_at = time.monotonic()
            while not worker.is_cancelled:
                batch = feed.poll()
                pending = (pending + batch)[-RECENT_KEPT:] if pending else batch
                due = pending or time.monotonic() - shown_at >= 1.0  # figures age even without requests
                # One update in flight at a time: while the screen is busy, requests gather here
                # (bounded) instead of as queued messages.
                if due and not self._requests_in_flight.is_set():
                    self._post_requests(pending, feed.figures(self.window_label))
                    pending = []
                    shown_at = time.monotonic()
                if len(batch) < FEED_BATCH:
                    time.sleep(FEED_INTERVAL)
        finally:
            feed.close()

    def _post_requests(self, records: list[RequestRecord], figures: FeedFigures, *, history: bool = False) -> None:
        self._requests_in_flight.set()
        self.post_message(RequestsRead(records, figures, history=history))

    @on(RequestsRead)
    def _show_requests(self, message: RequestsRead) -> None:
        try:
            if message.records:
                self.query_one(LogsPane).add_records(message.records)
            if message.figures.window == self.window_label:  # else computed just before the window changed
                self._show_figures(message.figures)
            if message.history:
                self.request_history_shown = True
                self.call_after_refresh(freeze_long_lived_objects)
        except NoMatches:  # the app is closing: its panes are gone
            pass
        finally:
            self._requests_in_flight.clear()

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
        self.query_one(LatencyPane).show(figures.summary, figures.series, figures.window)

    @on(LatencyPane.WindowChange)
    def _next_window(self) -> None:
        labels = list(WINDOWS)
        self.window_label = labels[(labels.index(self.window_label) + 1) % len(labels)]
        if self.request_feed is not None:
            self._show_figures(self.request_feed.figures(self.window_label), now=True)
        self.notify(f"Statistics over the last {self.window_label}.", timeout=3)

    # -- the Poe catalog --

    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def load_catalog(self, refresh: bool = False) -> None:
        from claude_poe_tui.ui.catalog_source import load_bot_ids

        assert self.config is not None
        ids, note = load_bot_ids(self.config, self.state_paths, refresh=refresh)
        self.call_from_thread(self.query_one(ModelsPane).show_catalog, ids, note)

    # -- the proxy --

    @work(thread=True, exclusive=True, group="proxy", exit_on_error=False)
    def connect_proxy(self) -> None:
        assert self.session is not None
        try:
            self.session.connect(self.secrets())
        except UserError as exc:
            self.call_from_thread(self.notify, str(exc), title="The proxy did not start", severity="error", timeout=20)

    @work(thread=True, exclusive=True, group="proxy", exit_on_error=False)
    def run_proxy_action(self, action: str) -> None:
        session = self.session
        if session is None:
            return
        try:
            secrets = None
            if action in ("start", "restart"):
                secrets = resolve_secrets(session.config)
            if action == "start":
                session.start(secrets)
            elif action == "stop":
                session.stop()
            else:
                session.restart(secrets)
        except UserError as exc:
            self.call_from_thread(self.notify, str(exc), title=f"Proxy {action} failed", severity="error", timeout=20)

    def action_toggle_proxy(self) -> None:
        if self.session is None:
            self.notify(self.config_error or "no config", severity="error")
            return
        if not self.session.can_control:
            self.notify("This proxy is run by `claude-poe-tui serve`: stop it there.", severity="warning")
            return
        running = self.session.state in (ProxyState.RUNNING, ProxyState.STARTING)
        self.run_proxy_action("stop" if running else "start")

    def action_restart_proxy(self) -> None:
        if self.session is None:
            return
        if not self.session.can_control:
            self.notify("This proxy is run by `claude-poe-tui serve`: restart it there.", severity="warning")
            return
        self.run_proxy_action("restart")

    @on(ProxyEventArrived)
    def _on_proxy_event(self, message: ProxyEventArrived) -> None:
        event = message.event
        if isinstance(event, OutputLine):
            self.query_one(OutputPane).add_lines([event.text])
            return
        if isinstance(event, StateChanged):
            self._show_proxy_state()
            # A crash the proxy restarts from by itself shows in the status line; the crash
            # screen is for one that stays down.
            if (event.state is ProxyState.FAILED and event.restarting_in is None
                    and self.session and self.session.mode is SessionMode.OWNED):
                self.push_screen(CrashScreen(event.detail, self.session.output), self._after_crash)

    def _after_crash(self, restart: bool | None) -> None:
        if restart:
            self.run_proxy_action("restart")

    def _show_proxy_state(self) -> None:
        session = self.session
        status = self.status
        if session is None:
            return
        status.state = session.state
        status.detail = session.detail
        status.uptime = session.uptime
        if session.mode is SessionMode.ATTACHED:
            status.owner = f"attached to serve, pid {session.pid}"
        elif session.mode is SessionMode.OWNED and session.pid:
            status.owner = f"own proxy, pid {session.pid}"
        else:
            status.owner = ""

    def _tick(self) -> None:
        self._ticks += 1
        if self._ticks % FORGET_REMOVED_WIDGETS_EVERY == 0:
            forget_removed_widgets()
        if self.session is not None:
            self.status.uptime = self.session.uptime
            if self.session.mode is SessionMode.ATTACHED:
                self.refresh_attached()

    @work(thread=True, exclusive=True, group="attached", exit_on_error=False)
    def refresh_attached(self) -> None:
        if self.session is not None:
            before = self.session.state
            self.session.refresh()
            if self.session.state is not before:
                self.call_from_thread(self._show_proxy_state)

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
            ("5 Proxy output", OutputPane.HELP, []),
        ]

    async def action_models_action(self, action: str) -> None:
        self.action_pane("models")
        await self.query_one(ModelsPane).run_action(action)

    async def action_keys_action(self, action: str) -> None:
        self.action_pane("keys")
        await self.query_one(KeysPane).run_action(action)

    async def action_logs_action(self, action: str) -> None:
        self.action_pane("logs")
        await self.query_one(LogsPane).run_action(action)

    def action_refresh_catalog(self) -> None:
        if self.config is not None:
            self.query_one(ModelsPane).show_catalog(None, "Poe catalog: refreshing…")
            self.load_catalog(refresh=True)

    def action_help(self) -> None:
        # Built once and kept: composing it anew on every `?` cost time, and left its widgets behind.
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(self.help_sections()), name="help")
        self.push_screen("help")

    async def action_quit(self) -> None:
        if self.session is not None and self.session.mode is SessionMode.OWNED:
            self.status.state = ProxyState.STOPPING
            self.status.detail = "stopping the proxy"
            await asyncio.to_thread(self.session.shutdown)
        self.exit()
