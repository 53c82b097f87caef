"""What the gateway does so a long Claude Code session keeps working on any bot: the bot's window and
output limit, thinking blocks from another bot, count_tokens, and which subagent asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.proxy.child.settings import MappingInfo
from claude_poe_tui.proxy.child.shaping import shape_for
from conftest import MASTER_KEY, PoeStandin, RunningProxy, read_records, start_proxy, start_standin

HEADERS = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}
MODELS = (("claude-sonnet-4-5", "Claude-Sonnet-4.5"), ("gpt-4o", "GPT-4o"))
LIMITS = """
[[models]]
name = "claude-sonnet-4-5"
poe_model = "Claude-Sonnet-4.5"
context_window = 2000

[[models]]
name = "gpt-4o"
poe_model = "GPT-4o"
max_output_tokens = 16384
context_window = 3000
"""


# --- shaping, as pure functions ---------------------------------------------------------------


def test_max_tokens_is_lowered_to_the_bots_output_limit_with_the_thinking_budget() -> None:
    mapping = MappingInfo("gpt-4o", "GPT-4o", "messages", max_output_tokens=16384)
    body = {"model": "gpt-4o", "max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 31999},
            "messages": [{"role": "user", "content": "hi"}]}
    shaped, notes = shape_for(body, mapping)
    assert shaped["max_tokens"] == 16384 and shaped["thinking"]["budget_tokens"] == 16383
    assert notes.max_tokens_lowered == (32000, 16384)
    assert body["max_tokens"] == 32000  # the client's request is left as sent, for a fallback


def test_unsigned_thinking_blocks_are_dropped_before_the_claude_route() -> None:
    mapping = MappingInfo("sonnet", "Claude-Sonnet-4.5", "messages")
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "from GPT", "signature": ""},
                                          {"type": "text", "text": "hello"}]},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": ""}]},
        {"role": "user", "content": "and?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "real", "signature": "EqQBCkYIBRgCKkB"},
                                          {"type": "text", "text": "kept"}]},
        {"role": "user", "content": "ok"},
    ]
    body = {"model": "sonnet", "max_tokens": 100, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": history}
    shaped, notes = shape_for(body, mapping)
    assert notes.dropped_thinking_blocks == 2
    assert shaped["messages"][1]["content"] == [{"type": "text", "text": "hello"}]
    assert shaped["messages"][3]["content"] == [{"type": "text", "text": "(thinking omitted)"}]
    assert shaped["messages"][5] == history[5]  # a signed block stays
    assert shaped["thinking"] == body["thinking"]
    assert history[1]["content"][0]["type"] == "thinking"  # the client's copy is untouched


def test_a_tool_turn_that_loses_its_thinking_stops_asking_for_thinking() -> None:
    mapping = MappingInfo("sonnet", "Claude-Sonnet-4.5", "messages")
    body = {"model": "sonnet", "max_tokens": 100, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [
                {"role": "user", "content": "run it"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": ""},
                                                  {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "done"}]},
            ]}
    shaped, notes = shape_for(body, mapping)
    assert "thinking" not in shaped and notes.thinking_disabled


# --- through a real proxy ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_poe() -> Iterator[PoeStandin]:
    standin = start_standin("--count-tokens")
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


@pytest.fixture(scope="module")
def limited_proxy(strict_poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    running = start_proxy(tmp_path_factory.mktemp("limits"), strict_poe, models=(), extra=LIMITS)
    yield running
    running.process.stop()


def post(proxy: RunningProxy, body: dict, headers: dict | None = None, path: str = "/v1/messages") -> httpx.Response:
    return httpx.post(f"{proxy.url}{path}", json=body, headers={**HEADERS, **(headers or {})}, timeout=30)


@pytest.mark.proxy
def test_a_prompt_beyond_the_bots_window_gets_anthropics_message_without_asking_poe(
    limited_proxy: RunningProxy, strict_poe: PoeStandin
) -> None:
    strict_poe.clear()
    long_text = " ".join(f"word{i}" for i in range(6000))  # far beyond 2,000 tokens
    response = post(limited_proxy, {"model": "claude-sonnet-4-5", "max_tokens": 10,
                                    "messages": [{"role": "user", "content": long_text}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("prompt is too long: ") and error["message"].endswith(" > 2000 maximum")
    assert not [r for r in strict_poe.requests() if r["path"] == "/v1/messages"]
    # A prompt within the window goes through.
    ok = post(limited_proxy, {"model": "claude-sonnet-4-5", "max_tokens": 10,
                              "messages": [{"role": "user", "content": "short"}]})
    assert ok.status_code == 200


@pytest.mark.proxy
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_max_tokens_reaches_gpt4o_lowered_and_the_record_says_so(limited_proxy: RunningProxy, strict_poe: PoeStandin,
                                                                 stream: bool) -> None:
    strict_poe.clear()
    before = len(read_records(limited_proxy.request_log))
    response = post(limited_proxy, {"model": "gpt-4o", "max_tokens": 32000, "stream": stream,
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    (upstream,) = [r for r in strict_poe.requests() if r["path"] == "/v1/chat/completions"]
    assert upstream["body"]["max_tokens"] == 16384
    record = read_records(limited_proxy.request_log, at_least=before + 1)[-1]
    assert record["max_tokens_lowered"] == [32000, 16384]


@pytest.mark.proxy
def test_count_tokens_uses_poes_count_for_a_claude_bot(limited_proxy: RunningProxy, strict_poe: PoeStandin) -> None:
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "one two three four five"}]}
    response = post(limited_proxy, body, path="/v1/messages/count_tokens")
    assert response.json() == {"input_tokens": 5}  # the stand-in counts words: Poe's count, not ours
    estimate = post(limited_proxy, {**body, "model": "gpt-4o"}, path="/v1/messages/count_tokens")
    assert estimate.status_code == 200 and estimate.json()["input_tokens"] > 0


@pytest.mark.proxy
def test_count_tokens_falls_back_to_an_estimate_when_poe_has_none(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    body = {"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "one two three four five"}]}
    first = post(proxy, body, path="/v1/messages/count_tokens")
    assert first.status_code == 200 and 3 <= first.json()["input_tokens"] <= 20
    asked = len([r for r in poe_clean.requests() if r["path"] == "/v1/messages/count_tokens"])
    assert asked <= 1  # (none when an earlier request already found Poe has no such endpoint)
    post(proxy, body, path="/v1/messages/count_tokens")
    again = len([r for r in poe_clean.requests() if r["path"] == "/v1/messages/count_tokens"])
    assert again == asked  # Poe said it has no such endpoint; it is not asked again


@pytest.mark.proxy
def test_the_estimate_counts_what_anthropic_counts_for_tools_and_earlier_thinking(
        proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    """Anthropic's token-counting guide: the get_weather request counts 403 tokens on Claude Opus 4,
    most of it the tool-use system prompt Anthropic adds; thinking in earlier assistant turns is not
    counted. (``benchmarks/bench_count_tokens.py`` puts a figure on all the published cases.)"""
    weather = {"name": "get_weather", "description": "Get the current weather in a given location",
               "input_schema": {"type": "object", "required": ["location"], "properties": {
                   "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}}}}
    tools = post(proxy, {"model": "claude-sonnet-4-5-20250929", "tools": [weather], "messages": [
        {"role": "user", "content": "What's the weather like in San Francisco?"}]}, path="/v1/messages/count_tokens")
    assert 0.85 * 403 <= tools.json()["input_tokens"] <= 1.15 * 403

    def conversation(thinking: str) -> dict:
        return {"model": "claude-sonnet-4-5-20250929", "messages": [
            {"role": "user", "content": "Is 91 prime?"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": thinking, "signature": "sig"},
                                              {"type": "text", "text": "No: 7 times 13."}]},
            {"role": "user", "content": "And 97?"}]}

    short = post(proxy, conversation("Check small factors."), path="/v1/messages/count_tokens").json()
    long = post(proxy, conversation("Check small factors. " * 500), path="/v1/messages/count_tokens").json()
    assert long == short


def test_local_estimates_match_known_tokenizers() -> None:
    """GPT bots: OpenAI's o200k (GPT-4o's own tokenizer, exact for text); Claude bots: the bundled
    Anthropic tokenizer, Anthropic's published one (exact for Claude 2, an estimate since Claude 3)."""
    import tiktoken

    from claude_poe_tui.proxy.child import litellm_seam

    text = "Claude Code on Poe: a terminal dashboard over an embedded LiteLLM proxy, counted for tests."
    gpt = litellm_seam.count_tokens(claude=False, messages=[{"role": "user", "content": text}])
    exact = len(tiktoken.get_encoding("o200k_base").encode(text))
    assert exact <= gpt <= exact + 8  # LiteLLM adds a few tokens per message for the chat framing
    claude = litellm_seam.count_tokens(claude=True, messages=[{"role": "user", "content": text}])
    assert 0.8 * exact <= claude <= 1.5 * exact + 8


@pytest.mark.proxy
def test_the_subagent_that_asked_is_recorded(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    before = len(read_records(proxy.request_log))
    response = post(proxy, {"model": "claude-sonnet-4-5-20250929", "max_tokens": 10,
                            "messages": [{"role": "user", "content": "hi"}]},
                    headers={"x-claude-code-session-id": "s-42", "x-claude-code-agent-id": "agent-7",
                             "x-claude-code-parent-agent-id": "agent-1"})
    assert response.status_code == 200
    time.sleep(0.1)
    record = read_records(proxy.request_log, at_least=before + 1)[-1]
    assert (record["session"], record["agent_id"], record["parent_agent_id"]) == ("s-42", "agent-7", "agent-1")
    upstream = [r for r in poe_clean.requests() if r["path"] == "/v1/messages"][-1]
    assert upstream["headers"]["x-claude-code-agent-id"] == "agent-7"


@pytest.mark.proxy
def test_a_session_over_its_points_budget_is_refused_with_an_error_claude_code_does_not_retry(
    tmp_path: Path, poe: PoeStandin
) -> None:
    from claude_poe_tui.poe.catalog import parse_models_response, save_cache

    state = tmp_path / "state"
    state.mkdir()
    # Poe's catalog, as `init` caches it: the gateway estimates each request's points from its prices.
    entries = parse_models_response(httpx.get(f"{poe.base_url}/models").json())
    save_cache(state / "poe-models.json", entries, source=poe.base_url)
    running = start_proxy(tmp_path, poe, models=(("gpt-4o", "GPT-4o"),), extra="\n[budget]\nsession_points = 2\n")
    try:
        statuses = []
        for _ in range(6):
            response = post(running, {"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                            headers={"x-claude-code-session-id": "session-over-budget"})
            statuses.append(response.status_code)
            if response.status_code != 200:
                break
        assert statuses[0] == 200 and statuses[-1] == 402, statuses
        error = response.json()["error"]
        assert error["type"] == "billing_error" and "session_points" in error["message"]
        # Another session has its own budget.
        other = post(running, {"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                     headers={"x-claude-code-session-id": "another-session"})
        assert other.status_code == 200
    finally:
        running.process.stop()
