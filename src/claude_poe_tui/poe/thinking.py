"""Claude Code's thinking request, said the way a Poe bot understands it.

Claude Code asks for thinking on every turn: ``{"type": "enabled", "budget_tokens": 31999}``, or
``{"type": "adaptive"}`` with ``output_config: {"effort": "high"}`` for the models it knows. On
Poe's chat-completions route a bot takes reasoning through one bot parameter of its own, sent as a
top-level field of the request body: ``thinking_budget`` (tokens) or ``reasoning_effort`` (a
level). These pure functions turn the one into the other; the proxy child applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_poe_tui.poe.catalog import EFFORT_ORDER, REASONING_EFFORT, THINKING_BUDGET

# Budget <-> effort, both ways: a budget up to 4k tokens is "low", up to 16k "medium", more "high".
LOW_MAX_BUDGET = 4096
MEDIUM_MAX_BUDGET = 16384
BUDGET_FOR_EFFORT = {"minimal": 1024, "low": LOW_MAX_BUDGET, "medium": MEDIUM_MAX_BUDGET, "high": 32768}
ADAPTIVE_DEFAULT_EFFORT = "medium"


def effort_for_budget(budget: int) -> str:
    if budget <= LOW_MAX_BUDGET:
        return "low"
    if budget <= MEDIUM_MAX_BUDGET:
        return "medium"
    return "high"


def _closest_effort(wanted: str, allowed: tuple[str, ...]) -> str:
    """``wanted`` if the bot accepts it, else the accepted level nearest to it (ties go lower)."""
    if not allowed or wanted in allowed:
        return wanted
    rank = {level: i for i, level in enumerate(EFFORT_ORDER)}
    known = [level for level in allowed if level in rank]
    if not known:
        return allowed[0]
    target = rank.get(wanted, rank["medium"])
    return min(known, key=lambda level: (abs(rank[level] - target), rank[level]))


def _asked_effort(output_config: Any) -> str | None:
    if isinstance(output_config, Mapping):
        effort = output_config.get("effort")
        if isinstance(effort, str) and effort:
            effort = effort.lower()
            return "high" if effort in ("xhigh", "max") else effort
    return None


def requested(thinking: Any) -> bool:
    """Whether an Anthropic ``thinking`` field asks for thinking at all."""
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def bot_thinking_params(thinking: Any, output_config: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The bot parameter for this request: ``{"thinking_budget": 16000}``, ``{"reasoning_effort":
    "high"}``, or ``{}`` when the request does not ask for thinking.

    ``spec`` is the bot's reasoning support as the compiler writes it (``Reasoning.to_json()``).
    """
    if not requested(thinking):
        return {}
    parameter = spec.get("parameter")
    budget = thinking.get("budget_tokens") if thinking.get("type") == "enabled" else None
    budget = budget if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0 else None
    effort = _asked_effort(output_config)
    if parameter == THINKING_BUDGET:
        if budget is None:
            budget = BUDGET_FOR_EFFORT.get(effort or ADAPTIVE_DEFAULT_EFFORT, MEDIUM_MAX_BUDGET)
        low, high = spec.get("min_budget"), spec.get("max_budget")
        if isinstance(high, int) and budget > high:
            budget = high
        if isinstance(low, int) and budget < low:
            budget = low
        return {THINKING_BUDGET: budget}
    if parameter == REASONING_EFFORT:
        level = effort_for_budget(budget) if budget is not None else (effort or ADAPTIVE_DEFAULT_EFFORT)
        allowed = tuple(v for v in spec.get("efforts") or () if isinstance(v, str))
        return {REASONING_EFFORT: _closest_effort(level, allowed)}
    return {}
