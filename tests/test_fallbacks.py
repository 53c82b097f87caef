"""Fallbacks between bots: tried in order when a bot fails before answering, across routes, never on
the request's own faults, and named in the request log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import MASTER_KEY, PoeStandin, RunningProxy, read_records, start_proxy

pytestmark = pytest.mark.proxy

SONNET, GPT, HAIKU = "claude-sonnet-5", "gpt-5", "claude-haiku-4-5"
MODELS = ((SONNET, "Claude-Sonnet-4.5"), (GPT, "GPT-5"), (HAIKU, "Claude-Haiku-4.5"))
FALLBACKS = f"""
[[models]]
name = "{SONNET}"
poe_model = "Claude-Sonnet-4.5"
fallbacks = ["{GPT}", "{HAIKU}"]

[[models]]
name = "{GPT}"
poe_model = "GPT-5"
fallbacks = ["{HAIKU}"]

[[models]]
name = "{HAIKU}"
poe_model = "Claude-Haiku-4.5"
"""
HEADERS = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def fallback_proxy(poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    running = start_proxy(tmp_path_factory.mktemp("fallbacks"), poe, models=(), extra=FALLBACKS,
                          proxy_extra="request_timeout = 3\n")
    yield running
    running.process.stop()


def ask(proxy: RunningProxy, model: str, stream: bool) -> httpx.Response:
    body = {"model": model, "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=HEADERS, timeout=60)


def text_of(response: httpx.Response, stream: bool) -> str:
    if not stream:
        return "".join(b.get("text", "") for b in response.json()["content"] if b["type"] == "text")
    pieces = []
    for block in response.text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                data = json.loads(line[5:])
                if data.get("type") == "content_block_delta" and data["delta"].get("type") == "text_delta":
                    pieces.append(data["delta"]["text"])
    return "".join(pieces)


def newest_record(proxy: RunningProxy, before: int) -> dict:
    records = read_records(proxy.request_log, at_least=before + 1)
    assert len(records) == before + 1, f"expected one new record, found {len(records) - before}"
    return records[-1]


def logged(proxy: RunningProxy) -> int:
    time.sleep(0.1)
    return len(read_records(proxy.request_log))


def bots_asked(poe: PoeStandin) -> list[str]:
    return [r["body"]["model"] for r in poe.requests() if r["path"] in ("/v1/messages", "/v1/chat/completions")]


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])


@STREAM
@pytest.mark.parametrize("fault", [
    {"status": 429, "retry_after": "3"}, {"status": 402}, {"status": 500}, {"status": 502}, {"status": 529},
    {"kind": "reset"}, {"kind": "badjson"}, {"status": 200, "delay": 5},
], ids=["429", "402", "500", "502", "529", "reset", "badjson", "timeout"])
def test_a_claude_bot_falls_back_to_a_translated_bot(fallback_proxy: RunningProxy, poe_clean: PoeStandin,
                                                     stream: bool, fault: dict) -> None:
    before = logged(fallback_proxy)
    poe_clean.fault(**fault)
    response = ask(fallback_proxy, SONNET, stream)
    assert response.status_code == 200, response.text
    assert text_of(response, stream) == "Hello from GPT-5."
    assert bots_asked(poe_clean) == ["Claude-Sonnet-4.5", "GPT-5"]  # one request per bot tried
    record = newest_record(fallback_proxy, before)
    assert record["status"] == 200 and record["model"] == SONNET
    assert (record["answered_model"], record["poe_model"], record["route"]) == (GPT, "GPT-5", "chat")
    (failed,) = record["failed"]
    assert failed["model"] == SONNET and failed["poe_model"] == "Claude-Sonnet-4.5" and failed["status"] >= 402


@STREAM
def test_a_translated_bot_falls_back_to_a_claude_bot(fallback_proxy: RunningProxy, poe_clean: PoeStandin,
                                                     stream: bool) -> None:
    before = logged(fallback_proxy)
    poe_clean.fault(503, message="GPT-5 is down")
    response = ask(fallback_proxy, GPT, stream)
    assert response.status_code == 200, response.text
    assert text_of(response, stream) == "Hello from Claude-Haiku-4.5."
    record = newest_record(fallback_proxy, before)
    assert (record["answered_model"], record["route"]) == (HAIKU, "messages")
    assert [(f["poe_model"], f["status"]) for f in record["failed"]] == [("GPT-5", 503)]


def test_fallbacks_are_tried_in_order(fallback_proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    before = logged(fallback_proxy)
    poe_clean.fault(429, count=2)
    response = ask(fallback_proxy, SONNET, True)
    assert text_of(response, True) == "Hello from Claude-Haiku-4.5."
    assert bots_asked(poe_clean) == ["Claude-Sonnet-4.5", "GPT-5", "Claude-Haiku-4.5"]
    record = newest_record(fallback_proxy, before)
    assert [f["model"] for f in record["failed"]] == [SONNET, GPT]


@STREAM
def test_when_every_bot_fails_the_client_hears_the_last_failure(fallback_proxy: RunningProxy, poe_clean: PoeStandin,
                                                                stream: bool) -> None:
    before = logged(fallback_proxy)
    poe_clean.fault(529, count=3, message="overloaded everywhere")
    response = ask(fallback_proxy, SONNET, stream)
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"
    assert "overloaded everywhere" in response.json()["error"]["message"]
    assert len(bots_asked(poe_clean)) == 3
    record = newest_record(fallback_proxy, before)
    assert record["status"] == 529 and record["poe_model"] == "Claude-Haiku-4.5"
    assert [f["model"] for f in record["failed"]] == [SONNET, GPT]


@STREAM
@pytest.mark.parametrize("status", [400, 401, 404])
def test_no_fallback_for_the_requests_own_faults(fallback_proxy: RunningProxy, poe_clean: PoeStandin, stream: bool,
                                                 status: int) -> None:
    poe_clean.fault(status, message=f"refused with {status}")
    response = ask(fallback_proxy, SONNET, stream)
    assert response.status_code == status
    assert f"refused with {status}" in response.json()["error"]["message"]
    assert bots_asked(poe_clean) == ["Claude-Sonnet-4.5"]


def test_a_stream_that_fails_before_its_first_content_falls_back(fallback_proxy: RunningProxy,
                                                                 poe_clean: PoeStandin) -> None:
    poe_clean.fault(kind="cut", after=1)  # message_start went out, then the connection broke
    response = ask(fallback_proxy, SONNET, True)
    assert text_of(response, True) == "Hello from GPT-5."
    assert response.text.count("event: message_start") == 1  # one message, the fallback's


def test_a_stream_that_fails_after_content_reached_the_client_does_not(fallback_proxy: RunningProxy,
                                                                       poe_clean: PoeStandin) -> None:
    before = logged(fallback_proxy)
    poe_clean.fault(kind="cut", after=4)
    response = ask(fallback_proxy, SONNET, True)
    assert response.text.rstrip().split("\n\n")[-1].startswith("event: error")
    assert bots_asked(poe_clean) == ["Claude-Sonnet-4.5"]
    record = newest_record(fallback_proxy, before)
    assert record["status"] == 502 and not record.get("failed")


def test_fallbacks_are_a_config_error_when_they_name_no_mapping_or_go_round(tmp_path: Path) -> None:
    from claude_poe_tui.config import load_config
    from claude_poe_tui.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text(FALLBACKS.replace(f'fallbacks = ["{HAIKU}"]', f'fallbacks = ["{SONNET}"]'))
    with pytest.raises(ConfigError, match="circle"):
        load_config(path, environ={})
    path.write_text(FALLBACKS.replace(f'fallbacks = ["{HAIKU}"]', 'fallbacks = ["gpt-6"]'))
    with pytest.raises(ConfigError, match="'gpt-6' is not a mapped model name") as caught:
        load_config(path, environ={})
    assert caught.value.line == 10
