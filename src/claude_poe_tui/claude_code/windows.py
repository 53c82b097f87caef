"""Claude Code's context window for each model, made to fit the bot behind it.

Read from Claude Code 2.1.197 (its bundled JavaScript) and checked with ``claude -p /context
--model ID``, which prints the window it works with:

* A model id ending in ``[1m]`` gets 1,000,000 tokens and the ``context-1m-…`` beta; without any
  model set, the default session is the Opus slot as ``<name>[1m]``. Known 1M models get 1M too.
  ``CLAUDE_CODE_DISABLE_1M_CONTEXT=1`` turns all of that off.
* Otherwise an id that starts with ``claude-`` (any case) gets 200,000 tokens, and any other id gets
  ``CLAUDE_CODE_MAX_CONTEXT_TOKENS`` when set (else 200,000). That variable is one number for
  every non-``claude-`` id.
* ``CLAUDE_CODE_AUTO_COMPACT_WINDOW`` caps the window of every model (it is taken as
  ``min(the model's window, max(100000, value))``): the one way to shrink a ``claude-`` id's window.
  Values under 100,000 count as 100,000.

Auto-compaction then starts ~33k tokens below that window (a 20k output reserve and a 13k margin).
So :func:`window_plan` chooses the three variables from the bots' windows, the smallest where one
number must serve several bots (a window too small only compacts early; one too large makes every
turn fail once the session outgrows the bot).
"""

from __future__ import annotations

from dataclasses import dataclass

from claude_poe_tui.claude_code.picker import picker_alias
from claude_poe_tui.config.model import Config
from claude_poe_tui.poe.catalog import Catalog, bot_limits

DISABLE_1M = "CLAUDE_CODE_DISABLE_1M_CONTEXT"
MAX_CONTEXT = "CLAUDE_CODE_MAX_CONTEXT_TOKENS"
AUTO_COMPACT = "CLAUDE_CODE_AUTO_COMPACT_WINDOW"
WINDOW_VARIABLES = (DISABLE_1M, MAX_CONTEXT, AUTO_COMPACT)

ONE_MILLION = 1_000_000
DEFAULT_WINDOW = 200_000
"""Claude Code's window for a model without 1M context."""
AUTO_COMPACT_FLOOR = 100_000
AUTO_COMPACT_CEILING = 1_000_000


def is_claude_id(model_id: str) -> bool:
    """Claude Code's own test: ids starting ``claude-`` ignore ``CLAUDE_CODE_MAX_CONTEXT_TOKENS``."""
    return model_id.strip().lower().startswith("claude-")


def claude_code_window(model_id: str, variables: dict[str, str]) -> int:
    """The window Claude Code works with for ``model_id`` under ``variables`` (2.1.197's rules).

    Exact when ``CLAUDE_CODE_DISABLE_1M_CONTEXT=1``; without it, models Claude Code knows as 1M
    models get 1M without a ``[1m]`` suffix, which this does not model.
    """
    if variables.get(DISABLE_1M) != "1" and model_id.strip().lower().endswith("[1m]"):
        window = ONE_MILLION
    elif not is_claude_id(model_id) and int(variables.get(MAX_CONTEXT) or 0) > 0:
        window = int(variables[MAX_CONTEXT])
    else:
        window = DEFAULT_WINDOW
    cap = int(variables.get(AUTO_COMPACT) or 0)
    if cap > 0:
        window = min(window, max(AUTO_COMPACT_FLOOR, min(cap, AUTO_COMPACT_CEILING)))
    return window


@dataclass(frozen=True)
class ModelWindow:
    """One id Claude Code may send for a mapping: its bot's limits and Claude Code's window."""

    model: str
    """The mapping's name, or its picker alias."""
    mapping: str
    poe_model: str
    bot_window: int | None
    bot_output: int | None
    claude_code_window: int

    @property
    def fits(self) -> bool:
        """Claude Code's window is no larger than the bot's (unknown bots fit: nothing to compare)."""
        return self.bot_window is None or self.claude_code_window <= self.bot_window


@dataclass(frozen=True)
class WindowPlan:
    variables: dict[str, str]
    """The window variables to give Claude Code (only those that are needed)."""
    models: tuple[ModelWindow, ...]

    @property
    def too_small_to_tell(self) -> tuple[ModelWindow, ...]:
        """Bots whose window Claude Code cannot be told (under 100,000 tokens): the proxy's own
        "prompt is too long" answer is what stops those sessions."""
        return tuple(m for m in self.models if not m.fits)


def window_plan(config: Config, catalog: Catalog | None) -> WindowPlan:
    """The variables that keep Claude Code's window within each mapped bot's, as close as one
    number per rule allows. Bots with no known window (no catalog, no ``context_window``) are left
    to Claude Code's defaults, except that 1M context is only kept when every bot is known to take it."""
    limits = {m.name: bot_limits(catalog, m.poe_model, m.context_window, m.max_output_tokens) for m in config.models}
    ids = [(m.name, m) for m in config.models]
    ids += [(picker_alias(m.name), m) for m in config.models if picker_alias(m.name) != m.name]

    variables: dict[str, str] = {}
    windows = [limits[m.name].context_window for m in config.models]
    if not windows or any(w is None or w < ONE_MILLION for w in windows):
        variables[DISABLE_1M] = "1"
    others = [limits[m.name].context_window for model_id, m in ids if not is_claude_id(model_id)]
    known_others = [w for w in others if w]
    if known_others:
        variables[MAX_CONTEXT] = str(min(known_others))
    too_big = [
        limits[m.name].context_window
        for model_id, m in ids
        if limits[m.name].context_window and claude_code_window(model_id, variables) > limits[m.name].context_window
    ]
    if too_big:
        variables[AUTO_COMPACT] = str(max(AUTO_COMPACT_FLOOR, min(too_big)))  # type: ignore[type-var]

    models = tuple(
        ModelWindow(
            model=model_id,
            mapping=m.name,
            poe_model=m.poe_model,
            bot_window=limits[m.name].context_window,
            bot_output=limits[m.name].max_output_tokens,
            claude_code_window=claude_code_window(model_id, variables),
        )
        for model_id, m in ids
    )
    return WindowPlan(variables, models)
