"""Docker Compose: gateway replicas built from a small Dockerfile, Redis, nginx in front.

Written as text, so every line can say why; strings that come from the user's machine (paths) are
JSON-quoted, which YAML reads as they are. Compose reads ``$`` in values as a variable, so nothing
here writes one.
"""

from __future__ import annotations

import json
import sys

from claude_poe_tui import __version__
from claude_poe_tui.deploy.plan import GatewayPlan
from claude_poe_tui.deploy.wheel import wheel_filename

COMPOSE_FILE = "compose.yaml"
DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
NGINX_FILE = "nginx.conf"
# Inside the gateway containers: the mounted config and .env (the .env must sit beside the config).
CONFIG_DIR = "/config"
CONFIG_IN_CONTAINER = f"{CONFIG_DIR}/config.toml"
ENV_IN_CONTAINER = f"{CONFIG_DIR}/.env"
STATE_IN_CONTAINER = "/state"
GATEWAY_SERVICE = "gateway"
REDIS_SERVICE_URL = "redis://redis:6379/0"
REDIS_IMAGE = "redis:7.4-alpine"
NGINX_IMAGE = "nginx:1.28-alpine"
NGINX_PORT = 80
GATEWAY_IMAGE = f"claude-poe-tui-gateway:{__version__}"


def python_image() -> str:
    """The slim Python image of the interpreter that exports: the pinned dependencies resolve as here."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def healthcheck_command(port: int) -> list[str]:
    """Exit 0 when the gateway answers ``/health/readiness`` with ``ok`` ("draining" while it stops)."""
    code = (
        "import json,sys,urllib.request as u;"
        f"r=u.urlopen('http://127.0.0.1:{port}/health/readiness',timeout=4);"
        "sys.exit(json.load(r).get('status')!='ok')"
    )
    return ["CMD", "python", "-c", code]


def gateway_command() -> list[str]:
    return ["claude-poe-tui", "serve", "--config", CONFIG_IN_CONTAINER]


def _q(value: object) -> str:
    return json.dumps(value)


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(_q(item) for item in items) + "]"


def render_compose(plan: GatewayPlan, *, replicas: int, written_by: str) -> str:
    uid, gid = plan.file_owner()
    proxy = plan.config.proxy
    environment = "".join(f"      {name}: {_q(value)}\n" for name, value in plan.environment.items())
    env_mount = ""
    if plan.env_file is not None:
        env_mount = (
            f"      - type: bind\n"
            f"        source: {_q(str(plan.env_file))}\n"
            f"        target: {ENV_IN_CONTAINER}\n"
            f"        read_only: true\n"
        )
    redis_name = plan.redis_env or "REDIS_URL"
    return (
        f"# claude-poe-tui team gateway: {replicas} gateway replica(s) behind nginx, limits shared in Redis.\n"
        f"# Written by `{written_by}` (claude-poe-tui {__version__}) from {plan.config_path}.\n"
        f"#\n"
        f"# Start, in this folder:  docker compose up -d --build\n"
        f"# Clients:                ANTHROPIC_BASE_URL=http://<this host>:{plan.port}\n"
        f"#                         ANTHROPIC_AUTH_TOKEN=<the master key, or a [[clients]] member's token>\n"
        f"#\n"
        f"# Your config and its .env are mounted read-only, never copied into the image. The export needs,\n"
        f"# in the config: [proxy] host = \"0.0.0.0\" (nginx reaches each replica on its container's address),\n"
        f"# a master key of at least 32 characters (a gateway beyond loopback refuses a shorter one), and\n"
        f"# [redis] url = \"env:{redis_name}\". It sets itself: {redis_name} (below: the environment wins over the\n"
        f"# .env), serve's --config (the mounted file) and the state folder (inside each container, so each\n"
        f"# replica keeps its own request log and catalog cache). All else comes from your config:\n"
        f"# port {plan.port}, [proxy] workers = {plan.workers} process(es) in each replica, keys, mappings, members.\n"
        f"\n"
        f"name: claude-poe-tui\n"
        f"\n"
        f"services:\n"
        f"  {GATEWAY_SERVICE}:\n"
        f"    build: .\n"
        f"    image: {GATEWAY_IMAGE}\n"
        f"    command: {_flow(gateway_command())}\n"
        f"    # The owner of your .env (mode 0600: only its owner may read it, through the mount too).\n"
        f"    user: {_q(f'{uid}:{gid}')}\n"
        f"    init: true\n"
        f"    environment:\n"
        f"{environment}"
        f"    volumes:\n"
        f"      - type: bind\n"
        f"        source: {_q(str(plan.config_path))}\n"
        f"        target: {CONFIG_IN_CONTAINER}\n"
        f"        read_only: true\n"
        f"{env_mount}"
        f"    deploy:\n"
        f"      replicas: {replicas}\n"
        f"    # Healthy once its proxy answers; a replica that is stopping answers \"draining\" and is not.\n"
        f"    healthcheck:\n"
        f"      test: {_flow(healthcheck_command(plan.port))}\n"
        f"      interval: 10s\n"
        f"      timeout: 5s\n"
        f"      retries: 3\n"
        f"      start_period: 120s\n"
        f"    # On stop, streams in flight may finish ([proxy] drain_seconds = {proxy.drain_seconds:g}).\n"
        f"    stop_grace_period: {plan.stop_seconds}s\n"
        f"    depends_on:\n"
        f"      redis:\n"
        f"        condition: service_healthy\n"
        f"    restart: unless-stopped\n"
        f"\n"
        f"  redis:\n"
        f"    image: {REDIS_IMAGE}\n"
        f"    # Limits, cooldowns and routing state only: nothing worth keeping, so no persistence.\n"
        f"    # Not published: only the gateways reach it.\n"
        f"    command: [\"redis-server\", \"--save\", \"\", \"--appendonly\", \"no\"]\n"
        f"    healthcheck:\n"
        f"      test: [\"CMD\", \"redis-cli\", \"ping\"]\n"
        f"      interval: 5s\n"
        f"      timeout: 3s\n"
        f"      retries: 5\n"
        f"    restart: unless-stopped\n"
        f"\n"
        f"  lb:\n"
        f"    image: {NGINX_IMAGE}\n"
        f"    ports:\n"
        f"      - {_q(f'{plan.port}:{NGINX_PORT}')}\n"
        f"    volumes:\n"
        f"      - type: bind\n"
        f"        source: ./{NGINX_FILE}\n"
        f"        target: /etc/nginx/conf.d/default.conf\n"
        f"        read_only: true\n"
        f"    depends_on:\n"
        f"      {GATEWAY_SERVICE}:\n"
        f"        condition: service_healthy\n"
        f"        # nginx learns the replicas' addresses when it starts: start it again when they change.\n"
        f"        restart: true\n"
        f"    restart: unless-stopped\n"
    )


def render_dockerfile(*, written_by: str) -> str:
    wheel = wheel_filename()
    return (
        f"# claude-poe-tui gateway image: the package and its pinned dependencies, nothing else.\n"
        f"# Written by `{written_by}` (claude-poe-tui {__version__}). Build context: this folder, where\n"
        f"# .dockerignore lets in only {wheel} (the export writes it beside this file;\n"
        f"# from a checkout, `pip wheel --no-deps . -w <this folder>` makes the same). No config and no key\n"
        f"# is copied in: compose mounts them read-only at {CONFIG_DIR}.\n"
        f"FROM {python_image()}\n"
        f"\n"
        f"ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\\n"
        f"    HOME={STATE_IN_CONTAINER} CLAUDE_POE_TUI_STATE_DIR={STATE_IN_CONTAINER}/claude-poe-tui\n"
        f"COPY {wheel} /tmp/\n"
        f"# The state folder is writable by whichever user compose runs the gateway as.\n"
        f"RUN pip install /tmp/{wheel} && rm /tmp/{wheel} && mkdir -m 1777 {STATE_IN_CONTAINER}\n"
        f"\n"
        f"USER nobody\n"
        f"CMD {_flow(gateway_command())}\n"
    )


def render_dockerignore() -> str:
    return (
        "# The build context is the wheel alone: nothing else in this folder (least of all a config or\n"
        "# a .env) can reach the image.\n"
        "*\n"
        f"!{wheel_filename()}\n"
    )
