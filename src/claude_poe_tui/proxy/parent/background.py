"""The background proxy: a detached ``serve --background``, found and controlled through its files.

``start``, ``stop``, ``status``, the ``claude`` launcher and the dashboard share this module. The
files live in the run folder of the port (:class:`~claude_poe_tui.paths.ServeFiles`):

* ``serve.lock``: every ``serve`` holds it (``flock``, exclusive) for its whole life. Whoever
  finds it free knows no ``serve`` lives, whatever a leftover pid file says: pids are reused, locks
  die with their process.
* ``serve.pid`` and ``serve.json``: the ``serve``'s pid, and its state (mode, the proxy child's
  pid, ready or restarting, output file, idle stop), written by the ``serve`` only.
* ``start.lock``: held by ``start``, ``stop`` and the launcher while they decide and act, so two of
  them at the same moment leave exactly one proxy.
* ``serve.log``: the background proxy's output, rotated by size (:class:`RotatingOutput`).

Plain Python; POSIX only for the background part (``fork``, ``flock``).
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from claude_poe_tui.atomic import atomic_write_text
from claude_poe_tui.config.model import Config
from claude_poe_tui.errors import UserError
from claude_poe_tui.paths import STATE_ENV, ServeFiles, StatePaths
from claude_poe_tui.proxy.parent.client import ProxyProbe, probe_proxy
from claude_poe_tui.proxy.protocol import DRAIN_MARGIN_SECONDS

OUTPUT_MAX_BYTES = 5 * 1024 * 1024
OUTPUT_BACKUPS = 2
START_TIMEOUT = 180.0
SERVE_LOCK_WAIT = 2.0
# Idle checks: often enough to stop within a few percent of the limit, never more than twice a second.
IDLE_CHECK_MIN, IDLE_CHECK_MAX = 0.5, 30.0
# Sent to a `serve` to re-read the config and start a new proxy child on the same port.
RESTART_SIGNAL = signal.SIGUSR1 if hasattr(signal, "SIGUSR1") else None

Say = Callable[[str], None]
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ServeMode(enum.Enum):
    BACKGROUND = "background"  # `start`, the `claude` launcher, the dashboard: detached
    FOREGROUND = "foreground"  # `serve` in a terminal, or the login service


@dataclass(frozen=True)
class ServeRecord:
    """What ``serve.json`` says: written by the ``serve`` on each change of its proxy's state."""

    pid: int
    mode: ServeMode
    url: str
    port: int
    config: str
    started_at: float
    state: str
    """A :class:`~claude_poe_tui.proxy.parent.process.ProxyState` value."""
    detail: str = ""
    child_pid: int | None = None
    ready_at: float | None = None
    """When the current proxy child became ready (epoch seconds)."""
    output: str | None = None
    """The rotating output file (background mode)."""
    stop_when_idle: float = 0.0
    """Seconds without requests before a background proxy stops; 0: never."""
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = self.mode.value
        return data

    @classmethod
    def from_json(cls, data: Any) -> ServeRecord | None:
        try:
            return cls(**{**data, "mode": ServeMode(data["mode"])})
        except (TypeError, KeyError, ValueError):
            return None


# --- locks ----------------------------------------------------------------------------------


def _open_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _try_flock(fd: int, operation: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class ServeLock:
    """``serve.lock``, held by one ``serve`` for its life (released by the kernel when it dies)."""

    def __init__(self, files: ServeFiles):
        self.files = files
        self._fd: int | None = None

    def acquire(self, wait: float = SERVE_LOCK_WAIT) -> bool:
        """Take it; ``False`` if another ``serve`` holds it. Waits ``wait`` seconds, because a
        ``status`` may hold it shared for an instant while it looks."""
        import fcntl

        fd = _open_lock(self.files.lock)
        deadline = time.monotonic() + wait
        while not _try_flock(fd, fcntl.LOCK_EX):
            if time.monotonic() > deadline:
                os.close(fd)
                return False
            time.sleep(0.02)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


@contextlib.contextmanager
def _no_serve_alive(files: ServeFiles) -> Iterator[bool]:
    """Yields whether no ``serve`` holds ``serve.lock``; while it yields ``True``, none can start
    (we hold the lock shared), so leftover files can be removed safely."""
    import fcntl

    if not files.lock.exists():
        yield True
        return
    fd = _open_lock(files.lock)
    try:
        yield _try_flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def serve_alive(files: ServeFiles) -> bool:
    with _no_serve_alive(files) as none:
        return not none


@contextlib.contextmanager
def start_lock(files: ServeFiles, timeout: float, on_wait: Say | None = None) -> Iterator[None]:
    """Exclusive ``start.lock``: one ``start``/``stop``/launcher decides at a time."""
    import fcntl

    fd = _open_lock(files.start_lock)
    try:
        if not _try_flock(fd, fcntl.LOCK_EX):
            if on_wait is not None:
                on_wait("another claude-poe-tui is starting or stopping the proxy: waiting for it")
            deadline = time.monotonic() + timeout
            while not _try_flock(fd, fcntl.LOCK_EX):
                if time.monotonic() > deadline:
                    raise UserError(
                        f"another claude-poe-tui held {files.start_lock} for more than {timeout:.0f} s; "
                        "if none runs, delete that file and try again"
                    )
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


# --- the serve's files ------------------------------------------------------------------------


def read_record(files: ServeFiles) -> ServeRecord | None:
    try:
        return ServeRecord.from_json(json.loads(files.record.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def read_pid_file(files: ServeFiles) -> int | None:
    try:
        text = files.pid.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def write_record(files: ServeFiles, record: ServeRecord) -> None:
    atomic_write_text(files.record, json.dumps(record.to_json(), indent=2) + "\n", mode=0o600)
    if read_pid_file(files) != record.pid:
        atomic_write_text(files.pid, f"{record.pid}\n", mode=0o644)


def remove_record(files: ServeFiles) -> None:
    for path in (files.record, files.pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --- what runs on the port --------------------------------------------------------------------


class Found(enum.Enum):
    RUNNING = "running"  # a proxy of ours answers
    STARTING = "starting"  # a serve lives, its proxy does not answer yet (starting, or restarting after a crash)
    STOPPED = "stopped"
    FOREIGN = "foreign"  # another program answers on the port


@dataclass(frozen=True)
class ProxyFinding:
    found: Found
    url: str
    port: int
    record: ServeRecord | None = None
    """The living ``serve``'s record (``None``: no ``serve``, or not yet written)."""
    probe: ProxyProbe | None = None
    stale_pid: int | None = None
    """A pid file of a ``serve`` that no longer lives (removed while looking)."""
    port_owner: str = ""
    """Who holds the port, for FOREIGN: ``used by nginx (pid 812: …)``."""

    @property
    def running(self) -> bool:
        return self.found is Found.RUNNING

    @property
    def is_background(self) -> bool:
        return self.record is not None and self.record.mode is ServeMode.BACKGROUND


def find_proxy(
    config: Config, state_paths: StatePaths, *, master_key: str | None = None, timeout: float = 1.0
) -> ProxyFinding:
    """What serves ``config``'s port now, cleaning up a dead ``serve``'s files on the way."""
    port = config.proxy.port
    files = state_paths.serve_files(port)
    stale: int | None = None
    record: ServeRecord | None = None
    with _no_serve_alive(files) as nobody:
        if nobody:
            leftover = read_pid_file(files)
            if leftover is None and (old := read_record(files)) is not None:
                leftover = old.pid
            if leftover is not None or files.record.exists():
                stale = leftover
                remove_record(files)
        else:
            record = read_record(files)
    alive = not nobody
    probe = probe_proxy(config.base_url, timeout=timeout, master_key=master_key)
    if probe.ours:
        return ProxyFinding(Found.RUNNING, config.base_url, port, record, probe, stale)
    if alive:
        return ProxyFinding(Found.STARTING, config.base_url, port, record, probe, stale)
    if probe.answering:
        from claude_poe_tui.proxy.parent.portowner import describe_port_owner

        return ProxyFinding(Found.FOREIGN, config.base_url, port, None, probe, stale, describe_port_owner(port))
    return ProxyFinding(Found.STOPPED, config.base_url, port, None, probe, stale)


def foreign_error(config: Config, finding: ProxyFinding) -> UserError:
    who = f" ({finding.port_owner})" if finding.port_owner else ""
    return UserError(
        f"something that is not a claude-poe-tui proxy answers on {config.base_url}{who}; stop it, or set "
        f"[proxy] port in {config.path} to a free port"
    )


# --- starting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartOutcome:
    started: bool
    """``False``: one was running already (or another launcher started it meanwhile)."""
    finding: ProxyFinding
    seconds: float = 0.0

    @property
    def pid(self) -> int | None:
        if self.finding.record is not None:
            return self.finding.record.pid
        return self.finding.probe.pid if self.finding.probe else None


def _tail(path: Path, offset: int, lines: int = 15) -> list[str]:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(offset if offset <= size else max(0, size - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


class BackgroundStartError(UserError):
    def __init__(self, message: str, output: Path, last_lines: list[str]):
        tail = "\n".join(f"  | {line}" for line in last_lines)
        super().__init__(f"{message}\n{tail}\n(all of it: {output})" if tail else f"{message} (output: {output})")


def _wait_ready(files: ServeFiles, config: Config, deadline: float, offset: int) -> ProxyFinding:
    """Wait until the living ``serve`` on the port reports ready; raise if it dies or times out."""
    while True:
        record = read_record(files)
        if not serve_alive(files):
            raise BackgroundStartError("the background proxy stopped while starting:", files.output, _tail(files.output, offset))
        if record is not None and record.state == "running":
            probe = probe_proxy(config.base_url)
            if probe.ours:
                return ProxyFinding(Found.RUNNING, config.base_url, config.proxy.port, record, probe)
        if time.monotonic() > deadline:
            raise BackgroundStartError(
                "the background proxy is not ready yet; it keeps trying (`claude-poe-tui status`, "
                "`claude-poe-tui stop`). Its last output:",
                files.output, _tail(files.output, offset),
            )
        time.sleep(0.1)


def _spawn_serve(config: Config, state_paths: StatePaths, files: ServeFiles, deadline: float) -> int:
    """Start ``serve --background`` detached; returns its pid once it reports ready.

    The ``serve`` reports on a pipe (``--notify-fd``): ``pid N`` once it holds ``serve.lock``, then
    ``ready``. End of file before ``ready`` means it failed; its output file says why.
    """
    files.run_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(files.run_dir, 0o700)
    offset = files.output.stat().st_size if files.output.exists() else 0
    read_end, write_end = os.pipe()
    command = [
        sys.executable, "-m", "claude_poe_tui", "--config", str(Path(config.path).resolve()),
        "serve", "--background", "--notify-fd", str(write_end),
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env[STATE_ENV] = str(state_paths.root.resolve())  # its files where we look for them
    try:
        with open(files.output, "ab") as output:
            os.chmod(files.output, 0o600)
            launcher = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                pass_fds=(write_end,), start_new_session=True, env=env, close_fds=True,
            )
    finally:
        os.close(write_end)
    pid: int | None = None
    buffer = b""
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackgroundStartError(
                    "the background proxy did not become ready in time; it keeps trying (`claude-poe-tui "
                    "status`, `claude-poe-tui stop`). Its last output:", files.output, _tail(files.output, offset),
                )
            ready, _, _ = select.select([read_end], [], [], min(remaining, 0.5))
            if not ready:
                continue
            chunk = os.read(read_end, 4096)
            if not chunk:
                raise BackgroundStartError("the background proxy did not start:", files.output, _tail(files.output, offset))
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                word, _, rest = line.decode("utf-8", "replace").partition(" ")
                if word == "pid" and rest.isdigit():
                    pid = int(rest)
                elif word == "ready" and pid is not None:
                    return pid
    finally:
        os.close(read_end)
        # The first process forks the serve and exits at once; reap it.
        with contextlib.suppress(subprocess.TimeoutExpired):
            launcher.wait(5)


def refresh_catalog_if_old(config: Config, state_paths: StatePaths, max_age: float = 24 * 3600.0) -> None:
    """The proxy reads Poe's catalog from the cache (thinking parameters); refresh a stale one."""
    from claude_poe_tui.poe.catalog import load_cache
    from claude_poe_tui.poe.client import PoeError, refresh_catalog

    cached = load_cache(state_paths.catalog_cache)
    age = cached.age_seconds() if cached else None
    if age is not None and age < max_age:
        return
    try:
        refresh_catalog(config.poe.base_url, state_paths.catalog_cache, timeout=5.0)
    except PoeError:
        pass  # only a cache: the proxy works without it


def start_background(
    config: Config,
    state_paths: StatePaths,
    *,
    say: Say,
    timeout: float = START_TIMEOUT,
    master_key: str | None = None,
) -> StartOutcome:
    """The background proxy for ``config``, running: the one already there, or a new one.

    Under ``start.lock``: two callers at the same moment get the same single proxy.
    """
    if sys.platform == "win32":
        raise UserError("a background proxy needs Linux or macOS; run `claude-poe-tui serve` in a terminal instead")
    files = state_paths.serve_files(config.proxy.port)
    began = time.monotonic()
    with start_lock(files, timeout + config.proxy.drain_seconds + DRAIN_MARGIN_SECONDS, on_wait=say):
        finding = find_proxy(config, state_paths, master_key=master_key)
        if finding.stale_pid is not None:
            say(f"removed a stale pid file: pid {finding.stale_pid} (a background proxy) no longer runs")
        if finding.found is Found.RUNNING:
            return StartOutcome(False, finding)
        if finding.found is Found.FOREIGN:
            raise foreign_error(config, finding)
        deadline = time.monotonic() + timeout
        if finding.found is Found.STARTING:
            record = finding.record
            what = f"pid {record.pid}: {record.detail}" if record and record.detail else "starting"
            say(f"the proxy on {config.base_url} is not answering yet ({what}): waiting for it")
            offset = files.output.stat().st_size if files.output.exists() else 0
            return StartOutcome(False, _wait_ready(files, config, deadline, max(0, offset - 4096)))
        refresh_catalog_if_old(config, state_paths)
        _spawn_serve(config, state_paths, files, deadline)
        finding = find_proxy(config, state_paths, master_key=master_key)
        return StartOutcome(True, finding, time.monotonic() - began)


# --- stopping and restarting ------------------------------------------------------------------


@dataclass(frozen=True)
class StopOutcome:
    stopped: bool
    """``False``: nothing of ours ran on the port."""
    finding: ProxyFinding
    seconds: float = 0.0
    killed: bool = False
    """The ``serve`` did not end within the drain and was killed."""


def _signal(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        raise UserError(f"not allowed to signal pid {pid} (another user's process?)") from None


def stop_serve(files: ServeFiles, record: ServeRecord, wait: float) -> bool:
    """SIGTERM the ``serve`` (it drains its proxy, then exits); SIGKILL after ``wait``. Returns
    whether it had to be killed."""
    _signal(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while serve_alive(files):
        if time.monotonic() > deadline:
            _signal(record.pid, signal.SIGKILL)
            if record.child_pid:
                _signal(record.child_pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 10
            while serve_alive(files) and time.monotonic() < kill_deadline:
                time.sleep(0.05)
            remove_record(files)
            return True
        time.sleep(0.05)
    return False


def stop_background(config: Config, state_paths: StatePaths, *, say: Say, master_key: str | None = None) -> StopOutcome:
    """Stop the ``serve`` on ``config``'s port (background or in a terminal); drains first."""
    files = state_paths.serve_files(config.proxy.port)
    wait = config.proxy.drain_seconds + DRAIN_MARGIN_SECONDS + 5.0
    began = time.monotonic()
    with start_lock(files, START_TIMEOUT, on_wait=say):
        finding = find_proxy(config, state_paths, master_key=master_key)
        if finding.stale_pid is not None:
            say(f"removed a stale pid file: pid {finding.stale_pid} no longer runs")
        record = finding.record or (read_record(files) if finding.found is Found.STARTING else None)
        if finding.found in (Found.RUNNING, Found.STARTING) and record is not None:
            killed = stop_serve(files, record, wait)
            return StopOutcome(True, finding, time.monotonic() - began, killed)
        if finding.found is Found.STARTING:
            # A serve that has not written its record yet: it will in a moment.
            deadline = time.monotonic() + 10
            while (record := read_record(files)) is None and serve_alive(files) and time.monotonic() < deadline:
                time.sleep(0.05)
            if record is not None:
                killed = stop_serve(files, record, wait)
                return StopOutcome(True, finding, time.monotonic() - began, killed)
        if finding.found is Found.RUNNING:
            pid = finding.probe.pid if finding.probe else None
            raise UserError(
                f"the proxy on {config.base_url} (proxy child pid {pid}) was started by a dashboard, not by "
                "`start` or `serve`: quit that dashboard (ctrl+q) or press `s` there"
            )
        return StopOutcome(False, finding)


def request_restart(record: ServeRecord) -> None:
    """Ask a ``serve`` to re-read its config and start a new proxy child on the same port."""
    if RESTART_SIGNAL is None:
        raise UserError("restarting a running serve needs Linux or macOS")
    if not _signal(record.pid, RESTART_SIGNAL):
        raise UserError(f"the proxy's serve (pid {record.pid}) is no longer running")


def wait_restarted(files: ServeFiles, old_child: int | None, timeout: float) -> ServeRecord:
    """After :func:`request_restart`: the record once a new child is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = read_record(files)
        if record is None and not serve_alive(files):
            raise UserError("the proxy's serve stopped while restarting")
        if record is not None and record.state == "running" and record.child_pid not in (None, old_child):
            return record
        time.sleep(0.1)
    raise UserError(f"the proxy did not come back within {timeout:.0f} s")


# --- inside the background serve --------------------------------------------------------------


def daemonize() -> None:
    """Leave the process that started us: fork, the parent exits at once, we go on detached.

    Called by ``serve --background`` before any thread starts. The process that started us (the
    ``claude`` launcher, which then becomes Claude Code) thus never has to reap us.
    """
    if os.fork():
        os._exit(0)


class RotatingOutput:
    """The background proxy's output file: one timestamped line per write, rotated by size
    (``serve.log`` → ``serve.log.1`` …, ``backups`` kept). Our stdout and stderr follow each
    rotation, so even a crash's traceback lands in the current file."""

    def __init__(self, path: Path, max_bytes: int = OUTPUT_MAX_BYTES, backups: int = OUTPUT_BACKUPS):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._handle: TextIO = self._open()

    def _open(self) -> TextIO:
        handle = open(self.path, "a", encoding="utf-8", errors="replace")
        os.chmod(self.path, 0o600)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(handle.fileno(), fd)
        return handle

    def _rotate(self) -> None:
        self._handle.close()
        for index in range(self.backups, 0, -1):
            source = self.path if index == 1 else self.path.with_name(f"{self.path.name}.{index - 1}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(source, self.path.with_name(f"{self.path.name}.{index}"))
        if self.backups == 0:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._handle = self._open()

    def write_line(self, text: str) -> None:
        text = _TERMINAL_CODES.sub("", text)  # LiteLLM colours its lines for a terminal; a file has none
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self._lock:
            try:
                if self._handle.tell() >= self.max_bytes:
                    self._rotate()
                self._handle.write(f"{stamp} {text}\n")
                self._handle.flush()
            except OSError:
                pass  # a full disk must not stop the proxy; the lines are lost, serving goes on

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def idle_check_interval(idle_seconds: float) -> float:
    return min(IDLE_CHECK_MAX, max(IDLE_CHECK_MIN, idle_seconds / 30.0))


class IdleWatch:
    """Calls ``on_idle`` once the proxy has served no request for ``idle_seconds``.

    Reads the child's status page (``in_flight``, ``last_request_at``); a stream in flight counts
    as activity however long it lasts. Time starts when the watch starts (the proxy is ready).
    """

    def __init__(
        self,
        url: str,
        idle_seconds: float,
        on_idle: Callable[[float], None],
        *,
        master_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.url = url
        self.idle_seconds = idle_seconds
        self.on_idle = on_idle
        self.master_key = master_key
        self.clock = clock
        self.last_activity = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> float | None:
        """One look; returns the idle time when it reached the limit."""
        probe = probe_proxy(self.url, timeout=2.0, master_key=self.master_key)
        now = self.clock()
        if probe.ours:
            last = probe.status.get("last_request_at")
            if isinstance(last, (int, float)):
                self.last_activity = max(self.last_activity, float(last))
            if probe.status.get("in_flight"):
                self.last_activity = now
        idle = now - self.last_activity
        return idle if idle >= self.idle_seconds else None

    def _run(self) -> None:
        interval = idle_check_interval(self.idle_seconds)
        while not self._stop.wait(interval):
            idle = self.check()
            if idle is not None:
                self.on_idle(idle)
                return

    def start(self) -> IdleWatch:
        if self.idle_seconds > 0:
            self._thread = threading.Thread(target=self._run, name="idle-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()


def describe_idle(seconds: float) -> str:
    if seconds <= 0:
        return "never stops by itself ([proxy] stop_when_idle = \"0\")"
    return f"stops by itself after {format_seconds(seconds)} without requests ([proxy] stop_when_idle)"


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")
