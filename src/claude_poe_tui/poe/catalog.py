"""Poe's bot catalog (``GET /v1/models``): a tolerant parser, case-insensitive lookup, and a cache.

Poe adds fields to its model entries over time and not every bot fills every field, so the
parser takes what it recognises and never fails on an entry it half understands: a bot whose
context window is unknown is still a bot. Entries look like::

    {"id": "Gemini-2.5-Pro", "owned_by": "Google", "metadata": {"display_name": "Gemini 2.5 Pro"},
     "context_window": {"context_length": 1048576, "max_output_tokens": 65536},
     "pricing": {"prompt": "0.00000087", "completion": "0.0000070"},
     "reasoning": {"budget": {"max_tokens": 32768, "min_tokens": 128},
                   "supports_reasoning_effort": false},
     "parameters": [{"name": "thinking_budget", "schema": {"type": "integer", "maximum": 32768}}]}

Reasoning is controlled per bot by one bot parameter: ``thinking_budget`` (an integer number of
tokens) or ``reasoning_effort`` (a level such as ``low``/``medium``/``high``). :class:`Reasoning`
says which, and its limits.

The cache (``StatePaths.catalog_cache``) keeps the raw entries with the time they were fetched, so
a newer parser reads an older cache fully. No I/O happens at import; nothing here uses the network.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_poe_tui.atomic import atomic_write_text

THINKING_BUDGET = "thinking_budget"
REASONING_EFFORT = "reasoning_effort"
EFFORT_ORDER = ("minimal", "low", "medium", "high", "xhigh", "max")
CACHE_VERSION = 1
CATALOG_MAX_AGE = 24 * 3600.0
"""A cached catalog older than this is fetched again (``serve``, the ``claude`` launcher, the dashboard)."""


@dataclass(frozen=True)
class Reasoning:
    """How a bot is asked to think: which bot parameter carries it, and its limits."""

    parameter: str
    """``thinking_budget`` or ``reasoning_effort``."""
    min_budget: int | None = None
    max_budget: int | None = None
    efforts: tuple[str, ...] = ()
    """The ``reasoning_effort`` values the bot accepts, when the catalog lists them."""

    def describe(self) -> str:
        if self.parameter == THINKING_BUDGET:
            if self.min_budget is not None and self.max_budget is not None:
                return f"budget {self.min_budget}-{self.max_budget}"
            if self.max_budget is not None:
                return f"budget <={self.max_budget}"
            return "budget"
        return "effort " + ("/".join(self.efforts) if self.efforts else "low/medium/high")

    def to_json(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "min_budget": self.min_budget,
            "max_budget": self.max_budget,
            "efforts": list(self.efforts),
        }


@dataclass(frozen=True)
class PoeBot:
    id: str
    owned_by: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    prompt_price: float | None = None
    """US dollars per input token, as Poe prices it."""
    completion_price: float | None = None
    """US dollars per output token."""
    reasoning: Reasoning | None = None
    description: str = ""
    display_name: str = ""
    """``metadata.display_name``: the name Poe shows people; empty when the entry has none."""

    @property
    def label(self) -> str:
        """The display name, else the bot id."""
        return self.display_name or self.id

    @property
    def is_claude(self) -> bool:
        """Claude bots are the ones Poe serves on its Anthropic-compatible /v1/messages."""
        return self.owned_by.lower() == "anthropic" or self.id.lower().startswith("claude")


# --- parsing --------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _price(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    return price if price >= 0 else None


def _parameters(raw: Any) -> dict[str, dict[str, Any]]:
    """Bot parameters by name -> their JSON schema; accepts a list of entries or a mapping."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(raw, Mapping):
        raw = [dict(value, name=name) if isinstance(value, Mapping) else {"name": name} for name, value in raw.items()]
    if not isinstance(raw, list):
        return found
    for entry in raw:
        if isinstance(entry, str):
            found[entry] = {}
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            schema = entry.get("schema")
            if not isinstance(schema, Mapping):
                schema = {k: v for k, v in entry.items() if k != "name"}
            found[entry["name"]] = dict(schema)
    return found


def _reasoning(entry: Mapping[str, Any]) -> Reasoning | None:
    reasoning = entry.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, Mapping) else {}
    parameters = _parameters(entry.get("parameters"))
    budget = reasoning.get("budget")
    budget = budget if isinstance(budget, Mapping) else {}
    budget_schema = parameters.get(THINKING_BUDGET)
    if budget or budget_schema is not None:
        schema = budget_schema or {}
        low = _int(budget.get("min_tokens", schema.get("minimum")))
        high = _int(budget.get("max_tokens", schema.get("maximum")))
        return Reasoning(THINKING_BUDGET, min_budget=low, max_budget=high)
    effort_schema = parameters.get(REASONING_EFFORT)
    if effort_schema is not None or reasoning.get("supports_reasoning_effort") is True:
        allowed = (effort_schema or {}).get("enum")
        efforts = tuple(v for v in allowed if isinstance(v, str)) if isinstance(allowed, list) else ()
        return Reasoning(REASONING_EFFORT, efforts=efforts)
    return None


def parse_bot(entry: Any) -> PoeBot | None:
    """One ``/v1/models`` entry; ``None`` when it has no usable id."""
    if not isinstance(entry, Mapping):
        return None
    bot_id = entry.get("id")
    if not isinstance(bot_id, str) or not bot_id.strip():
        return None
    window = entry.get("context_window")
    context = max_output = None
    if isinstance(window, Mapping):
        context = _int(window.get("context_length"))
        max_output = _int(window.get("max_output_tokens"))
    else:
        context = _int(window)
    context = context if context is not None else _int(entry.get("context_length"))
    max_output = max_output if max_output is not None else _int(entry.get("max_output_tokens"))
    pricing = entry.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    owner = entry.get("owned_by")
    description = entry.get("description")
    metadata = entry.get("metadata")
    display_name = metadata.get("display_name") if isinstance(metadata, Mapping) else None
    return PoeBot(
        id=bot_id.strip(),
        owned_by=owner if isinstance(owner, str) else "",
        context_window=context,
        max_output_tokens=max_output,
        prompt_price=_price(pricing.get("prompt")),
        completion_price=_price(pricing.get("completion")),
        reasoning=_reasoning(entry),
        description=description if isinstance(description, str) else "",
        display_name=display_name.strip() if isinstance(display_name, str) else "",
    )


def parse_models_response(payload: Any) -> list[dict[str, Any]]:
    """The raw entries of a ``/v1/models`` answer (``{"data": [...]}`` or a bare list)."""
    data = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(data, list):
        raise ValueError("the answer has no list of models ('data')")
    return [entry for entry in data if isinstance(entry, Mapping)]


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    bots: tuple[PoeBot, ...]
    fetched_at: float | None = None
    source: str = ""
    """The base URL it came from."""
    _by_lower: dict[str, PoeBot] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for bot in self.bots:
            self._by_lower.setdefault(bot.id.lower(), bot)

    @classmethod
    def from_entries(cls, entries: Iterable[Any], fetched_at: float | None = None, source: str = "") -> Catalog:
        bots = [bot for bot in (parse_bot(entry) for entry in entries) if bot is not None]
        return cls(tuple(bots), fetched_at, source)

    def __len__(self) -> int:
        return len(self.bots)

    def __contains__(self, bot_id: object) -> bool:
        return isinstance(bot_id, str) and bot_id.lower() in self._by_lower

    def get(self, bot_id: str) -> PoeBot | None:
        """The bot named ``bot_id``, compared without case as Poe does."""
        return self._by_lower.get(bot_id.strip().lower())

    def suggest(self, bot_id: str, n: int = 3) -> list[str]:
        """Bot ids close to ``bot_id``, for "did you mean" messages."""
        lowered = {bot.id.lower(): bot.id for bot in self.bots}
        wanted = bot_id.lower()
        close = difflib.get_close_matches(wanted, list(lowered), n=n, cutoff=0.6)
        if not close:
            return []
        # Only the near-best: a typo in "Sonnet" should not also suggest every other Claude bot.
        best = difflib.SequenceMatcher(None, wanted, close[0]).ratio()
        return [lowered[c] for c in close if difflib.SequenceMatcher(None, wanted, c).ratio() >= best - 0.08]

    def search(self, text: str) -> list[PoeBot]:
        """Bots whose id, owner or description contains every word of ``text`` (any case)."""
        words = text.lower().split()
        return [
            bot
            for bot in self.bots
            if all(w in f"{bot.id} {bot.owned_by} {bot.description}".lower() for w in words)
        ]

    def age_seconds(self, now: float | None = None) -> float | None:
        if self.fetched_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)

    def is_stale(self, max_age: float = CATALOG_MAX_AGE, now: float | None = None) -> bool:
        """Older than ``max_age`` seconds, or of unknown age."""
        age = self.age_seconds(now)
        return age is None or age >= max_age


# --- a bot's limits -------------------------------------------------------------------------


@dataclass(frozen=True)
class BotLimits:
    """How much a bot takes in and writes out, and where each figure came from."""

    context_window: int | None
    """Tokens of context (prompt plus answer); ``None``: unknown."""
    max_output_tokens: int | None
    """Most tokens in one answer; ``None``: unknown."""
    context_source: str = ""
    """``config`` (``[[models]] context_window``), ``catalog`` (Poe's), or empty when unknown."""
    output_source: str = ""


def bot_limits(
    catalog: Catalog | None,
    poe_model: str,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
) -> BotLimits:
    """A mapping's limits: its own ``context_window`` / ``max_output_tokens`` when set, else Poe's catalog."""
    bot = catalog.get(poe_model) if catalog is not None else None
    window, window_from = (context_window, "config") if context_window else (None, "")
    if window is None and bot is not None and bot.context_window:
        window, window_from = bot.context_window, "catalog"
    output, output_from = (max_output_tokens, "config") if max_output_tokens else (None, "")
    if output is None and bot is not None and bot.max_output_tokens:
        output, output_from = bot.max_output_tokens, "catalog"
    return BotLimits(window, output, window_from, output_from)


# --- the cache ------------------------------------------------------------------------------


def save_cache(path: Path, entries: Sequence[Mapping[str, Any]], source: str, fetched_at: float | None = None) -> Catalog:
    """Write the raw entries with their fetch time; returns the catalog they make."""
    fetched_at = time.time() if fetched_at is None else fetched_at
    payload = {"version": CACHE_VERSION, "fetched_at": fetched_at, "source": source, "data": list(entries)}
    atomic_write_text(path, json.dumps(payload, separators=(",", ":")) + "\n")
    return Catalog.from_entries(entries, fetched_at, source)


def load_cache(path: Path) -> Catalog | None:
    """The cached catalog, or ``None`` when there is none (or it is unreadable: it is only a cache)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        entries = parse_models_response(payload)
    except (OSError, ValueError):
        return None
    fetched_at = payload.get("fetched_at") if isinstance(payload, dict) else None
    source = payload.get("source") if isinstance(payload, dict) else ""
    return Catalog.from_entries(
        entries,
        float(fetched_at) if isinstance(fetched_at, (int, float)) else None,
        source if isinstance(source, str) else "",
    )


# --- Claude bots by family and version ------------------------------------------------------

_CLAUDE_BOT = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+(?:\.\d+)*)$", re.IGNORECASE)


def claude_family_version(bot_id: str) -> tuple[str, tuple[int, ...]] | None:
    """``Claude-Opus-4.5`` -> ``("opus", (4, 5))``; ``None`` for variants and other bots."""
    match = _CLAUDE_BOT.match(bot_id.strip())
    if not match:
        return None
    return match.group(1).lower(), tuple(int(part) for part in match.group(2).split("."))


def newest_claude_bot(catalog: Catalog, family: str) -> PoeBot | None:
    """The plain Claude bot of ``family`` with the highest version in the catalog."""
    best: tuple[tuple[int, ...], PoeBot] | None = None
    for bot in catalog.bots:
        parsed = claude_family_version(bot.id)
        if parsed and parsed[0] == family and (best is None or parsed[1] > best[0]):
            best = (parsed[1], bot)
    return best[1] if best else None
