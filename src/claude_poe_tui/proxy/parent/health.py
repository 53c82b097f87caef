"""What the running proxy says about its own health, for `serve`'s output, `doctor` and the dashboard.

Read from the child's status page: whether its request log is failing (and how many records it
lost), and which Poe keys of a pool are out. :class:`HealthWatch` looks every few seconds and
reports changes only, so a failing log is said once, and its recovery once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claude_poe_tui.proxy.parent.client import probe_proxy

CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Health:
    log_failing: str | None
    log_dropped: int
    keys_out: dict[str, str]

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> Health:
        keys_out = status.get("keys_out")
        return cls(
            log_failing=status.get("request_log_failing") or None,
            log_dropped=int(status.get("request_log_dropped") or 0),
            keys_out=dict(keys_out) if isinstance(keys_out, dict) else {},
        )

    def log_line(self) -> str | None:
        """``request log failing: <reason> (N records dropped)``, when it is."""
        if self.log_failing is None:
            return None
        from claude_poe_tui.wording import counted

        return f"request log failing: {self.log_failing} ({counted(self.log_dropped, 'record')} dropped)"


def changes(before: Health | None, now: Health) -> list[str]:
    """What to say about ``now``, given what was said about ``before``."""
    lines: list[str] = []
    if now.log_failing and (before is None or before.log_failing != now.log_failing):
        lines.append(f"warning: {now.log_line()}")
    elif before is not None and before.log_failing and not now.log_failing:
        from claude_poe_tui.wording import counted

        lines.append(f"request log writing again ({counted(now.log_dropped, 'record')} lost while it failed)")
    for key, why in now.keys_out.items():
        if before is None or key not in before.keys_out:
            lines.append(f"warning: Poe key {key} is out of the pool: {why}")
    return lines


class HealthWatch:
    def __init__(self, url: str, say: Callable[[str], None], *, master_key: str | None = None,
                 interval: float = CHECK_SECONDS) -> None:
        self.url, self.say, self.master_key, self.interval = url, say, master_key, interval
        self.last: Health | None = None
        self._stop = threading.Event()

    def check(self) -> None:
        probe = probe_proxy(self.url, timeout=2.0, master_key=self.master_key)
        if not probe.ours:
            return
        now = Health.from_status(probe.status)
        for line in changes(self.last, now):
            self.say(line)
        self.last = now

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # a look that fails is only a missed look
                pass

    def start(self) -> HealthWatch:
        threading.Thread(target=self._run, name="health-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
