"""The embedded proxy, seen from our side: a LiteLLM proxy child process we own.

:class:`ProxyProcess` binds the port itself (a busy port is a clear error, and restarts keep the
port), compiles the config into the files the child reads, starts the child with the keys in its
environment only, streams its output (keys redacted) to listeners and a bounded buffer, and stops
it gracefully (SIGTERM, streams in flight get ``[proxy] drain_seconds``), then forcefully. The
child watches a pipe we hold, so it exits with us even when we are killed with SIGKILL.

With ``restart_on_crash`` (``serve`` and the dashboard), a child that dies after it once served is
started again after 1, 2, 4 … 30 s, on the port we keep bound: clients wait instead of failing.

Plain Python, no Textual, no LiteLLM import: the CLI drives it synchronously, the dashboard adapts
its events into messages.
"""

from __future__ import annotations

import collections
import enum
import ipaddress
import json
import os
import re
import secrets as token_source
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.atomic import atomic_write_text
from claude_poe_tui.compiler import (
    compile_gateway_settings,
    compile_points_settings,
    compile_router_config,
    is_loopback,
    secret_env_names,
)
from claude_poe_tui.config.load import Secrets, resolve_member_tokens
from claude_poe_tui.secrets import SecretResolver, reference_name
from claude_poe_tui.config.model import MIN_EXPOSED_MASTER_KEY_LENGTH, Config
from claude_poe_tui.errors import PortInUseError, UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.poe.catalog import load_cache
from claude_poe_tui.proxy.parent.client import send_reload
from claude_poe_tui.proxy.protocol import (
    CONTROL_TOKEN_ENV,
    DRAIN_MARGIN_SECONDS,
    DRAIN_SECONDS_ENV,
    READY_LINE,
    ReloadPayload,
    control_token_path,
)

OUTPUT_LINES_KEPT = 1000
CRASH_LINES_SHOWN = 5
# A master key that guards a proxy other machines can reach must resist guessing.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Variables that would make LiteLLM reach for a database or a remote config we never asked for.
_ENV_NOT_INHERITED = ("DATABASE_URL", "DIRECT_URL", "DATABASE_URL_READ_REPLICA", "LITELLM_CONFIG_BUCKET_NAME")


class ProxyState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


class ApplyOutcome(enum.Enum):
    """What :meth:`ProxyProcess.apply` did with a new config."""

    RELOADED = "reloaded"  # the running child took the new model list, no restart
    RESTARTED = "restarted"  # keys, port or the request log changed: a new child
    SAVED = "saved"  # no child runs: the next start uses it


@dataclass(frozen=True)
class StateChanged:
    state: ProxyState
    detail: str = ""
    restarting_in: float | None = None
    """With FAILED: the child crashed and starts again by itself in this many seconds."""
    cause: str = ""
    """With a crash: ``detail`` without the child's last output (for a view that shows that output)."""


@dataclass(frozen=True)
class OutputLine:
    text: str


ProxyEvent = StateChanged | OutputLine
Listener = Callable[[ProxyEvent], None]


class ProxyStartError(UserError):
    """The child did not become ready; carries its last output."""

    def __init__(self, message: str, last_output: list[str]):
        self.last_output = last_output
        tail = "\n".join(f"  | {line}" for line in last_output[-15:])
        super().__init__(f"{message}\nlast output of the proxy:\n{tail}" if tail else message)


def compiled_payload(config: Config, state_paths: StatePaths, secrets: Secrets | None = None) -> ReloadPayload:
    """What the child serves for ``config``: the Router's configuration and our gateway's settings.

    The one place both are built, for a start (written to the run folder) and a reload (posted).
    """
    # Poe's catalog (cached by `init`, `models`, `doctor`, the dashboard) says which bots take
    # a thinking parameter; without a cache the proxy simply does not pass thinking to them.
    catalog = load_cache(state_paths.catalog_cache)
    gateway = compile_gateway_settings(config, str(state_paths.request_log_for(config.log.path)), catalog,
                                       member_tokens=resolve_member_tokens(config))
    if secrets is not None:
        gateway.update(
            poe_key_origin=f"[poe] api_key, from {secrets.poe_api_key_origin}",
            master_key_origin=f"[proxy] master_key, from {secrets.master_key_origin}",
        )
    if gateway.get("request_log") and config.log.points:
        # Points per request are joined to the request log: only with a log are they kept.
        gateway["points"] = compile_points_settings(config, gateway["request_log"]["path"], catalog)
    return ReloadPayload(router=compile_router_config(config), gateway=gateway)


def exposure_warning(config: Config, secrets: Secrets) -> str | None:
    """``None`` for a loopback host; else the warning every start prints. A master key too short
    to guard a proxy other machines reach is refused (:class:`UserError`, saying why)."""
    host, port = config.proxy.host, config.proxy.port
    if is_loopback(host):
        return None
    length = len(secrets.master_key)
    if length < MIN_EXPOSED_MASTER_KEY_LENGTH:
        raise UserError(
            f"[proxy] host = \"{host}\" in {config.path} lets other machines reach the proxy, so the master key "
            f"must have at least {MIN_EXPOSED_MASTER_KEY_LENGTH} characters; it has {length} ({secrets.master_key_origin}). "
            f"Generate one (the dashboard's Keys pane, `g`) or set host = \"127.0.0.1\""
        )
    return (
        f"warning: the proxy listens on {host}:{port}, reachable from other machines: anyone who has "
        f"the master key can spend your Poe points (keep host = \"127.0.0.1\" for this machine only)"
    )


class Backoff:
    """Delays between restarts after crashes: 1, 2, 4 … ``cap`` seconds. A child that served for
    ``stable_after`` seconds before it died starts the series again."""

    def __init__(self, first: float = 1.0, cap: float = 30.0, stable_after: float = 60.0):
        self.first, self.cap, self.stable_after = first, cap, stable_after
        self.crashes = 0

    def next_delay(self, served_for: float) -> float:
        if served_for >= self.stable_after:
            self.crashes = 0
        delay = min(self.first * (2 ** self.crashes), self.cap)
        self.crashes += 1
        return delay


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def bind_listener(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """Bind and listen on ``host:port``; raise :class:`PortInUseError` naming the port if busy.

    ``shared`` (``[proxy] workers`` > 1, Linux): the socket takes ``SO_REUSEPORT``, so each worker
    can listen on the port with a socket of its own and the kernel spreads new connections over
    them (on one shared socket, the worker that wakes first takes a burst of connections alone).
    The port is first bound without it, so a port already in use is still a clear error.
    """
    if shared and hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux"):
        bind_listener(host, port).close()  # busy? the same clear error as ever
        return _bind(host, port, reuse_port=True)
    return _bind(host, port, reuse_port=False)


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host.strip("[]")).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET  # a host name: resolved by bind
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "posix":
            # Lets a restart rebind at once while old connections sit in TIME_WAIT; on Linux and
            # macOS it does not allow two listeners on one port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            from claude_poe_tui.proxy.parent.portowner import describe_port_owner

            raise PortInUseError(host, port, describe_port_owner(port)) from None
        if exc.errno in (13, 10013):
            raise PortInUseError(host, port, "permission denied: ports below 1024 need privileges") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class ProxyProcess:
    def __init__(
        self,
        config: Config,
        secrets: Secrets,
        state_paths: StatePaths | None = None,
        *,
        restart_on_crash: bool = False,
        backoff: Backoff | None = None,
    ):
        self.config = config
        self.secrets = secrets
        self.state_paths = state_paths or StatePaths.default()
        self.state = ProxyState.STOPPED
        self.detail = ""
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
        """This child's output (cleared when a new child starts), keys redacted."""
        self.started_at: float | None = None
        self.restart_on_crash = restart_on_crash
        self.backoff = backoff or Backoff()
        self.crashes = 0
        """Children that died by themselves since this object was made."""
        self.exposure_warning: str | None = None
        self._spawned_at = 0.0
        self._ready_at: float | None = None
        self._last_output_at = 0.0
        self._served_once = False
        self._restart_timer: threading.Timer | None = None
        self.config_edits = False
        """The child may write the mappings into the config file (``PUT /claude-poe-tui/models``):
        only when something here watches that file and applies it (``serve``)."""
        self.config_source: Callable[[], tuple[Config, Secrets]] | None = None
        """Where a restart after a crash reads the config again (``serve``: the file, which the
        dashboard may have changed since); ``None``: the config it has."""
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._ready = threading.Event()
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False
        self._control_token = ""

    # -- observing --

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: ProxyEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not kill the output reader
                pass

    def _set_state(self, state: ProxyState, detail: str = "", restarting_in: float | None = None,
                   cause: str = "") -> None:
        with self._lock:
            if self.state is state and self.detail == detail:
                return
            self.state = state
            self.detail = detail
        self._emit(StateChanged(state, detail, restarting_in, cause or detail))

    @property
    def url(self) -> str:
        return self.config.base_url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def uptime(self) -> float | None:
        if self.state is not ProxyState.RUNNING or self.started_at is None:
            return None
        return time.time() - self.started_at

    @property
    def request_log_path(self) -> Path:
        return self.state_paths.request_log_for(self.config.log.path)

    # -- files the child reads --

    @property
    def run_dir(self) -> Path:
        return self.state_paths.run_dir(self.config.proxy.port)

    def gateway_settings(self) -> dict:
        return compiled_payload(self.config, self.state_paths, self.secrets).gateway

    def write_compiled(self) -> tuple[Path, Path]:
        """The files the child reads: the Router's config and ours. They name keys, never hold them."""
        run_dir = self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(run_dir, 0o700)
        router_path = run_dir / "router.json"
        gateway_path = run_dir / "gateway.json"
        payload = compiled_payload(self.config, self.state_paths, self.secrets)
        payload.gateway["config_editable"] = self.config_edits
        atomic_write_text(router_path, json.dumps(payload.router, indent=2) + "\n", mode=0o600)
        atomic_write_text(gateway_path, json.dumps(payload.gateway, indent=2) + "\n", mode=0o600)
        return router_path, gateway_path

    def child_environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _ENV_NOT_INHERITED}
        names = secret_env_names(self.config)
        env[names.poe_api_key] = self.secrets.poe_api_key
        for name, value in self.secrets.poe_key_pool:
            env[name] = value
        env[names.master_key] = self.secrets.master_key
        redis_name = reference_name(self.config.redis.url)
        if redis_name:  # it may live in the .env beside the config, which the child does not read
            env[redis_name] = SecretResolver(self.config.dotenv_path).resolve(
                self.config.redis.url, key="[redis] url", config_path=self.config.path).value
        env[CONTROL_TOKEN_ENV] = self._control_token
        env["PYTHONUNBUFFERED"] = "1"
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        env[DRAIN_SECONDS_ENV] = f"{self.config.proxy.drain_seconds:g}"
        return env

    @property
    def stop_timeout(self) -> float:
        """How long a stop waits after SIGTERM before SIGKILL: the drain, and a margin for the
        child to end the streams still open with an error event and exit."""
        return self.config.proxy.drain_seconds + DRAIN_MARGIN_SECONDS

    # -- lifecycle --

    def start(self) -> None:
        """Bind the port and start the child; returns at once (see :meth:`wait_ready`)."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self._cancel_restart()
            warning = exposure_warning(self.config, self.secrets)
            if self._socket is None:
                self._socket = bind_listener(self.config.proxy.host, self.config.proxy.port,
                                             shared=self.config.proxy.workers > 1)
            router_path, gateway_path = self.write_compiled()
            # A fresh token per child, readable by this user only, so `claude-poe-tui` attached
            # to a `serve` can apply mapping changes too.
            self._control_token = token_source.token_urlsafe(32)
            atomic_write_text(control_token_path(self.run_dir), self._control_token + "\n", mode=0o600)
            self._ready.clear()
            self._stopping = False
            self.output.clear()
            self._ready_at = None
            self.exposure_warning = warning
            self._set_state(ProxyState.STARTING, f"starting LiteLLM on {self.url}")
            if warning:
                self._add_output(f"claude-poe-tui: {warning}")
            fd = self._socket.fileno()
            command = [
                sys.executable,
                "-m",
                "claude_poe_tui.proxy.child",
                "--fd",
                str(fd),
                "--router-config",
                str(router_path),
                "--gateway-config",
                str(gateway_path),
            ]
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.child_environment(),
                pass_fds=(fd,),
                start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop the child
            )
            self.started_at = time.time()
            self._spawned_at = time.monotonic()
            self._add_output(f"claude-poe-tui: proxy child started (pid {self._process.pid})")
            self._reader = threading.Thread(
                target=self._read_output, args=(self._process,), name="proxy-output", daemon=True
            )
            self._reader.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the child serves requests; :class:`ProxyStartError` if it fails or times out."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            process = self._process
            if process is None or process.poll() is not None:
                if self._reader is not None:
                    self._reader.join(2.0)
                code = process.returncode if process else None
                raise ProxyStartError(f"the proxy exited during start (exit code {code})", list(self.output))
            if time.monotonic() > deadline:
                raise ProxyStartError(f"the proxy did not become ready within {timeout:.0f} s", list(self.output))

    def _redact(self, text: str) -> str:
        for secret in (self.secrets.poe_api_key, self.secrets.master_key, *(v for _, v in self.secrets.poe_key_pool)):
            if secret and len(secret) >= 6:
                text = text.replace(secret, "***")
        return text

    def _add_output(self, line: str) -> None:
        self.output.append(line)
        self._last_output_at = time.monotonic()
        self._emit(OutputLine(line))

    def _read_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = self._redact(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if process is not self._process:
                continue  # an old child still draining while a restart went on
            self._add_output(line)
            if line.strip() == READY_LINE:
                self.started_at = time.time()
                self._ready_at = time.monotonic()
                self._served_once = True
                self._ready.set()
                self._set_state(ProxyState.RUNNING, f"serving on {self.url}")
        code = process.wait()
        with self._lock:
            if process is not self._process:
                return  # an old child from before a restart
            self._ready.clear()
            if self._stopping:
                self._set_state(ProxyState.STOPPED, "stopped")
                return
            self.crashes += 1
            cause, last_output = self.crash_message(process.pid, code)
            if not (self.restart_on_crash and self._served_once):
                self._set_state(ProxyState.FAILED, cause + last_output, cause=cause)
                return
            served_for = time.monotonic() - self._ready_at if self._ready_at is not None else 0.0
            delay = self.backoff.next_delay(served_for)
            cause += f"; starting it again in {delay:g} s"
            self._set_state(ProxyState.FAILED, cause + last_output, restarting_in=delay, cause=cause)
            self._schedule_restart(process, delay)

    def crash_message(self, pid: int, code: int | None) -> tuple[str, str]:
        """Why the child ended, and its last lines of this run (never an older run's) as ``. Its
        last output …: a | b``, to follow the cause (and what happens next)."""
        now = time.monotonic()
        cause = f"the proxy (pid {pid}) {describe_exit(code)} {_duration(now - self._spawned_at)} after it started"
        lines = [_TERMINAL_CODES.sub("", line).strip() for line in self.output]
        lines = [line for line in lines if line][-CRASH_LINES_SHOWN:]
        if not lines:
            return cause + ", before it printed anything", ""
        quiet = now - self._last_output_at
        when = f", {_duration(quiet)} before it ended" if quiet >= 1.0 else ""
        return cause, f". Its last output{when}: " + " | ".join(lines)

    # -- healing --

    def _schedule_restart(self, crashed: subprocess.Popen[bytes], delay: float) -> None:
        """Start a new child after ``delay`` unless a stop or a start comes first (lock held)."""
        self._cancel_restart()
        timer = threading.Timer(delay, self._restart_after_crash, args=(crashed,))
        timer.daemon = True
        timer.name = "proxy-restart"
        self._restart_timer = timer
        timer.start()

    def _cancel_restart(self) -> None:
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None

    def _reread_config(self) -> None:
        if self.config_source is None:
            return
        try:
            config, secrets = self.config_source()
        except Exception as exc:  # a config broken meanwhile: keep serving the one we have
            self._add_output(f"claude-poe-tui: the config cannot be read again, restarting with the previous one: {exc}")
            return
        if (config.proxy.host, config.proxy.port) == (self.config.proxy.host, self.config.proxy.port):
            self.config, self.secrets = config, secrets

    def _restart_after_crash(self, crashed: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._stopping or self._process is not crashed:
                return
            self._restart_timer = None
            self._reread_config()
            try:
                self.start()
            except Exception as exc:  # e.g. the run folder became unwritable: try again later
                delay = self.backoff.next_delay(0.0)
                failed = f"the proxy could not be started again: {exc}; trying again in {delay:g} s"
                self._set_state(ProxyState.FAILED, failed, restarting_in=delay)
                self._schedule_restart(crashed, delay)

    def stop(self, *, release_port: bool = True, timeout: float | None = None) -> None:
        """Stop the child: SIGTERM (streams in flight may finish), then SIGKILL after ``timeout``
        (default: ``[proxy] drain_seconds`` and a margin, see :attr:`stop_timeout`)."""
        if timeout is None:
            timeout = self.stop_timeout
        with self._lock:
            process = self._process
            self._stopping = True
            self._cancel_restart()
        if process is not None and process.poll() is None:
            self._set_state(ProxyState.STOPPING, "stopping")
            try:
                process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process is not None:
            if process.stdin:
                process.stdin.close()
            if self._reader is not None:
                self._reader.join(2.0)
        with self._lock:
            if release_port and self._socket is not None:
                self._socket.close()
                self._socket = None
            if self.state is not ProxyState.STOPPED:
                self._set_state(ProxyState.STOPPED, "stopped")

    def needs_restart_for(self, config: Config, secrets: Secrets) -> bool:
        """Whether ``config`` changes what only a new child can take: keys, socket, request log."""
        def fixed(c: Config) -> tuple:
            return (c.proxy.host, c.proxy.port, c.log, secret_env_names(c))

        return fixed(config) != fixed(self.config) or secrets != self.secrets

    def apply(self, config: Config, secrets: Secrets) -> ApplyOutcome:
        """Make the running proxy serve ``config``: hot for mapping changes, else a restart."""
        if self.state is not ProxyState.RUNNING:
            self.config, self.secrets = config, secrets
            return ApplyOutcome.SAVED
        if self.needs_restart_for(config, secrets):
            self.restart(config, secrets)
            return ApplyOutcome.RESTARTED
        self.config = config
        self.write_compiled()
        send_reload(self.url, self._control_token, compiled_payload(config, self.state_paths, self.secrets))
        return ApplyOutcome.RELOADED

    def restart(self, config: Config | None = None, secrets: Secrets | None = None) -> None:
        """Stop and start again, keeping the port open so clients wait instead of failing."""
        if config is not None and (config.proxy.host, config.proxy.port) != (self.config.proxy.host, self.config.proxy.port):
            self.stop(release_port=True)
        else:
            self.stop(release_port=False)
        if config is not None:
            self.config = config
        if secrets is not None:
            self.secrets = secrets
        self.start()

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
