"""``[proxy] workers = N``: N gateway processes on the one listening socket, forked once LiteLLM is loaded.

The proxy child imports LiteLLM (seconds, a few hundred MB) and pays its first-request costs once,
then forks the workers: each starts in milliseconds and shares those pages with the others. The
kernel spreads connections over the workers accepting on the socket the parent bound. The child
itself (the *master*) serves nothing: it

* restarts a worker that dies (its crash is printed, with the worker's exit status);
* passes SIGTERM on, so each worker drains its streams, and waits for them;
* prints the ready line once every worker is ready;
* passes a reload on: a reload reaches one worker (the one that took the connection), which saves
  it beside the compiled files and signals the master; the master signals every worker, and the
  first one answers only once all have applied it, so a revoked member's token is refused by every
  worker when the reload returns.

Workers share a small board in shared memory (an anonymous ``mmap``, inherited through ``fork``):
per worker its pid, requests served, requests in flight, last request time and the reload it has
applied. The status page sums it, so ``status`` and the idle stop see the whole proxy, whichever
worker answers. What each worker keeps in memory (the Router's usage counts, limits without Redis)
is its own: share limits over workers with ``[redis] url``.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

RESTART_PAUSE_SECONDS = 1.0  # between a worker's crash and its replacement, if it crashed quickly
_HEADER = struct.Struct("dd")  # the reload generation to reach, the number of workers
_SLOT = struct.Struct("dddddd")  # pid, requests, in flight, last request at, reload generation, ready


@dataclass(frozen=True)
class WorkerTotals:
    requests: int
    in_flight: int
    last_request_at: float | None
    workers_ready: int


class WorkerBoard:
    """The workers' shared figures, one slot each, in memory every worker of this proxy maps."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._map = mmap.mmap(-1, _HEADER.size + _SLOT.size * workers)  # MAP_SHARED | MAP_ANONYMOUS
        _HEADER.pack_into(self._map, 0, 0.0, float(workers))

    def _offset(self, slot: int) -> int:
        return _HEADER.size + _SLOT.size * slot

    def _read(self, slot: int) -> list[float]:
        return list(_SLOT.unpack_from(self._map, self._offset(slot)))

    def _write(self, slot: int, values: list[float]) -> None:
        _SLOT.pack_into(self._map, self._offset(slot), *values)

    def claim(self, slot: int, pid: int) -> None:
        """A (new) worker takes slot ``slot``: its figures start again; it has applied no reload yet."""
        self._write(slot, [float(pid), 0.0, 0.0, 0.0, 0.0, 0.0])

    def ready(self, slot: int) -> None:
        values = self._read(slot)
        values[5] = 1.0
        self._write(slot, values)

    def request_started(self, slot: int) -> None:
        values = self._read(slot)
        values[2] += 1
        values[3] = time.time()
        self._write(slot, values)

    def request_finished(self, slot: int) -> None:
        values = self._read(slot)
        values[1] += 1
        values[2] = max(0.0, values[2] - 1)
        values[3] = time.time()
        self._write(slot, values)

    def totals(self) -> WorkerTotals:
        slots = [self._read(i) for i in range(self.workers)]
        last = max((s[3] for s in slots), default=0.0)
        return WorkerTotals(int(sum(s[1] for s in slots)), int(sum(s[2] for s in slots)), last or None,
                            sum(1 for s in slots if s[5]))

    # -- reloads --

    @property
    def reload_target(self) -> int:
        return int(_HEADER.unpack_from(self._map, 0)[0])

    def announce_reload(self) -> int:
        """A worker took a reload: every worker must reach the returned generation."""
        target = self.reload_target + 1
        _HEADER.pack_into(self._map, 0, float(target), float(self.workers))
        return target

    def applied(self, slot: int) -> int:
        return int(self._read(slot)[4])

    def mark_applied(self, slot: int, generation: int) -> None:
        values = self._read(slot)
        values[4] = float(generation)
        self._write(slot, values)

    def all_applied(self, generation: int) -> bool:
        return all(int(self._read(i)[4]) >= generation for i in range(self.workers) if self._read(i)[0])


@dataclass
class Worker:
    slot: int
    pid: int
    started: float


class Master:
    """Forks and minds the workers; ``serve_worker(slot)`` runs one worker and returns its exit code."""

    def __init__(self, workers: int, serve_worker: Callable[[int, WorkerBoard], int], *, drain_seconds: float,
                 grace_seconds: float, say: Callable[[str], None]) -> None:
        self.count = workers
        self.serve_worker = serve_worker
        self.board = WorkerBoard(workers)
        self.drain_seconds = drain_seconds
        self.grace_seconds = grace_seconds
        self.say = say
        self.workers: dict[int, Worker] = {}  # pid -> worker
        self.stopping = False
        self.ready_announced = False

    def _fork(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                self.board.claim(slot, os.getpid())
                code = self.serve_worker(slot, self.board)
            except BaseException as exc:  # noqa: BLE001 - a worker reports, then ends
                print(f"claude-poe-tui: worker {slot + 1} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.workers[pid] = Worker(slot, pid, time.monotonic())

    def stop(self, *_: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.workers):
            _signal(pid, signal.SIGTERM)

    def _reload(self, *_: object) -> None:
        for pid in list(self.workers):
            _signal(pid, signal.SIGHUP)

    def run(self, parent_gone: Callable[[], bool]) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self._reload)
        for slot in range(self.count):
            self._fork(slot)
        deadline: float | None = None
        while self.workers:
            if parent_gone() and not self.stopping:
                self.stop()
            if self.stopping and deadline is None:
                deadline = time.monotonic() + self.drain_seconds + self.grace_seconds
            if deadline is not None and time.monotonic() > deadline:
                for pid in list(self.workers):
                    _signal(pid, signal.SIGKILL)
            if not self.ready_announced and self.board.totals().workers_ready == self.count:
                from claude_poe_tui.proxy.protocol import READY_LINE

                self.ready_announced = True
                self.say(f"claude-poe-tui: {self.count} workers serving")
                print(READY_LINE, flush=True)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            worker = self.workers.pop(pid, None)
            if worker is None or self.stopping:
                continue
            ran = time.monotonic() - worker.started
            self.say(f"claude-poe-tui: worker {worker.slot + 1} (pid {pid}) {_exit_words(status)} after "
                     f"{ran:.1f} s; starting it again")
            if ran < RESTART_PAUSE_SECONDS:
                time.sleep(RESTART_PAUSE_SECONDS)
            self._fork(worker.slot)
        return 0


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _exit_words(status: int) -> str:
    if os.WIFSIGNALED(status):
        try:
            return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
        except ValueError:
            return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with code {os.WEXITSTATUS(status)}"
