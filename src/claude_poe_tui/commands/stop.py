"""``claude-poe-tui stop``: stop the proxy that ``start`` (or ``serve``) runs on the configured port.

Sends SIGTERM to the ``serve``: streams in flight may finish for ``[proxy] drain_seconds``, then it
exits. Waits for that; a ``serve`` still there after the drain and a margin is killed. Exits 0 when
the proxy stopped or was not running.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _say(message: str) -> None:
    print(f"claude-poe-tui: {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.keys import KeyKind, describe_key
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.background import Found, stop_background
    from claude_poe_tui.proxy.parent.process import is_loopback

    config = config_from_args(args)
    status_key = None if is_loopback(config.proxy.host) else describe_key(config, KeyKind.MASTER).value
    outcome = stop_background(config, StatePaths.default(), say=_say, master_key=status_key)
    finding = outcome.finding
    if outcome.stopped:
        pid = finding.record.pid if finding.record else "?"
        how = " (it did not end within the drain, so it was killed)" if outcome.killed else ""
        _say(f"stopped the proxy on {config.base_url} (pid {pid}) in {outcome.seconds:.1f} s{how}")
    elif finding.found is Found.FOREIGN:
        _say(f"no claude-poe-tui proxy runs on {config.base_url}; the port is {finding.port_owner or 'used by another program'}")
    else:
        _say(f"no proxy was running on {config.base_url}")
    return 0
