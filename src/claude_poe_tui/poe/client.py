"""Talking to Poe's own API: the catalog, the points balance and the points history.

* ``GET <base_url>/models`` lists the bots; it needs no key, so it cannot tell a bad key.
* ``GET <root>/usage/current_balance`` (Bearer key) is how a key is checked: 401 means Poe
  rejected it. ``<root>`` is the base URL without its trailing ``/v1``.
* ``GET <root>/usage/points_history?limit=100&starting_after=<query_id>`` pages through what the
  key spent, newest first.

Errors are :class:`PoeError` (a :class:`UserError`): a rejected key names where it came from, an
unreachable Poe names the URL. The key goes only into the Authorization header.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claude_poe_tui.errors import UserError
from claude_poe_tui.poe.catalog import Catalog, load_cache, parse_models_response, save_cache

HISTORY_PAGE_SIZE = 100
HISTORY_MAX_PAGES = 20  # 2,000 queries: enough for a month of use, bounded for a slow link
DEFAULT_TIMEOUT = 15.0


class PoeError(UserError):
    """Poe could not be asked, or answered with an error."""


class PoeAuthError(PoeError):
    """Poe rejected the key (401)."""


class PoeUnreachable(PoeError):
    """Nothing answered at the URL (or not in time)."""


def poe_root(base_url: str) -> str:
    """``https://api.poe.com/v1`` -> ``https://api.poe.com`` (where ``/usage`` lives)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _error_message(response: Any) -> str:
    try:
        payload = response.json()
    except ValueError:
        return (response.text or "").strip()[:300] or f"HTTP {response.status_code}"
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(payload.get("detail"), str):
            return payload["detail"]
    return str(payload)[:300]


@dataclass(frozen=True)
class PointsEntry:
    """One query in the points history."""

    query_id: str
    bot_name: str
    cost_points: int
    time: float | None
    """Unix seconds."""
    usage_type: str = ""


def poe_seconds(raw: Any) -> float | None:
    """Poe's ``creation_time`` is in microseconds; milliseconds and seconds are accepted too."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        return None
    if raw > 1e14:
        return raw / 1_000_000
    if raw > 1e11:
        return raw / 1_000
    return float(raw)


def _entry(raw: Any) -> PointsEntry | None:
    if not isinstance(raw, dict):
        return None
    cost = raw.get("cost_points")
    if isinstance(cost, bool) or not isinstance(cost, (int, float)):
        cost = 0
    bot = raw.get("bot_name")
    query_id = raw.get("query_id")
    return PointsEntry(
        query_id=str(query_id) if query_id is not None else "",
        bot_name=bot if isinstance(bot, str) and bot else "(unknown bot)",
        cost_points=int(cost),
        time=poe_seconds(raw.get("creation_time")),
        usage_type=str(raw.get("usage_type") or ""),
    )


@dataclass(frozen=True)
class PointsHistory:
    entries: tuple[PointsEntry, ...]
    complete: bool
    """False when paging stopped at the page limit with more history left."""

    def spent_per_bot(self) -> list[tuple[str, int, int]]:
        """``(bot, points, queries)``, most points first."""
        totals: dict[str, list[int]] = {}
        for entry in self.entries:
            total = totals.setdefault(entry.bot_name, [0, 0])
            total[0] += entry.cost_points
            total[1] += 1
        return sorted(((bot, p, n) for bot, (p, n) in totals.items()), key=lambda row: (-row[1], row[0]))

    @property
    def total_points(self) -> int:
        return sum(entry.cost_points for entry in self.entries)

    @property
    def since(self) -> float | None:
        times = [entry.time for entry in self.entries if entry.time is not None]
        return min(times) if times else None


class PoeClient:
    """Synchronous calls to Poe; one short-lived HTTP client per call."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        key_origin: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.base_url = base_url.rstrip("/")
        self.root = poe_root(base_url)
        self.api_key = api_key
        self.key_origin = key_origin
        self.timeout = timeout

    def _get(self, url: str, *, auth: bool, params: dict[str, Any] | None = None) -> Any:
        import httpx

        headers = {"accept": "application/json"}
        if auth:
            if not self.api_key:
                raise PoeAuthError("no Poe API key to send (set POE_API_KEY or run `claude-poe-tui init`)")
            headers["authorization"] = f"Bearer {self.api_key}"
        try:
            response = httpx.get(url, params=params, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise PoeUnreachable(f"Poe did not answer at {url} within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise PoeUnreachable(f"cannot reach Poe at {url}: {reason}") from None
        if response.status_code == 401:
            origin = f" (from {self.key_origin})" if self.key_origin else ""
            raise PoeAuthError(
                f"Poe rejected the Poe API key{origin}: {_error_message(response)}. "
                "Get a valid key at https://poe.com/api_key"
            )
        if response.status_code != 200:
            raise PoeError(f"Poe answered {response.status_code} at {url}: {_error_message(response)}")
        try:
            return response.json()
        except ValueError:
            raise PoeError(f"Poe's answer at {url} is not JSON: {response.text[:200]!r}") from None

    # -- calls --

    def model_entries(self) -> list[dict[str, Any]]:
        """The raw ``/v1/models`` entries (no key needed)."""
        url = f"{self.base_url}/models"
        payload = self._get(url, auth=False)
        try:
            return parse_models_response(payload)
        except ValueError as exc:
            raise PoeError(f"unexpected answer from {url}: {exc}") from None

    def catalog(self) -> Catalog:
        return Catalog.from_entries(self.model_entries(), time.time(), self.base_url)

    def balance(self) -> int:
        """Points left on the key's account; raises :class:`PoeAuthError` for a rejected key."""
        url = f"{self.root}/usage/current_balance"
        payload = self._get(url, auth=True)
        value = payload.get("current_point_balance") if isinstance(payload, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PoeError(f"unexpected answer from {url}: no current_point_balance")
        return int(value)

    def points_history(self, max_pages: int = HISTORY_MAX_PAGES) -> PointsHistory:
        """The key's points history, newest first, up to ``max_pages`` pages of 100."""
        url = f"{self.root}/usage/points_history"
        entries: list[PointsEntry] = []
        after: str | None = None
        for _ in range(max_pages):
            params: dict[str, Any] = {"limit": HISTORY_PAGE_SIZE}
            if after:
                params["starting_after"] = after
            payload = self._get(url, auth=True, params=params)
            data = payload.get("data") if isinstance(payload, dict) else None
            if not isinstance(data, list):
                raise PoeError(f"unexpected answer from {url}: no 'data' list")
            page = [entry for entry in (_entry(raw) for raw in data) if entry is not None]
            entries.extend(page)
            if not payload.get("has_more") or not page or not page[-1].query_id:
                return PointsHistory(tuple(entries), complete=True)
            after = page[-1].query_id
        return PointsHistory(tuple(entries), complete=False)


def refresh_catalog(base_url: str, cache_path, *, timeout: float = DEFAULT_TIMEOUT) -> Catalog:
    """Fetch the catalog from Poe and write the cache; raises :class:`PoeError`."""
    client = PoeClient(base_url, timeout=timeout)
    entries = client.model_entries()
    return save_cache(cache_path, entries, client.base_url)


def catalog_or_cache(
    base_url: str,
    cache_path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    on_error: Callable[[PoeError], None] | None = None,
) -> Catalog | None:
    """A fresh catalog when Poe answers (cache updated), else the cached one (``on_error`` hears why)."""
    try:
        return refresh_catalog(base_url, cache_path, timeout=timeout)
    except PoeError as exc:
        if on_error is not None:
            on_error(exc)
        return load_cache(cache_path)
