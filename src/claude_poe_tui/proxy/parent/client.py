"""Talking to a running proxy child from our side: is one serving a port, is it ours, reload it.

Used by the dashboard (attach to a running ``serve`` instead of starting a second proxy), by
``claude-poe-tui claude`` (start one only if none serves), by ``doctor``, and by
:class:`~claude_poe_tui.proxy.parent.process.ProxyProcess` to apply a new model list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_poe_tui.proxy.protocol import (
    CONTROL_HEADER,
    PRODUCT,
    RELOAD_PATH,
    STATUS_PATH,
    ReloadPayload,
    control_token_path,
)


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


def probe_proxy(base_url: str, timeout: float = 1.0, master_key: str | None = None) -> ProxyProbe:
    """Ask ``base_url`` what it is. With ``master_key``, sent as both Anthropic headers (the status
    page asks for it when the proxy listens beyond loopback).

    ``http.client``, not httpx: the ``claude`` launcher probes on every launch, and importing httpx
    alone costs ~0.1 s there. A port that accepts but never answers (a child restarting behind a
    kept socket) counts as not answering.
    """
    import http.client
    import json
    from urllib.parse import urlsplit

    url = base_url.rstrip("/")
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    headers = {"accept": "application/json"}
    if master_key:
        headers.update({"x-api-key": master_key, "authorization": f"Bearer {master_key}"})
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("GET", STATUS_PATH, headers=headers)
        response = connection.getresponse()
        raw = response.read(1_000_000)
        code = response.status
    except (ConnectionError, TimeoutError, OSError):
        return ProxyProbe(url, answering=False, ours=False, status={})
    except http.client.HTTPException:  # answered, but not HTTP we understand
        return ProxyProbe(url, answering=True, ours=False, status={})
    finally:
        connection.close()
    try:
        body = json.loads(raw) if code == 200 else {}
    except ValueError:
        body = {}
    ours = isinstance(body, dict) and body.get("product") == PRODUCT
    return ProxyProbe(url, answering=True, ours=ours, status=body if ours else {})


def read_control_token(run_dir: Path) -> str | None:
    try:
        return control_token_path(run_dir).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def send_reload(base_url: str, token: str, payload: ReloadPayload) -> list[str]:
    """Give a running proxy of ours a new model list; returns the model names it now serves."""
    import httpx

    from claude_poe_tui.errors import UserError

    try:
        response = httpx.post(
            base_url.rstrip("/") + RELOAD_PATH,
            json=payload.to_json(),
            headers={CONTROL_HEADER.decode(): token},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise UserError(f"could not reach the proxy at {base_url} to apply the change: {exc}") from None
    if response.status_code != 200:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        raise UserError(f"the proxy refused the new model list ({response.status_code}): {reason}")
    return list(response.json().get("models", []))
