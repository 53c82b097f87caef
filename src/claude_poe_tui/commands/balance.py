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


def pool_balances(config) -> list[dict]:
    """``[poe] api_keys``: each key's balance and points spent (Poe's history), or why Poe refused it."""
    from claude_poe_tui.config import resolve_secrets
    from claude_poe_tui.poe.client import PoeClient, PoeError

    rows = []
    for name, value in resolve_secrets(config).poe_key_pool:
        client = PoeClient(config.poe.base_url, value, key_origin=f"[poe] api_keys ({name})")
        try:
            balance = client.balance()
            history = client.points_history()
        except PoeError as exc:
            rows.append({"key": name, "balance": None, "spent": None, "queries": None, "error": str(exc)})
            continue
        rows.append({"key": name, "balance": balance, "spent": history.total_points, "queries": len(history.entries),
                     "error": None})
    return rows


def print_pool(rows: list[dict]) -> None:
    from claude_poe_tui.wording import counted

    width = max(len(row["key"]) for row in rows)
    total = sum(row["balance"] for row in rows if row["balance"] is not None)
    print(f"Points balance over {counted(len(rows), 'key')} of [poe] api_keys: {total:,}")
    for row in rows:
        if row["error"]:
            print(f"  {row['key'].ljust(width)}  refused: {row['error']}")
        else:
            print(f"  {row['key'].ljust(width)}  {row['balance']:>12,} points   spent {row['spent']:>10,} in "
                  f"{counted(row['queries'], 'query', 'queries')}")


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args

    config = config_from_args(args)
    if config.poe.api_keys:
        rows = pool_balances(config)
        if args.json:
            print(json.dumps({"balance": sum(r["balance"] for r in rows if r["balance"] is not None), "keys": rows},
                             indent=2))
        else:
            print_pool(rows)
        return 0 if all(row["error"] is None for row in rows) else 1
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
