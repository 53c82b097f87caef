"""``claude-poe-tui claude [ARGS...]``: Claude Code on Poe, in one command.

Uses the proxy already serving the configured port; if none does, starts the background proxy
(``serve --background``, the same as ``claude-poe-tui start``) and leaves it running for the next
launch: it stops by itself after ``[proxy] stop_when_idle`` without requests. Then it becomes
Claude Code (``claude`` on PATH, or ``$CLAUDE_CODE_BIN``; ``exec``, so signals, the terminal and
the exit code are Claude Code's own) with the variables that point it at the proxy.

Claude Code's own commands that never reach a model (``--help``, ``--version``, ``update``,
``mcp``, ``doctor`` …) run at once, without a proxy.

Everything after ``claude`` goes to Claude Code untouched; options of ours go before it:
``claude-poe-tui --config PATH claude -p "…"``. Our messages go to stderr, so
``claude -p … --output-format json`` stays clean on stdout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

# Claude Code's subcommands that never send a model request (from `claude --help`, 2.1.x, plus
# older names): they need no proxy. Only the first argument is a subcommand, as Claude Code parses.
NO_MODEL_COMMANDS = frozenset({
    "auth", "auto-mode", "config", "doctor", "gateway", "install", "mcp", "migrate-installer",
    "plugin", "plugins", "project", "setup-token", "update", "upgrade",
})
NO_MODEL_FLAGS = frozenset({"-h", "--help", "-v", "--version"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "claude_args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="passed to Claude Code as they are (our own options go before `claude`)",
    )


def reaches_no_model(claude_args: list[str]) -> bool:
    """Whether Claude Code, run with these arguments, only prints or manages its own setup."""
    if claude_args and claude_args[0] in NO_MODEL_COMMANDS:
        return True
    for arg in claude_args:
        if arg == "--":
            break
        if arg in NO_MODEL_FLAGS:
            return True
    return False


def _say(message: str) -> None:
    print(f"claude-poe-tui: {message}", file=sys.stderr, flush=True)


def _become_claude_code(binary: str, claude_args: list[str], env: dict[str, str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        import signal

        # Python ignores SIGPIPE (and SIGXFSZ) for itself; an exec keeps that. Claude Code gets the
        # defaults, as from a shell.
        for name in ("SIGPIPE", "SIGXFSZ"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        try:
            os.execve(binary, [binary, *claude_args], env)
        except OSError as exc:
            from claude_poe_tui.errors import UserError

            raise UserError(f"cannot run Claude Code ({binary}): {exc.strerror or exc}") from None
    import signal

    from claude_poe_tui.errors import UserError

    try:
        child = subprocess.Popen([binary, *claude_args], env=env)
    except OSError as exc:
        raise UserError(f"cannot run Claude Code ({binary}): {exc.strerror or exc}") from None
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)  # Ctrl-C is Claude Code's
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _claude_code_binary() -> str:
    from claude_poe_tui.claude_code.wiring import CLAUDE_CODE_BIN_ENV, find_claude_code
    from claude_poe_tui.errors import UserError

    binary = find_claude_code()
    if binary is None:
        override = os.environ.get(CLAUDE_CODE_BIN_ENV)
        raise UserError(
            f"${CLAUDE_CODE_BIN_ENV}={override} is not a program" if override else
            "Claude Code is not installed (no `claude` on PATH): npm install -g @anthropic-ai/claude-code, "
            f"or set ${CLAUDE_CODE_BIN_ENV} to its path"
        )
    return str(binary)


def _run_without_proxy(head_args: argparse.Namespace, binary: str, claude_args: list[str]) -> int:
    """``--version``, ``mcp``, …: pointed at the proxy when the config allows, never waiting for it."""
    from claude_poe_tui.claude_code.wiring import launch_environment
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.commands.env import claude_code_variables
    from claude_poe_tui.errors import UserError

    env = dict(os.environ)
    try:
        env = launch_environment(os.environ, claude_code_variables(config_from_args(head_args)))
    except UserError:
        pass  # no usable config: Claude Code's own commands work without it
    return _become_claude_code(binary, claude_args, env)


def run(head_args: argparse.Namespace, claude_args: list[str]) -> int:
    from claude_poe_tui.claude_code.wiring import launch_environment
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.commands.env import claude_code_variables, master_key_or_error
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.client import probe_proxy

    binary = _claude_code_binary()
    if reaches_no_model(claude_args):
        return _run_without_proxy(head_args, binary, claude_args)
    from claude_poe_tui.proxy.parent.process import is_loopback

    config = config_from_args(head_args)
    master_key = master_key_or_error(config)
    status_key = None if is_loopback(config.proxy.host) else master_key

    probe = probe_proxy(config.base_url, master_key=status_key)
    if probe.ours:
        _say(f"using the proxy already running on {config.base_url} (pid {probe.pid}){_not_served(config, probe)}")
        return _become_claude_code(binary, claude_args, launch_environment(os.environ, claude_code_variables(config)))

    from claude_poe_tui.proxy.parent.background import describe_idle, start_background

    state = StatePaths.default()
    if not probe.answering:
        _say(f"no proxy on {config.base_url}: starting one in the background")
    # Poe's catalog gives Claude Code each bot's window and name: fetched, when missing or a day
    # old, while the proxy starts (a launch that finds a proxy running uses the cache as it is).
    from claude_poe_tui.poe.refresh import refresh_catalog_in_background

    catalog_refresh = refresh_catalog_in_background(config.poe.base_url, state.catalog_cache, timeout=10.0)
    outcome = start_background(config, state, say=_say, master_key=status_key)
    if catalog_refresh is not None:
        catalog_refresh.join(10.0)
    finding = outcome.finding
    if outcome.started:
        idle = finding.record.stop_when_idle if finding.record else config.proxy.stop_when_idle_seconds
        _say(
            f"proxy ready in {outcome.seconds:.1f} s (pid {outcome.pid}); it keeps running for the next launch "
            f"and {describe_idle(idle)}; `claude-poe-tui stop` stops it now"
        )
    else:
        note = _not_served(config, finding.probe) if finding.probe else ""
        _say(f"using the proxy running on {config.base_url} (pid {outcome.pid}){note}")
    # Built now: the bots' windows come from Poe's catalog, which a first start may just have cached.
    return _become_claude_code(binary, claude_args, launch_environment(os.environ, claude_code_variables(config)))


def _not_served(config, probe) -> str:
    served = set(probe.status.get("models") or [])
    missing = [m.name for m in config.models if m.name not in served]
    if not missing:
        return ""
    return f"; it does not serve {', '.join(missing)} (started from {probe.status.get('config')})"
