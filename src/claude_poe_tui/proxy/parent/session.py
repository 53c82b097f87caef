"""The proxy the dashboard shows: one it starts and owns, or a running ``serve`` it attaches to.

If a claude-poe-tui proxy already serves the configured port, the dashboard attaches: it shows
that proxy, applies mapping changes to it (with the control token from the run folder), and
leaves it running on quit. A background proxy (``start``, the ``claude`` launcher) it can also
stop, start again and restart; a ``serve`` in a terminal belongs to that terminal. Otherwise it
starts its own child, which stops when the dashboard quits (and, through the child's parent
watch, even when the dashboard is killed); that child is restarted with backoff if it crashes.

One owner for the state: every change of mode, state, detail, the attached proxy and the config
goes through :meth:`ProxySession._commit` under one lock, and listeners hear of it after the lock
is released. Worker threads (refresh, apply, start/stop) never write a field directly; a refresh
whose probe started before a change of mode is dropped instead of undoing that change.

Plain Python; calls that wait (probing, starting, stopping) are meant for worker threads.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, replace

from claude_poe_tui.config.load import Secrets
from claude_poe_tui.config.model import Config
from claude_poe_tui.errors import UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.client import ProxyProbe, probe_proxy, read_control_token, send_reload
from claude_poe_tui.proxy.parent.process import (
    ApplyOutcome,
    Listener,
    OutputLine,
    ProxyEvent,
    ProxyProcess,
    ProxyState,
    StateChanged,
    compiled_payload,
    is_loopback,
)


class SessionMode(enum.Enum):
    NONE = "none"  # nothing started yet
    OWNED = "owned"  # our child
    ATTACHED = "attached"  # a `serve` (in a terminal, or the background proxy) that was already running


@dataclass(frozen=True)
class SessionView:
    """The session's state at one moment; replaced whole, never changed in place."""

    mode: SessionMode = SessionMode.NONE
    state: ProxyState = ProxyState.STOPPED
    detail: str = "not started"
    attached: ProxyProbe | None = None
    serve: object | None = None
    """The attached ``serve``'s :class:`~claude_poe_tui.proxy.parent.background.ServeRecord`."""
    background: bool = False
    """The proxy shown is (or was) the background proxy: start, stop and restart act on it."""
    generation: int = 0
    """Bumped by every action (start, stop, attach, …): a slow refresh can tell that the world
    moved on while it probed, and drops what it saw."""


class ProxySession:
    def __init__(self, config: Config, state_paths: StatePaths | None = None):
        self.state_paths = state_paths or StatePaths.default()
        self.process: ProxyProcess | None = None
        self._config = config
        self._view = SessionView()
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._action = threading.Lock()  # start/stop/restart/apply one at a time

    # -- the state, read --

    @property
    def view(self) -> SessionView:
        return self._view

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        with self._lock:
            self._config = config

    @property
    def mode(self) -> SessionMode:
        return self._view.mode

    @property
    def state(self) -> ProxyState:
        return self._view.state

    @property
    def detail(self) -> str:
        return self._view.detail

    @property
    def attached(self) -> ProxyProbe | None:
        return self._view.attached

    @property
    def url(self) -> str:
        return self._config.base_url

    @property
    def pid(self) -> int | None:
        view = self._view
        if view.mode is SessionMode.ATTACHED:
            return view.attached.pid if view.attached is not None else None
        return self.process.pid if self.process else None

    @property
    def uptime(self) -> float | None:
        view = self._view
        if view.state is not ProxyState.RUNNING:
            return None
        if view.mode is SessionMode.ATTACHED:
            started = view.attached.status.get("started_at") if view.attached else None
            return time.time() - started if isinstance(started, (int, float)) else None
        return self.process.uptime if self.process else None

    @property
    def output(self) -> list[str]:
        return list(self.process.output) if self.process else []

    @property
    def can_control(self) -> bool:
        """Start, stop and restart: ours for our own child and for the background proxy; a
        ``serve`` in a terminal belongs to that terminal."""
        view = self._view
        return view.mode is not SessionMode.ATTACHED or view.background

    # -- the state, changed --

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: ProxyEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _commit(self, *, expect_generation: int | None = None, **changes) -> bool:
        """Replace the view with ``changes``; ``False`` (nothing changed) if the mode changed since
        ``expect_generation`` was read. Listeners hear of a new state after the lock is released."""
        with self._lock:
            before = self._view
            if expect_generation is not None and before.generation != expect_generation:
                return False
            if expect_generation is None:  # an action: whatever a refresh saw before it is stale
                changes["generation"] = before.generation + 1
            self._view = after = replace(before, **changes)
        if (after.state, after.detail) != (before.state, before.detail):
            self._emit(StateChanged(after.state, after.detail))
        return True

    def _forward(self, event: ProxyEvent) -> None:
        """Events of our own child: its state becomes ours while we own it."""
        if isinstance(event, StateChanged):
            with self._lock:
                if self._view.mode is not SessionMode.OWNED:
                    return
                self._view = replace(self._view, state=event.state, detail=event.detail)
        self._emit(event)

    def _status_key(self) -> str | None:
        """The master key, for the status page of a proxy listening beyond loopback."""
        if is_loopback(self._config.proxy.host):
            return None
        from claude_poe_tui.keys import KeyKind, describe_key

        return describe_key(self._config, KeyKind.MASTER).value

    def _attach(self, probe: ProxyProbe, detail: str, *, expect_generation: int | None = None) -> bool:
        from claude_poe_tui.proxy.parent.background import ServeMode, read_record, serve_alive

        files = self.state_paths.serve_files(self._config.proxy.port)
        record = read_record(files) if serve_alive(files) else None
        background = record is not None and record.mode is ServeMode.BACKGROUND
        return self._commit(
            expect_generation=expect_generation,
            mode=SessionMode.ATTACHED,
            state=ProxyState.RUNNING,
            detail=detail,
            attached=probe,
            serve=record,
            background=background or self._view.background,
        )

    # -- lifecycle (blocking: call from a worker) --

    def connect(self, secrets: Secrets | None) -> None:
        """Attach to our proxy on the port if one runs; else start one (when keys are known)."""
        probe = probe_proxy(self.url, master_key=self._status_key())
        if probe.ours:
            self._attach(probe, f"attached to the proxy already serving {self.url} (pid {probe.pid})")
            return
        if probe.answering:
            from claude_poe_tui.proxy.parent.portowner import describe_port_owner

            who = describe_port_owner(self._config.proxy.port)
            self._commit(state=ProxyState.FAILED, detail=f"something else answers on {self.url}"
                         f"{f' ({who})' if who else ''}: set [proxy] port to a free port")
            return
        if secrets is None:
            self._commit(state=ProxyState.STOPPED, detail="keys missing: set them in the Keys pane (2)")
            return
        self.start(secrets)

    def start(self, secrets: Secrets, wait: float = 120.0) -> None:
        if not self.can_control:
            raise UserError("this proxy belongs to a running `claude-poe-tui serve`; stop it there")
        with self._action:
            if self._view.background:
                self._start_background()
                return
            if self.process is None:
                self.process = ProxyProcess(self._config, secrets, self.state_paths, restart_on_crash=True)
                self.process.add_listener(self._forward)
            else:
                self.process.config, self.process.secrets = self._config, secrets
            self._commit(mode=SessionMode.OWNED, attached=None, serve=None)
            process = self.process
            try:
                process.start()
                process.wait_ready(wait)
            except UserError as exc:
                if process.state is not ProxyState.FAILED:
                    self._commit(state=ProxyState.FAILED, detail=str(exc).splitlines()[0])
                raise

    def _start_background(self) -> None:
        from claude_poe_tui.proxy.parent.background import start_background

        self._commit(state=ProxyState.STARTING, detail=f"starting the background proxy on {self.url}")
        try:
            outcome = start_background(self._config, self.state_paths, say=lambda text: None,
                                       master_key=self._status_key())
        except UserError as exc:
            self._commit(state=ProxyState.FAILED, detail=str(exc).splitlines()[0])
            raise
        probe = outcome.finding.probe or probe_proxy(self.url, master_key=self._status_key())
        self._attach(probe, f"background proxy serving {self.url} (pid {outcome.pid})")

    def stop(self) -> None:
        with self._action:
            view = self._view
            if view.mode is SessionMode.OWNED and self.process is not None:
                self.process.stop()
            elif view.mode is SessionMode.ATTACHED and view.background:
                from claude_poe_tui.proxy.parent.background import stop_background

                self._commit(state=ProxyState.STOPPING, detail="stopping the background proxy")
                stop_background(self._config, self.state_paths, say=lambda text: None, master_key=self._status_key())
                # Still attached (to nothing): a background proxy that comes back, from `start` or
                # the `claude` launcher, is noticed by refresh.
                self._commit(state=ProxyState.STOPPED, detail="the background proxy is stopped", attached=None, serve=None)

    def restart(self, secrets: Secrets) -> None:
        if not self.can_control:
            raise UserError("this proxy belongs to a running `claude-poe-tui serve`; restart it there")
        view = self._view
        if view.mode is SessionMode.ATTACHED and view.background:
            if view.state is not ProxyState.RUNNING or view.serve is None:
                self.start(secrets)
                return
            with self._action:
                self._restart_background(view)
            return
        if self.process is None or self.process.state is ProxyState.STOPPED:
            self.start(secrets)
            return
        with self._action:
            self.process.restart(self._config, secrets)
            self.process.wait_ready(120.0)

    def _restart_background(self, view: SessionView) -> None:
        from claude_poe_tui.proxy.parent.background import request_restart, wait_restarted

        record = view.serve
        self._commit(state=ProxyState.STARTING, detail="restarting the background proxy (the port stays open)")
        request_restart(record)  # type: ignore[arg-type]
        files = self.state_paths.serve_files(self._config.proxy.port)
        timeout = 120.0 + self._config.proxy.drain_seconds
        try:
            wait_restarted(files, record.child_pid, timeout)  # type: ignore[union-attr]
        except UserError as exc:
            self._commit(state=ProxyState.FAILED, detail=str(exc))
            raise
        probe = probe_proxy(self.url, master_key=self._status_key())
        self._attach(probe, f"background proxy restarted (pid {probe.pid})")

    def refresh(self) -> None:
        """For an attached proxy: notice when it goes away (or comes back)."""
        view = self._view
        if view.mode is not SessionMode.ATTACHED or self._action.locked():
            return  # a start, stop or restart in progress says how it ends
        probe = probe_proxy(self.url, master_key=self._status_key())
        if probe.ours:
            if view.state is not ProxyState.RUNNING or view.attached is None or view.attached.pid != probe.pid:
                self._attach(probe, f"attached to the proxy serving {self.url} (pid {probe.pid})",
                             expect_generation=view.generation)
            else:
                self._commit(expect_generation=view.generation, attached=probe)
        elif view.state is ProxyState.RUNNING:
            if view.background:
                self._commit(expect_generation=view.generation, state=ProxyState.STOPPED,
                             detail="the background proxy stopped", attached=None, serve=None)
            else:
                self._commit(expect_generation=view.generation, mode=SessionMode.NONE,
                             state=ProxyState.STOPPED, detail="the attached proxy stopped", attached=None, serve=None)

    def apply(self, config: Config, secrets: Secrets | None) -> str:
        """Serve ``config`` from now on; returns what happened, for the user."""
        with self._action:
            with self._lock:
                self._config = config
                view = self._view
            if view.mode is SessionMode.ATTACHED:
                if view.state is not ProxyState.RUNNING:
                    return "saved"
                token = read_control_token(self.state_paths.run_dir(config.proxy.port))
                if token is None:
                    return "saved; the running serve could not be told (no control token): restart it"
                send_reload(self.url, token, compiled_payload(config, self.state_paths))
                probe = view.attached
                return f"applied to the running serve (pid {probe.pid if probe else '?'})"
            if self.process is None or secrets is None:
                return "saved"
            outcome = self.process.apply(config, secrets)
            if outcome is ApplyOutcome.RESTARTED:
                self.process.wait_ready(120.0)
            return {
                ApplyOutcome.RELOADED: "applied to the proxy",
                ApplyOutcome.RESTARTED: "proxy restarted",
                ApplyOutcome.SAVED: "saved",
            }[outcome]

    def shutdown(self) -> None:
        """On quit: stop what we own, leave an attached proxy (the background one too) running."""
        if self._view.mode is SessionMode.OWNED and self.process is not None:
            self.process.stop()


__all__ = ["OutputLine", "ProxySession", "ProxyState", "SessionMode", "SessionView", "StateChanged"]
