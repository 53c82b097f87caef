"""Claude Code's thinking request, passed to non-Claude bots as their own Poe bot parameter.

Pure parts (the budget/effort conversion, the compiler's per-mapping spec) and the real thing: a
LiteLLM proxy child in front of the stand-in, whose record shows the JSON body Poe receives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_poe_tui.compiler import compile_gateway_settings, thinking_spec
from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.config.model import ModelMapping, Route, Thinking
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.poe.catalog import Catalog, Reasoning
from claude_poe_tui.poe.client import refresh_catalog
from claude_poe_tui.poe.thinking import bot_thinking_params, effort_for_budget
from conftest import MASTER_KEY, PoeStandin, write_config

CLAUDE_CODE_THINKING = {"type": "enabled", "budget_tokens": 31999}
BUDGET_SPEC = {"mode": "auto", "parameter": "thinking_budget", "min_budget": 128, "max_budget": 32768, "efforts": []}
EFFORT_SPEC = {"mode": "auto", "parameter": "reasoning_effort", "min_budget": None, "max_budget": None,
               "efforts": ["minimal", "low", "medium", "high"]}


# --- the conversion -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1, "low"), (4096, "low"), (4097, "medium"), (16384, "medium"), (16385, "high"), (31999, "high")],
)
def test_effort_for_budget(budget: int, effort: str) -> None:
    assert effort_for_budget(budget) == effort


def test_budget_is_clamped_to_the_bots_range() -> None:
    assert bot_thinking_params(CLAUDE_CODE_THINKING, None, BUDGET_SPEC) == {"thinking_budget": 31999}
    assert bot_thinking_params({"type": "enabled", "budget_tokens": 90000}, None, BUDGET_SPEC) == {"thinking_budget": 32768}
    assert bot_thinking_params({"type": "enabled", "budget_tokens": 10}, None, BUDGET_SPEC) == {"thinking_budget": 128}


def test_adaptive_thinking_uses_the_asked_effort_or_medium() -> None:
    adaptive = {"type": "adaptive"}
    assert bot_thinking_params(adaptive, None, EFFORT_SPEC) == {"reasoning_effort": "medium"}
    assert bot_thinking_params(adaptive, {"effort": "low"}, EFFORT_SPEC) == {"reasoning_effort": "low"}
    assert bot_thinking_params(adaptive, {"effort": "max"}, EFFORT_SPEC) == {"reasoning_effort": "high"}
    assert bot_thinking_params(adaptive, None, BUDGET_SPEC) == {"thinking_budget": 16384}
    assert bot_thinking_params(adaptive, {"effort": "low"}, BUDGET_SPEC) == {"thinking_budget": 4096}


def test_effort_falls_back_to_the_nearest_level_the_bot_accepts() -> None:
    spec = dict(EFFORT_SPEC, efforts=["medium", "high"])
    assert bot_thinking_params({"type": "enabled", "budget_tokens": 2000}, None, spec) == {"reasoning_effort": "medium"}


def test_no_thinking_asked_means_no_parameter() -> None:
    for thinking in (None, {"type": "disabled"}, "yes"):
        assert bot_thinking_params(thinking, None, BUDGET_SPEC) == {}


def test_compiler_gives_the_parameter_only_to_reasoning_bots_on_the_chat_route() -> None:
    catalog = Catalog(
        (
            _bot("GPT-5", Reasoning("reasoning_effort", efforts=("low", "high"))),
            _bot("Gemini-2.5-Pro", Reasoning("thinking_budget", 128, 32768)),
            _bot("GPT-4o", None),
            _bot("Claude-Sonnet-4.5", Reasoning("thinking_budget", 1024, 63999)),
        )
    )
    assert thinking_spec(ModelMapping("a", "gpt-5"), catalog)["parameter"] == "reasoning_effort"  # any case
    assert thinking_spec(ModelMapping("b", "Gemini-2.5-Pro"), catalog)["max_budget"] == 32768
    assert thinking_spec(ModelMapping("c", "GPT-4o"), catalog) is None
    assert thinking_spec(ModelMapping("d", "Claude-Sonnet-4.5"), catalog) is None  # messages: untouched
    assert thinking_spec(ModelMapping("e", "Claude-Sonnet-4.5", Route.CHAT), catalog)["parameter"] == "thinking_budget"
    assert thinking_spec(ModelMapping("f", "GPT-5", thinking=Thinking.OFF), catalog) == {"mode": "off"}
    assert thinking_spec(ModelMapping("g", "GPT-5"), None) is None  # no catalog cached: nothing assumed
    assert thinking_spec(ModelMapping("h", "Not-A-Bot"), catalog) is None


def _bot(bot_id: str, reasoning: Reasoning | None):
    from claude_poe_tui.poe.catalog import PoeBot

    return PoeBot(bot_id, owned_by="Anthropic" if bot_id.startswith("Claude") else "x", reasoning=reasoning)


def test_thinking_off_is_read_from_the_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        poe_base_url="http://127.0.0.1:9/v1",
        models=(("gpt-5", "GPT-5"),),
        extra='[[models]]\nname = "quiet"\npoe_model = "GPT-5"\nthinking = "off"\n',
    )
    config = load_config(path)
    assert [m.thinking for m in config.models] == [Thinking.AUTO, Thinking.OFF]
    gateway = compile_gateway_settings(config, None, None)
    assert [m["thinking"] for m in gateway["models"]] == [None, {"mode": "off"}]


# --- through a real proxy -----------------------------------------------------------------


@pytest.fixture(scope="module")
def thinking_proxy(poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A proxy whose state folder holds Poe's catalog, as `init` or `models` leave it."""
    from claude_poe_tui.proxy.parent.process import ProxyProcess

    directory = tmp_path_factory.mktemp("thinking")
    config_path = write_config(
        directory / "config",
        poe_base_url=poe.base_url,
        models=(("gpt-5", "GPT-5"), ("gemini", "Gemini-2.5-Pro"), ("gpt-4o", "GPT-4o"), ("sonnet", "Claude-Sonnet-4.5")),
        extra='[[models]]\nname = "gemini-quiet"\npoe_model = "Gemini-2.5-Pro"\nthinking = "off"\n'
              '\n[[models]]\nname = "sonnet-quiet"\npoe_model = "Claude-Sonnet-4.5"\nthinking = "off"\n',
    )
    state = StatePaths(directory / "state")
    refresh_catalog(poe.base_url, state.catalog_cache)
    config = load_config(config_path)
    process = ProxyProcess(config, resolve_secrets(config), state)
    process.start()
    try:
        process.wait_ready(timeout=120)
        yield process
    finally:
        process.stop()


def _client(proxy):
    import anthropic

    return anthropic.Anthropic(base_url=proxy.url, api_key=MASTER_KEY, max_retries=0, timeout=60.0)


def _upstream_body(poe: PoeStandin, path: str) -> dict:
    matching = [r for r in poe.requests() if r["path"] == path]
    assert matching, f"the stand-in got no request on {path}"
    return matching[-1]["body"]




@pytest.mark.proxy
def test_budget_bot_gets_thinking_budget(thinking_proxy, poe_clean: PoeStandin) -> None:
    reply = _client(thinking_proxy).messages.create(
        model="gemini", max_tokens=32000, thinking=CLAUDE_CODE_THINKING, messages=[{"role": "user", "content": "Hi"}]
    )
    body = _upstream_body(poe_clean, "/v1/chat/completions")
    assert body["model"] == "Gemini-2.5-Pro"
    assert body["thinking_budget"] == 31999
    assert "reasoning_effort" not in body and "thinking" not in body and "extra_body" not in body
    thinking_blocks = [b for b in reply.content if b.type == "thinking"]
    assert thinking_blocks and "thinking_budget=31999" in thinking_blocks[0].thinking
    assert reply.content[-1].text == "Hello from Gemini-2.5-Pro."


@pytest.mark.proxy
def test_effort_bot_gets_reasoning_effort_streaming(thinking_proxy, poe_clean: PoeStandin) -> None:
    with _client(thinking_proxy).messages.stream(
        model="gpt-5", max_tokens=32000, thinking=CLAUDE_CODE_THINKING, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        final = stream.get_final_message()
    body = _upstream_body(poe_clean, "/v1/chat/completions")
    assert body["reasoning_effort"] == "high"
    assert "thinking_budget" not in body and "thinking" not in body
    assert any(b.type == "thinking" and "reasoning_effort=high" in b.thinking for b in final.content)
    assert final.content[-1].text == "Hello from GPT-5."


@pytest.mark.proxy
def test_effort_follows_our_budget_thresholds(thinking_proxy, poe_clean: PoeStandin) -> None:
    # 10k tokens is "medium" here (<=16k); LiteLLM's own translation would send "high".
    _client(thinking_proxy).messages.create(
        model="gpt-5", max_tokens=20000, thinking={"type": "enabled", "budget_tokens": 10000},
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert _upstream_body(poe_clean, "/v1/chat/completions")["reasoning_effort"] == "medium"


@pytest.mark.proxy
def test_adaptive_thinking_takes_the_asked_effort(thinking_proxy, poe_clean: PoeStandin) -> None:
    _client(thinking_proxy).messages.create(
        model="gpt-5",
        max_tokens=32000,
        messages=[{"role": "user", "content": "Hi"}],
        extra_body={"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
    )
    body = _upstream_body(poe_clean, "/v1/chat/completions")
    assert body["reasoning_effort"] == "low"
    assert "output_config" not in body


@pytest.mark.proxy
@pytest.mark.parametrize("model", ["gpt-4o", "gemini-quiet"], ids=["no-reasoning-bot", "thinking-off"])
def test_no_parameter_for_bots_that_should_not_think(thinking_proxy, poe_clean: PoeStandin, model: str) -> None:
    reply = _client(thinking_proxy).messages.create(
        model=model, max_tokens=1000, thinking=CLAUDE_CODE_THINKING, messages=[{"role": "user", "content": "Hi"}]
    )
    body = _upstream_body(poe_clean, "/v1/chat/completions")
    for field in ("thinking_budget", "reasoning_effort", "thinking"):
        assert field not in body
    assert [b.type for b in reply.content] == ["text"]


@pytest.mark.proxy
def test_claude_bot_on_messages_route_gets_thinking_untouched(thinking_proxy, poe_clean: PoeStandin) -> None:
    _client(thinking_proxy).messages.create(
        model="sonnet", max_tokens=32000, thinking=CLAUDE_CODE_THINKING, messages=[{"role": "user", "content": "Hi"}]
    )
    body = _upstream_body(poe_clean, "/v1/messages")
    assert body["thinking"] == CLAUDE_CODE_THINKING
    assert "thinking_budget" not in body


@pytest.mark.proxy
def test_thinking_off_on_the_messages_route_drops_it(thinking_proxy, poe_clean: PoeStandin) -> None:
    reply = _client(thinking_proxy).messages.create(
        model="sonnet-quiet", max_tokens=32000, thinking=CLAUDE_CODE_THINKING,
        messages=[{"role": "user", "content": "Hi"}],
    )
    body = _upstream_body(poe_clean, "/v1/messages")
    assert body["model"] == "Claude-Sonnet-4.5" and "thinking" not in body
    assert [b.type for b in reply.content] == ["text"]
