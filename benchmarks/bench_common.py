"""Pieces every benchmark script uses (they run as scripts: ``python benchmarks/bench_x.py``, so
this folder is on ``sys.path``)."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_all(processes: Iterable[subprocess.Popen], timeout: float = 40.0) -> None:
    """SIGTERM each process still running, newest first; SIGKILL what has not left after ``timeout``."""
    for process in reversed(list(processes)):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
