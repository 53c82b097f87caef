"""Reading the TOML config into the typed model, with errors that name file, line and key.

Reading keeps nothing but the typed :class:`Config`; edits go through
:mod:`claude_poe_tui.config.edit`, which works on the TOML text itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from claude_poe_tui.config.model import (
    MAPPING_LIMIT_KEYS,
    BudgetSettings,
    ClaudeCodeSettings,
    ClientToken,
    Config,
    LogSettings,
    ModelMapping,
    PoeSettings,
    ProxySettings,
    RedisSettings,
    parse_duration,
)
from claude_poe_tui.errors import ConfigError
from claude_poe_tui.secrets import SecretResolver, read_dotenv, reference_name, valid_reference_name

SECTIONS: dict[str, type] = {
    "proxy": ProxySettings,
    "poe": PoeSettings,
    "log": LogSettings,
    "claude_code": ClaudeCodeSettings,
    "redis": RedisSettings,
    "budget": BudgetSettings,
}
MODELS_KEY = "models"
CLIENTS_KEY = "clients"
TOP_LEVEL_KEYS = (*SECTIONS, MODELS_KEY, CLIENTS_KEY)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
PORT_ENV_FALLBACK = "LITELLM_PORT"  # the seed recipe's name, honoured when [proxy] port is absent

KeyPath = tuple[str | int, ...]


# --- locating keys in the text, for messages ------------------------------------------------


_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_\-.]+))\s*=""")


def locate(text: str, path: KeyPath) -> int | None:
    """The 1-based line where ``path`` (e.g. ``("models", 1, "poe_model")``) is written, if found."""
    table: tuple[str | int, ...] = ()
    array_counts: dict[str, int] = {}
    best: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_HEADER.match(line):
            name = match.group(1).strip()
            index = array_counts.get(name, -1) + 1
            array_counts[name] = index
            table = (name, index)
        elif match := _TABLE_HEADER.match(line):
            table = tuple(part.strip().strip('"') for part in match.group(1).split("."))
        elif match := _KEY_LINE.match(line):
            key = next(g for g in match.groups() if g is not None)
            full = table + tuple(key.split("."))
            if full == tuple(path):
                return number
            continue
        else:
            continue
        # A header line: the place of a table itself, or the best guess for a key under it.
        if table == tuple(path):
            return number
        if tuple(path[: len(table)]) == table and best is None:
            best = number
    return best


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Reader:
    """Validates the parsed TOML against the dataclasses, raising the first problem found."""

    def __init__(self, path: Path, text: str, environ: Mapping[str, str]):
        self.path = path
        self.text = text
        self.environ = environ
        self.budget_set = False  # [budget] or a [[clients]] entry has a limit: [log] points must stay on

    def fail(self, key_path: KeyPath, message: str) -> typing.NoReturn:
        # An item of a list (`fallbacks[1]`) is on the line of its key.
        written = key_path[:-1] if key_path and isinstance(key_path[-1], int) and len(key_path) > 2 else key_path
        raise ConfigError(message, path=self.path, line=locate(self.text, written), key=_dotted(key_path))

    def check_known_keys(self, table: Mapping[str, Any], allowed: typing.Iterable[str], where: KeyPath) -> None:
        allowed = list(allowed)
        for key in table:
            if key not in allowed:
                section = _dotted(where) if where else "the top level"
                self.fail(
                    (*where, key),
                    f"unknown key in {section}{_suggest(key, allowed)}; known keys: {', '.join(allowed)}",
                )

    def section(self, cls: type, table: Any, where: KeyPath) -> Any:
        if not isinstance(table, dict):
            self.fail(where, f"must be a table ([{_dotted(where)}]), not {_type_name(table)}")
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        self.check_known_keys(table, names, where)
        values: dict[str, Any] = {}
        for name in names:
            if name not in table:
                continue
            values[name] = self.value(table[name], hints[name], (*where, name))
        return cls(**values)

    def value(self, raw: Any, expected: Any, where: KeyPath) -> Any:
        origin, args = typing.get_origin(expected), typing.get_args(expected)
        if origin in (typing.Union, types.UnionType) and type(None) in args:
            # `int | None`: TOML has no null, so the key is either absent (None) or a value.
            (inner,) = [a for a in args if a is not type(None)]
            return self.value(raw, inner, where)
        if origin is tuple:
            if not isinstance(raw, list):
                self.fail(where, f"must be a list such as [\"a\", \"b\"], not {_type_name(raw)} {raw!r}")
            return tuple(self.value(item, args[0], (*where, index)) for index, item in enumerate(raw))
        if isinstance(expected, type) and issubclass(expected, Enum):
            allowed = [member.value for member in expected]
            if raw not in allowed:
                self.fail(where, f"must be one of {', '.join(repr(a) for a in allowed)}, not {raw!r}")
            return expected(raw)
        if expected is bool:
            if not isinstance(raw, bool):
                self.fail(where, f"must be true or false, not {_type_name(raw)} {raw!r}")
            return raw
        if expected is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                self.fail(where, f"must be a whole number, not {_type_name(raw)} {raw!r}")
            return raw
        if expected is float:
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                self.fail(where, f"must be a number, not {_type_name(raw)} {raw!r}")
            return float(raw)
        if expected is str:
            if not isinstance(raw, str):
                self.fail(where, f"must be a string (in quotes), not {_type_name(raw)} {raw!r}")
            return raw
        raise AssertionError(f"no reader for {expected!r}")  # a field type this reader does not know

    # -- sections with rules beyond their types --

    def proxy(self, table: Any) -> ProxySettings:
        where: KeyPath = ("proxy",)
        if table is None:
            table = {}
        raw_port = table.get("port") if isinstance(table, dict) else None
        if isinstance(raw_port, str):
            # The port may come from the environment, as the seed's LITELLM_PORT did.
            table = dict(table)
            table["port"] = self.port_from_reference(raw_port, (*where, "port"))
        settings: ProxySettings = self.section(ProxySettings, table, where)
        if "port" not in table:
            fallback = self.environ.get(PORT_ENV_FALLBACK) or read_dotenv(self.path.parent / ".env").get(
                PORT_ENV_FALLBACK
            )
            if fallback:
                settings = dataclasses.replace(settings, port=self.parse_port(fallback, (*where, "port"), PORT_ENV_FALLBACK))
        if not 1 <= settings.port <= 65535:
            self.fail((*where, "port"), f"must be between 1 and 65535, not {settings.port}")
        if not settings.host.strip():
            self.fail((*where, "host"), "must not be empty (use 127.0.0.1 for this machine only)")
        if settings.request_timeout <= 0:
            self.fail((*where, "request_timeout"), "must be more than 0 seconds")
        if settings.drain_seconds < 0:
            self.fail((*where, "drain_seconds"), "must be 0 or more seconds")
        if settings.max_request_mb <= 0:
            self.fail((*where, "max_request_mb"), "must be more than 0")
        if not 1 <= settings.workers <= 64:
            self.fail((*where, "workers"), f"must be between 1 and 64, not {settings.workers}")
        try:
            parse_duration(settings.stop_when_idle)
        except ValueError as exc:
            self.fail((*where, "stop_when_idle"), f"{exc} (\"0\" means never)")
        self.check_secret(settings.master_key, (*where, "master_key"))
        return settings

    def port_from_reference(self, raw: str, where: KeyPath) -> int:
        name = reference_name(raw)
        if name is None:
            return self.parse_port(raw, where, None)
        value = self.environ.get(name) or read_dotenv(self.path.parent / ".env").get(name)
        if not value:
            self.fail(where, f"\"{raw}\" but {name} is not set in the environment or in {self.path.parent / '.env'}")
        return self.parse_port(value, where, name)

    def parse_port(self, value: str, where: KeyPath, variable: str | None) -> int:
        try:
            return int(value.strip())
        except ValueError:
            origin = f" (from {variable})" if variable else ""
            self.fail(where, f"must be a port number, not {value!r}{origin}")

    def check_secret(self, raw: str, where: KeyPath) -> None:
        name = reference_name(raw)
        if name is not None and not valid_reference_name(name):
            self.fail(where, f"\"{raw}\" is not a valid reference: write env:NAME with NAME a variable name")
        if not raw.strip():
            self.fail(where, "must not be empty")

    def poe(self, table: Any) -> PoeSettings:
        where: KeyPath = ("poe",)
        settings: PoeSettings = self.section(PoeSettings, table if table is not None else {}, where)
        if not re.match(r"^https?://[^/\s]+", settings.base_url):
            self.fail((*where, "base_url"), f"must be an http(s) URL such as https://api.poe.com/v1, not {settings.base_url!r}")
        self.check_secret(settings.api_key, (*where, "api_key"))
        if isinstance(table, dict) and "api_key" in table and "api_keys" in table:
            self.fail((*where, "api_keys"), "set either api_key (one key) or api_keys (a pool), not both")
        seen: dict[str, int] = {}
        for index, raw in enumerate(settings.api_keys):
            self.check_secret(raw, (*where, "api_keys", index))
            if raw in seen:
                self.fail((*where, "api_keys", index), f"{raw!r} is already entry {seen[raw] + 1} of the pool")
            seen[raw] = index
        return settings

    def redis(self, table: Any) -> RedisSettings:
        where: KeyPath = ("redis",)
        settings: RedisSettings = self.section(RedisSettings, table if table is not None else {}, where)
        url = settings.url.strip()
        if url and reference_name(url) is None and not re.match(r"^(redis|rediss|unix)://", url):
            self.fail((*where, "url"), f"must be a redis:// URL or env:NAME, not {settings.url!r}")
        if url and reference_name(url) is not None:
            self.check_secret(url, (*where, "url"))
        return settings

    def budget(self, table: Any) -> BudgetSettings:
        where: KeyPath = ("budget",)
        settings: BudgetSettings = self.section(BudgetSettings, table if table is not None else {}, where)
        for field in dataclasses.fields(BudgetSettings):
            value = getattr(settings, field.name)
            if value is not None and value <= 0:
                self.fail((*where, field.name), f"must be more than 0 points, not {value:g} (remove the line for no limit)")
        return settings

    def clients(self, raw: Any) -> tuple[ClientToken, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail((CLIENTS_KEY,), "must be written as [[clients]] tables")
        clients: list[ClientToken] = []
        names: dict[str, int] = {}
        keys: dict[str, int] = {}
        for index, table in enumerate(raw):
            where: KeyPath = (CLIENTS_KEY, index)
            if not isinstance(table, dict):
                self.fail(where, "each entry must be a [[clients]] table")
            for required in ("name", "key"):
                if required not in table:
                    self.check_known_keys(table, [f.name for f in dataclasses.fields(ClientToken)], where)
                    self.fail(where, f"[[clients]] entry {index + 1} has no '{required}'")
            client: ClientToken = self.section(ClientToken, table, where)
            if not re.fullmatch(r"[A-Za-z0-9_.@-]+", client.name):
                self.fail((*where, "name"), f"must be letters, digits, '.', '_', '@' or '-', not {client.name!r}")
            if client.name in names:
                self.fail((*where, "name"), f"'{client.name}' is already [[clients]] entry {names[client.name] + 1}")
            self.check_secret(client.key, (*where, "key"))
            if client.key in keys:
                self.fail((*where, "key"), f"the same token as [[clients]] entry {keys[client.key] + 1}")
            for key in ("daily_points", "session_points"):
                value = getattr(client, key)
                if value is not None and value <= 0:
                    self.fail((*where, key), f"must be more than 0 points, not {value:g} (remove the line for no limit)")
            names[client.name], keys[client.key] = index, index
            clients.append(client)
        return tuple(clients)

    def log(self, table: Any) -> LogSettings:
        where: KeyPath = ("log",)
        settings: LogSettings = self.section(LogSettings, table if table is not None else {}, where)
        if settings.max_size_mb <= 0:
            self.fail((*where, "max_size_mb"), "must be more than 0")
        if settings.backups < 0:
            self.fail((*where, "backups"), "must be 0 or more")
        if not settings.points and self.budget_set:
            self.fail((*where, "points"), "is false, but [budget] limits (and members' daily_points or session_points) "
                                        "need the points it keeps")
        return settings

    def models(self, raw: Any) -> tuple[ModelMapping, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail((MODELS_KEY,), "must be written as [[models]] tables")
        mappings: list[ModelMapping] = []
        seen: dict[str, int] = {}
        for index, table in enumerate(raw):
            where: KeyPath = (MODELS_KEY, index)
            if not isinstance(table, dict):
                self.fail(where, "each entry must be a [[models]] table")
            for required in ("name", "poe_model"):
                if required not in table:
                    self.check_known_keys(table, [f.name for f in dataclasses.fields(ModelMapping)], where)
                    self.fail(where, f"[[models]] entry {index + 1} has no '{required}'")
            mapping: ModelMapping = self.section(ModelMapping, table, where)
            problem = mapping_problem(mapping.name, mapping.poe_model, seen)
            if problem is not None:
                self.fail((*where, problem[0]), problem[1])
            for key in MAPPING_LIMIT_KEYS:
                value = getattr(mapping, key)
                if value is not None and value <= 0:
                    self.fail((*where, key), f"must be more than 0, not {value}")
            seen[mapping.name] = index
            mappings.append(mapping)
        self.check_fallbacks(mappings)
        return tuple(mappings)

    def check_fallbacks(self, mappings: list[ModelMapping]) -> None:
        """Every fallback names a mapping, and following fallbacks never comes back to where it began."""
        by_name = {m.name: m for m in mappings}
        for index, mapping in enumerate(mappings):
            for position, fallback in enumerate(mapping.fallbacks):
                where: KeyPath = (MODELS_KEY, index, "fallbacks")
                if fallback not in by_name:
                    self.fail(where, f"'{fallback}' is not a mapped model name{_suggest(fallback, by_name)}")
                if fallback == mapping.name:
                    self.fail(where, f"'{mapping.name}' cannot fall back to itself")
                if fallback in mapping.fallbacks[:position]:
                    self.fail(where, f"'{fallback}' is listed twice")
            cycle = fallback_cycle(mapping.name, by_name)
            if cycle:
                self.fail((MODELS_KEY, index, "fallbacks"), "fallbacks go round in a circle: " + " -> ".join(cycle))

    def claude_code(self, table: Any, models: tuple[ModelMapping, ...]) -> ClaudeCodeSettings:
        where: KeyPath = ("claude_code",)
        settings: ClaudeCodeSettings = self.section(ClaudeCodeSettings, table if table is not None else {}, where)
        names = [m.name for m in models]
        for slot in dataclasses.fields(ClaudeCodeSettings):
            chosen = getattr(settings, slot.name)
            if chosen and chosen not in names:
                self.fail((*where, slot.name), f"'{chosen}' is not a mapped model name{_suggest(chosen, names)}")
        return settings


def fallback_cycle(start: str, by_name: Mapping[str, ModelMapping]) -> list[str] | None:
    """The first path of fallbacks from ``start`` that comes back to ``start``, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    visited: set[str] = set()
    while stack:
        name, path = stack.pop()
        mapping = by_name.get(name)
        for fallback in mapping.fallbacks if mapping else ():
            if fallback == start:
                return [*path, fallback]
            if fallback not in visited:
                visited.add(fallback)
                stack.append((fallback, [*path, fallback]))
    return None


def mapping_problem(name: str, poe_model: str, taken: Mapping[str, int]) -> tuple[str, str] | None:
    """What is wrong with a mapping, as ``(field, reason)``; ``taken`` maps used names to entries.

    Shared by the loader and the dashboard's mapping editor, so both refuse the same things.
    """
    for key, value in (("name", name), ("poe_model", poe_model)):
        if not value.strip() or any(ch.isspace() for ch in value):
            return key, f"must be a non-empty name without spaces, not {value!r}"
    if name in taken:
        return "name", f"'{name}' is already mapped by [[models]] entry {taken[name] + 1}"
    return None


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def parse_config(text: str, path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Validate TOML ``text`` (the contents of ``path``) into a :class:`Config`."""
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(match.group(1)) if match else None
        key = None
        if line is not None:
            key_match = _KEY_LINE.match(text.splitlines()[line - 1]) if line <= len(text.splitlines()) else None
            key = next((g for g in key_match.groups() if g), None) if key_match else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(f"not valid TOML: {reason}", path=path, line=line, key=key) from None
    reader = _Reader(path, text, environ)
    reader.check_known_keys(data, TOP_LEVEL_KEYS, ())
    budget = data.get("budget")
    reader.budget_set = isinstance(budget, dict) and any(budget.get(k) is not None for k in budget)
    clients = data.get(CLIENTS_KEY)
    if isinstance(clients, list):  # a member's own budget needs the points too
        reader.budget_set = reader.budget_set or any(
            isinstance(c, dict) and ("daily_points" in c or "session_points" in c) for c in clients)
    models = reader.models(data.get(MODELS_KEY))
    return Config(
        path=path,
        proxy=reader.proxy(data.get("proxy")),
        poe=reader.poe(data.get("poe")),
        log=reader.log(data.get("log")),
        claude_code=reader.claude_code(data.get("claude_code"), models),
        redis=reader.redis(data.get("redis")),
        budget=reader.budget(data.get("budget")),
        models=models,
        clients=reader.clients(data.get(CLIENTS_KEY)),
    )


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "no config file here; create one with `claude-poe-tui init` or copy config.example.toml", path=path
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc.__class__.__name__}: {exc}", path=path) from None
    return parse_config(text, path, environ)


@dataclasses.dataclass(frozen=True)
class Secrets:
    """The keys, resolved; kept in memory and passed only to the proxy child's environment."""

    poe_api_key: str
    master_key: str
    poe_api_key_origin: str
    master_key_origin: str
    poe_key_pool: tuple[tuple[str, str], ...] = ()
    """``[poe] api_keys``: (environment name the child reads it from, value), in order."""


def pool_env_name(raw: str, index: int) -> str:
    """The variable that carries pool key ``index`` into the child: its own name, or ours for a literal."""
    return reference_name(raw) or f"CLAUDE_POE_TUI_POE_KEY_{index + 1}"


def resolve_secrets(config: Config, environ: Mapping[str, str] | None = None) -> Secrets:
    resolver = SecretResolver(config.dotenv_path, environ)
    pool = tuple(
        (pool_env_name(raw, index),
         resolver.resolve(raw, key=f"[poe] api_keys[{index}]", config_path=config.path).value)
        for index, raw in enumerate(config.poe.api_keys)
    )
    if pool:
        # The pool replaces api_key: the first pool key stands for "the Poe key" (checks, balance).
        poe_value, poe_source = pool[0][1], f"[poe] api_keys[0] ({pool[0][0]})"
    else:
        poe = resolver.resolve(config.poe.api_key, key="[poe] api_key", config_path=config.path)
        poe_value, poe_source = poe.value, f"{poe.source} {poe.origin}"
    master = resolver.resolve(config.proxy.master_key, key="[proxy] master_key", config_path=config.path)
    return Secrets(
        poe_api_key=poe_value,
        master_key=master.value,
        poe_api_key_origin=poe_source,
        master_key_origin=f"{master.source} {master.origin}",
        poe_key_pool=pool,
    )


def resolve_member_tokens(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``[[clients]]`` name -> token, resolved; a token used twice, or equal to the master key, is a
    config error naming its line (a shared token would record one member's requests as another's)."""
    if not config.clients:
        return {}
    resolver = SecretResolver(config.dotenv_path, environ)
    text = config.path.read_text(encoding="utf-8") if config.path.exists() else ""
    master = resolver.resolve(config.proxy.master_key, key="[proxy] master_key", config_path=config.path).value
    tokens: dict[str, str] = {}
    owners: dict[str, str] = {}
    for index, client in enumerate(config.clients):
        where: KeyPath = (CLIENTS_KEY, index, "key")
        token = resolver.resolve(client.key, key=f"[[clients]] {client.name} key", config_path=config.path).value
        problem = None
        if hmac.compare_digest(token.encode(), master.encode()):
            problem = "is the master key: give each member a token of their own"
        elif token in owners:
            problem = f"is the same token as member '{owners[token]}'"
        elif len(token) < 16:
            problem = "is too short: use at least 16 random characters (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        if problem:
            raise ConfigError(problem, path=config.path, line=locate(text, where), key=_dotted(where))
        owners[token] = client.name
        tokens[client.name] = token
    return tokens


# --- the [[models]] list as JSON, for the gateway's mapping endpoint ------------------------------

MAPPING_FIELDS = tuple(f.name for f in dataclasses.fields(ModelMapping))
_MAPPING_KEY = re.compile(r"^models\[(\d+)\](?:\.([A-Za-z_]+))?")


def mapping_to_json(mapping: ModelMapping) -> dict[str, Any]:
    """A mapping as the gateway's ``/claude-poe-tui/models`` sends it: every field that is set."""
    out: dict[str, Any] = {"name": mapping.name, "poe_model": mapping.poe_model, "route": mapping.route.value,
                           "thinking": mapping.thinking.value, "fallbacks": list(mapping.fallbacks)}
    for key in MAPPING_LIMIT_KEYS:
        value = getattr(mapping, key)
        if value is not None:
            out[key] = value
    return out


class MappingListError(ValueError):
    """A list of mappings (JSON) that the config would refuse: which mapping, which field, why."""

    def __init__(self, message: str, *, index: int | None = None, name: str | None = None, field: str | None = None):
        self.index, self.name, self.field, self.reason = index, name, field, message
        where = ""
        if index is not None:
            where = f"mapping {index + 1}" + (f" ({name})" if name else "")
            where += f", {field}" if field else ""
            where += ": "
        super().__init__(where + message)


def mappings_from_json(raw: Any) -> tuple[ModelMapping, ...]:
    """The ``[[models]]`` list a JSON body describes, checked by the same rules as the config file
    (names, bots, routes, thinking, fallbacks, limits); :class:`MappingListError` names the mapping
    and field of the first problem."""
    if not isinstance(raw, list):
        raise MappingListError(f"the mappings must be a list of objects, not {_type_name(raw)}")
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise MappingListError(f"must be an object, not {_type_name(entry)}", index=index)
        name = entry.get("name") if isinstance(entry.get("name"), str) else None
        for key in entry:
            if key not in MAPPING_FIELDS:
                raise MappingListError(f"unknown field{_suggest(key, MAPPING_FIELDS)}; a mapping has "
                                       f"{', '.join(MAPPING_FIELDS)}", index=index, name=name, field=key)
        for key in ("name", "poe_model"):
            if key not in entry:
                raise MappingListError("is missing", index=index, name=name, field=key)
    # JSON has null where TOML has nothing: an unset field.
    cleaned = [{k: v for k, v in entry.items() if v is not None} for entry in raw]
    try:
        return _Reader(Path("mappings"), "", {}).models(cleaned)
    except ConfigError as exc:
        match = _MAPPING_KEY.match(exc.key or "")
        if not match:
            raise MappingListError(exc.message) from None
        index = int(match.group(1))
        name = cleaned[index].get("name") if index < len(cleaned) else None
        raise MappingListError(exc.message, index=index, name=name if isinstance(name, str) else None,
                               field=match.group(2)) from None
