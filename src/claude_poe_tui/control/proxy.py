"""Driving the dashboard's proxy session from one thread of its own.

The dashboard asks for :class:`ProxyAction` s (connect, start, stop, restart, and a refresh of an
attached ``serve`` each second); :class:`ProxyController` runs them one at a time, in the order
asked, on its own thread, and applies config changes under the same lock. So the session is only
ever changed by one caller at a time: a mapping saved while the proxy starts is applied once it
runs, and a refresh never races an apply. What happens comes back through callbacks: the
session's events (state changes, output lines, from the session's own threads) and failures.

Plain Python, no Textual.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable

from claude_poe_tui.config import resolve_secrets
from claude_poe_tui.config.load import Secrets
from claude_poe_tui.config.model import Config
from claude_poe_tui.errors import UserError
from claude_poe_tui.proxy.parent.process import ApplyOutcome, ProxyEvent, ProxyState
from claude_poe_tui.proxy.parent.session import ProxySession, SessionMode


class ProxyAction(enum.Enum):
    CONNECT = "connect"  # attach to a serve on the port, else start our own
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    REFRESH = "refresh"  # an attached serve: notice when it goes away or comes back


APPLY_WORDS = {
    ApplyOutcome.RELOADED: "applied to the proxy",
    ApplyOutcome.RESTARTED: "proxy restarted",
    ApplyOutcome.SAVED: "saved",
}


def apply_words(outcome: ApplyOutcome | str) -> str:
    """What applying a config did, for the user (the session may answer with the enum or words)."""
    return APPLY_WORDS[outcome] if isinstance(outcome, ApplyOutcome) else str(outcome)


class ProxyController:
    def __init__(
        self,
        session: ProxySession,
        *,
        on_event: Callable[[ProxyEvent], None] | None = None,
        on_failure: Callable[[ProxyAction, str], None] | None = None,
        secrets: Callable[[Config], Secrets] = resolve_secrets,
    ) -> None:
        self.session = session
        self.on_failure = on_failure
        self._secrets = secrets
        self._lock = threading.Lock()  # held while anything changes the session
        self._queue: queue.Queue[ProxyAction | None] = queue.Queue()
        self._refresh_queued = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if on_event is not None:
            session.add_listener(on_event)

    # -- what the screen shows --

    @property
    def state(self) -> ProxyState:
        return self.session.state

    @property
    def can_control(self) -> bool:
        """Start, stop and restart are ours only for a proxy we started (not an attached serve)."""
        return self.session.can_control

    @property
    def owner(self) -> str:
        """Whose proxy it is, for the status line."""
        session = self.session
        if session.mode is SessionMode.ATTACHED:
            return f"attached to serve, pid {session.pid}"
        if session.mode is SessionMode.OWNED and session.pid:
            return f"own proxy, pid {session.pid}"
        return ""

    def toggle_action(self) -> ProxyAction:
        """What ``s`` does now: stop a proxy that runs or starts, else start one."""
        return ProxyAction.STOP if self.session.state in (ProxyState.RUNNING, ProxyState.STARTING) else ProxyAction.START

    # -- asking --

    def request(self, action: ProxyAction) -> None:
        """Queue ``action``; it runs after those asked before it. Failures go to ``on_failure``."""
        if self._closed:
            return
        action = ProxyAction(action)
        if action is ProxyAction.REFRESH:
            if self._refresh_queued.is_set():
                return  # one is waiting already: a second would only repeat it
            self._refresh_queued.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="proxy-controller", daemon=True)
            self._thread.start()
        self._queue.put(action)

    def tick(self) -> None:
        """Once a second: an attached serve is probed, to notice it stopping or coming back."""
        if self.session.mode is SessionMode.ATTACHED:
            self.request(ProxyAction.REFRESH)

    def _secrets_or_none(self, config: Config) -> Secrets | None:
        try:
            return self._secrets(config)
        except UserError:
            return None

    def apply(self, config: Config) -> str:
        """Serve ``config`` from now on (blocking, after any action running now); returns what
        happened, in words."""
        with self._lock:
            try:
                return apply_words(self.session.apply(config, self._secrets_or_none(config)))
            except UserError as exc:
                return f"saved, but not applied: {exc}"

    def shutdown(self) -> None:
        """On quit: stop a proxy we own (an attached serve keeps running) and end the thread.

        Not behind the lock: a start in progress must not hold up quitting; it ends when its
        child is stopped under it.
        """
        self._closed = True
        self._queue.put(None)
        self.session.shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    # -- the thread --

    def _run(self) -> None:
        while True:
            action = self._queue.get()
            if action is None or self._closed:
                return
            if action is ProxyAction.REFRESH:
                self._refresh_queued.clear()
            try:
                with self._lock:
                    self._do(action)
            except UserError as exc:
                if self.on_failure is not None and not self._closed:
                    self.on_failure(action, str(exc))
            except Exception as exc:  # a bug: said, not lost in a thread nobody watches
                if self.on_failure is not None and not self._closed:
                    self.on_failure(action, f"{type(exc).__name__}: {exc}")

    def _do(self, action: ProxyAction) -> None:
        session = self.session
        if action is ProxyAction.CONNECT:
            session.connect(self._secrets_or_none(session.config))
        elif action is ProxyAction.START:
            session.start(self._secrets(session.config))
        elif action is ProxyAction.STOP:
            session.stop()
        elif action is ProxyAction.RESTART:
            session.restart(self._secrets(session.config))
        elif action is ProxyAction.REFRESH:
            session.refresh()
        else:  # an enum member added without a branch here
            raise ValueError(f"unknown proxy action {action!r}")
