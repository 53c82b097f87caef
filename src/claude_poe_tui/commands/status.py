"""``claude-poe-tui status``: is the proxy running, where, since when, how busy.

Exit status as ``systemctl status`` and LSB scripts: 0 when a proxy of ours answers on the
configured port, 3 when not. ``--json`` prints the same facts as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

EXIT_RUNNING = 0
EXIT_NOT_RUNNING = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="the facts as one JSON object")


def facts(config, state) -> dict[str, Any]:
    from claude_poe_tui import __version__
    from claude_poe_tui.keys import KeyKind, describe_key
    from claude_poe_tui.proxy.parent.background import find_proxy
    from claude_poe_tui.proxy.parent.process import is_loopback

    status_key = None if is_loopback(config.proxy.host) else describe_key(config, KeyKind.MASTER).value
    finding = find_proxy(config, state, master_key=status_key)
    record = finding.record
    status = finding.probe.status if finding.probe and finding.probe.ours else {}
    now = time.time()
    proxy_started = status.get("started_at")
    started = record.started_at if record else proxy_started
    if record is not None:
        mode = record.mode.value
    elif finding.running:
        mode = "dashboard"
    else:
        mode = None
    return {
        "state": finding.found.value,
        "running": finding.running,
        "url": config.base_url,
        "port": config.proxy.port,
        "config": str(config.path),
        "mode": mode,
        "pid": record.pid if record else None,
        "proxy_pid": status.get("pid") or (record.child_pid if record else None),
        "started_at": started,
        "uptime_seconds": round(now - started, 1) if isinstance(started, (int, float)) and finding.running else None,
        "proxy_started_at": proxy_started,
        "requests": status.get("requests"),
        "in_flight": status.get("in_flight"),
        "last_request_at": status.get("last_request_at"),
        "stop_when_idle_seconds": record.stop_when_idle if record else None,
        "detail": record.detail if record else "",
        "output": record.output if record else None,
        "stale_pid": finding.stale_pid,
        "port_owner": finding.port_owner or None,
        "proxy_version": status.get("version"),
        "version": __version__,
    }


def _ago(then: float | None) -> str:
    from claude_poe_tui.proxy.parent.background import format_seconds

    if not isinstance(then, (int, float)):
        return "never"
    return f"{format_seconds(max(0.0, time.time() - then))} ago"


def render(f: dict[str, Any]) -> list[str]:
    from claude_poe_tui.proxy.parent.background import format_seconds

    lines = []
    if f["stale_pid"] is not None:
        lines.append(f"removed a stale pid file: pid {f['stale_pid']} no longer runs")
    if f["state"] == "running":
        where = {"background": "in the background", "foreground": "in the foreground (`serve`)",
                 "dashboard": "as a dashboard's own proxy"}.get(f["mode"] or "", "")
        lines.append(f"running {where} on {f['url']}")
        pids = f"{f['pid']} (serve), proxy {f['proxy_pid']}" if f["pid"] else f"{f['proxy_pid']} (proxy)"
        lines.append(f"  pid        {pids}")
        if f["uptime_seconds"] is not None:
            lines.append(f"  uptime     {format_seconds(f['uptime_seconds'])}")
        if f["requests"] is not None:
            lines.append(f"  requests   {f['requests']} served, {f['in_flight'] or 0} in flight, last {_ago(f['last_request_at'])}")
        if f["mode"] == "background":
            idle = f["stop_when_idle_seconds"] or 0
            when = f"after {format_seconds(idle)} without requests" if idle else "never"
            lines.append(f"  idle stop  {when} ([proxy] stop_when_idle)")
        if f["output"]:
            lines.append(f"  output     {f['output']}")
    elif f["state"] == "starting":
        lines.append(f"not answering yet on {f['url']}: {f['detail'] or 'starting'} (serve pid {f['pid'] or '?'})")
        if f["output"]:
            lines.append(f"  output     {f['output']}")
    elif f["state"] == "foreign":
        lines.append(f"not running: port {f['port']} is {f['port_owner'] or 'used by another program'}")
    else:
        lines.append(f"not running (nothing on {f['url']}); `claude-poe-tui start` starts it")
    lines.append(f"  config     {f['config']}")
    return lines


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.paths import StatePaths

    config = config_from_args(args)
    found = facts(config, StatePaths.default())
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        for line in render(found):
            print(line if line.startswith("  ") else f"claude-poe-tui: {line}")
    return EXIT_RUNNING if found["running"] else EXIT_NOT_RUNNING
