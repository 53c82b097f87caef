"""The proxy the dashboard shows: one it starts and owns, or a running ``serve`` it attaches to.

If a claude-poe-tui proxy already serves the configured port, the dashboard attaches: it shows
that proxy, applies mapping changes to it (with the control token from the run folder), and
leaves it running on quit. Otherwise it starts its own child, which stops when the dashboard
quits (and, through the child's parent watch, even when the dashboard is killed).

Plain Python; calls that wait (probing, starting, stopping) are meant for worker threads.
"""

from __future__ import annotations

import enum
import threading
import time

from claude_poe_tui.config.load import Secrets
from claude_poe_tui.config.model import Config
from claude_poe_tui.errors import UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.client import ProxyProbe, probe_proxy, read_control_token, send_reload
from claude_poe_tui.proxy.parent.process import (
    Listener,
    OutputLine,
    ProxyEvent,
    ApplyOutcome,
    ProxyProcess,
    ProxyState,
    StateChanged,
    compiled_payload,
)


class SessionMode(enum.Enum):
    NONE = "none"  # nothing started yet
    OWNED = "owned"  # our child
    ATTACHED = "attached"  # a `claude-poe-tui serve` that was already running


class ProxySession:
    def __init__(self, config: Config, state_paths: StatePaths | None = None):
        self.config = config
        self.state_paths = state_paths or StatePaths.default()
        self.mode = SessionMode.NONE
        self.process: ProxyProcess | None = None
        self.attached: ProxyProbe | None = None
        self.state = ProxyState.STOPPED
        self.detail = "not started"
        self._attached_since: float | None = None
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    # -- observing --

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _forward(self, event: ProxyEvent) -> None:
        if isinstance(event, StateChanged):
            self.state, self.detail = event.state, event.detail
        for listener in list(self._listeners):
            listener(event)

    def _set(self, state: ProxyState, detail: str) -> None:
        self._forward(StateChanged(state, detail))

    @property
    def url(self) -> str:
        return self.config.base_url

    @property
    def pid(self) -> int | None:
        if self.mode is SessionMode.ATTACHED and self.attached is not None:
            return self.attached.pid
        return self.process.pid if self.process else None

    @property
    def uptime(self) -> float | None:
        if self.state is not ProxyState.RUNNING:
            return None
        if self.mode is SessionMode.ATTACHED:
            started = self.attached.status.get("started_at") if self.attached else None
            return time.time() - started if isinstance(started, (int, float)) else None
        return self.process.uptime if self.process else None

    @property
    def output(self) -> list[str]:
        return list(self.process.output) if self.process else []

    @property
    def can_control(self) -> bool:
        """Start, stop and restart are ours only for a proxy we started."""
        return self.mode is not SessionMode.ATTACHED

    # -- lifecycle (blocking: call from a worker) --

    def connect(self, secrets: Secrets | None) -> None:
        """Attach to our proxy on the port if one runs; else start one (when keys are known)."""
        probe = probe_proxy(self.url)
        if probe.ours:
            self.mode = SessionMode.ATTACHED
            self.attached = probe
            self._set(ProxyState.RUNNING, f"attached to the proxy already serving {self.url} (pid {probe.pid})")
            return
        if probe.answering:
            self._set(ProxyState.FAILED, f"something else answers on {self.url}: set [proxy] port to a free port")
            return
        if secrets is None:
            self._set(ProxyState.STOPPED, "keys missing: set them in the Keys pane (2)")
            return
        self.start(secrets)

    def start(self, secrets: Secrets, wait: float = 120.0) -> None:
        if not self.can_control:
            raise UserError("this proxy belongs to a running `claude-poe-tui serve`; stop it there")
        with self._lock:
            if self.process is None:
                self.process = ProxyProcess(self.config, secrets, self.state_paths)
                self.process.add_listener(self._forward)
            else:
                self.process.config, self.process.secrets = self.config, secrets
            self.mode = SessionMode.OWNED
        try:
            self.process.start()
            self.process.wait_ready(wait)
        except UserError as exc:
            if self.process.state is not ProxyState.FAILED:
                self._set(ProxyState.FAILED, str(exc).splitlines()[0])
            raise

    def stop(self) -> None:
        if self.mode is SessionMode.OWNED and self.process is not None:
            self.process.stop()

    def restart(self, secrets: Secrets) -> None:
        if not self.can_control:
            raise UserError("this proxy belongs to a running `claude-poe-tui serve`; restart it there")
        if self.process is None or self.process.state is ProxyState.STOPPED:
            self.start(secrets)
            return
        self.process.restart(self.config, secrets)
        self.process.wait_ready(120.0)

    def refresh(self) -> None:
        """For an attached proxy: notice when it goes away (or comes back)."""
        if self.mode is not SessionMode.ATTACHED:
            return
        probe = probe_proxy(self.url)
        if probe.ours:
            self.attached = probe
            if self.state is not ProxyState.RUNNING:
                self._set(ProxyState.RUNNING, f"attached to the proxy serving {self.url} (pid {probe.pid})")
        elif self.state is ProxyState.RUNNING:
            self._set(ProxyState.STOPPED, "the attached proxy stopped")
            self.mode = SessionMode.NONE

    def apply(self, config: Config, secrets: Secrets | None) -> str:
        """Serve ``config`` from now on; returns what happened, for the user."""
        self.config = config
        if self.mode is SessionMode.ATTACHED:
            token = read_control_token(self.state_paths.run_dir(config.proxy.port))
            if token is None:
                return "saved; the running serve could not be told (no control token): restart it"
            probe = self.attached
            send_reload(self.url, token, compiled_payload(config, self.state_paths))
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
        """On quit: stop what we own, leave an attached proxy running."""
        if self.mode is SessionMode.OWNED:
            self.stop()


__all__ = ["OutputLine", "ProxySession", "ProxyState", "SessionMode", "StateChanged"]
