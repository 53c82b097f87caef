"""The one change we make to LiteLLM's behaviour, applied in the proxy child only.

On the untranslated ``/v1/messages`` route LiteLLM rebuilds ``anthropic-beta`` from a set, so the
client's betas reach Poe sorted (and, for some request features, with extra betas added).
Claude Code's gateway guidance is to forward the header verbatim: we restore the client's value,
and append any beta LiteLLM added after the client's own, in LiteLLM's order.
"""

from __future__ import annotations

from typing import Any


def _split(value: str | None) -> list[str]:
    return [token.strip() for token in (value or "").split(",") if token.strip()]


def keep_client_anthropic_beta() -> None:
    from litellm.llms.openai_like.messages.transformation import OpenAILikeAnthropicMessagesConfig

    original = OpenAILikeAnthropicMessagesConfig.validate_anthropic_messages_environment
    if getattr(original, "_claude_poe_tui", False):
        return

    def validate_keeping_client_beta(self: Any, headers: dict[str, str], *args: Any, **kwargs: Any) -> Any:
        client_beta = next((v for k, v in headers.items() if k.lower() == "anthropic-beta"), None)
        merged, api_base = original(self, headers, *args, **kwargs)
        if client_beta:
            added: list[str] = []
            for key in [k for k in merged if k.lower() == "anthropic-beta"]:
                added += [t for t in _split(merged.pop(key)) if t not in _split(client_beta)]
            merged["anthropic-beta"] = ",".join([client_beta.strip(), *added]) if added else client_beta.strip()
        return merged, api_base

    validate_keeping_client_beta._claude_poe_tui = True  # type: ignore[attr-defined]
    OpenAILikeAnthropicMessagesConfig.validate_anthropic_messages_environment = validate_keeping_client_beta


def apply_all() -> None:
    keep_client_anthropic_beta()
