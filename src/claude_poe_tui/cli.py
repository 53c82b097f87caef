"""The command line: ``claude-poe-tui`` opens the dashboard; subcommands run the same core headless.

Each command's module is imported only when that command runs, so ``--help`` and the light
commands start in a fraction of a second and nothing here imports Textual or LiteLLM.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from claude_poe_tui import __version__
from claude_poe_tui.errors import UserError

# command -> (module under claude_poe_tui.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "first-run setup: Poe key (checked), master key, config and .env"),
    "claude": ("claude", "run Claude Code on Poe (starts the proxy if needed); arguments go to Claude Code"),
    "env": ("env", "lines that point Claude Code at the proxy, to eval"),
    "claude-settings": ("claude_settings", "point Claude Code at the proxy in its settings file"),
    "doctor": ("doctor", "check config, keys, Poe, bots, proxy and Claude Code, with fixes"),
    "models": ("models", "Poe's bots: context window, pricing, reasoning support"),
    "balance": ("balance", "Poe points left and points spent per bot"),
    "serve": ("serve", "run the proxy in the foreground until Ctrl-C"),
    "compile": ("compile", "print the LiteLLM config compiled from the TOML config"),
    "stats": ("stats", "per-model requests, errors and latency percentiles from the request log"),
    "logs": ("logs", "the request log, readable or JSON; -f follows it live"),
    "locate": ("locate", "where the config, the state and the logs live"),
    "export": ("export", "deployment files for a team gateway: Docker Compose, systemd, nginx"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claude-poe-tui",
        description="Claude Code on Poe: a dashboard over an embedded LiteLLM proxy. "
        "Without a command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"claude-poe-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $CLAUDE_POE_TUI_CONFIG, then the user config dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
        module = _command_module(module_name)
        module.add_arguments(command_parser)
    return parser


def _command_module(module_name: str):
    return importlib.import_module(f"claude_poe_tui.commands.{module_name}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `claude` passes everything after it to Claude Code untouched.
    if "claude" in argv:
        at = argv.index("claude")
        if all(a.startswith("-") or argv[i - 1] == "--config" for i, a in enumerate(argv[:at])):
            from claude_poe_tui.commands import claude as claude_command

            head = build_parser().parse_args(argv[:at] + ["claude"])
            return _run(lambda: claude_command.run(head, argv[at + 1 :]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from claude_poe_tui.commands import dashboard

        return _run(lambda: dashboard.run(args))
    module = _command_module(COMMANDS[args.command][0])
    return _run(lambda: module.run(args))


def _run(action) -> int:
    try:
        result = action()
    except UserError as exc:
        print(f"claude-poe-tui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return int(result or 0)
