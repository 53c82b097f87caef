"""A plain VM: one system unit running ``serve`` (with ``[proxy] workers``), the distribution's Redis,
and nginx in front (:mod:`claude_poe_tui.deploy.nginx`).

A system unit, not a user unit: it starts at boot without anyone logged in, and runs as the user
who owns the config and ``.env``. ``serve`` stops gracefully on SIGTERM: ``KillMode=mixed`` sends it
to ``serve`` alone, which drains streams in flight and stops its workers itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from claude_poe_tui import __version__
from claude_poe_tui.deploy.plan import GatewayPlan

UNIT_FILE = "claude-poe-tui.service"
NGINX_SITE_FILE = "claude-poe-tui.nginx.conf"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # Debian's and Ubuntu's redis-server, as installed
STATE_DIRECTORY = "claude-poe-tui"  # systemd's StateDirectory=: /var/lib/claude-poe-tui, owned by User=


def systemd_quote(word: str) -> str:
    """One word of a unit line: ``%`` and ``$`` escaped, quoted when it holds spaces or quotes."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./$-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(plan: GatewayPlan, *, exec_start: Sequence[str], user: str, group: str | None,
                written_by: str) -> str:
    """The unit; ``group`` None leaves it to systemd (the user's own group)."""
    proxy = plan.config.proxy
    environment = "".join(f"Environment={systemd_quote(f'{name}={value}')}\n" for name, value in plan.environment.items())
    if plan.redis_env:
        redis_note = (f"# [redis] url = \"env:{plan.redis_env}\" in the config: the distribution's Redis\n"
                      f"# (apt install redis-server). The environment wins over the .env.\n")
    else:
        redis_note = f"# [redis] url is written in the config: {plan.redis_url}\n"
    group_line = f"Group={systemd_quote(group)}\n" if group else ""
    # A private /tmp hides files under /tmp from the gateway: not when its config or Python is there.
    read_in_place = (plan.config_path, Path(exec_start[0]))
    in_tmp = any(str(path).startswith(("/tmp/", "/var/tmp/")) for path in read_in_place)
    private_tmp = "" if in_tmp else "PrivateTmp=yes\n"
    writable = ""
    if plan.config.log.path:
        folder = Path(plan.config.log.path).expanduser().parent
        writable = f"# [log] path: the request log is written there.\nReadWritePaths={systemd_quote(str(folder))}\n"
    return (
        f"# claude-poe-tui team gateway: `serve` with [proxy] workers = {plan.workers}, behind nginx, limits in Redis.\n"
        f"# Written by `{written_by}` (claude-poe-tui {__version__}) from {plan.config_path}.\n"
        f"# A system unit (starts at boot, no login needed). Install:\n"
        f"#   sudo cp {UNIT_FILE} /etc/systemd/system/\n"
        f"#   sudo systemctl daemon-reload && sudo systemctl enable --now {UNIT_FILE.removesuffix('.service')}\n"
        f"# Output: journalctl -u {UNIT_FILE.removesuffix('.service')} -f\n"
        f"# Needs in the config: host beyond loopback (it is {proxy.host!r}), a master key of at least 32\n"
        f"# characters, [redis] url. Keys stay in {plan.config.dotenv_path}, read in place.\n"
        f"\n"
        f"[Unit]\n"
        f"Description=claude-poe-tui team gateway (Claude Code on Poe)\n"
        f"# Redis is not required: without it each worker keeps its own limits until Redis is back.\n"
        f"After=network-online.target redis-server.service redis.service\n"
        f"Wants=network-online.target\n"
        f"\n"
        f"[Service]\n"
        f"Type=simple\n"
        f"User={systemd_quote(user)}\n"
        f"{group_line}"
        f"{redis_note}"
        f"{environment}"
        f"# Catalog cache, request log and run files: /var/lib/{STATE_DIRECTORY}, made by systemd for User=.\n"
        f"StateDirectory={STATE_DIRECTORY}\n"
        f"Environment=CLAUDE_POE_TUI_STATE_DIR=/var/lib/{STATE_DIRECTORY}\n"
        f"ExecStart={' '.join(systemd_quote(word) for word in exec_start)}\n"
        f"# SIGTERM to serve alone: streams in flight finish ([proxy] drain_seconds = {proxy.drain_seconds:g}),\n"
        f"# then serve stops its workers.\n"
        f"KillMode=mixed\n"
        f"TimeoutStopSec={plan.stop_seconds}\n"
        f"Restart=on-failure\n"
        f"RestartSec=2\n"
        f"# The gateway only reads the system and your home (config, .env, its Python).\n"
        f"NoNewPrivileges=yes\n"
        f"ProtectSystem=strict\n"
        f"ProtectHome=read-only\n"
        f"{private_tmp}"
        f"{writable}"
        f"\n"
        f"[Install]\n"
        f"WantedBy=multi-user.target\n"
    )
