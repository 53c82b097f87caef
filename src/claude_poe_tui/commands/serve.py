"""``claude-poe-tui serve``: run the embedded proxy until Ctrl-C or SIGTERM.

In the foreground (a terminal, or the login service) it prints to stdout. With ``--background``
(what ``start`` and the ``claude`` launcher run) it detaches, writes to a rotating file in the
state folder and stops by itself after ``[proxy] stop_when_idle`` without requests.

Either way it holds ``serve.lock`` and keeps ``serve.pid``/``serve.json`` in the run folder of its
port, restarts a crashed proxy child with backoff on the port it keeps bound, and on SIGTERM lets
streams in flight finish for ``[proxy] drain_seconds``. SIGUSR1 (and SIGHUP in the background)
re-reads the config and starts a new child on the same port. The config file is watched (once a
second): a change that validates is applied to the running child as the dashboard applies a saved
config (mappings reloaded in place, keys or the request log by a restart); one that does not is
said (file, line, key) and the config as it was keeps serving.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="do not print the proxy's own output")
    parser.add_argument(
        "--start-timeout", type=float, default=120.0, metavar="SECONDS", help="how long to wait for the proxy to start"
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="detach; output to a rotating file in the state folder; stop after [proxy] stop_when_idle "
        "without requests (what `start` runs)",
    )
    parser.add_argument("--notify-fd", type=int, default=None, help=argparse.SUPPRESS)


class _Notifier:
    """Tells the ``start`` that spawned us our pid, then that we are ready (a pipe it reads)."""

    def __init__(self, fd: int | None):
        self.fd = fd

    def send(self, line: str) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, (line + "\n").encode())
        except OSError:
            self.close()  # the `start` went away; nothing else depends on it

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


class Serve:
    def __init__(self, args: argparse.Namespace):
        from claude_poe_tui.commands._common import config_from_args
        from claude_poe_tui.config import resolve_secrets
        from claude_poe_tui.paths import StatePaths
        from claude_poe_tui.proxy.parent.background import ServeMode
        from claude_poe_tui.proxy.parent.process import exposure_warning

        self.args = args
        self.config = config_from_args(args)
        self.secrets = resolve_secrets(self.config)
        self.warning = exposure_warning(self.config, self.secrets)  # refuses a short key, before anything
        self.state = StatePaths.default()
        self.files = self.state.serve_files(self.config.proxy.port)
        self.mode = ServeMode.BACKGROUND if args.background else ServeMode.FOREGROUND
        self.notifier = _Notifier(args.notify_fd)
        self.output = None
        self.write: Callable[[str], None] = lambda text: print(text, flush=True)
        self.stop_requested = threading.Event()
        self.restart_requested = threading.Event()
        self.config_changed = threading.Event()
        self.watch = None
        self.started_at = time.time()
        self._record_lock = threading.Lock()
        self.proxy = None

    # -- output --

    def say(self, message: str) -> None:
        self.write(f"claude-poe-tui: {message}")

    def _on_proxy_event(self, event) -> None:
        from claude_poe_tui.proxy.parent.process import OutputLine, ProxyState, StateChanged

        if isinstance(event, OutputLine):
            if not self.args.quiet:
                self.write(f"  proxy | {event.text}")
            return
        if isinstance(event, StateChanged):
            self.save_record()
            if event.state is ProxyState.FAILED and event.restarting_in is not None:
                self.say(f"error: {event.detail}")
            elif event.state is ProxyState.RUNNING and self.proxy is not None and self.proxy.crashes:
                self.say(f"the proxy serves again (pid {self.proxy.pid})")

    # -- the record others read --

    def save_record(self) -> None:
        from claude_poe_tui import __version__
        from claude_poe_tui.proxy.parent.background import ServeRecord, write_record
        from claude_poe_tui.proxy.parent.process import ProxyState

        proxy = self.proxy
        if proxy is None:
            return
        with self._record_lock:
            if self.stop_requested.is_set() and proxy.state is ProxyState.STOPPED:
                return  # removed on the way out
            record = ServeRecord(
                pid=os.getpid(),
                mode=self.mode,
                url=self.config.base_url,
                port=self.config.proxy.port,
                config=str(self.config.path),
                started_at=self.started_at,
                state=proxy.state.value,
                detail=proxy.detail,
                child_pid=proxy.pid,
                ready_at=proxy.started_at if proxy.state is ProxyState.RUNNING else None,
                output=str(self.files.output) if self.output is not None else None,
                stop_when_idle=self.idle_seconds,
                version=__version__,
            )
            try:
                write_record(self.files, record)
            except OSError as exc:
                self.say(f"warning: cannot write {self.files.record}: {exc}")

    @property
    def idle_seconds(self) -> float:
        from claude_poe_tui.proxy.parent.background import ServeMode

        return self.config.proxy.stop_when_idle_seconds if self.mode is ServeMode.BACKGROUND else 0.0

    # -- signals --

    def _install_signals(self) -> None:
        from claude_poe_tui.proxy.parent.background import ServeMode

        def stop(signum, frame) -> None:
            self.stop_requested.set()
            raise KeyboardInterrupt  # also ends a wait for the first start

        def restart(signum, frame) -> None:
            self.restart_requested.set()

        signal.signal(signal.SIGTERM, stop)
        if self.mode is not ServeMode.BACKGROUND:
            # Ctrl-C stops it even when started from a script's background job, which inherits
            # SIGINT ignored (Python then never installs its own handler).
            signal.signal(signal.SIGINT, stop)
        if hasattr(signal, "SIGUSR1"):
            signal.signal(signal.SIGUSR1, restart)
        if hasattr(signal, "SIGHUP"):
            # No terminal in the background: SIGHUP is the daemons' "reload". In a terminal it
            # means the terminal went away: stop as gracefully as Ctrl-C does.
            signal.signal(signal.SIGHUP, restart if self.mode is ServeMode.BACKGROUND else stop)

    def _restore_signals(self) -> None:
        for name in ("SIGTERM", "SIGUSR1", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    # -- the run --

    def restart(self) -> None:
        """Re-read the config and the keys, start a new child on the same port."""
        from claude_poe_tui.errors import UserError

        assert self.proxy is not None
        read = self._read_config_again(
            unusable="not restarted, still serving the config as it was",
            moved=lambda where: f"not restarted: [proxy] host/port changed to {where}; "
                                "stop this proxy and start it again to move it")
        if read is None:
            return
        config, secrets, warning = read
        self.say("restarting the proxy (config read again; the port stays open)")
        self.config, self.secrets, self.warning = config, secrets, warning
        try:
            self.proxy.restart(config, secrets)
            self.proxy.wait_ready(timeout=self.args.start_timeout)
        except UserError as exc:
            self.say(f"error: {exc}")
            return
        self.say(f"restarted (proxy pid {self.proxy.pid})")

    def _read_config_again(self, *, unusable: str, moved: Callable[[str], str]):
        """(config, secrets, exposure warning) read from the file again, or None after saying why not:
        the file cannot be used (``unusable: <the error>``), or it moves the proxy (``moved(host:port)``)."""
        from claude_poe_tui.config import load_config, resolve_secrets
        from claude_poe_tui.errors import UserError
        from claude_poe_tui.proxy.parent.process import exposure_warning

        try:
            config = load_config(self.config.path)
            secrets = resolve_secrets(config)
            warning = exposure_warning(config, secrets)
        except UserError as exc:
            self.say(f"{unusable}: {exc}")
            return None
        if (config.proxy.host, config.proxy.port) != (self.config.proxy.host, self.config.proxy.port):
            self.say(moved(f"{config.proxy.host}:{config.proxy.port}"))
            return None
        return config, secrets, warning

    def apply_config_file(self) -> None:
        """The config file changed: serve it from now on, or say why not and keep the old one."""
        from claude_poe_tui.errors import UserError
        from claude_poe_tui.proxy.parent.process import ApplyOutcome

        assert self.proxy is not None
        path = self.config.path
        read = self._read_config_again(
            unusable=f"{path.name} changed, but it cannot be used; still serving the config as it was",
            moved=lambda where: f"{path.name} changed, but [proxy] host/port ({where}) only take effect when this "
                                "proxy is stopped and started again; nothing else was applied either")
        if read is None:
            return
        config, secrets, warning = read
        if (config, secrets) == (self.proxy.config, self.proxy.secrets):
            return  # already served (the dashboard applied it, or only comments changed)
        previous = self.proxy.config
        self.config, self.secrets, self.warning = config, secrets, warning
        try:
            outcome = self.proxy.apply(config, secrets)
            if outcome is ApplyOutcome.RESTARTED:
                self.proxy.wait_ready(timeout=self.args.start_timeout)
        except UserError as exc:
            self.say(f"{path.name} changed, but applying it failed: {exc}")
            return
        if outcome is ApplyOutcome.RELOADED:
            # What a reload does not take: said, so nobody believes it applied.
            import dataclasses

            waiting = [f"[proxy] {f.name}" for f in dataclasses.fields(config.proxy)
                       if f.name not in ("host", "port", "master_key", "request_timeout", "stop_when_idle")
                       and getattr(config.proxy, f.name) != getattr(previous.proxy, f.name)]
            if config.redis != previous.redis:
                waiting.append("[redis]")
            if waiting:
                self.say(f"{path.name}: {', '.join(waiting)} take effect at the next restart (kill -USR1 {os.getpid()})")
        names = ", ".join(f"{m.name} -> {m.poe_model}" for m in config.models) or "no mappings"
        words = {ApplyOutcome.RELOADED: "applied without a restart", ApplyOutcome.RESTARTED: "proxy restarted",
                 ApplyOutcome.SAVED: "taken for the next start"}[outcome]
        self.say(f"{path.name} changed: {words} ({names})")

    def _read_config(self):
        """For a restart after a crash: the config as the file says now (the dashboard applies
        mapping changes to the running child and to the file, not to us)."""
        from claude_poe_tui.config import load_config, resolve_secrets
        from claude_poe_tui.proxy.parent.process import exposure_warning

        config = load_config(self.config.path)
        secrets = resolve_secrets(config)
        exposure_warning(config, secrets)
        if (config.proxy.host, config.proxy.port) == (self.config.proxy.host, self.config.proxy.port):
            self.config, self.secrets = config, secrets
        return config, secrets

    def _on_idle(self, idle: float) -> None:
        from claude_poe_tui.proxy.parent.background import format_seconds

        self.say(f"no requests for {format_seconds(idle)}: stopping ([proxy] stop_when_idle = "
                 f"\"{self.config.proxy.stop_when_idle}\")")
        self.stop_requested.set()

    def run(self) -> int:
        from claude_poe_tui.errors import UserError
        from claude_poe_tui.proxy.parent.background import (
            IdleWatch,
            RotatingOutput,
            ServeLock,
            ServeMode,
            daemonize,
            describe_idle,
            read_record,
            remove_record,
        )
        from claude_poe_tui.proxy.parent.process import ProxyProcess

        if self.mode is ServeMode.BACKGROUND:
            daemonize()
            self.files.run_dir.mkdir(parents=True, exist_ok=True)
            self.output = RotatingOutput(self.files.output)
            self.write = self.output.write_line
        lock = ServeLock(self.files)
        if not lock.acquire():
            other = read_record(self.files)
            who = f" (pid {other.pid}, {other.mode.value})" if other else ""
            raise UserError(
                f"a claude-poe-tui proxy already runs on port {self.config.proxy.port}{who}: use it as it is, "
                "or `claude-poe-tui stop` it first"
            )
        self.notifier.send(f"pid {os.getpid()}")
        config = self.config
        self.proxy = proxy = ProxyProcess(config, self.secrets, self.state, restart_on_crash=True)
        proxy.config_edits = True  # the gateway may write [[models]]: the watch below applies it
        proxy.config_source = self._read_config
        proxy.add_listener(self._on_proxy_event)
        self._install_signals()
        idle: IdleWatch | None = None
        health = None
        try:
            self.say(f"config {config.path}")
            if self.warning:
                self.say(self.warning)
            if not config.models:
                self.say("warning: no [[models]] mappings: every request will be refused until you add one")
            for mapping in config.models:
                self.say(f"  {mapping.name} -> Poe {mapping.poe_model} ({mapping.effective_route.value})")
            self.say(f"starting the proxy on {proxy.url} (Poe key from {self.secrets.poe_api_key_origin})")
            began = time.monotonic()
            proxy.start()
            self.save_record()
            proxy.wait_ready(timeout=self.args.start_timeout)
            self.save_record()
            self.say(f"ready in {time.monotonic() - began:.1f} s (pid {os.getpid()}, proxy pid {proxy.pid})")
            # Poe's catalog (windows, output limits, thinking parameters), when missing or a day old:
            # fetched after ready, then applied to the running proxy without a restart.
            from claude_poe_tui.poe.refresh import refresh_catalog_in_background

            refresh_catalog_in_background(config.poe.base_url, proxy.state_paths.catalog_cache, say=self.say,
                                          then=lambda _: proxy.apply(proxy.config, proxy.secrets))
            from claude_poe_tui.compiler import is_loopback
            from claude_poe_tui.proxy.parent.health import HealthWatch

            # A request log that cannot write, a pool key Poe refuses: said here, once each.
            health = HealthWatch(proxy.url, self.say,
                                 master_key=None if is_loopback(config.proxy.host) else self.secrets.master_key).start()
            if self.mode is ServeMode.BACKGROUND:
                self.say(f"running in the background; it {describe_idle(self.idle_seconds)}")
                idle = IdleWatch(proxy.url, self.idle_seconds, self._on_idle, master_key=self.secrets.master_key).start()
            else:
                self.say("point Claude Code at it with")
                self.say(f"  export ANTHROPIC_BASE_URL={proxy.url} ANTHROPIC_AUTH_TOKEN=<master key> ANTHROPIC_API_KEY=")
                self.say("  (or: eval \"$(claude-poe-tui env)\"); Ctrl-C stops the proxy")
            self.notifier.send("ready")
            self.notifier.close()
            from claude_poe_tui.proxy.parent.watch import FileWatch

            self.watch = FileWatch(config.path, self.config_changed.set).start()
            while not self.stop_requested.wait(0.25):
                if self.restart_requested.is_set():
                    self.restart_requested.clear()
                    self.restart()
                if self.config_changed.is_set():
                    self.config_changed.clear()
                    self.apply_config_file()
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            # The notify pipe stays open on a failure until we exit, after our error is written:
            # the `start` reading it then shows that error from the output file.
            self.stop_requested.set()
            if idle is not None:
                idle.stop()
            if health is not None:
                health.stop()
            if self.watch is not None:
                self.watch.stop()
            # A second SIGTERM during the drain ends us at once (the child follows: its pipe closes).
            self._restore_signals()
            started = proxy.pid is not None
            if started:
                self.say(f"stopping the proxy (streams in flight get up to {self.config.proxy.drain_seconds:g} s)")
            proxy.stop()
            with self._record_lock:
                remove_record(self.files)
            lock.release()
            if started:
                self.say("stopped")
            if self.output is not None:
                self.output.close()


def run(args: argparse.Namespace) -> int:
    return Serve(args).run()
