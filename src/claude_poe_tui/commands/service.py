"""``claude-poe-tui service install|uninstall|status``: the proxy from login on.

Linux: a systemd user unit, ``~/.config/systemd/user/claude-poe-tui.service``, enabled and started
with ``systemctl --user``; its output goes to the journal (``journalctl --user -u claude-poe-tui``).
macOS: a launchd agent, ``~/Library/LaunchAgents/claude-poe-tui.serve.plist``, loaded with
``launchctl``; its output goes to ``service.log`` in the state folder.

Both run ``serve`` in the foreground with this Python and the config's absolute path, restart it
when it fails, and stop it with SIGTERM (streams in flight get ``[proxy] drain_seconds``).
``--print`` shows the file without installing anything.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.paths import STATE_ENV

UNIT_NAME = "claude-poe-tui.service"
AGENT_LABEL = "claude-poe-tui.serve"
RESTART_DELAY = 5
EXIT_NOT_ACTIVE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("install", "uninstall", "status"), help="what to do")
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help="with install: print the unit (or agent) and install nothing")


def _say(message: str) -> None:
    print(f"claude-poe-tui: {message}", flush=True)


# --- what the files say -------------------------------------------------------------------


def serve_command(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "claude_poe_tui", "--config", str(config_path), "serve"]


def systemd_quote(arg: str) -> str:
    """One ExecStart word: double-quoted, with systemd's escapes (``\\``, ``"``, ``%`` specifiers
    and ``$`` variables kept literal)."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_environment(name: str, value: str) -> str:
    escaped = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{escaped}"'


def systemd_unit(config, command: list[str], state_root: Path) -> str:
    from claude_poe_tui.proxy.protocol import DRAIN_MARGIN_SECONDS

    stop_timeout = int(config.proxy.drain_seconds + DRAIN_MARGIN_SECONDS + 5)
    kill = shutil.which("kill", path="/bin:/usr/bin") or "/bin/kill"
    return "\n".join([
        "# Written by `claude-poe-tui service install`; `claude-poe-tui service uninstall` removes it.",
        "[Unit]",
        f"Description=claude-poe-tui: Claude Code on Poe, proxy on {config.base_url}",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(systemd_quote(part) for part in command),
        # Re-read the config and start a new proxy child; the port stays open meanwhile.
        f"ExecReload={kill} -USR1 $MAINPID",
        "Restart=on-failure",
        f"RestartSec={RESTART_DELAY}",
        # SIGTERM to serve only: it drains its proxy child itself, then exits.
        "KillMode=mixed",
        f"TimeoutStopSec={stop_timeout}",
        "Environment=PYTHONUNBUFFERED=1",
        # The state folder of the shell that installed it: pid, request log, catalog cache.
        systemd_environment(STATE_ENV, str(state_root)),
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


def launchd_plist(config, command: list[str], state_root: Path) -> bytes:
    from claude_poe_tui.proxy.protocol import DRAIN_MARGIN_SECONDS

    return plistlib.dumps({
        "Label": AGENT_LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a failure, not after `stop`
        "ThrottleInterval": RESTART_DELAY,
        "ExitTimeOut": int(config.proxy.drain_seconds + DRAIN_MARGIN_SECONDS + 5),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", STATE_ENV: str(state_root)},
        "StandardOutPath": str(state_root / "service.log"),
        "StandardErrorPath": str(state_root / "service.log"),
        "ProcessType": "Background",
    })


# --- where they go --------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceManager:
    kind: str  # "systemd" or "launchd"
    path: Path

    @classmethod
    def for_this_machine(cls) -> ServiceManager:
        from claude_poe_tui.errors import UserError

        if sys.platform == "darwin":
            return cls("launchd", Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist")
        if sys.platform.startswith("linux"):
            base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
            return cls("systemd", Path(base) / "systemd" / "user" / UNIT_NAME)
        raise UserError("`service` knows systemd (Linux) and launchd (macOS); run `claude-poe-tui start` instead")

    def content(self, config, state) -> bytes:
        command = serve_command(Path(config.path).resolve())
        if self.kind == "systemd":
            return systemd_unit(config, command, state.root.resolve()).encode()
        return launchd_plist(config, command, state.root.resolve())


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    """Run a service manager's command; ``None`` when the program is not installed."""
    program = shutil.which(command[0])
    if program is None:
        return None
    try:
        return subprocess.run([program, *command[1:]], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(command, 1, "", str(exc))


def _failed(result: subprocess.CompletedProcess[str] | None) -> str | None:
    if result is None:
        return "not installed"
    if result.returncode == 0:
        return None
    said = (result.stderr or result.stdout).strip().splitlines()
    return said[-1] if said else f"exit status {result.returncode}"


# --- the actions ------------------------------------------------------------------------------


def _install(config, state, manager: ServiceManager) -> int:
    from claude_poe_tui.atomic import atomic_write_text
    from claude_poe_tui.config import resolve_secrets
    from claude_poe_tui.proxy.parent.background import ServeMode, find_proxy, stop_background
    from claude_poe_tui.proxy.parent.process import exposure_warning

    secrets = resolve_secrets(config)
    warning = exposure_warning(config, secrets)
    for origin in (secrets.poe_api_key_origin, secrets.master_key_origin):
        if origin.startswith("environment"):
            _say(f"warning: a key comes from your shell ({origin}); the service does not see your shell's "
                 f"environment: put it in {config.dotenv_path} (`claude-poe-tui init`)")
    finding = find_proxy(config, state)
    if finding.record is not None and finding.record.mode is ServeMode.BACKGROUND:
        stop_background(config, state, say=_say)
        _say(f"stopped the background proxy (pid {finding.record.pid}): the service serves port {config.proxy.port} now")
    atomic_write_text(manager.path, manager.content(config, state).decode(), mode=0o644)
    _say(f"wrote {manager.path}")
    if manager.kind == "systemd":
        steps = [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", UNIT_NAME]]
        manual = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
    else:
        domain = f"gui/{os.getuid()}"
        _run(["launchctl", "bootout", f"{domain}/{AGENT_LABEL}"])  # an older one, if loaded
        steps = [["launchctl", "bootstrap", domain, str(manager.path)]]
        manual = f"launchctl bootstrap {domain} {manager.path}"
    for step in steps:
        problem = _failed(_run(step))
        if problem:
            _say(f"`{' '.join(step)}` failed ({problem}); in your login session run: {manual}")
            return 1
    _say(f"installed: the proxy runs at login on {config.base_url}, restarted if it fails")
    if manager.kind == "systemd":
        _say(f"its output: journalctl --user -u {UNIT_NAME}")
    else:
        _say(f"its output: {state.root / 'service.log'}")
    if warning:
        _say(warning)
    return 0


def _uninstall(manager: ServiceManager) -> int:
    if manager.kind == "systemd":
        _run(["systemctl", "--user", "disable", "--now", UNIT_NAME])
    else:
        _run(["launchctl", "bootout", f"gui/{os.getuid()}/{AGENT_LABEL}"])
    if manager.path.exists():
        manager.path.unlink()
        _say(f"removed {manager.path}")
    else:
        _say(f"not installed ({manager.path} does not exist)")
    if manager.kind == "systemd":
        _run(["systemctl", "--user", "daemon-reload"])
    return 0


def _status(config, state, manager: ServiceManager) -> int:
    if not manager.path.exists():
        _say(f"not installed ({manager.path} does not exist); `claude-poe-tui service install` installs it")
        return EXIT_NOT_ACTIVE
    current = manager.path.read_bytes() == manager.content(config, state)
    _say(f"installed: {manager.path}" + ("" if current else
         " (written for another config or Python: `claude-poe-tui service install` rewrites it)"))
    if manager.kind == "systemd":
        enabled = _run(["systemctl", "--user", "is-enabled", UNIT_NAME])
        active = _run(["systemctl", "--user", "is-active", UNIT_NAME])
        if enabled is None or active is None:
            print("  systemctl is not installed")
            return EXIT_NOT_ACTIVE
        print(f"  enabled    {(enabled.stdout or enabled.stderr).strip() or '?'}")
        print(f"  active     {(active.stdout or active.stderr).strip() or '?'}")
        return 0 if active.returncode == 0 else EXIT_NOT_ACTIVE
    loaded = _run(["launchctl", "print", f"gui/{os.getuid()}/{AGENT_LABEL}"])
    if loaded is None or loaded.returncode != 0:
        print("  not loaded")
        return EXIT_NOT_ACTIVE
    state_line = next((line.strip() for line in loaded.stdout.splitlines() if line.strip().startswith("state =")), "")
    print(f"  launchd    {state_line or 'loaded'}")
    return 0 if "running" in state_line else EXIT_NOT_ACTIVE


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.paths import StatePaths

    manager = ServiceManager.for_this_machine()
    if args.action == "uninstall":
        return _uninstall(manager)
    config = config_from_args(args)
    state = StatePaths.default()
    if args.action == "status":
        return _status(config, state, manager)
    if args.print_only:
        sys.stdout.write(manager.content(config, state).decode())
        return 0
    return _install(config, state, manager)
