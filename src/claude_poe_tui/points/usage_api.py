"""The two Poe usage endpoints the poller calls, for ``httpx.Client`` and ``httpx.AsyncClient``.

Every outcome is a value: a decoded JSON answer, or a :class:`~.history.FetchFailed` that says why
(never an exception), so one unreachable or odd answer never stops the poller. The key goes only
into the Authorization header and never into a message.
"""

from __future__ import annotations

from typing import Any

from claude_poe_tui.points.history import FetchFailed, PageRequest

TIMEOUT = 10.0


def usage_root(base_url: str) -> str:
    """``https://api.poe.com/v1`` -> ``https://api.poe.com`` (where ``/usage`` lives)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _message(response: Any) -> str:
    try:
        payload = response.json()
    except ValueError:
        return (response.text or "").strip()[:200] or f"HTTP {response.status_code}"
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"][:200]
    return str(error)[:200]


def _answer(url: str, response: Any) -> Any:
    if response.status_code == 401:
        return FetchFailed(f"Poe rejected the API key at {url}: {_message(response)}", 401)
    if response.status_code != 200:
        return FetchFailed(f"Poe answered {response.status_code} at {url}: {_message(response)}", response.status_code)
    try:
        return response.json()
    except ValueError:
        return FetchFailed(f"Poe's answer at {url} is not JSON: {response.text[:100]!r}", 200)


def _unreachable(url: str, exc: Exception) -> FetchFailed:
    return FetchFailed(f"cannot reach Poe at {url}: {str(exc) or type(exc).__name__}")


class UsageApi:
    """``history_page`` and ``balance`` over a caller-owned httpx client (sync or async)."""

    def __init__(self, root: str, api_key: str):
        self.root = root.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}", "accept": "application/json"}

    @property
    def history_url(self) -> str:
        return f"{self.root}/usage/points_history"

    @property
    def balance_url(self) -> str:
        return f"{self.root}/usage/current_balance"

    # -- blocking --

    def history_page(self, client: Any, request: PageRequest) -> Any:
        import httpx

        try:
            response = client.get(self.history_url, params=request.params(), headers=self._headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            return _unreachable(self.history_url, exc)
        return _answer(self.history_url, response)

    def balance(self, client: Any) -> int | FetchFailed:
        import httpx

        try:
            response = client.get(self.balance_url, headers=self._headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            return _unreachable(self.balance_url, exc)
        return parse_balance(self.balance_url, _answer(self.balance_url, response))

    # -- async --

    async def ahistory_page(self, client: Any, request: PageRequest) -> Any:
        import httpx

        try:
            response = await client.get(self.history_url, params=request.params(), headers=self._headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            return _unreachable(self.history_url, exc)
        return _answer(self.history_url, response)

    async def abalance(self, client: Any) -> int | FetchFailed:
        import httpx

        try:
            response = await client.get(self.balance_url, headers=self._headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            return _unreachable(self.balance_url, exc)
        return parse_balance(self.balance_url, _answer(self.balance_url, response))


def parse_balance(url: str, answer: Any) -> int | FetchFailed:
    if isinstance(answer, FetchFailed):
        return answer
    value = answer.get("current_point_balance") if isinstance(answer, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return FetchFailed(f"unexpected answer from {url}: no current_point_balance", 200)
    return int(value)
