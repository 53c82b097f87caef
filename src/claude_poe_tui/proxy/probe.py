"""Is a proxy already serving a port, and is it ours?

Used by the dashboard (attach to a running ``serve`` instead of starting a second proxy), by
``claude-poe-tui claude`` (start one only if none serves) and by ``doctor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUS_PATH = "/claude-poe-tui/status"  # answered by proxy/gateway.py without a key


@dataclass(frozen=True)
class ProxyProbe:
    url: str
    answering: bool
    """Something answers HTTP on the port."""
    ours: bool
    """It is a claude-poe-tui proxy (it answered our status path)."""
    status: dict[str, Any]
    """What our proxy said about itself: version, pid, config path, mapped model names."""

    @property
    def pid(self) -> int | None:
        pid = self.status.get("pid")
        return pid if isinstance(pid, int) else None


def probe_proxy(base_url: str, timeout: float = 1.0) -> ProxyProbe:
    import httpx

    url = base_url.rstrip("/")
    try:
        response = httpx.get(url + STATUS_PATH, timeout=timeout)
    except httpx.HTTPError:
        return ProxyProbe(url, answering=False, ours=False, status={})
    try:
        body = response.json() if response.status_code == 200 else {}
    except ValueError:
        body = {}
    ours = isinstance(body, dict) and body.get("product") == "claude-poe-tui"
    return ProxyProbe(url, answering=True, ours=ours, status=body if ours else {})
