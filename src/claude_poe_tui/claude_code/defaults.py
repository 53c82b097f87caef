"""The model names Claude Code asks for, and the Poe bot that answers each by default.

Read from Claude Code 2.1.197 (its model table's aliases, and checked by pointing it at a
recording server with ``--model opus`` / ``sonnet`` / ``haiku``): without configuration it asks for
``claude-opus-4-8``, ``claude-sonnet-5`` and ``claude-haiku-4-5-20251001``.

A mapping's name matters beyond routing: Claude Code picks the request's shape from it (adaptive
thinking and ``output_config.effort`` for the newest models, ``budget_tokens`` for older ones). So
when Poe lacks the exact bot and an older one of the family answers, the mapping is named after
that older model (``claude-opus-4-5`` for ``Claude-Opus-4.5``), and Claude Code sends what it takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from claude_poe_tui.poe.catalog import Catalog, claude_family_version, newest_claude_bot

SURVEYED_CLAUDE_CODE_VERSION = "2.1.197"
CLAUDE_CODE_DEFAULT_MODELS: dict[str, str] = {
    "opus": "claude-opus-4-8",
    "sonnet": "claude-sonnet-5",
    "haiku": "claude-haiku-4-5-20251001",
}
FAMILIES = ("opus", "sonnet", "haiku")

_MODEL_ID = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)(?:-(\d))?(?:-\d{8})?$")


def model_family_version(model_id: str) -> tuple[str, tuple[int, ...]] | None:
    """``claude-haiku-4-5-20251001`` -> ``("haiku", (4, 5))``; ``claude-sonnet-5`` -> ``("sonnet", (5,))``."""
    match = _MODEL_ID.match(model_id)
    if not match:
        return None
    version = (int(match.group(2)),) + ((int(match.group(3)),) if match.group(3) else ())
    return match.group(1), version


def poe_bot_name(family: str, version: tuple[int, ...]) -> str:
    """``("opus", (4, 8))`` -> ``Claude-Opus-4.8`` (Poe's naming)."""
    return f"Claude-{family.capitalize()}-{'.'.join(str(part) for part in version)}"


def model_name(family: str, version: tuple[int, ...]) -> str:
    """The name Claude Code knows that model by: its own default id when it is that version."""
    default = CLAUDE_CODE_DEFAULT_MODELS.get(family)
    if default and model_family_version(default) == (family, version):
        return default
    return f"claude-{family}-{'-'.join(str(part) for part in version)}"


@dataclass(frozen=True)
class DefaultMapping:
    family: str
    name: str
    """The model name Claude Code sends."""
    poe_model: str
    exact: bool
    """Poe has the bot for the exact version Claude Code asks for (or no catalog was consulted)."""


def default_mappings(catalog: Catalog | None = None) -> list[DefaultMapping]:
    """One mapping per family, on Poe's Claude bots.

    Without a catalog (offline): the bots named after Claude Code's defaults. With one: that bot
    if Poe has it, else Poe's newest plain bot of the family, else the default name anyway (for
    ``doctor`` to flag).
    """
    chosen: list[DefaultMapping] = []
    for family in FAMILIES:
        parsed = model_family_version(CLAUDE_CODE_DEFAULT_MODELS[family])
        assert parsed is not None
        version = parsed[1]
        wanted = poe_bot_name(family, version)
        if catalog is None or catalog.get(wanted) is not None:
            bot = catalog.get(wanted).id if catalog is not None else wanted  # type: ignore[union-attr]
            chosen.append(DefaultMapping(family, CLAUDE_CODE_DEFAULT_MODELS[family], bot, True))
            continue
        newest = newest_claude_bot(catalog, family)
        if newest is None:
            chosen.append(DefaultMapping(family, CLAUDE_CODE_DEFAULT_MODELS[family], wanted, False))
            continue
        bot_version = claude_family_version(newest.id)
        assert bot_version is not None
        chosen.append(DefaultMapping(family, model_name(family, bot_version[1]), newest.id, False))
    return chosen
