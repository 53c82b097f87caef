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
