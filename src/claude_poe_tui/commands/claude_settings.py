"""``claude-poe-tui claude-settings``: point Claude Code at the proxy through its settings file.

Writes the variables ``env`` prints into the settings file's ``"env"``: by default
``DIR/.claude/settings.local.json`` (this project only; DIR is the current folder), or
``~/.claude/settings.json`` with ``--user`` (every project). Every other key and variable in the
file is kept, except variables of ours this config no longer needs; the file is written
atomically with mode 0600, since it then holds the master key.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dir", metavar="DIR", help="the project folder (default: the current folder)")
    where.add_argument("--user", action="store_true", help="write ~/.claude/settings.json (all projects)")
    parser.add_argument("--statusline", action="store_true",
                        help="also show the Poe bot, session points, balance and latency in Claude Code's status line")
    parser.add_argument("--force", action="store_true", help="with --statusline: replace a status line of your own")


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.claude_code.wiring import NONESSENTIAL_TRAFFIC, settings_path, write_settings_env
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.commands.env import claude_code_variables
    from claude_poe_tui.errors import UserError

    config = config_from_args(args)
    env = claude_code_variables(config)
    directory = Path(args.dir).expanduser() if args.dir else None
    if directory is not None and not directory.is_dir():
        raise UserError(f"--dir {directory}: no such folder")
    path = settings_path(directory, user=args.user)
    update = write_settings_env(path, env)
    verb = "Created" if update.created else "Updated"
    print(f"{verb} {path} (mode 0600): Claude Code started there now uses the proxy at {config.base_url}")
    for name, value in env.items():
        shown = "<master key>" if name == "ANTHROPIC_AUTH_TOKEN" else (value if value else '""')
        mark = "set " if name in update.changed else "same"
        print(f"  {mark} {name}={shown}")
    for name in update.removed:
        why = " (it also turns off /model's list of mappings)" if name == NONESSENTIAL_TRAFFIC else " (not needed now)"
        print(f"  del  {name}{why}")
    if update.kept_env or update.kept_keys:
        print(f"  kept: {len(update.kept_env)} other env entries, {len(update.kept_keys)} other settings")
    if update.seed_keys:
        print(f"  note: {', '.join(update.seed_keys)} in that file are not Claude Code settings (they do nothing); "
              "the \"env\" entries above replace them")
    if args.statusline:
        _install_statusline(config, path, force=args.force)
    elif args.force:
        raise UserError("--force only goes with --statusline")
    if not args.user:
        print("  note: the file holds the master key; keep it out of version control")
    return 0


def _install_statusline(config, path: Path, *, force: bool) -> None:
    import json

    from claude_poe_tui.claude_code.wiring import statusline_command, write_settings_statusline
    from claude_poe_tui.paths import StatePaths

    command = statusline_command(StatePaths.default().request_log_for(config.log.path))
    update = write_settings_statusline(path, command, force=force)
    if update.installed:
        print(f"  set  statusLine: {command}" + ("  (replaced yours)" if update.previous and force else ""))
    else:
        previous = update.previous.get("command") if isinstance(update.previous, dict) else None
        print(f"  kept statusLine: yours ({previous or json.dumps(update.previous)}); --statusline --force replaces it")
