"""``claude-poe-tui claude [ARGS...]``: Claude Code on Poe, in one command.

Starts the proxy if none of ours serves the configured port (and stops it when Claude Code
exits), then runs Claude Code (``claude`` on PATH, or ``$CLAUDE_CODE_BIN``) with the variables
that point it at the proxy. Everything after ``claude`` goes to Claude Code untouched; options of
ours go before it: ``claude-poe-tui --config PATH claude -p "…"``. Exits with Claude Code's code.

Our own messages go to stderr, so ``claude -p … --output-format json`` stays clean on stdout.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

CATALOG_MAX_AGE = 24 * 3600.0
BUSY_PORT_WAIT = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "claude_args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="passed to Claude Code as they are (our own options go before `claude`)",
    )


def _say(message: str) -> None:
    print(f"claude-poe-tui: {message}", file=sys.stderr, flush=True)


def _refresh_catalog_if_old(config, state) -> None:
    """The proxy reads Poe's catalog from the cache (thinking parameters); refresh a stale one."""
    from claude_poe_tui.poe.catalog import load_cache
    from claude_poe_tui.poe.client import PoeError, refresh_catalog

    cached = load_cache(state.catalog_cache)
    age = cached.age_seconds() if cached else None
    if age is not None and age < CATALOG_MAX_AGE:
        return
    try:
        refresh_catalog(config.poe.base_url, state.catalog_cache, timeout=5.0)
    except PoeError:
        pass  # only a cache: the proxy works without it


def _start_proxy(config, state):
    """Our proxy child, ready; or ``None`` when one of ours started meanwhile (two at once)."""
    from claude_poe_tui.config import resolve_secrets
    from claude_poe_tui.errors import PortInUseError
    from claude_poe_tui.proxy.parent.client import probe_proxy
    from claude_poe_tui.proxy.parent.process import ProxyProcess

    secrets = resolve_secrets(config)
    _refresh_catalog_if_old(config, state)
    proxy = ProxyProcess(config, secrets, state)
    _say(f"starting the proxy on {config.base_url} (Poe key from {secrets.poe_api_key_origin})")
    began = time.monotonic()
    try:
        proxy.start()
    except PortInUseError:
        deadline = time.monotonic() + BUSY_PORT_WAIT
        while time.monotonic() < deadline:
            if probe_proxy(config.base_url).ours:
                _say("another claude-poe-tui started a proxy on that port meanwhile: using it")
                return None
            time.sleep(0.25)
        raise
    try:
        proxy.wait_ready(timeout=120.0)
    except BaseException:
        proxy.stop()
        raise
    _say(f"proxy ready in {time.monotonic() - began:.1f} s; it stops when Claude Code exits")
    return proxy


def run(head_args: argparse.Namespace, claude_args: list[str]) -> int:
    from claude_poe_tui.claude_code.wiring import CLAUDE_CODE_BIN_ENV, find_claude_code, launch_environment
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.commands.env import claude_code_variables, master_key_or_error
    from claude_poe_tui.errors import UserError
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.client import probe_proxy

    config = config_from_args(head_args)
    binary = find_claude_code()
    if binary is None:
        override = os.environ.get(CLAUDE_CODE_BIN_ENV)
        raise UserError(
            f"${CLAUDE_CODE_BIN_ENV}={override} is not a program" if override else
            "Claude Code is not installed (no `claude` on PATH): npm install -g @anthropic-ai/claude-code, "
            f"or set ${CLAUDE_CODE_BIN_ENV} to its path"
        )
    master_key_or_error(config)  # no master key: an error before anything starts

    state = StatePaths.default()
    probe = probe_proxy(config.base_url)
    proxy = None
    if probe.ours:
        served = set(probe.status.get("models") or [])
        missing = [m.name for m in config.models if m.name not in served]
        note = f"; it does not serve {', '.join(missing)} (started from {probe.status.get('config')})" if missing else ""
        _say(f"using the proxy already running on {config.base_url} (pid {probe.pid}){note}")
    elif probe.answering:
        raise UserError(
            f"something that is not a claude-poe-tui proxy answers on {config.base_url}; stop it, or set "
            f"[proxy] port in {config.path} to a free port"
        )
    else:
        proxy = _start_proxy(config, state)

    child: subprocess.Popen | None = None

    def forward_sigterm(signum, frame) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    # Ctrl-C reaches Claude Code from the terminal; we wait for it to finish, then clean up. (A
    # handler, not SIG_IGN: an ignored signal would stay ignored in Claude Code too.)
    previous_int = signal.signal(signal.SIGINT, lambda signum, frame: None)
    previous_term = signal.signal(signal.SIGTERM, forward_sigterm)
    try:
        try:
            env = launch_environment(os.environ, claude_code_variables(config))  # after the catalog refresh
            child = subprocess.Popen([binary, *claude_args], env=env)
        except OSError as exc:
            raise UserError(f"cannot run Claude Code ({binary}): {exc.strerror or exc}") from None
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        if proxy is not None:
            proxy.stop()
