"""What the proxy records about each request, checked against real requests through a real proxy child.

This module runs its own stand-in (slow streams, so time to first token means something) and its own
proxy, so its request log holds exactly the requests made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy, read_records, start_proxy, start_standin

pytestmark = pytest.mark.proxy

CLAUDE_ROUTE = "claude-sonnet-4-5-20250929"  # -> Claude-Sonnet-4.5 over /v1/messages
CHAT_ROUTE = "claude-haiku-4-5-20251001"  # -> GPT-4o over chat completions
PROMPT_MARKER = "prompt-text-that-must-never-be-logged-51c9"
CHUNKS, CHUNK_DELAY = 8, 0.05
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def slow_poe() -> Iterator[PoeStandin]:
    standin = start_standin("--chunks", str(CHUNKS), "--chunk-delay", str(CHUNK_DELAY))
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


@pytest.fixture(scope="module")
def recorded(slow_poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    running = start_proxy(tmp_path_factory.mktemp("recording"), slow_poe)
    yield running
    running.process.stop()


class Log:
    """Reads the records the requests of one test added."""

    def __init__(self, proxy: RunningProxy):
        self.proxy = proxy
        self.seen = len(read_records(proxy.request_log))

    def new(self, count: int) -> list[dict[str, Any]]:
        records = read_records(self.proxy.request_log, at_least=self.seen + count)[self.seen:]
        assert len(records) == count, records
        return records


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"{text} {PROMPT_MARKER}"}]


@pytest.mark.parametrize("model,bot,route", [(CLAUDE_ROUTE, "Claude-Sonnet-4.5", "messages"),
                                             (CHAT_ROUTE, "GPT-4o", "chat")])
def test_plain_request(recorded: RunningProxy, slow_poe: PoeStandin, model: str, bot: str, route: str) -> None:
    log = Log(recorded)
    slow_poe.fault(200, delay=0.4)  # Poe takes 0.4 s to answer
    client = recorded.anthropic(default_headers={"x-claude-code-session-id": "session-7"})
    started = time.perf_counter()
    reply = client.messages.create(model=model, max_tokens=100, messages=ask("Say hello"))
    elapsed_ms = (time.perf_counter() - started) * 1000
    (rec,) = log.new(1)
    assert rec["model"] == model and rec["poe_model"] == bot and rec["route"] == route
    assert rec["method"] == "POST" and rec["path"] == "/v1/messages"
    assert rec["session"] == "session-7"
    assert rec["stream"] is False and rec["status"] == 200
    assert rec["error_type"] is None and rec["error_message"] is None
    assert 400 <= rec["latency_ms"] <= elapsed_ms
    assert rec["ttft_ms"] is None  # not streamed: no first token to time
    assert rec["input_tokens"] == reply.usage.input_tokens > 0
    assert rec["output_tokens"] == reply.usage.output_tokens == 3
    assert abs(rec["ts"] - (time.time() - elapsed_ms / 1000)) < 2


@pytest.mark.parametrize("model", [CLAUDE_ROUTE, CHAT_ROUTE])
def test_streaming_request(recorded: RunningProxy, model: str) -> None:
    log = Log(recorded)
    started = time.perf_counter()
    first_piece_ms = None
    with recorded.anthropic().messages.stream(model=model, max_tokens=100, messages=ask("Say hello")) as stream:
        for _ in stream.text_stream:
            if first_piece_ms is None:
                first_piece_ms = (time.perf_counter() - started) * 1000
        final = stream.get_final_message()
    elapsed_ms = (time.perf_counter() - started) * 1000
    (rec,) = log.new(1)
    assert rec["stream"] is True and rec["status"] == 200
    assert rec["output_tokens"] == final.usage.output_tokens == 3
    assert rec["input_tokens"] == final.usage.input_tokens
    # The stand-in spaces its pieces CHUNK_DELAY apart: the first token comes well before the last.
    generation_ms = (CHUNKS - 1) * CHUNK_DELAY * 1000
    assert 0 < rec["ttft_ms"] <= first_piece_ms
    assert rec["latency_ms"] - rec["ttft_ms"] >= generation_ms * 0.8
    assert rec["latency_ms"] <= elapsed_ms


@pytest.mark.parametrize("model", [CLAUDE_ROUTE, CHAT_ROUTE])
def test_tool_use_request(recorded: RunningProxy, model: str) -> None:
    log = Log(recorded)
    reply = recorded.anthropic().messages.create(
        model=model, max_tokens=100, tools=[WEATHER_TOOL],
        messages=ask('use the get_weather tool with {"city": "Paris"}'))
    assert reply.stop_reason == "tool_use"
    (rec,) = log.new(1)
    assert rec["status"] == 200
    assert rec["output_tokens"] == reply.usage.output_tokens == 12


@pytest.mark.parametrize("model", [CLAUDE_ROUTE, CHAT_ROUTE])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("status,error_type", [(429, "rate_limit_error"), (402, "billing_error"),
                                               (503, "api_error")])
def test_failing_request(recorded: RunningProxy, slow_poe: PoeStandin, model: str, stream: bool, status: int,
                         error_type: str) -> None:
    log = Log(recorded)
    slow_poe.fault(status, message=f"Poe refuses with {status}")
    client = recorded.anthropic()
    with pytest.raises(anthropic.APIStatusError) as caught:
        if stream:
            with client.messages.stream(model=model, max_tokens=10, messages=ask("hi")) as s:
                s.until_done()
        else:
            client.messages.create(model=model, max_tokens=10, messages=ask("hi"))
    (rec,) = log.new(1)
    assert rec["status"] == caught.value.status_code
    assert rec["error_type"] == error_type
    assert f"Poe refuses with {status}" in rec["error_message"]
    assert rec["output_tokens"] is None and rec["model"] == model


def test_unmapped_model_and_wrong_key_are_recorded(recorded: RunningProxy) -> None:
    log = Log(recorded)
    with pytest.raises(anthropic.NotFoundError):
        recorded.anthropic().messages.create(model="claude-nonexistent-1", max_tokens=10, messages=ask("hi"))
    wrong = anthropic.Anthropic(base_url=recorded.url, api_key="sk-wrong-key-123456", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model=CLAUDE_ROUTE, max_tokens=10, messages=ask("hi"))
    unmapped, denied = log.new(2)
    assert unmapped["status"] == 404 and unmapped["model"] == "claude-nonexistent-1"
    assert unmapped["error_type"] == "not_found_error" and unmapped["poe_model"] is None
    assert denied["status"] == 401 and denied["error_type"] == "authentication_error"


def test_side_requests_are_not_recorded(recorded: RunningProxy) -> None:
    log = Log(recorded)
    headers = {"x-api-key": MASTER_KEY}
    httpx.head(recorded.url + "/", headers=headers)
    httpx.post(recorded.url + "/api/event_logging/batch", headers=headers, json={"events": []})
    recorded.anthropic().messages.create(model=CLAUDE_ROUTE, max_tokens=10, messages=ask("hi"))
    (rec,) = log.new(1)
    assert rec["path"] == "/v1/messages"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claude_poe_tui", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def cli_env(proxy: RunningProxy) -> dict[str, str]:
    return dict(os.environ, CLAUDE_POE_TUI_STATE_DIR=str(proxy.state_dir), TZ="UTC")


def test_stats_command_summarises_the_log(recorded: RunningProxy) -> None:
    records = read_records(recorded.request_log)
    result = cli("stats", "--config", str(recorded.config_path), "--json", env=cli_env(recorded))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["models"]
    for model in (CLAUDE_ROUTE, CHAT_ROUTE):
        mine = [r for r in records if r["model"] == model]
        figures = summary[model]
        assert figures["requests"] == len(mine)
        assert figures["errors"] == sum(1 for r in mine if r["status"] >= 400)
        assert {"p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms"} <= set(figures)
        slowest = max(r["latency_ms"] for r in mine)
        assert figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= slowest * 1.02
    table = cli("stats", "--config", str(recorded.config_path), "--window", "15m", env=cli_env(recorded))
    assert table.returncode == 0 and CLAUDE_ROUTE in table.stdout and "p95 ms" in table.stdout
    bad = cli("stats", "--config", str(recorded.config_path), "--window", "soon", env=cli_env(recorded))
    assert bad.returncode != 0 and "--window" in bad.stderr and "Traceback" not in bad.stderr


def test_logs_command_prints_filters_and_follows(recorded: RunningProxy) -> None:
    env = cli_env(recorded)
    config = str(recorded.config_path)
    every = cli("logs", "--config", config, "--json", env=env)
    assert every.returncode == 0
    lines = [json.loads(line) for line in every.stdout.splitlines()]
    assert lines == read_records(recorded.request_log)
    errors = cli("logs", "--config", config, "-q", "status:4xx model:haiku", env=env)
    assert errors.stdout and all(" 4" in line and CHAT_ROUTE in line for line in errors.stdout.splitlines())

    follow = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "logs", "--config", config, "-f", "-n", "0"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.5)  # started and caught up
        recorded.anthropic().messages.create(model=CHAT_ROUTE, max_tokens=10, messages=ask("follow me"))
        line = follow.stdout.readline()
        assert CHAT_ROUTE in line and "GPT-4o" in line and " 200 " in line
    finally:
        follow.terminate()
        follow.wait(10)


def test_no_file_the_product_wrote_holds_a_key_or_a_prompt(recorded: RunningProxy) -> None:
    """Runs last in this module: every request above carried the prompt marker."""
    assert read_records(recorded.request_log), "the requests above should have been recorded"
    written = [p for p in recorded.state_dir.rglob("*") if p.is_file()]
    written += [p for p in recorded.config_path.parent.rglob("*") if p.is_file() and p.name != ".env"]
    assert any(p.name.startswith("requests.jsonl") for p in written)
    for path in written:
        content = path.read_bytes()
        for secret in (POE_KEY, MASTER_KEY, PROMPT_MARKER, "sk-wrong-key-123456"):
            assert secret.encode() not in content, f"{path} holds {secret!r}"
    log = recorded.request_log
    assert log.stat().st_mode & 0o777 == 0o600
