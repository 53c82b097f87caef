"""``claude-poe-tui models``: Poe's bots, with context window, pricing and reasoning support.

Asks Poe (``/v1/models``, no key needed) and refreshes the cache the proxy and the dashboard read;
when Poe cannot be reached, shows the cache and says how old it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", metavar="TEXT", help="only bots whose id, owner or description contain TEXT")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _tokens(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000:
        return f"{n / 1000:.0f}k"
    return str(n)


def per_million(price: float | None) -> float | None:
    """US dollars per token -> per million tokens."""
    return None if price is None else round(price * 1_000_000, 4)


def _money(price: float | None) -> str:
    value = per_million(price)
    return "-" if value is None else f"{value:.2f}"


def config_or_none(args: argparse.Namespace):
    """The config when there is one (its Poe URL and mappings); ``None`` before `init`."""
    from claude_poe_tui.config import load_config
    from claude_poe_tui.paths import locate_config

    location = locate_config(getattr(args, "config", None))
    return load_config(location.path) if location.path.exists() else None


def bot_json(bot, mapped: list[str]) -> dict:
    return {
        "id": bot.id,
        "owned_by": bot.owned_by,
        "context_window": bot.context_window,
        "max_output_tokens": bot.max_output_tokens,
        "usd_per_million_input_tokens": per_million(bot.prompt_price),
        "usd_per_million_output_tokens": per_million(bot.completion_price),
        "reasoning": bot.reasoning.to_json() if bot.reasoning else None,
        "mapped_as": mapped,
    }


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.config.model import DEFAULT_POE_BASE_URL
    from claude_poe_tui.errors import UserError
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.poe.client import catalog_or_cache

    config = config_or_none(args)
    base_url = config.poe.base_url if config else DEFAULT_POE_BASE_URL
    cache = StatePaths.default().catalog_cache
    problems: list[str] = []
    catalog = catalog_or_cache(base_url, cache, on_error=lambda exc: problems.append(str(exc)))
    if catalog is None:
        raise UserError(f"{problems[0] if problems else 'no catalog'}; and no cached list at {cache}")
    if problems:
        age = catalog.age_seconds()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(catalog.fetched_at)) if catalog.fetched_at else "?"
        print(f"claude-poe-tui: {problems[0]}; showing the list cached {when}"
              f"{f' ({age / 3600:.0f} h ago)' if age is not None else ''}", file=sys.stderr)

    mapped: dict[str, list[str]] = {}
    for mapping in config.models if config else ():
        mapped.setdefault(mapping.poe_model.lower(), []).append(mapping.name)
    bots = catalog.search(args.search) if args.search else list(catalog.bots)
    if args.json:
        print(json.dumps([bot_json(b, mapped.get(b.id.lower(), [])) for b in bots], indent=2))
        return 0
    if not bots:
        print(f"no bot matches {args.search!r} among {len(catalog)}")
        return 1
    rows = [("BOT", "OWNER", "CONTEXT", "MAX OUT", "IN $/M", "OUT $/M", "REASONING", "MAPPED AS")]
    for bot in bots:
        rows.append((
            bot.id, bot.owned_by or "-", _tokens(bot.context_window), _tokens(bot.max_output_tokens),
            _money(bot.prompt_price), _money(bot.completion_price),
            bot.reasoning.describe() if bot.reasoning else "-", ", ".join(mapped.get(bot.id.lower(), [])),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    shown = f"{len(bots)} of {len(catalog)}" if args.search else str(len(catalog))
    print(f"\n{shown} bots from {catalog.source or base_url}; prices in US dollars per million tokens")
    return 0
