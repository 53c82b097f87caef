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


class Route(str, Enum):
    """How a mapping reaches Poe."""

    AUTO = "auto"  # MESSAGES for Claude bots, CHAT for the rest
    MESSAGES = "messages"  # Poe's Anthropic-compatible /v1/messages, body forwarded untranslated
    CHAT = "chat"  # Poe's OpenAI-compatible /v1/chat/completions, translated by LiteLLM


class Thinking(str, Enum):
    """Whether Claude Code's thinking request reaches the bot."""

    AUTO = "auto"  # as the bot understands it: untouched on messages, the bot's own parameter on chat
    OFF = "off"  # never: the request's thinking is dropped


def is_claude_bot(poe_model: str) -> bool:
    """Claude bots are the ones Poe serves on its Anthropic-compatible endpoint."""
    return poe_model.lower().startswith("claude")


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


@dataclass(frozen=True)
class PoeSettings:
    api_key: str = DEFAULT_POE_KEY_REF
    """Your Poe API key (https://poe.com/api_key). ``env:NAME`` or a literal."""
    base_url: str = DEFAULT_POE_BASE_URL
    """Poe's OpenAI-compatible base URL, ending in /v1. Overridable for gateways and tests."""


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
    models: tuple[ModelMapping, ...] = ()

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
