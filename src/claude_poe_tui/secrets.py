"""Secret references (``env:NAME``) and the ``.env`` file beside the config.

A secret in the config is either a reference, ``env:NAME``, looked up in the process environment
and then in the ``.env`` file next to the config, or a literal value (allowed, but then the config
file itself holds a secret and should be mode 0600). Resolved values live only in memory and in
the proxy child's environment; nothing here writes them anywhere but the ``.env`` file the user
chose.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.atomic import atomic_write_text
from claude_poe_tui.errors import MissingSecretError

ENV_PREFIX = "env:"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def is_reference(raw: str) -> bool:
    return raw.startswith(ENV_PREFIX)


def reference_name(raw: str) -> str | None:
    """``"env:POE_API_KEY"`` -> ``"POE_API_KEY"``; a literal -> ``None``."""
    if not is_reference(raw):
        return None
    return raw[len(ENV_PREFIX) :].strip()


def valid_reference_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\n", "\n") if value[0] == '"' else inner
    # An unquoted value ends at an inline comment.
    hash_at = value.find(" #")
    return value[:hash_at].rstrip() if hash_at >= 0 else value


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, optional ``export``, quotes and ``#`` comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match:
            values[match.group(1)] = _unquote(match.group(2))
    return values


def _quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_\-./:+=@]*", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def update_dotenv(path: Path, updates: Mapping[str, str]) -> None:
    """Set keys in a ``.env`` file, keeping every other line as it was; atomic, mode 0600."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    pending = dict(updates)
    out: list[str] = []
    for line in lines:
        match = _DOTENV_LINE.match(line)
        if match and match.group(1) in pending and not line.lstrip().startswith("#"):
            name = match.group(1)
            prefix = "export " if line.lstrip().startswith("export ") else ""
            out.append(f"{prefix}{name}={_quote(pending.pop(name))}")
        else:
            out.append(line)
    out.extend(f"{name}={_quote(value)}" for name, value in pending.items())
    atomic_write_text(path, "\n".join(out) + "\n", mode=0o600)


@dataclass(frozen=True)
class ResolvedSecret:
    value: str
    source: str  # where it came from, for people: "environment", ".env", "config"
    origin: str  # the exact place: "$POE_API_KEY", "/home/me/.config/claude-poe-tui/.env", ...
    env_name: str | None  # the variable name when it came by reference


class SecretResolver:
    """Resolves config values against the environment, then the ``.env`` beside the config."""

    def __init__(self, dotenv_path: Path, environ: Mapping[str, str] | None = None):
        self.dotenv_path = dotenv_path
        self._environ = os.environ if environ is None else environ
        self._dotenv: dict[str, str] | None = None

    @property
    def dotenv(self) -> dict[str, str]:
        if self._dotenv is None:
            self._dotenv = read_dotenv(self.dotenv_path)
        return self._dotenv

    def lookup(self, name: str) -> ResolvedSecret | None:
        value = self._environ.get(name)
        if value:
            return ResolvedSecret(value, "environment", f"${name}", name)
        value = self.dotenv.get(name)
        if value:
            return ResolvedSecret(value, ".env", str(self.dotenv_path), name)
        return None

    def resolve(self, raw: str, *, key: str, config_path: Path) -> ResolvedSecret:
        name = reference_name(raw)
        if name is None:
            return ResolvedSecret(raw, "config", str(config_path), None)
        found = self.lookup(name)
        if found is None:
            raise MissingSecretError(
                f"{key} = \"{raw}\" but {name} is not set: looked in the environment and in "
                f"{self.dotenv_path}. Set it (export {name}=...) or add {name}=... to that .env file."
            )
        return found
