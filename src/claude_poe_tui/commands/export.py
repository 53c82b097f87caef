"""``claude-poe-tui export``: deployment files for a team gateway, from the user's own config.

    export compose [--replicas N] [-o PATH]     Docker Compose: N replicas, Redis, nginx
    export systemd [--user NAME] [--redis-url URL] [--listen PORT] [-o PATH]
                                                a systemd unit running serve, nginx in front
    export dockerfile [-o PATH]                 the gateway image (pip-installs this package)
    export nginx --for compose|systemd [--listen PORT] [-o PATH]

Without ``-o`` the command's one file is printed. ``-o DIR/`` (an existing folder, or a path ending
in ``/``) writes every file the deployment needs there; any other ``-o PATH`` writes that one file.
Files are written atomically. The config is checked first (:mod:`claude_poe_tui.deploy.plan`):
what it must say is reported with its file and line, and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claude_poe_tui.deploy.plan import GatewayPlan, Target

DEFAULT_LISTEN = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="export_kind", metavar="KIND", required=True)

    def kind(name: str, help_text: str) -> argparse.ArgumentParser:
        kind_parser = sub.add_parser(name, help=help_text, description=help_text)
        kind_parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
        kind_parser.add_argument(
            "-o", "--output", metavar="PATH",
            help="write instead of printing: a folder (existing, or ending in '/') gets every file of the "
            "deployment, any other path this one file",
        )
        return kind_parser

    compose = kind("compose", "Docker Compose file: gateway replicas, Redis, nginx; -o DIR/ adds the Dockerfile, nginx.conf, the wheel")
    compose.add_argument("--replicas", type=_positive, default=2, metavar="N", help="gateway containers (default 2)")
    systemd = kind("systemd", "systemd unit running serve on a VM; -o DIR/ adds the nginx site")
    systemd.add_argument("--user", metavar="NAME", help="the user the gateway runs as (default: the owner of the .env)")
    systemd.add_argument("--redis-url", metavar="URL", default=None,
                         help="the Redis the unit points [redis] url at (default redis://127.0.0.1:6379/0)")
    systemd.add_argument("--listen", type=_port, default=DEFAULT_LISTEN, metavar="PORT", help="nginx's port (default 80)")
    kind("dockerfile", "the gateway image's Dockerfile; -o DIR/ adds the wheel it installs and .dockerignore")
    nginx = kind("nginx", "the nginx site in front of the gateway")
    nginx.add_argument("--for", dest="target", choices=("compose", "systemd"), required=True, help="which deployment")
    nginx.add_argument("--listen", type=_port, default=DEFAULT_LISTEN, metavar="PORT", help="nginx's port (default 80; systemd only)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be between 1 and 64, not {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, not {value}")
    return value


# A file of the deployment: its name in the folder, and how to make its contents (text or bytes).
FileMaker = tuple[str, Callable[[], str | bytes]]


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.deploy.plan import Target, plan_gateway
    from claude_poe_tui.paths import locate_config

    config_path = locate_config(getattr(args, "config", None)).path.expanduser().absolute()
    kind = args.export_kind
    written_by = " ".join(["claude-poe-tui", "export", *_shown_arguments(args)])
    if kind == "dockerfile":
        files = _dockerfile_files(written_by)
        return _emit(args.output, files, summary=[])
    target = Target.COMPOSE if kind == "compose" or getattr(args, "target", None) == "compose" else Target.SYSTEMD
    redis_url = _redis_url(target, getattr(args, "redis_url", None))
    plan = plan_gateway(config_path, target, redis_url=redis_url)
    for note in plan.notes:
        print(f"claude-poe-tui: note: {note}", file=sys.stderr)
    if kind == "nginx":
        return _emit(args.output, [_nginx_file(plan, args.listen, written_by)], summary=[])
    if target is Target.COMPOSE:
        files = _compose_files(plan, args.replicas, written_by)
    else:
        files = _systemd_files(plan, args, written_by)
    return _emit(args.output, files, summary=_summary(plan))


def _shown_arguments(args: argparse.Namespace) -> list[str]:
    shown = [args.export_kind]
    if args.export_kind == "compose":
        shown += ["--replicas", str(args.replicas)]
    if getattr(args, "target", None):
        shown += ["--for", args.target]
    return shown


def _redis_url(target: Target, given: str | None) -> str:
    from claude_poe_tui.deploy.compose import REDIS_SERVICE_URL
    from claude_poe_tui.deploy.plan import Target
    from claude_poe_tui.deploy.systemd import DEFAULT_REDIS_URL
    from claude_poe_tui.errors import UserError

    if target is Target.COMPOSE:
        return REDIS_SERVICE_URL
    url = given or DEFAULT_REDIS_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UserError(f"--redis-url {url!r}: must be a redis://, rediss:// or unix:// URL")
    return url


def _compose_files(plan: GatewayPlan, replicas: int, written_by: str) -> list[FileMaker]:
    from claude_poe_tui.deploy import compose

    return [
        (compose.COMPOSE_FILE, lambda: compose.render_compose(plan, replicas=replicas, written_by=written_by)),
        *_dockerfile_files(written_by),
        _nginx_file(plan, compose.NGINX_PORT, written_by),
    ]


def _dockerfile_files(written_by: str) -> list[FileMaker]:
    from claude_poe_tui.deploy import compose, wheel

    return [
        (compose.DOCKERFILE, lambda: compose.render_dockerfile(written_by=written_by)),
        (compose.DOCKERIGNORE, compose.render_dockerignore),
        (wheel.wheel_filename(), wheel.wheel_bytes),
    ]


def _nginx_file(plan: GatewayPlan, listen: int, written_by: str) -> FileMaker:
    from claude_poe_tui.deploy import compose, nginx, systemd
    from claude_poe_tui.deploy.plan import Target

    if plan.target is Target.COMPOSE:
        servers = [f"{compose.GATEWAY_SERVICE}:{plan.port}"]
        return compose.NGINX_FILE, lambda: nginx.render_nginx_site(plan, servers, listen=compose.NGINX_PORT,
                                                                   written_by=written_by)
    servers = [f"{_local_address(plan.config.proxy.host)}:{plan.port}"]
    return systemd.NGINX_SITE_FILE, lambda: nginx.render_nginx_site(plan, servers, listen=listen, written_by=written_by)


def _local_address(host: str) -> str:
    """Where nginx on the same machine reaches a gateway listening on ``host``."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _systemd_files(plan: GatewayPlan, args: argparse.Namespace, written_by: str) -> list[FileMaker]:
    from claude_poe_tui.deploy import systemd

    user, group = _service_user(plan, args.user)
    exec_start = [*_serve_executable(), "serve", "--config", str(plan.config_path)]
    return [
        (systemd.UNIT_FILE, lambda: systemd.render_unit(plan, exec_start=exec_start, user=user, group=group,
                                                        written_by=written_by)),
        _nginx_file(plan, args.listen, written_by),
    ]


def _serve_executable() -> list[str]:
    """This install's own command: the script beside this Python, else ``python -m claude_poe_tui``."""
    script = Path(sys.executable).parent / "claude-poe-tui"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "claude_poe_tui"]


def _service_user(plan: GatewayPlan, given: str | None) -> tuple[str, str | None]:
    import grp
    import pwd

    if given:
        return given, None  # systemd then uses the user's own group
    uid, gid = plan.file_owner()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group: str | None = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return user, group


def _summary(plan: GatewayPlan) -> list[str]:
    from claude_poe_tui.deploy.plan import MIN_EXPOSED_MASTER_KEY_LENGTH

    proxy = plan.config.proxy
    redis = (f"{plan.redis_env}={plan.redis_url} (your [redis] url = \"env:{plan.redis_env}\")" if plan.redis_env
             else f"none ([redis] url is written in the config: {plan.redis_url})")
    return [
        f"from your config {plan.config_path}: host {proxy.host}, port {plan.port}, workers {plan.workers}, "
        f"{len(plan.config.models)} mapping(s), {plan.members} member(s), master key of {plan.master_key_length} "
        f"characters (at least {MIN_EXPOSED_MASTER_KEY_LENGTH} needed beyond loopback; from {plan.master_key_origin})",
        f"set by the export: {redis}; serve --config; the state folder",
    ]


def _is_folder(raw: str) -> bool:
    return raw.endswith(("/", os.sep)) or Path(raw).expanduser().is_dir()


def _emit(output: str | None, files: list[FileMaker], *, summary: list[str]) -> int:
    from claude_poe_tui.atomic import atomic_write_text
    from claude_poe_tui.deploy.wheel import atomic_write_bytes

    if output is None:
        name, make = files[0]
        sys.stdout.write(make())  # the first file is the command's own, and always text
        if len(files) > 1:
            rest = ", ".join(name for name, _ in files[1:])
            print(f"claude-poe-tui: also needed: {rest}; write them all with -o DIR/", file=sys.stderr)
        for line in summary:
            print(f"claude-poe-tui: {line}", file=sys.stderr)
        return 0
    if _is_folder(output):
        folder = Path(output).expanduser()
        targets = [(folder / name, make) for name, make in files]
    else:
        targets = [(Path(output).expanduser(), files[0][1])]
    written = []
    for path, make in targets:
        contents = make()
        if isinstance(contents, bytes):
            atomic_write_bytes(path, contents)
        else:
            atomic_write_text(path, contents, mode=0o644)
        written.append(str(path))
    print(f"Wrote {', '.join(written)}")
    for line in summary:
        print(f"  {line}")
    return 0
