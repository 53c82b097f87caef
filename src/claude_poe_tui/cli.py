"""The command line: ``claude-poe-tui`` opens the dashboard; subcommands run the same core headless.

Each command's module is imported only when that command runs, so ``--help`` and the light
commands start in a fraction of a second and nothing here imports Textual or LiteLLM.
``statusline`` runs on every Claude Code status refresh: it skips argparse altogether (this module
imports only ``sys`` at the top for it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

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
    "start": ("start", "start the proxy in the background (it stops after [proxy] stop_when_idle)"),
    "stop": ("stop", "stop the background proxy (streams in flight may finish first)"),
    "status": ("status", "is the proxy running: URL, pid, uptime, requests (exit 0 running, 3 not)"),
    "service": ("service", "run the proxy at login: a systemd user unit (Linux) or a launchd agent (macOS)"),
    "compile": ("compile", "print what the proxy's LiteLLM Router gets from the TOML config"),
    "stats": ("stats", "per-model requests, errors and latency percentiles from the request log"),
    "logs": ("logs", "the request log, readable or JSON; -f follows it live"),
    "locate": ("locate", "where the config, the state and the logs live"),
    "statusline": ("statusline", "one line for Claude Code's status bar: bot, session points, balance, p50"),
    "export": ("export", "deployment files for a team gateway: Docker Compose, systemd, nginx"),
    "dashboard": ("dashboard", "the dashboard (what no command opens); --attach URL shows a remote gateway"),
}


def build_parser():
    import argparse

    from claude_poe_tui import __version__

    parser = argparse.ArgumentParser(
        prog="claude-poe-tui",
        description="Claude Code on Poe: a dashboard over an embedded LiteLLM proxy. "
        "Without a command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"claude-poe-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $CLAUDE_POE_TUI_CONFIG, then the user config dir)")
    parser.add_argument("--attach", metavar="URL",
                        help="the dashboard over a gateway on another machine (its master key: --key-env)")
    parser.add_argument("--key-env", metavar="NAME",
                        help="with --attach: the variable holding that gateway's master key, from the environment "
                             "or the .env beside the config (default: LITELLM_MASTER_KEY)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
        module = _command_module(module_name)
        module.add_arguments(command_parser)
    return parser


def _claude_head(head: list[str]):
    """Our options before ``claude``. Only ``--config`` is parsed here: building the whole parser
    imports every command (~0.08 s) on each launch; anything else goes through the full parser."""
    import argparse

    if len(head) == 2 and head[0] == "--config" or len(head) == 1 and head[0].startswith("--config="):
        return argparse.Namespace(config=head[-1].split("=", 1)[1] if len(head) == 1 else head[1], command="claude")
    if not head:
        return argparse.Namespace(config=None, command="claude")
    return build_parser().parse_args(head + ["claude"])


def _command_module(module_name: str):
    import importlib

    return importlib.import_module(f"claude_poe_tui.commands.{module_name}")


def _statusline_at(argv: list[str]) -> tuple[int, str | None] | None:
    """Where ``statusline`` is, when only ``--config PATH`` comes before it, and that path."""
    index, config = 0, None
    while index < len(argv):
        if argv[index] == "statusline":
            return index, config
        if argv[index] == "--config" and index + 1 < len(argv):
            config, index = argv[index + 1], index + 2
        elif argv[index].startswith("--config="):
            config, index = argv[index].split("=", 1)[1], index + 1
        else:
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    statusline = _statusline_at(argv)
    if statusline is not None and not {"-h", "--help"} & set(argv):
        from claude_poe_tui.commands import statusline as statusline_command

        at, config = statusline
        return statusline_command.main(argv[at + 1:], config=config)
    # `claude` passes everything after it to Claude Code untouched.
    if "claude" in argv:
        at = argv.index("claude")
        if all(a.startswith("-") or argv[i - 1] == "--config" for i, a in enumerate(argv[:at])):
            from claude_poe_tui.commands import claude as claude_command

            head = _claude_head(argv[:at])
            return _run(lambda: claude_command.run(head, argv[at + 1 :]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in (None, "dashboard") and (getattr(args, "attach", None) or getattr(args, "key_env", None)):
        parser.error("--attach and --key-env go with the dashboard: claude-poe-tui --attach URL")
    if args.command is None:
        from claude_poe_tui.commands import dashboard

        return _run(lambda: dashboard.run(args))
    module = _command_module(COMMANDS[args.command][0])
    return _run(lambda: module.run(args))


def _run(action) -> int:
    from claude_poe_tui.errors import UserError

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
