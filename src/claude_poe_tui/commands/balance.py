"""``claude-poe-tui balance``: Poe points left, and points spent per bot (Poe's usage history)."""

from __future__ import annotations

import argparse
import json
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def poe_client(config):
    """A client with the config's Poe key; a clear error when the key is set nowhere."""
    from claude_poe_tui.errors import MissingSecretError
    from claude_poe_tui.keys import KeyKind, describe_key
    from claude_poe_tui.poe.client import PoeClient

    info = describe_key(config, KeyKind.POE)
    if info.value is None:
        raise MissingSecretError(
            f"[poe] api_key = \"{info.raw}\" but {info.env_name} is not set: looked in the environment and in "
            f"{info.dotenv_path}; run `claude-poe-tui init` or add {info.env_name}=... there"
        )
    return PoeClient(config.poe.base_url, info.value, key_origin=info.where())


def print_spending(history, indent: str = "") -> None:
    from claude_poe_tui.wording import counted

    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(history.since)) if history.since else None
    if not history.entries:
        print(f"{indent}No points spent in Poe's usage history.")
        return
    more = "" if history.complete else " (the most recent; older history not read)"
    print(f"{indent}Spent {history.total_points:,} points in {counted(len(history.entries), 'query', 'queries')}"
          f"{f' since {since}' if since else ''}{more}:")
    rows = history.spent_per_bot()
    width = max(len(bot) for bot, _, _ in rows)
    for bot, points, queries in rows:
        print(f"{indent}  {bot.ljust(width)}  {points:>12,} points  {counted(queries, 'query', 'queries'):>12}")


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args

    config = config_from_args(args)
    client = poe_client(config)
    balance = client.balance()
    history = client.points_history()
    if args.json:
        print(json.dumps({
            "balance": balance,
            "spent": {
                "total_points": history.total_points,
                "queries": len(history.entries),
                "since": history.since,
                "complete": history.complete,
                "per_bot": [{"bot": b, "points": p, "queries": n} for b, p, n in history.spent_per_bot()],
            },
        }, indent=2))
        return 0
    print(f"Points balance: {balance:,}  (Poe key from {client.key_origin})")
    print_spending(history)
    return 0
