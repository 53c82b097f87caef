"""``claude-poe-tui env``: the lines that point Claude Code at the proxy, to ``eval``.

    eval "$(claude-poe-tui env)"                     # sh, bash, zsh
    claude-poe-tui env --shell fish | source         # fish
    claude-poe-tui env --shell powershell | Invoke-Expression

Prints the master key: eval needs it (that is why you asked for these lines). Also unsets the
variables of ours this config does not need, so an earlier eval leaves nothing stale behind.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from claude_poe_tui.claude_code.wiring import SHELLS

    parser.add_argument("--shell", choices=SHELLS, help="syntax of the lines (default: from $SHELL, else sh)")


def master_key_or_error(config) -> str:
    """The master key's value; a :class:`MissingSecretError` that says where it was looked for."""
    from claude_poe_tui.errors import MissingSecretError
    from claude_poe_tui.keys import KeyKind, describe_key

    info = describe_key(config, KeyKind.MASTER)
    if info.value is None:
        raise MissingSecretError(
            f"[proxy] master_key = \"{info.raw}\" but {info.env_name} is not set: looked in the environment "
            f"and in {info.dotenv_path}; run `claude-poe-tui init` to create one"
        )
    return info.value


def claude_code_variables(config) -> dict[str, str]:
    """What ``env``, ``claude-settings`` and ``claude`` give Claude Code: the master key, and the
    bots' names and windows from Poe's catalog as cached (no request to Poe)."""
    from claude_poe_tui.claude_code.wiring import claude_code_env
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.poe.catalog import load_cache

    return claude_code_env(config, master_key_or_error(config), load_cache(StatePaths.default().catalog_cache))


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.claude_code.wiring import default_shell, render_env, unneeded_variables
    from claude_poe_tui.commands._common import config_from_args

    config = config_from_args(args)
    env = claude_code_variables(config)
    print(render_env(env, args.shell or default_shell(), unset=unneeded_variables(env)), end="")
    return 0
