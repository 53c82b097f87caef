"""Per-mapping ``rpm`` / ``tpm`` limits, held over every worker and instance that shares ``[redis]``.

LiteLLM's Router counts usage per process and syncs it to Redis in batches, so two instances each
let through about the whole limit (measured: FACTS). Here each request takes its place in a
minute window atomically in Redis (``INCR`` of ``…:rpm:<deployment>:<minute>``, which expires after
two minutes): whatever the number of processes, no more than ``rpm`` requests a minute reach a
deployment. ``tpm`` counts the tokens of answered requests (``INCRBY``) and refuses new requests
once the minute's count has reached the limit (so a minute may end over it by the last requests'
tokens).

Without ``[redis] url`` the same counts are kept in the process: each worker and instance then has
the whole limit to itself. If Redis goes away while serving, counting goes on in the process (with
one line in the proxy's output) and returns to Redis when it answers again; if it cannot be reached
at start, the proxy starts all the same, counting in the process, and says so.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

PREFIX = "claude-poe-tui:limits"
WINDOW_SECONDS = 60
RETRY_REDIS_AFTER = 5.0  # seconds between attempts to reach a Redis that went away


@dataclass(frozen=True)
class Refusal:
    """A limit reached: which, and when the window turns."""

    message: str
    retry_after: int


class Limiter:
    def __init__(self, redis_url: str | None, say=print) -> None:
        self._redis_url = redis_url
        self._say = say
        self._redis: Any = None
        self._redis_down_since: float | None = None
        self._next_try = 0.0
        self._local: dict[str, int] = defaultdict(int)
        self._local_minute = 0

    @property
    def shared(self) -> bool:
        """Counting in Redis right now (not in this process)."""
        return self._redis is not None and self._redis_down_since is None

    async def start(self) -> None:
        if not self._redis_url:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(self._redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
        try:
            await self._redis.ping()
            self._say(f"claude-poe-tui: limits shared in Redis at {_safe(self._redis_url)}")
        except Exception as exc:
            self._went_down(exc, at_start=True)

    async def close(self) -> None:
        if self._redis is not None:
            try:
                await self._redis.aclose()
            except Exception:
                pass

    def _went_down(self, exc: BaseException, at_start: bool = False) -> None:
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            when = "at start" if at_start else "while serving"
            self._say(f"claude-poe-tui: warning: Redis unreachable {when} ({type(exc).__name__}: {exc}); "
                      "limits count in this process until it answers again")
        self._next_try = time.monotonic() + RETRY_REDIS_AFTER

    def _came_back(self) -> None:
        if self._redis_down_since is not None:
            self._say("claude-poe-tui: Redis answers again: limits are shared again")
            self._redis_down_since = None

    def _use_redis(self) -> bool:
        if self._redis is None:
            return False
        return self._redis_down_since is None or time.monotonic() >= self._next_try

    # -- counting --

    async def take(self, deployment: str, mapping: str, limits: dict[str, int]) -> Refusal | None:
        """Count one request to ``deployment``; a :class:`Refusal` when a limit is reached."""
        rpm, tpm = limits.get("rpm"), limits.get("tpm")
        if not rpm and not tpm:
            return None
        minute = int(time.time() // WINDOW_SECONDS)
        retry_after = max(1, WINDOW_SECONDS - int(time.time() % WINDOW_SECONDS))
        rpm_key = f"{PREFIX}:rpm:{deployment}:{minute}"
        tpm_key = f"{PREFIX}:tpm:{deployment}:{minute}"
        used_tokens = 0
        count = 0
        if self._use_redis():
            try:
                pipe = self._redis.pipeline(transaction=True)
                if rpm:
                    pipe.incr(rpm_key)
                    pipe.expire(rpm_key, 2 * WINDOW_SECONDS)
                if tpm:
                    pipe.get(tpm_key)
                results = await pipe.execute()
                self._came_back()
                if rpm:
                    count = int(results[0])
                if tpm:
                    used_tokens = int(results[-1] or 0)
            except Exception as exc:
                self._went_down(exc)
                count, used_tokens = self._take_local(rpm_key, tpm_key, minute, rpm)
        else:
            count, used_tokens = self._take_local(rpm_key, tpm_key, minute, rpm)
        if rpm and count > rpm:
            return Refusal(f"the limit of {rpm} requests a minute for {mapping} ([[models]] rpm) was reached; "
                           f"it resets in {retry_after} s", retry_after)
        if tpm and used_tokens >= tpm:
            return Refusal(f"the limit of {tpm} tokens a minute for {mapping} ([[models]] tpm) was reached; "
                           f"it resets in {retry_after} s", retry_after)
        return None

    def _take_local(self, rpm_key: str, tpm_key: str, minute: int, rpm: int | None) -> tuple[int, int]:
        if minute != self._local_minute:
            self._local.clear()
            self._local_minute = minute
        if rpm:
            self._local[rpm_key] += 1
        return self._local[rpm_key], self._local[tpm_key]

    async def add_tokens(self, deployment: str, limits: dict[str, int], tokens: int) -> None:
        if not limits.get("tpm") or tokens <= 0:
            return
        minute = int(time.time() // WINDOW_SECONDS)
        key = f"{PREFIX}:tpm:{deployment}:{minute}"
        if self._use_redis():
            try:
                pipe = self._redis.pipeline(transaction=True)
                pipe.incrby(key, tokens)
                pipe.expire(key, 2 * WINDOW_SECONDS)
                await pipe.execute()
                self._came_back()
                return
            except Exception as exc:
                self._went_down(exc)
        if minute != self._local_minute:
            self._local.clear()
            self._local_minute = minute
        self._local[key] += tokens


def _safe(url: str) -> str:
    """A Redis URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
