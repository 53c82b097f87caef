"""What the gateway changes in a request before a bot gets it, and why. Pure functions on the body.

Claude Code shapes its requests for Anthropic's own models; a Poe bot may take less:

* ``max_tokens``: Claude Code asks 32,000 of every model; GPT-4o's limit on Poe is 16,384 and an
  upstream that enforces it fails every turn. Lowered to the bot's maximum output (and a thinking
  budget with it, which must stay below ``max_tokens``), on both routes.
* Thinking blocks in the history: a session made on a translated bot and continued on a Claude bot
  carries ``thinking`` blocks Anthropic did not sign (``signature: ""``), which Anthropic's API
  refuses with a 400. Before the Claude route they are dropped; if the turn in progress loses its
  thinking that way, the request stops asking for thinking (Anthropic requires a tool-use turn
  begun with thinking to keep it).
* On the chat route, Claude Code's ``thinking`` becomes the bot's own parameter (poe/thinking.py).

Everything else on the Claude route reaches Poe as Claude Code sent it (``model`` aside).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui.poe.thinking import bot_thinking_params
from claude_poe_tui.proxy.child.settings import MappingInfo

MIN_THINKING_BUDGET = 1024  # Anthropic's smallest budget_tokens


@dataclass
class Shaped:
    """What shaping did, for the request log."""

    max_tokens_lowered: tuple[int, int] | None = None
    dropped_thinking_blocks: int = 0
    thinking_disabled: bool = False
    notes: list[str] = field(default_factory=list)


def lower_max_tokens(body: dict[str, Any], mapping: MappingInfo, shaped: Shaped) -> None:
    limit = mapping.max_output_tokens
    asked = body.get("max_tokens")
    if not limit or not isinstance(asked, int) or isinstance(asked, bool) or asked <= limit:
        return
    body["max_tokens"] = limit
    shaped.max_tokens_lowered = (asked, limit)
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int):
        if thinking["budget_tokens"] >= limit:
            budget = max(MIN_THINKING_BUDGET, limit - 1)
            if budget >= limit:  # no room to think within this bot's output
                body.pop("thinking")
                shaped.thinking_disabled = True
            else:
                body["thinking"] = {**thinking, "budget_tokens": budget}


def _signed(block: dict[str, Any]) -> bool:
    """Whether a thinking block carries a signature a Claude bot could have issued."""
    if block.get("type") == "redacted_thinking":
        data = block.get("data")
        return isinstance(data, str) and len(data) >= 8
    signature = block.get("signature")
    return isinstance(signature, str) and len(signature.strip()) >= 8


def drop_unsigned_thinking(body: dict[str, Any], shaped: Shaped) -> None:
    """Remove thinking blocks no Claude bot signed from the history (Claude route only)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    last_assistant = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
                         default=None)
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        kept = [b for b in content if not (isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking")
                                           and not _signed(b))]
        dropped = len(content) - len(kept)
        if not dropped:
            continue
        shaped.dropped_thinking_blocks += dropped
        messages[index] = {**message, "content": kept or [{"type": "text", "text": "(thinking omitted)"}]}
        # A turn still in progress (the last assistant message, answered by tool results) that
        # began with thinking must keep it: without the block, the request must not ask to think.
        if index == last_assistant and body.get("thinking") is not None and _ends_in_tool_results(messages, index):
            body.pop("thinking", None)
            shaped.thinking_disabled = True


def _ends_in_tool_results(messages: list[Any], assistant_index: int) -> bool:
    following = messages[assistant_index + 1 :]
    return bool(following) and all(
        isinstance(m, dict) and isinstance(m.get("content"), list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in m["content"])
        for m in following
    )


def apply_thinking(body: dict[str, Any], spec: dict[str, Any] | None, route: str) -> None:
    """Claude Code's ``thinking`` as the bot takes it (see compiler.thinking_spec).

    On the chat route LiteLLM would turn ``thinking`` (and ``output_config.effort``) into a
    top-level ``reasoning_effort`` of its own choosing, or drop it. Instead the bot's own parameter
    goes in ``extra_body``, which LiteLLM merges into the JSON body Poe receives. ``off`` drops
    the request's thinking on either route.
    """
    if spec is None:
        if route == "chat":
            body.pop("thinking", None)
        return
    if route == "messages" and spec.get("mode") != "off":
        return
    thinking = body.pop("thinking", None)
    output_config = body.get("output_config")
    if route == "chat" and isinstance(output_config, dict) and "effort" in output_config:
        rest = {k: v for k, v in output_config.items() if k != "effort"}
        if rest:
            body["output_config"] = rest
        else:
            body.pop("output_config")
    if spec.get("mode") == "off":
        return
    params = bot_thinking_params(thinking, output_config, spec)
    if params:
        extra = body.get("extra_body")
        body["extra_body"] = {**(extra if isinstance(extra, dict) else {}), **params}


def shape_for(body: dict[str, Any], mapping: MappingInfo) -> tuple[dict[str, Any], Shaped]:
    """A copy of ``body`` as ``mapping``'s bot takes it; ``body`` itself is left as sent.

    The copy is shallow but for what changes (messages, thinking), so a fallback to another bot
    starts again from the request as the client sent it.
    """
    shaped = Shaped()
    copy = dict(body)
    copy["model"] = mapping.poe_model
    if isinstance(copy.get("messages"), list):
        copy["messages"] = list(copy["messages"])
    lower_max_tokens(copy, mapping, shaped)
    if mapping.route == "messages":
        drop_unsigned_thinking(copy, shaped)
    apply_thinking(copy, mapping.thinking, mapping.route)
    return copy, shaped
