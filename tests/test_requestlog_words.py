"""A request in words (``claude-poe-tui logs``) and the filter's terms, with fallbacks, agents and members."""

from __future__ import annotations

import os
import time

import pytest

from claude_poe_tui.requestlog.describe import describe, failed_before
from claude_poe_tui.requestlog.query import parse_query
from claude_poe_tui.requestlog.record import RequestRecord


@pytest.fixture(autouse=True)
def utc():
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    del os.environ["TZ"]
    time.tzset()


def make(**fields) -> RequestRecord:
    base = dict(ts=1_800_000_000.0, id="r", session="sess-abc", method="POST", path="/v1/messages",
                model="claude-sonnet-5", poe_model="Claude-Sonnet-5", route="messages", stream=True, status=200,
                error_type=None, error_message=None, latency_ms=812.4, ttft_ms=300.0, input_tokens=10,
                output_tokens=20)
    return RequestRecord(**{**base, **fields})


FALLBACK = make(poe_model="GPT-5", answered_model="gpt-5", route="chat", agent_id="agent-7",
                parent_agent_id="agent-main", member="alice",
                failed=[{"model": "claude-sonnet-5", "poe_model": "Claude-Sonnet-5", "status": 529,
                         "error_type": "overloaded_error"}])
REFUSED = make(session=None, model=None, poe_model=None, route=None, stream=None, status=401,
               error_type="authentication_error", error_message="wrong key", latency_ms=0.3, ttft_ms=None,
               input_tokens=None, output_tokens=None)


def test_a_request_refused_before_routing_names_no_model_or_bot() -> None:
    line = describe(REFUSED)
    assert line == "08:00:00  401  POST /v1/messages  0 ms  authentication_error: wrong key"
    assert "->" not in line and "?" not in line


def test_a_request_without_a_model_says_why_in_the_dashboard() -> None:
    """Claude Code's model discovery (GET /v1/models, 200) is not "refused"; a wrong key (401) is."""
    from claude_poe_tui.ui.panes.logs import record_row, selected_text
    from claude_poe_tui.ui.screens.record_detail import record_fields

    discovery = make(method="GET", path="/v1/models", session=None, model=None, poe_model=None, route=None,
                     stream=None, latency_ms=0.2, ttft_ms=None, input_tokens=None, output_tokens=None)
    assert str(record_row(discovery)[2]) == "GET /v1/models"  # the model column names the request
    assert "GET /v1/models (names no model)" in selected_text(discovery).plain
    assert "POST /v1/messages (refused before it was routed)" in selected_text(REFUSED).plain
    assert dict((label, value.plain) for label, value in record_fields(discovery))["model asked"] == "(none: names no model)"
    assert dict((label, value.plain) for label, value in record_fields(REFUSED))["model asked"] == (
        "(none: refused before it was routed)")


def test_a_fallback_says_who_answered_after_whom_and_for_which_subagent() -> None:
    assert failed_before(FALLBACK) == ["Claude-Sonnet-5 529"]
    assert describe(FALLBACK) == (
        "08:00:00  200  POST /v1/messages  claude-sonnet-5 -> gpt-5 -> GPT-5 (chat), after Claude-Sonnet-5 529"
        "  812 ms, first token 300 ms  10 in / 20 out  subagent agent-7, member alice"
    )
    assert describe(make()) == ("08:00:00  200  POST /v1/messages  claude-sonnet-5 -> Claude-Sonnet-5 (messages)"
                                "  812 ms, first token 300 ms  10 in / 20 out")


@pytest.mark.parametrize(("query", "fallback", "plain", "refused"), [
    ("session:abc", True, True, False),
    ("agent:agent-7", True, False, False),
    ("agent:main", True, False, False),  # the agent that started the subagent
    ("member:ali", True, False, False),
    ("bot:claude-sonnet", True, True, False),  # answered, or failed before the one that answered
    ("bot:gpt", True, False, False),
    ("model:gpt-5", True, False, False),  # the name that answered
    ("status:4xx", False, False, True),
    ("authentication", False, False, True),  # free words search the readable line
    ("after", True, False, False),
])
def test_filter_terms(query: str, fallback: bool, plain: bool, refused: bool) -> None:
    matches = parse_query(query).matches
    assert (matches(FALLBACK), matches(make()), matches(REFUSED)) == (fallback, plain, refused)
