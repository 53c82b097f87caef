"""What Claude Code's ``/model`` picker lists: every mapping, under an id Claude Code keeps.

Read from Claude Code 2.1.197. With ``CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`` and
``ANTHROPIC_BASE_URL`` pointing elsewhere than api.anthropic.com, it asks the gateway for
``GET /v1/models?limit=1000`` at start (3 s timeout, no redirects, ``Authorization: Bearer`` the
auth token), keeps the entries whose ``id`` matches ``/^(claude|anthropic)/i``, caches them in
``~/.claude/cache/gateway-models.json`` and lists them in ``/model`` as ``display_name`` (else the id)
with the description "From gateway". An entry that resolves to the same model as one of the
Opus/Sonnet/Haiku slots is shown once, as the slot.

So a mapping named ``gpt-5`` would be dropped: the proxy lists it, and answers to it, as
``anthropic-poe-gpt-5`` (:func:`picker_alias`). Not ``claude-…``: Claude Code gives every id that
starts with ``claude-`` a 200,000-token window whatever ``CLAUDE_CODE_MAX_CONTEXT_TOKENS`` says,
while an ``anthropic-…`` id, like ``gpt-5`` itself, takes that variable's value (measured with
``claude -p /context --model ID``). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from claude_poe_tui.config.model import Config
from claude_poe_tui.poe.catalog import Catalog

KEPT_BY_CLAUDE_CODE = re.compile(r"^(claude|anthropic)", re.IGNORECASE)
"""The filter Claude Code applies to discovered ids."""
ALIAS_PREFIX = "anthropic-poe-"


def picker_alias(name: str) -> str:
    """The id under which mapping ``name`` appears in ``/model``, and which the proxy answers to.

    ``claude-sonnet-4-5`` -> itself (Claude Code keeps it); ``gpt-5`` -> ``anthropic-poe-gpt-5``.
    """
    return name if KEPT_BY_CLAUDE_CODE.match(name) else ALIAS_PREFIX + name


def display_name(poe_model: str, catalog: Catalog | None) -> str:
    """``GPT-5 (Poe)``: Poe's display name for the bot (else its id), marked as served by Poe."""
    bot = catalog.get(poe_model) if catalog is not None else None
    return f"{bot.label if bot is not None else poe_model} (Poe)"


@dataclass(frozen=True)
class PickerModel:
    id: str
    """What ``GET /v1/models`` lists and what Claude Code then sends as ``model``."""
    name: str
    """The mapping it reaches (``[[models]] name``)."""
    display_name: str


def picker_models(config: Config, catalog: Catalog | None) -> list[PickerModel]:
    """One entry per mapping, in config order.

    When two mappings share a bot, the mapping's name is added to the label so the picker tells
    them apart. An alias equal to another mapping's name is not listed (that name wins).
    """
    names = {m.name for m in config.models}
    labels = [display_name(m.poe_model, catalog) for m in config.models]
    entries: list[PickerModel] = []
    for mapping, label in zip(config.models, labels):
        alias = picker_alias(mapping.name)
        if alias != mapping.name and alias in names:
            continue
        if labels.count(label) > 1:
            label = f"{label} · {mapping.name}"
        entries.append(PickerModel(alias, mapping.name, label))
    return entries


def resolve_picker_id(model: str, names: Iterable[str]) -> str | None:
    """The mapping name a requested ``model`` reaches: the name itself, or the name behind an alias."""
    known = set(names)
    if model in known:
        return model
    if model.startswith(ALIAS_PREFIX) and model[len(ALIAS_PREFIX):] in known:
        name = model[len(ALIAS_PREFIX):]
        return name if picker_alias(name) == model else None
    return None


def models_page(entries: list[PickerModel], created_at: str) -> dict[str, object]:
    """``GET /v1/models`` in Anthropic's shape (``created_at``: RFC 3339, e.g. ``2026-11-30T12:00:00Z``).

    Claude Code reads ``data[].id`` and ``data[].display_name``; the rest is Anthropic's shape
    (``type``, ``created_at``, ``has_more``, ``first_id``, ``last_id``) for other clients.
    """
    data = [{"type": "model", "id": e.id, "display_name": e.display_name, "created_at": created_at} for e in entries]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
