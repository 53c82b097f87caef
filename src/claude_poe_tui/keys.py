"""The two keys: where each comes from, what it looks like masked, and where a new one is stored.

* The Poe API key (``[poe] api_key``) is what Poe bills; the master key (``[proxy] master_key``)
  is what Claude Code sends to our proxy.
* A key in the config is a reference, ``env:NAME`` (looked up in the environment, then in the
  ``.env`` beside the config), or a literal.
* Storing a key writes it only into that ``.env``, under the reference's NAME, keeping every other
  line (mode 0600, atomic). A literal in the config is never rewritten: the caller hears about it
  and tells the user.

Shared by ``init``, ``doctor`` and the dashboard's Keys pane. No output, no logging.
"""

from __future__ import annotations

import enum
import os
import secrets as token_source
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.config.model import Config
from claude_poe_tui.errors import UserError
from claude_poe_tui.secrets import SecretResolver, reference_name, update_dotenv, valid_reference_name

MASTER_KEY_PREFIX = "sk-"


class KeyKind(enum.Enum):
    POE = "poe"
    MASTER = "master"

    @property
    def config_key(self) -> str:
        return "[poe] api_key" if self is KeyKind.POE else "[proxy] master_key"

    @property
    def label(self) -> str:
        return "Poe API key" if self is KeyKind.POE else "master key"


class LiteralKeyError(UserError):
    """The config holds the key itself, so there is no ``.env`` entry to store a new one in."""


def mask(value: str) -> str:
    """``sk-1a2b…9f0e``: enough to tell keys apart, never enough to use one."""
    if len(value) <= 12:
        return "…" if value else ""
    head = 5 if value.startswith(MASTER_KEY_PREFIX) else 3
    return f"{value[:head]}…{value[-4:]}"


def generate_master_key() -> str:
    """``sk-`` and 64 hex digits (256 random bits)."""
    return MASTER_KEY_PREFIX + token_source.token_hex(32)


@dataclass(frozen=True)
class KeyInfo:
    kind: KeyKind
    raw: str
    """What the config says: ``env:NAME`` or the literal (then ``raw == value``)."""
    env_name: str | None
    value: str | None
    """None when the reference is set nowhere."""
    source: str
    """``environment``, ``.env``, ``config`` or ``missing``."""
    origin: str
    """The exact place: ``$POE_API_KEY``, the .env path, or the config path."""
    dotenv_path: Path

    @property
    def masked(self) -> str:
        return mask(self.value) if self.value else "(not set)"

    @property
    def resolved(self) -> bool:
        return self.value is not None

    def where(self) -> str:
        """For people: ``$POE_API_KEY``, ``POE_API_KEY in /path/.env``, ``the config (/path)``."""
        if self.source == "environment":
            return f"the environment (${self.env_name})"
        if self.source == ".env":
            return f"{self.env_name} in {self.origin}"
        if self.source == "config":
            return f"the config itself ({self.origin})"
        return f"nowhere: {self.env_name} is not in the environment nor in {self.dotenv_path}"


def _raw(config: Config, kind: KeyKind) -> str:
    return config.poe.api_key if kind is KeyKind.POE else config.proxy.master_key


def describe_key(config: Config, kind: KeyKind, environ: Mapping[str, str] | None = None) -> KeyInfo:
    raw = _raw(config, kind)
    name = reference_name(raw)
    resolver = SecretResolver(config.dotenv_path, environ)
    if name is None:
        return KeyInfo(kind, raw, None, raw, "config", str(config.path), config.dotenv_path)
    found = resolver.lookup(name)
    if found is None:
        return KeyInfo(kind, raw, name, None, "missing", "", config.dotenv_path)
    return KeyInfo(kind, raw, name, found.value, found.source, found.origin, config.dotenv_path)


def describe_keys(config: Config, environ: Mapping[str, str] | None = None) -> list[KeyInfo]:
    return [describe_key(config, kind, environ) for kind in KeyKind]


@dataclass(frozen=True)
class StoredKey:
    kind: KeyKind
    env_name: str
    dotenv_path: Path
    shadowed: bool
    """The environment sets the same variable to another value, and the environment wins: the
    stored key is used only once that variable is unset."""

    def message(self) -> str:
        text = f"{self.kind.label} stored as {self.env_name} in {self.dotenv_path}"
        if self.shadowed:
            text += (
                f"; note: ${self.env_name} in your environment holds a different value and takes "
                f"precedence (unset it to use the stored key)"
            )
        return text


def store_key(
    config: Config, kind: KeyKind, value: str, environ: Mapping[str, str] | None = None
) -> StoredKey:
    """Write ``value`` into the ``.env`` beside the config under the key's ``env:NAME``.

    Raises :class:`LiteralKeyError` when the config holds the key literally: rewriting the config
    is the user's call, not a side effect of storing a key.
    """
    value = value.strip()
    if not value:
        raise UserError(f"the {kind.label} must not be empty")
    if any(ch.isspace() for ch in value):
        raise UserError(f"the {kind.label} must not contain spaces or line breaks")
    raw = _raw(config, kind)
    name = reference_name(raw)
    if name is None:
        raise LiteralKeyError(
            f"{config.path}: {kind.config_key} holds the key itself, not an env:NAME reference, so "
            f"there is no .env entry to store it in; write {kind.config_key.split()[-1]} = "
            f"\"env:{'POE_API_KEY' if kind is KeyKind.POE else 'LITELLM_MASTER_KEY'}\" there to keep "
            "keys in the .env file"
        )
    if not valid_reference_name(name):
        raise UserError(f"{config.path}: {kind.config_key} = \"{raw}\" is not a valid env:NAME reference")
    update_dotenv(config.dotenv_path, {name: value})
    environ = os.environ if environ is None else environ
    current = environ.get(name)
    return StoredKey(kind, name, config.dotenv_path, shadowed=bool(current) and current != value)
