"""What a team-gateway deployment takes from the user's config, checked before any file is written.

The config stays the user's own: Compose mounts it and the ``.env`` beside it read-only, systemd
reads them in place. Nothing is copied, and no key ever appears in a generated file.

The config must say, itself:

* ``[proxy] host``: beyond loopback (``"0.0.0.0"`` in a container, where nginx reaches the gateway
  on the container's own address), so that the gateway guards its status page with the master key;
* ``[proxy] master_key``: at least :data:`MIN_EXPOSED_MASTER_KEY_LENGTH` characters, the rule
  ``serve`` applies to a proxy other machines reach;
* ``[redis] url``: set, and for Compose written as ``env:NAME``, so that the export can point it at
  its Redis service.

The export sets, itself: that ``NAME`` in the gateway's environment (the environment wins over
the ``.env``), ``serve --config`` with the config's path, and the state folder. Everything else
(port, workers, keys, mappings, members) is read from the config as the gateway will read it:
with the ``.env`` beside the config and nothing from the shell that runs the export.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from claude_poe_tui.config.model import MIN_EXPOSED_MASTER_KEY_LENGTH
from claude_poe_tui.config import Config, load_config
from claude_poe_tui.config.load import locate, resolve_member_tokens, resolve_secrets
from claude_poe_tui.errors import ConfigError
from claude_poe_tui.secrets import read_dotenv, reference_name

# The rule `serve` applies to a master key that guards a proxy other machines reach.
WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]")
DEFAULT_REDIS_ENV = "REDIS_URL"
# Seconds `docker stop` / systemd wait beyond [proxy] drain_seconds before killing the gateway.
STOP_MARGIN_SECONDS = 15
# Seconds nginx waits beyond the gateway's own timeouts, so the gateway's error reaches the client.
READ_TIMEOUT_MARGIN_SECONDS = 30


class Target(str, Enum):
    """Where the gateway runs."""

    COMPOSE = "compose"  # Docker Compose: replicas in containers, Redis and nginx as services
    SYSTEMD = "systemd"  # a plain VM: one `serve` with [proxy] workers, the distribution's Redis and nginx


@dataclass(frozen=True)
class GatewayPlan:
    """The user's config, checked for a deployment, and what the export adds to it."""

    config: Config
    target: Target
    redis_env: str | None
    """The variable the export sets to :attr:`redis_url`; None when the config's url is literal."""
    redis_url: str
    """The Redis the gateway uses: the export's (Compose service, systemd ``--redis-url``) or the config's."""
    master_key_length: int
    master_key_origin: str
    members: int
    notes: tuple[str, ...]
    """Things the user should know, that do not stop the export."""

    @property
    def config_path(self) -> Path:
        return self.config.path

    @property
    def env_file(self) -> Path | None:
        """The ``.env`` beside the config, when there is one (it is mounted or read in place)."""
        path = self.config.dotenv_path
        return path if path.is_file() else None

    @property
    def port(self) -> int:
        return self.config.proxy.port

    @property
    def workers(self) -> int:
        return self.config.proxy.workers

    @property
    def environment(self) -> dict[str, str]:
        """What the export puts in the gateway's environment (never a key)."""
        return {self.redis_env: self.redis_url} if self.redis_env else {}

    @property
    def stop_seconds(self) -> int:
        """How long a stop may take: streams in flight drain, then the workers stop."""
        return math.ceil(self.config.proxy.drain_seconds) + STOP_MARGIN_SECONDS

    @property
    def attempts(self) -> int:
        """The most bots one request may try: its mapping, then each of its fallbacks."""
        return 1 + max((len(m.fallbacks) for m in self.config.models), default=0)

    @property
    def read_timeout_seconds(self) -> int:
        """How long nginx waits between two reads from a gateway: longer than the gateway waits for Poe."""
        return math.ceil(self.config.proxy.request_timeout * self.attempts) + READ_TIMEOUT_MARGIN_SECONDS

    @property
    def max_body_mb(self) -> int:
        """nginx's body limit: above the gateway's own, so the gateway answers 413 in the client's shape."""
        return math.ceil(self.config.proxy.max_request_mb) + 1

    def file_owner(self) -> tuple[int, int]:
        """uid and gid of the ``.env`` (mode 0600: only its owner reads it), else of the config."""
        info = (self.env_file or self.config_path).stat()
        return info.st_uid, info.st_gid


def plan_gateway(config_path: Path, target: Target, *, redis_url: str) -> GatewayPlan:
    """Read and check the config at ``config_path`` for a ``target`` deployment.

    ``redis_url`` is where the export's Redis is (Compose: its service; systemd: the distribution's).
    Raises :class:`ConfigError` (file, line, key) or :class:`UserError` saying what to change.
    """
    # The gateway reads the config with only what the export sets in its environment: load it so.
    probe = load_config(config_path, environ={})
    text = config_path.read_text(encoding="utf-8")
    redis_env, used_redis_url = _redis(probe, text, target, redis_url)
    environ = {redis_env: used_redis_url} if redis_env else {}
    config = load_config(config_path, environ=environ)
    _check_host(config, text, target)
    _check_references(config, text, environ)
    secrets = resolve_secrets(config, environ=environ)
    members = resolve_member_tokens(config, environ=environ)
    if len(secrets.master_key) < MIN_EXPOSED_MASTER_KEY_LENGTH:
        raise ConfigError(
            f"a gateway other machines reach needs a master key of at least {MIN_EXPOSED_MASTER_KEY_LENGTH} "
            f"characters (serve refuses a shorter one); this one has {len(secrets.master_key)} "
            f"({secrets.master_key_origin}). Generate one: python3 -c 'import secrets; "
            f"print(\"sk-\" + secrets.token_hex(32))', or the dashboard's Keys pane, `g`",
            path=config.path, line=locate(text, ("proxy", "master_key")), key="proxy.master_key",
        )
    return GatewayPlan(
        config=config,
        target=target,
        redis_env=redis_env,
        redis_url=used_redis_url,
        master_key_length=len(secrets.master_key),
        master_key_origin=secrets.master_key_origin,
        members=len(members),
        notes=tuple(_notes(config, target)),
    )


def _redis(config: Config, text: str, target: Target, redis_url: str) -> tuple[str | None, str]:
    where = locate(text, ("redis", "url")) or locate(text, ("redis",))
    raw = config.redis.url.strip()
    if not raw:
        raise ConfigError(
            f"a team gateway shares its limits, cooldowns and routing through Redis: add [redis] with "
            f"url = \"env:{DEFAULT_REDIS_ENV}\" (the export sets {DEFAULT_REDIS_ENV} to {redis_url})",
            path=config.path, line=where, key="redis.url",
        )
    name = reference_name(raw)
    if name is not None:
        return name, redis_url
    if target is Target.COMPOSE:
        raise ConfigError(
            f"write url = \"env:{DEFAULT_REDIS_ENV}\" so the export can point it at the Compose Redis "
            f"({redis_url}); a literal url cannot be changed from outside the config",
            path=config.path, line=where, key="redis.url",
        )
    return None, raw  # systemd: the user's own Redis, used as written


def _check_references(config: Config, text: str, environ: dict[str, str]) -> None:
    """Every ``env:NAME`` key is in the ``.env`` beside the config (or set by the export)."""
    references: list[tuple[tuple[str | int, ...], str]] = [(("proxy", "master_key"), config.proxy.master_key)]
    if config.poe.api_keys:
        references += [(("poe", "api_keys"), raw) for raw in config.poe.api_keys]
    else:
        references.append((("poe", "api_key"), config.poe.api_key))
    references += [(("clients", index, "key"), client.key) for index, client in enumerate(config.clients)]
    dotenv = read_dotenv(config.dotenv_path)
    for where, raw in references:
        name = reference_name(raw)
        if name is None or environ.get(name) or dotenv.get(name):
            continue
        raise ConfigError(
            f"\"{raw}\" but {name} is not in {config.dotenv_path}. The gateway reads its keys from that .env "
            f"(or the config itself), never from the shell that runs the export: add {name}=... there",
            path=config.path, line=locate(text, where), key="".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where).lstrip("."),
        )


def _check_host(config: Config, text: str, target: Target) -> None:
    from claude_poe_tui.compiler import is_loopback

    host = config.proxy.host.strip()
    written = locate(text, ("proxy", "host"))
    place = "" if written is not None and locate(text, ("proxy",)) != written else " (add it under [proxy])"
    if target is Target.COMPOSE and host not in WILDCARD_HOSTS:
        raise ConfigError(
            f"in a container the gateway must listen on every interface so nginx reaches it: set "
            f"host = \"0.0.0.0\"{place}, not {host!r}; the master key then guards it",
            path=config.path, line=written, key="proxy.host",
        )
    if target is Target.SYSTEMD and is_loopback(host):
        raise ConfigError(
            f"a team gateway is reached from other machines: set host = \"0.0.0.0\" (or this machine's "
            f"address){place}, not {host!r}, so the gateway guards its status page with the master key "
            f"as it does for every proxy beyond loopback; nginx reaches it on 127.0.0.1",
            path=config.path, line=written, key="proxy.host",
        )


def _notes(config: Config, target: Target) -> list[str]:
    notes: list[str] = []
    if config.proxy.workers == 1:
        cores = os.cpu_count() or 1
        where = "each replica" if target is Target.COMPOSE else "the gateway"
        notes.append(
            f"[proxy] workers = 1: {where} runs one proxy process, which serves one core; set workers to the "
            f"cores it may use ({cores} here) for more requests at once"
        )
    if config.log.path and target is Target.COMPOSE:
        notes.append(
            f"[log] path = {config.log.path!r} is a path inside each container: every replica writes its own "
            f"request log there, and it goes with the container"
        )
    literal = [name for name, raw in (("[proxy] master_key", config.proxy.master_key),
                                      ("[poe] api_key", config.poe.api_key))
               if reference_name(raw) is None and not (name == "[poe] api_key" and config.poe.api_keys)]
    literal += [f"[poe] api_keys[{i}]" for i, raw in enumerate(config.poe.api_keys) if reference_name(raw) is None]
    literal += [f"[[clients]] {c.name}" for c in config.clients if reference_name(c.key) is None]
    if literal:
        notes.append(
            f"{', '.join(literal)} written in the config itself: the config then holds secrets, so keep it "
            f"mode 0600 (env:NAME with the value in the .env is better)"
        )
    if not config.models:
        notes.append("no [[models]] mappings: the gateway will refuse every request until you add one")
    return notes

