"""``claude-poe-tui start``: the proxy in the background, detached, until ``stop`` or idle.

Runs ``serve --background``: its output goes to a rotating file in the state folder, a crashed
proxy child is restarted with backoff, and it stops by itself after ``[proxy] stop_when_idle``
without requests. Two ``start`` at the same moment leave exactly one proxy (``start.lock``). If a
proxy of ours already serves the port, says so and exits 0.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=180.0, metavar="SECONDS", help="how long to wait for the proxy to be ready"
    )


def _say(message: str) -> None:
    print(f"claude-poe-tui: {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.config import resolve_secrets
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.background import ServeMode, describe_idle, start_background
    from claude_poe_tui.proxy.parent.process import exposure_warning, is_loopback

    config = config_from_args(args)
    secrets = resolve_secrets(config)
    warning = exposure_warning(config, secrets)  # a short key with an exposed host: refused here
    state = StatePaths.default()
    status_key = None if is_loopback(config.proxy.host) else secrets.master_key
    outcome = start_background(config, state, say=_say, timeout=args.timeout, master_key=status_key)
    record = outcome.finding.record
    if outcome.started:
        _say(f"started the background proxy on {config.base_url} (pid {outcome.pid}) in {outcome.seconds:.1f} s")
        idle = record.stop_when_idle if record else config.proxy.stop_when_idle_seconds
        _say(f"it {describe_idle(idle)}; `claude-poe-tui stop` stops it")
        _say(f"its output: {state.serve_files(config.proxy.port).output}")
    elif record is not None:
        where = "in the background" if record.mode is ServeMode.BACKGROUND else "in the foreground (`serve`)"
        _say(f"already running {where} on {config.base_url} (pid {record.pid})")
    else:
        _say(f"a claude-poe-tui proxy already runs on {config.base_url} (proxy pid {outcome.pid}, a dashboard's own)")
    if warning:
        _say(warning)
    return 0
