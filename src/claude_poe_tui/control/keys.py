"""The dashboard's Keys pane without the screen: storing a key, and asking Poe about the Poe key.

Storing writes the ``.env`` beside the config (see :mod:`claude_poe_tui.keys`) and, when the
environment holds an older value of the same variable, puts the new one in this process's
environment too: the user asked for this key here, so this dashboard and the proxy it starts use
it, while their shell keeps its own value. The check asks Poe for the balance and the points
history and returns what it found as data; the screen decides how it looks.
"""

from __future__ import annotations

import enum
import os
from collections.abc import MutableMapping
from dataclasses import dataclass

from claude_poe_tui.config import Config, load_config
from claude_poe_tui.keys import KeyKind, describe_key, store_key

RECENT_PAGES = 3  # of Poe's points history: the dashboard shows the recent spending only
BOTS_SHOWN = 10


@dataclass(frozen=True)
class KeyStored:
    config: Config
    """The config read again after the key was stored."""
    what: str
    """What was done, for the user."""


def store_dashboard_key(config: Config, kind: KeyKind, value: str,
                        environ: MutableMapping[str, str] | None = None) -> KeyStored:
    """Store ``value`` as the ``kind`` key of ``config``; :class:`UserError` when it cannot be."""
    environ = os.environ if environ is None else environ
    stored = store_key(config, kind, value, environ)
    what = stored.message()
    if stored.shadowed:
        environ[stored.env_name] = value
        what += f"; this dashboard uses the new value, your shell still sets ${stored.env_name}"
    return KeyStored(load_config(config.path, environ=environ), what)


class CheckOutcome(enum.Enum):
    ACCEPTED = "accepted"  # Poe answered with the balance
    NOT_SET = "not set"  # the key is set nowhere: nothing was asked
    FAILED = "failed"  # Poe rejected the key, or could not be asked


@dataclass(frozen=True)
class PoeKeyCheck:
    outcome: CheckOutcome
    message: str
    """One sentence: the balance, or what went wrong (where the key came from included)."""
    balance: int | None = None
    spent: tuple[tuple[str, int, int], ...] = ()
    """``(bot, points, requests)`` of the recent points history, most points first."""

    @property
    def ok(self) -> bool:
        return self.outcome is CheckOutcome.ACCEPTED


def check_poe_key(config: Config) -> PoeKeyCheck:
    """Ask Poe whether the configured Poe key works (blocking: call it from a worker)."""
    from claude_poe_tui.poe.client import PoeClient, PoeError

    info = describe_key(config, KeyKind.POE)
    if info.value is None:
        return PoeKeyCheck(CheckOutcome.NOT_SET, f"The Poe key is not set: {info.where()}.")
    client = PoeClient(config.poe.base_url, info.value, key_origin=info.where())
    try:
        balance = client.balance()
        history = client.points_history(max_pages=RECENT_PAGES)
    except PoeError as exc:
        return PoeKeyCheck(CheckOutcome.FAILED, str(exc))
    return PoeKeyCheck(CheckOutcome.ACCEPTED, f"Poe accepts the key. Balance: {balance:,} points.", balance,
                       tuple(history.spent_per_bot()[:BOTS_SHOWN]))


@dataclass(frozen=True)
class PoolKey:
    """One key of ``[poe] api_keys``: the variable the proxy knows it by, and where its value is."""

    index: int
    raw: str
    """What the config says: ``env:NAME`` or the key itself."""
    env_name: str
    """The variable it reaches the proxy under (the status page names out-of-pool keys by it)."""
    value: str | None
    where: str
    """For people: ``the environment ($POE_KEY_A)``, ``POE_KEY_A in /path/.env``, the config, or nowhere."""

    @property
    def masked(self) -> str:
        from claude_poe_tui.keys import mask

        return mask(self.value) if self.value else "(not set)"


def describe_pool(config: Config, environ: MutableMapping[str, str] | None = None) -> list[PoolKey]:
    """``[poe] api_keys`` in order, each resolved (never raising: a missing one says where it was looked for)."""
    from claude_poe_tui.config.load import pool_env_name
    from claude_poe_tui.secrets import SecretResolver, reference_name

    resolver = SecretResolver(config.dotenv_path, environ)
    keys = []
    for index, raw in enumerate(config.poe.api_keys):
        name = reference_name(raw)
        env_name = pool_env_name(raw, index)
        if name is None:
            keys.append(PoolKey(index, raw, env_name, raw, f"the config itself ({config.path})"))
            continue
        found = resolver.lookup(name)
        if found is None:
            where = f"nowhere: {name} is not in the environment nor in {config.dotenv_path}"
            keys.append(PoolKey(index, raw, env_name, None, where))
        elif found.source == "environment":
            keys.append(PoolKey(index, raw, env_name, found.value, f"the environment (${name})"))
        else:
            keys.append(PoolKey(index, raw, env_name, found.value, f"{name} in {found.origin}"))
    return keys


def check_pool_key(config: Config, key: PoolKey) -> PoeKeyCheck:
    """Ask Poe about one key of the pool (blocking)."""
    from claude_poe_tui.poe.client import PoeClient, PoeError

    if key.value is None:
        return PoeKeyCheck(CheckOutcome.NOT_SET, f"Pool key {key.index + 1} ({key.env_name}) is not set: {key.where}.")
    client = PoeClient(config.poe.base_url, key.value, key_origin=key.where)
    try:
        balance = client.balance()
        history = client.points_history(max_pages=RECENT_PAGES)
    except PoeError as exc:
        return PoeKeyCheck(CheckOutcome.FAILED, f"Pool key {key.index + 1} ({key.env_name}): {exc}")
    return PoeKeyCheck(CheckOutcome.ACCEPTED,
                       f"Poe accepts pool key {key.index + 1} ({key.env_name}). Balance: {balance:,} points.",
                       balance, tuple(history.spent_per_bot()[:BOTS_SHOWN]))


def store_pool_key(config: Config, key: PoolKey, value: str,
                   environ: MutableMapping[str, str] | None = None) -> KeyStored:
    """Store ``value`` as pool key ``key`` in the ``.env`` beside the config (as :func:`store_dashboard_key`)."""
    from claude_poe_tui.errors import UserError
    from claude_poe_tui.secrets import reference_name, update_dotenv

    environ = os.environ if environ is None else environ
    value = value.strip()
    if not value or any(ch.isspace() for ch in value):
        raise UserError("a Poe API key must not be empty nor contain spaces or line breaks")
    name = reference_name(key.raw)
    if name is None:
        raise UserError(f"{config.path}: [poe] api_keys[{key.index}] holds the key itself, not an env:NAME "
                        "reference, so there is no .env entry to store it in")
    update_dotenv(config.dotenv_path, {name: value})
    what = f"pool key {key.index + 1} stored as {name} in {config.dotenv_path}"
    current = environ.get(name)
    if current and current != value:
        environ[name] = value
        what += f"; this dashboard uses the new value, your shell still sets ${name}"
    return KeyStored(load_config(config.path, environ=environ), what)
