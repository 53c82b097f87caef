"""The gateway's status page, asked every few seconds on a thread of its own.

``GET /claude-poe-tui/status`` (see :mod:`claude_poe_tui.proxy.protocol`) says what a running
gateway serves and how it fares: ``models``, ``started_at``, ``requests``, ``in_flight`` and, for a
team gateway, ``keys_out`` (pool keys taken out, by variable, with the reason), ``members`` (names)
and ``limits_shared``. The dashboard shows those in Keys (its own proxy, or a serve it attached to)
and, for a remote gateway (``--attach``), everything it knows about that gateway comes from here.

The master key goes in ``x-api-key``: a gateway listening beyond loopback shows its status to
master-key holders only. Each answer, or failure, reaches ``on_report`` as a :class:`StatusReport`.
Plain Python (httpx, imported in the thread), no Textual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui.proxy.protocol import PRODUCT, STATUS_PATH

STATUS_EVERY = 3.0  # seconds between two looks
STATUS_TIMEOUT = 5.0


@dataclass(frozen=True)
class StatusReport:
    ok: bool
    status: dict[str, Any] = field(default_factory=dict)
    """What the gateway said (when ``ok``)."""
    error: str | None = None
    """Why it could not be read, in words (when not ``ok``)."""
    at: float = 0.0

    @property
    def keys_out(self) -> dict[str, str]:
        raw = self.status.get("keys_out")
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    @property
    def members(self) -> list[str]:
        raw = self.status.get("members")
        return [str(m) for m in raw] if isinstance(raw, list) else []

    @property
    def models(self) -> list[str]:
        raw = self.status.get("models")
        return [str(m) for m in raw] if isinstance(raw, list) else []

    @property
    def points(self) -> dict[str, Any] | None:
        """The gateway's points summary (asked with ``with_points``), or None."""
        raw = self.status.get("points")
        return raw if isinstance(raw, dict) else None

    @property
    def started_at(self) -> float | None:
        raw = self.status.get("started_at")
        return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None


def read_status(client: Any, base_url: str, key: str | None, key_words: str = "the master key", *,
                with_points: bool = False) -> StatusReport:
    """One look (``client``: an ``httpx.Client``). Never raises for what the network or the gateway does.

    ``with_points``: with the gateway's points summary too (for a dashboard that cannot read its files).
    """
    import httpx

    headers = {"x-api-key": key} if key else {}
    params = {"points": "1"} if with_points else None
    try:
        response = client.get(base_url.rstrip("/") + STATUS_PATH, headers=headers, params=params,
                              timeout=STATUS_TIMEOUT)
    except httpx.HTTPError as exc:
        return StatusReport(False, error=f"no answer ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})",
                            at=time.time())
    if response.status_code == 401:
        return StatusReport(False, error=f"the gateway refused {key_words} (401): is it this gateway's master key?",
                            at=time.time())
    if response.status_code != 200:
        return StatusReport(False, error=f"{STATUS_PATH} answered {response.status_code}", at=time.time())
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("product") != PRODUCT:
        return StatusReport(False, error="this is not a claude-poe-tui gateway (its status page says otherwise)",
                            at=time.time())
    return StatusReport(True, body, at=time.time())


class StatusWatcher:
    def __init__(self, base_url: str, key: str | None, on_report: Callable[[StatusReport], None], *,
                 every: float = STATUS_EVERY, key_words: str = "the master key", verify: Any = True,
                 with_points: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.with_points = with_points
        self.key = key
        self.key_words = key_words
        self.on_report = on_report
        self.every = every
        self.verify = verify
        self.last: StatusReport | None = None
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gateway-status", daemon=True)
            self._thread.start()

    def look_now(self) -> None:
        """Ask at once instead of at the next turn (the proxy just started, say)."""
        self._wake.set()

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        import httpx

        with httpx.Client(verify=self.verify) as client:
            while not self._closed.is_set():
                report = read_status(client, self.base_url, self.key, self.key_words, with_points=self.with_points)
                self.last = report
                if not self._closed.is_set():
                    self.on_report(report)
                self._wake.wait(self.every)
                self._wake.clear()
