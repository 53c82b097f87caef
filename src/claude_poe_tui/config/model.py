"""The typed config: the single source of truth for everything the product does.

Built only by :func:`claude_poe_tui.config.load.load_config` (or :func:`parse_config`), which
validates every key; the rest of the code reads these frozen objects and never the TOML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4000
DEFAULT_POE_BASE_URL = "https://api.poe.com/v1"
DEFAULT_MASTER_KEY_REF = "env:LITELLM_MASTER_KEY"
DEFAULT_POE_KEY_REF = "env:POE_API_KEY"
# A proxy other machines reach ([proxy] host beyond loopback) needs a master key at least this long.
MIN_EXPOSED_MASTER_KEY_LENGTH = 32


class Route(str, Enum):
    """How a mapping reaches Poe."""

    AUTO = "auto"  # MESSAGES for Claude bots, CHAT for the rest
    MESSAGES = "messages"  # Poe's Anthropic-compatible /v1/messages, body forwarded untranslated
    CHAT = "chat"  # Poe's OpenAI-compatible /v1/chat/completions, translated by LiteLLM


class Thinking(str, Enum):
    """Whether Claude Code's thinking request reaches the bot."""

    AUTO = "auto"  # as the bot understands it: untouched on messages, the bot's own parameter on chat
    OFF = "off"  # never: the request's thinking is dropped


_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or ``"0"`` in seconds; :class:`ValueError` otherwise."""
    value = text.strip().lower()
    if value in ("0", "0s", "0m", "0h", "never"):
        return 0.0
    unit = _DURATION_UNITS.get(value[-1:]) if value else None
    number = value[:-1] if unit else value
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration such as \"90s\", \"30m\" or \"2h\"") from None
    if amount < 0:
        raise ValueError(f"{text!r} is negative")
    return amount * (unit or 1.0)


def is_claude_bot(poe_model: str) -> bool:
    """Claude bots are the ones Poe serves on its Anthropic-compatible endpoint."""
    return poe_model.lower().startswith("claude")


# A mapping's optional numeric limits: unset (None) or a positive whole number each.
MAPPING_LIMIT_KEYS = ("context_window", "max_output_tokens", "rpm", "tpm")


@dataclass(frozen=True)
class ModelMapping:
    name: str
    """The model name Claude Code asks for, e.g. ``claude-sonnet-4-5-20250929``."""
    poe_model: str
    """The Poe bot that answers it, e.g. ``Claude-Sonnet-4.5`` or ``GPT-5``."""
    route: Route = Route.AUTO
    """``auto`` picks ``messages`` for Claude bots and ``chat`` for every other bot."""
    thinking: Thinking = Thinking.AUTO
    """``auto``: on the chat route, Claude Code's thinking becomes the bot's ``thinking_budget`` or
    ``reasoning_effort`` (per Poe's catalog); ``off``: the bot is never asked to think."""
    fallbacks: tuple[str, ...] = ()
    """Other mapped names tried in order when this bot fails before answering (429, 402, 5xx,
    timeout, connection error); never on 400, 401 or 404."""
    context_window: int | None = None
    """Tokens of context the bot takes; unset: Poe's catalog says."""
    max_output_tokens: int | None = None
    """Most tokens the bot writes in one answer; unset: Poe's catalog says."""
    rpm: int | None = None
    """Requests per minute to this bot, over every worker and instance sharing [redis]."""
    tpm: int | None = None
    """Tokens per minute to this bot, counted the same way as ``rpm``."""

    @property
    def effective_route(self) -> Route:
        if self.route is not Route.AUTO:
            return self.route
        return Route.MESSAGES if is_claude_bot(self.poe_model) else Route.CHAT


@dataclass(frozen=True)
class ProxySettings:
    host: str = DEFAULT_HOST
    """Address the proxy listens on. Keep 127.0.0.1 unless other machines must reach it."""
    port: int = DEFAULT_PORT
    """TCP port; ``"env:LITELLM_PORT"`` reads it from the environment or ``.env``."""
    master_key: str = DEFAULT_MASTER_KEY_REF
    """The token Claude Code sends (ANTHROPIC_AUTH_TOKEN). ``env:NAME`` or a literal."""
    request_timeout: float = 600.0
    """Seconds to wait for Poe before answering 504 timeout_error."""
    drain_seconds: float = 30.0
    """On stop, how long streams in flight may finish; those still open then end with an error event."""
    max_request_mb: float = 32.0
    """Request bodies larger than this are refused (413) without being read."""
    stop_when_idle: str = "30m"
    """A background proxy (``start``, the ``claude`` launcher) stops after this long without
    requests: ``"90s"``, ``"30m"``, ``"2h"``; ``"0"`` means never."""
    workers: int = 1
    """Proxy processes sharing the port; more serve more requests at once on more cores."""

    @property
    def stop_when_idle_seconds(self) -> float:
        """``stop_when_idle`` in seconds; 0 means never (validated when the config is read)."""
        return parse_duration(self.stop_when_idle)


@dataclass(frozen=True)
class PoeSettings:
    api_key: str = DEFAULT_POE_KEY_REF
    """Your Poe API key (https://poe.com/api_key). ``env:NAME`` or a literal."""
    base_url: str = DEFAULT_POE_BASE_URL
    """Poe's OpenAI-compatible base URL, ending in /v1. Overridable for gateways and tests."""
    api_keys: tuple[str, ...] = ()
    """A pool of Poe keys (``env:NAME`` each) used in turn, balanced by use; replaces ``api_key``."""


@dataclass(frozen=True)
class LogSettings:
    enabled: bool = True
    """Record one line per request (never prompts, responses or keys)."""
    path: str = ""
    """Request log file; empty means ``<state dir>/requests.jsonl``."""
    max_size_mb: float = 20.0
    """Rotate the request log when it reaches this size."""
    backups: int = 3
    """Rotated files kept; disk use stays under ``max_size_mb * (backups + 1)``."""
    points: bool = True
    """Keep each request's Poe points beside its record, from Poe's usage history (asked while
    requests flow, a few times a minute); budgets need it."""


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    """``redis://host:6379/0`` or ``env:REDIS_URL``: shared limits, cooldowns and routing state for
    every worker and instance. Empty: each proxy process keeps its own."""


@dataclass(frozen=True)
class BudgetSettings:
    """Points limits; a request that would go over one is refused. Unset: no limit."""

    session_points: float | None = None
    """Points one Claude Code session may spend."""
    daily_points: float | None = None
    """Points all requests may spend per calendar day (local time)."""
    min_balance: float | None = None
    """Refuse requests once the Poe balance falls under this; also warns in the dashboard and doctor."""


@dataclass(frozen=True)
class ClientToken:
    """A team member's token: sent as the API key instead of the master key, recorded by name."""

    name: str
    key: str
    """``env:NAME`` or a literal token."""
    daily_points: float | None = None
    """Points this member's requests may spend per calendar day (local time); unset: no limit of their own."""
    session_points: float | None = None
    """Points one Claude Code session of this member may spend; unset: no limit of their own."""


@dataclass(frozen=True)
class ClaudeCodeSettings:
    """Which mapped names Claude Code uses for its model slots (``claude-poe-tui env``).

    Empty means: the first mapping whose name contains ``opus`` / ``sonnet`` / ``haiku``.
    """

    opus: str = ""
    sonnet: str = ""
    haiku: str = ""
    """Also used for Claude Code's background tasks."""
    subagent: str = ""


@dataclass(frozen=True)
class Config:
    path: Path
    proxy: ProxySettings = field(default_factory=ProxySettings)
    poe: PoeSettings = field(default_factory=PoeSettings)
    log: LogSettings = field(default_factory=LogSettings)
    claude_code: ClaudeCodeSettings = field(default_factory=ClaudeCodeSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    models: tuple[ModelMapping, ...] = ()
    clients: tuple[ClientToken, ...] = ()

    @property
    def dotenv_path(self) -> Path:
        return self.path.parent / ".env"

    @property
    def base_url(self) -> str:
        """What clients use: ``http://127.0.0.1:4000`` (no /v1, as Claude Code wants it)."""
        host = self.proxy.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.proxy.port}"

    def mapping(self, name: str) -> ModelMapping | None:
        for mapping in self.models:
            if mapping.name == name:
                return mapping
        return None
