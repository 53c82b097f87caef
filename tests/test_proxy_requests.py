"""Requests through a real LiteLLM proxy child to the stand-in Poe, with the official anthropic client."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy

pytestmark = pytest.mark.proxy

CLAUDE_ROUTE = "claude-sonnet-4-5-20250929"  # -> Claude-Sonnet-4.5, untranslated /v1/messages
CHAT_ROUTE = "claude-haiku-4-5-20251001"  # -> GPT-4o, translated to chat completions
BOTH_ROUTES = pytest.mark.parametrize("model", [CLAUDE_ROUTE, CHAT_ROUTE], ids=["messages-route", "chat-route"])

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
# What Claude Code sends on every turn.
CLAUDE_CODE_THINKING = {"type": "enabled", "budget_tokens": 31999}


def last_upstream(poe: PoeStandin, path: str) -> dict:
    matching = [r for r in poe.requests() if r["path"] == path]
    assert matching, f"the stand-in got no request on {path}"
    return matching[-1]


@BOTH_ROUTES
def test_plain_message(proxy: RunningProxy, poe_clean: PoeStandin, model: str) -> None:
    reply = proxy.anthropic().messages.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "Say hello"}]
    )
    bot = "Claude-Sonnet-4.5" if model == CLAUDE_ROUTE else "GPT-4o"
    assert reply.content[0].type == "text"
    assert reply.content[0].text == f"Hello from {bot}."
    assert reply.stop_reason == "end_turn"
    assert reply.usage.output_tokens == 3
    upstream_path = "/v1/messages" if model == CLAUDE_ROUTE else "/v1/chat/completions"
    assert last_upstream(poe_clean, upstream_path)["body"]["model"] == bot


@BOTH_ROUTES
def test_streaming(proxy: RunningProxy, poe_clean: PoeStandin, model: str) -> None:
    with proxy.anthropic().messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "Say hello"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 2, "the answer should arrive in several pieces"
    assert "".join(pieces).startswith("Hello from ")
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


@BOTH_ROUTES
def test_tool_use_round_trip(proxy: RunningProxy, poe_clean: PoeStandin, model: str) -> None:
    client = proxy.anthropic()
    question = {"role": "user", "content": 'Weather? use the get_weather tool with {"city": "Paris"}'}
    first = client.messages.create(model=model, max_tokens=300, tools=[WEATHER_TOOL], messages=[question])
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather"
    assert call.input == {"city": "Paris"}

    second = client.messages.create(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]},
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[-1].text == "Tool result received: Sunny, 21 C"
    if model == CHAT_ROUTE:
        upstream = last_upstream(poe_clean, "/v1/chat/completions")["body"]
        assert upstream["tools"][0]["function"]["name"] == "get_weather"
        assert upstream["messages"][-1]["role"] == "tool"


def test_thinking_reaches_claude_bots_untranslated(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    """Claude Code's thinking, cache_control and betas go to Poe's /v1/messages as sent."""
    body = {
        "model": CLAUDE_ROUTE,
        "max_tokens": 32000,
        "stream": True,
        "thinking": CLAUDE_CODE_THINKING,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
        "metadata": {"user_id": "user_abc_account__session_123"},
    }
    betas = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
    response = httpx.post(
        f"{proxy.url}/v1/messages?beta=true",
        json=body,
        headers={
            "authorization": f"Bearer {MASTER_KEY}",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": betas,
            "x-claude-code-session-id": "session-123",
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert "thinking_delta" in response.text and "signature_delta" in response.text
    upstream = last_upstream(poe_clean, "/v1/messages")
    assert upstream["body"]["thinking"] == CLAUDE_CODE_THINKING
    assert upstream["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert upstream["body"]["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert upstream["headers"]["anthropic-beta"] == betas  # verbatim, order kept
    assert upstream["headers"]["anthropic-version"] == "2023-06-01"
    # Poe gets the Poe key, never the client's master key.
    assert upstream["headers"]["authorization"] == f"Bearer {POE_KEY}"
    assert MASTER_KEY not in json.dumps(upstream["headers"])


def test_thinking_on_chat_route_does_not_break_the_request(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    with proxy.anthropic().messages.stream(
        model=CHAT_ROUTE,
        max_tokens=32000,
        thinking=CLAUDE_CODE_THINKING,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        reply = stream.get_final_message()
    assert reply.content[-1].text == "Hello from GPT-4o."
    upstream = last_upstream(poe_clean, "/v1/chat/completions")
    assert "thinking" not in upstream["body"]
    assert MASTER_KEY not in json.dumps(upstream["headers"])


@BOTH_ROUTES
def test_count_tokens(proxy: RunningProxy, model: str) -> None:
    counted = proxy.anthropic().messages.count_tokens(
        model=model, messages=[{"role": "user", "content": "How many tokens is this sentence?"}]
    )
    assert 3 < counted.input_tokens < 50


@pytest.mark.parametrize("key", ["sk-wrong-key", None], ids=["wrong-key", "no-key"])
def test_master_key_is_checked(proxy: RunningProxy, key: str | None) -> None:
    headers = {"anthropic-version": "2023-06-01"}
    if key:
        headers["x-api-key"] = key
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        json={"model": CLAUDE_ROUTE, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )
    assert response.status_code == 401
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "authentication_error"
    assert "master key" in error["error"]["message"] or "master_key" in error["error"]["message"]
    assert MASTER_KEY not in response.text


def test_wrong_master_key_with_the_official_client(proxy: RunningProxy) -> None:
    import anthropic as anthropic_module

    client = anthropic_module.Anthropic(base_url=proxy.url, api_key="sk-not-it", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model=CLAUDE_ROUTE, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401


def test_unmapped_model_names_the_model_and_the_mapped_ones(proxy: RunningProxy) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        proxy.anthropic().messages.create(
            model="claude-3-opus-20240229", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    body = caught.value.response.json()
    assert body["error"]["type"] == "not_found_error"
    message = body["error"]["message"]
    assert "claude-3-opus-20240229" in message
    assert CLAUDE_ROUTE in message and CHAT_ROUTE in message


POE_FAILURES = [
    (401, anthropic.AuthenticationError, "authentication_error"),
    (402, anthropic.APIStatusError, "billing_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (502, anthropic.APIStatusError, "api_error"),
    (529, anthropic.APIStatusError, "overloaded_error"),
]


@BOTH_ROUTES
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("status,exception,error_type", POE_FAILURES, ids=[str(f[0]) for f in POE_FAILURES])
def test_poe_errors_reach_the_client_in_anthropic_shape(
    proxy: RunningProxy, poe_clean: PoeStandin, model: str, stream: bool, status: int, exception: type,
    error_type: str,
) -> None:
    message = f"Poe says {status} for this test"
    poe_clean.fault(status, message=message, retry_after="7" if status == 429 else None)
    client = proxy.anthropic()
    with pytest.raises(exception) as caught:
        if stream:
            with client.messages.stream(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
                s.until_done()
        else:
            client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    error = caught.value
    assert error.status_code == status
    body = error.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert message in body["error"]["message"]
    assert "Traceback" not in body["error"]["message"] and "litellm." not in body["error"]["message"]
    if status == 429:
        assert error.response.headers.get("retry-after") == "7"
    if status == 401:
        assert "Poe API key" in body["error"]["message"]  # says which key: Poe's, not the master key

    # One failure does not lock the mapping out (LiteLLM's default cooldown would, for 5 s).
    again = client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert again.content[-1].text.startswith("Hello from")


def test_anthropic_error_for_an_unknown_poe_bot(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    """The stand-in answers 404 for bots it does not have; the client hears it as not_found_error."""
    poe_clean.fault(404, message="Model 'Claude-Sonnet-9' does not exist")
    with pytest.raises(anthropic.NotFoundError) as caught:
        proxy.anthropic().messages.create(model=CLAUDE_ROUTE, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert "Claude-Sonnet-9" in caught.value.response.json()["error"]["message"]


def test_claude_code_side_requests_are_answered_quietly(proxy: RunningProxy) -> None:
    assert httpx.head(f"{proxy.url}/").status_code == 200
    logged = httpx.post(f"{proxy.url}/api/event_logging/batch", json={"events": [{"name": "x"}]})
    assert logged.status_code == 200
    # Claude Code's model discovery: Anthropic's shape.
    models = httpx.get(f"{proxy.url}/v1/models?limit=1000",
                       headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}).json()
    ids = [m["id"] for m in models["data"]]
    # Claude Code keeps only ids starting with claude/anthropic: gpt-5 is listed under its alias.
    assert CLAUDE_ROUTE in ids and "anthropic-poe-gpt-5" in ids
    assert all(m["type"] == "model" and m["display_name"] and m["created_at"] for m in models["data"])
    assert models["first_id"] == ids[0] and models["last_id"] == ids[-1] and models["has_more"] is False
    one = httpx.get(f"{proxy.url}/v1/models/anthropic-poe-gpt-5",
                    headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"})
    assert one.json()["id"] == "anthropic-poe-gpt-5"
    # ... and answered under it, as under its own name.
    picked = proxy.anthropic().messages.create(model="anthropic-poe-gpt-5", max_tokens=10,
                                               messages=[{"role": "user", "content": "hi"}])
    assert picked.content[-1].text == "Hello from GPT-5."
    # An OpenAI client's: OpenAI's shape.
    openai_models = httpx.get(f"{proxy.url}/v1/models", headers={"authorization": f"Bearer {MASTER_KEY}"}).json()
    assert openai_models["object"] == "list" and all(m["object"] == "model" for m in openai_models["data"])
    missing = httpx.get(f"{proxy.url}/v1/models/claude-9", headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_health_endpoints_need_no_key(proxy: RunningProxy) -> None:
    assert httpx.get(f"{proxy.url}/health/liveliness").status_code == 200
    status = httpx.get(f"{proxy.url}/claude-poe-tui/status").json()
    assert status["product"] == "claude-poe-tui"
    assert MASTER_KEY not in json.dumps(status) and POE_KEY not in json.dumps(status)
