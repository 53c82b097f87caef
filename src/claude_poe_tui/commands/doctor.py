"""``claude-poe-tui doctor``: check the whole chain, one line per check, with the fix for each failure.

config -> keys -> Poe accepts the key -> mapped bots exist on Poe -> the port -> the proxy's health
-> Claude Code installed -> Claude Code pointed here. Then the points balance and what each bot
spent. Exit status 0 only when every check passed (notes, marked ``·``, are not failures).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from dataclasses import dataclass

from claude_poe_tui.wording import counted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", metavar="DIR", help="the project folder whose Claude Code settings count (default: here)")


@dataclass(frozen=True)
class Check:
    ok: bool | None
    """True passed, False failed, None a note."""
    text: str
    fix: str = ""


class Report:
    def __init__(self) -> None:
        encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
        try:
            "✓✗·".encode(encoding)
            self.marks = {True: "✓", False: "✗", None: "·"}
        except (UnicodeEncodeError, LookupError):
            self.marks = {True: "ok", False: "XX", None: "--"}
        self.failures = 0

    def add(self, check: Check) -> Check:
        if check.ok is False:
            self.failures += 1
        print(f"{self.marks[check.ok]} {check.text}", flush=True)
        if check.fix and check.ok is not True:
            print(f"    {'fix' if check.ok is False else 'how'}: {check.fix}", flush=True)
        return check


def _lax_mode(path) -> bool:
    try:
        return os.name == "posix" and bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from claude_poe_tui.config import load_config
    from claude_poe_tui.errors import ConfigError
    from claude_poe_tui.paths import locate_config

    report = Report()
    location = locate_config(getattr(args, "config", None))
    flag = f" --config {location.path}" if location.source == "--config" else ""
    directory = Path(args.dir).expanduser() if args.dir else None
    try:
        config = load_config(location.path)
    except ConfigError as exc:
        missing = not location.path.exists()
        report.add(Check(False, f"config: {exc}",
                         f"run `claude-poe-tui{flag} init`" if missing else "correct the key named above"))
        _check_claude_code_installed(report)
        return 1
    report.add(Check(True, f"config: {config.path} ({len(config.models)} mappings, from {location.source})"))

    keys = _check_keys(report, config, flag)
    accepted = _check_poe_key(report, config, keys, flag)
    _check_bots(report, config)
    _check_proxy(report, config, keys)
    _check_claude_code_installed(report)
    _check_pointed_here(report, config, keys, flag, directory)

    if accepted is not None:
        _check_balance(report, config, accepted[1])
    if accepted is not None:
        client, balance = accepted
        print()
        print(f"Points balance: {balance:,}")
        from claude_poe_tui.commands.balance import print_spending
        from claude_poe_tui.poe.client import PoeError

        try:
            print_spending(client.points_history())
        except PoeError as exc:
            print(f"(could not read the usage history: {exc})")
    print()
    if report.failures:
        print(f"{counted(report.failures, 'check')} failed")
        return 1
    print("all checks passed")
    return 0


def _check_keys(report: Report, config, flag: str) -> dict:
    from claude_poe_tui.keys import describe_keys

    found = {}
    for info in describe_keys(config):
        found[info.kind.value] = info
        if info.value is None:
            report.add(Check(False, f"{info.kind.label}: not set ({info.where()})",
                             f"run `claude-poe-tui{flag} init`, or add {info.env_name}=... to {info.dotenv_path}"))
        elif info.source == "config":
            lax = _lax_mode(config.path)
            report.add(Check(False if lax else None,
                             f"{info.kind.label}: {info.masked}, written in the config itself ({config.path})",
                             f"chmod 600 {config.path}, or better: {info.kind.config_key.split()[-1]} = "
                             f"\"env:NAME\" and NAME=... in {config.dotenv_path}"))
        else:
            report.add(Check(True, f"{info.kind.label}: {info.masked} from {info.where()}"))
    if config.dotenv_path.exists() and _lax_mode(config.dotenv_path):
        report.add(Check(False, f"{config.dotenv_path} is readable by other users", f"chmod 600 {config.dotenv_path}"))
    return found


def _check_poe_key(report: Report, config, keys: dict, flag: str):
    from claude_poe_tui.poe.client import PoeAuthError, PoeClient, PoeError

    info = keys.get("poe")
    if info is None or info.value is None:
        return None
    client = PoeClient(config.poe.base_url, info.value, key_origin=info.where())
    try:
        balance = client.balance()
    except PoeAuthError as exc:
        report.add(Check(False, str(exc),
                         f"get a key at https://poe.com/api_key, then `claude-poe-tui{flag} init --force --poe-key KEY`"))
        return None
    except PoeError as exc:
        report.add(Check(False, f"Poe key not checked: {exc}", f"check the network, or [poe] base_url in {config.path}"))
        return None
    report.add(Check(True, f"Poe accepted the key: {balance:,} points left"))
    return client, balance


def _check_balance(report: Report, config, balance: int) -> None:
    """Low balance: under [budget] min_balance, or gone within a day at the last hour's rate."""
    import time

    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.points.budget import AlertKind, balance_alerts, format_hours, hours_left
    from claude_poe_tui.points.report import last_hour_rate

    request_log = StatePaths.default().request_log_for(config.log.path)
    rate, estimated = last_hour_rate(request_log, time.time())
    minimum = config.budget.min_balance
    alerts = {alert.kind: alert for alert in balance_alerts(balance, rate, minimum)}
    where = f"[budget] min_balance in {config.path}"
    if AlertKind.UNDER_MIN_BALANCE in alerts:
        report.add(Check(False, f"balance: {alerts[AlertKind.UNDER_MIN_BALANCE].message}",
                         f"add points at https://poe.com/settings, or lower {where}"))
    if AlertKind.RUNS_OUT_SOON in alerts:
        report.add(Check(None, f"balance: {alerts[AlertKind.RUNS_OUT_SOON].message}"
                               + (" (partly estimated)" if estimated else ""),
                         "add points at https://poe.com/settings, or cap spending with [budget] daily_points"))
    if alerts:
        return
    left = hours_left(balance, rate)
    pace = (f"at the last hour's rate ({rate:,.0f} points/h) it lasts {format_hours(left)}" if left is not None
            else "no points spent through the proxy in the last hour")
    floor = f", over min_balance {minimum:,.0f}" if minimum is not None else ""
    report.add(Check(True, f"balance: {balance:,} points{floor}; {pace}"))


def _check_bots(report: Report, config) -> None:
    from claude_poe_tui.config.model import Route
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.poe.client import catalog_or_cache

    if not config.models:
        report.add(Check(False, "no [[models]] mappings: every request would be refused",
                         f"add [[models]] entries to {config.path} (see config.example.toml)"))
        return
    problems: list[str] = []
    catalog = catalog_or_cache(config.poe.base_url, StatePaths.default().catalog_cache,
                               on_error=lambda exc: problems.append(str(exc)))
    if catalog is None:
        report.add(Check(False, f"mapped bots not checked: {problems[0] if problems else 'no catalog'}",
                         "check the network, or [poe] base_url"))
        return
    note = f" (Poe unreachable, checked against the cached list: {problems[0]})" if problems else ""
    bad = 0
    for index, mapping in enumerate(config.models, start=1):
        bot = catalog.get(mapping.poe_model)
        if bot is None:
            bad += 1
            close = catalog.suggest(mapping.poe_model)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            report.add(Check(False, f"mapping {mapping.name}: Poe has no bot '{mapping.poe_model}'{hint}",
                             f"set poe_model in [[models]] entry {index} of {config.path} "
                             f"(`claude-poe-tui models --search {mapping.poe_model.split('-')[0]}` lists bots)"))
        elif mapping.effective_route is Route.MESSAGES and not bot.is_claude:
            bad += 1
            report.add(Check(False, f"mapping {mapping.name}: route \"messages\" but {bot.id} is not a Claude bot "
                                    "(Poe serves only Claude bots on /v1/messages)",
                             f"remove route from [[models]] entry {index} of {config.path}, or set route = \"chat\""))
    if not bad:
        report.add(Check(True, f"all {len(config.models)} mapped bots exist on Poe{note}"))


def _check_proxy(report: Report, config, keys: dict) -> None:
    import httpx

    from claude_poe_tui.errors import UserError
    from claude_poe_tui.proxy.parent.client import probe_proxy
    from claude_poe_tui.proxy.parent.process import bind_listener

    probe = probe_proxy(config.base_url)
    if probe.answering and not probe.ours:
        report.add(Check(False, f"port {config.proxy.port}: something that is not a claude-poe-tui proxy answers at {config.base_url}",
                         f"stop it, or set [proxy] port in {config.path} to a free port"))
        return
    if not probe.ours:
        try:
            bind_listener(config.proxy.host, config.proxy.port).close()
        except UserError as exc:
            report.add(Check(False, f"port {config.proxy.port}: {exc}", f"set [proxy] port in {config.path} to a free port"))
            return
        report.add(Check(True, f"port {config.proxy.port} is free; the proxy is not running "
                               "(`claude-poe-tui claude` starts one, `claude-poe-tui serve` keeps one running)"))
        return
    report.add(Check(True, f"proxy running on {config.base_url} (pid {probe.pid}, config {probe.status.get('config')})"))
    try:
        live = httpx.get(config.base_url + "/health/liveliness", timeout=5.0)
        healthy = live.status_code == 200
        detail = f"HTTP {live.status_code}"
    except httpx.HTTPError as exc:
        healthy, detail = False, str(exc) or type(exc).__name__
    served = sorted(probe.status.get("models") or [])
    wanted = sorted(m.name for m in config.models)
    if not healthy:
        report.add(Check(False, f"proxy health: {detail}", "restart it (Ctrl-C the `serve`, or R in the dashboard)"))
        return
    if served != wanted:
        report.add(Check(False, f"proxy health: ok, but it serves {', '.join(served) or 'nothing'}, "
                                f"not this config's {', '.join(wanted)}",
                         "restart it, or apply the mappings from the dashboard"))
        return
    master = keys.get("master")
    if master is not None and master.value:
        try:
            answer = httpx.get(config.base_url + "/v1/models", headers={"x-api-key": master.value}, timeout=5.0)
        except httpx.HTTPError as exc:
            report.add(Check(False, f"proxy health: /v1/models failed: {exc}", "restart the proxy"))
            return
        if answer.status_code == 401:
            report.add(Check(False, "proxy health: ok, but it refuses this config's master key (started with another)",
                             "restart the proxy so it takes the current key"))
            return
    report.add(Check(True, f"proxy health: ok, serving {len(served)} model names"))
    from claude_poe_tui.proxy.parent.health import Health

    health = Health.from_status(probe.status)
    if health.log_failing:
        report.add(Check(False, health.log_line() or "request log failing",
                         f"free space or fix the permissions of {probe.status.get('request_log') or 'the request log'}; "
                         "writing starts again by itself"))
    for key, why in health.keys_out.items():
        report.add(Check(False, f"Poe key {key} is out of the pool: {why}",
                         f"check that key (claude-poe-tui balance), or take it out of [poe] api_keys in {config.path}"))


def _check_claude_code_installed(report: Report) -> str | None:
    from claude_poe_tui.claude_code.wiring import CLAUDE_CODE_BIN_ENV, claude_code_version, find_claude_code

    binary = find_claude_code()
    fix = f"npm install -g @anthropic-ai/claude-code (or set ${CLAUDE_CODE_BIN_ENV} to its path)"
    if binary is None:
        report.add(Check(False, "Claude Code: not installed (no `claude` on PATH)", fix))
        return None
    version = claude_code_version(binary)
    if version is None:
        report.add(Check(False, f"Claude Code: {binary} does not answer `--version`", fix))
        return None
    report.add(Check(True, f"Claude Code: {version} ({binary})"))
    return binary


def _check_pointed_here(report: Report, config, keys: dict, flag: str, directory) -> None:
    from pathlib import Path

    from claude_poe_tui.claude_code.wiring import (
        BASE_URL,
        SLOT_VARIABLES,
        effective_pointer,
        points_here,
        read_settings,
    )
    from claude_poe_tui.errors import UserError

    master = keys.get("master")
    pointer, problems = effective_pointer(config, master.value if master else None, directory=directory)
    for problem in problems:
        report.add(Check(False, f"Claude Code settings: {problem}", "fix the JSON, or remove the file"))
    ways = (f"run it as `claude-poe-tui{flag} claude`, or `eval \"$(claude-poe-tui{flag} env)\"`, "
            f"or `claude-poe-tui{flag} claude-settings` (this project) / `--user` (all projects)")
    if pointer is None:
        report.add(Check(None, f"Claude Code is not pointed here by {BASE_URL} in the environment or its settings files; "
                               "fine if you start it with `claude-poe-tui claude`", ways))
        return
    if not points_here(pointer, config):
        report.add(Check(False, f"Claude Code is pointed at {pointer.base_url} ({BASE_URL} from {pointer.where}), "
                                f"not at this proxy ({config.base_url})", ways))
        return
    if pointer.token_matches is None:
        report.add(Check(False, f"Claude Code is pointed here ({pointer.where}) but sends no ANTHROPIC_AUTH_TOKEN", ways))
        return
    if not pointer.token_matches:
        report.add(Check(False, f"Claude Code is pointed here ({pointer.where}) but its ANTHROPIC_AUTH_TOKEN is not "
                                "this proxy's master key", ways))
        return
    # The model names it will ask for, from the same place, must be mapped.
    if pointer.where == "the environment":
        variables = dict(os.environ)
    else:
        try:
            variables = {**os.environ, **(read_settings(Path(pointer.where)).get("env") or {})}
        except UserError:
            variables = dict(os.environ)
    mapped = {m.name for m in config.models}
    unknown = [f"{var}={variables[var]}" for var in SLOT_VARIABLES.values() if variables.get(var) and variables[var] not in mapped]
    if unknown:
        report.add(Check(False, f"Claude Code is pointed here ({pointer.where}) but asks for unmapped models: "
                                f"{', '.join(unknown)}", f"map them in {config.path}, or {ways}"))
        return
    report.add(Check(True, f"Claude Code is pointed here ({BASE_URL} and the master key from {pointer.where})"))
