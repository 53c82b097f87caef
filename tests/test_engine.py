"""The gateway over LiteLLM's Router in the proxy child: what it serves, what it refuses, and that
what Poe sends back is never passed on as something it is not.

Real proxy children against the stand-in Poe, with its fault injection.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import anthropic
import httpx
import pytest

from conftest import MASTER_KEY, PoeStandin, RunningProxy, read_records, start_proxy

pytestmark = pytest.mark.proxy

CLAUDE_ROUTE = "claude-sonnet-4-5-20250929"  # -> Claude-Sonnet-4.5, Poe's /v1/messages as sent
CHAT_ROUTE = "claude-haiku-4-5-20251001"  # -> GPT-4o, translated to chat completions
BOTH_ROUTES = pytest.mark.parametrize("model", [CLAUDE_ROUTE, CHAT_ROUTE], ids=["messages-route", "chat-route"])
HEADERS = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}


def upstream_requests(poe: PoeStandin, path: str) -> list[dict]:
    return [r for r in poe.requests() if r["path"] == path]


def upstream_path(model: str) -> str:
    return "/v1/messages" if model == CLAUDE_ROUTE else "/v1/chat/completions"


def ask(proxy: RunningProxy, model: str, *, stream: bool, **extra) -> httpx.Response:
    body = {"model": model, "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=HEADERS, timeout=30)


def records_after(proxy: RunningProxy, before: int, count: int) -> list[dict]:
    """The ``count`` records written after the first ``before``."""
    records = read_records(proxy.request_log, at_least=before + count)
    assert len(records) >= before + count, f"expected {count} new records, got {len(records) - before}"
    return records[before:]


def logged(proxy: RunningProxy) -> int:
    time.sleep(0.1)  # the writer thread may still hold the previous test's records
    return len(read_records(proxy.request_log))


def events(text: str) -> list[tuple[str, dict]]:
    found = []
    for block in text.split("\n\n"):
        name = next((line[6:].strip() for line in block.splitlines() if line.startswith("event:")), "")
        data = next((line[5:].strip() for line in block.splitlines() if line.startswith("data:")), "")
        if name and data:
            found.append((name, json.loads(data)))
    return found


# --- what the gateway serves, and nothing else ------------------------------------------------


@pytest.mark.parametrize("path", ["/ui", "/key/generate", "/model/info", "/openapi.json", "/settings", "/v1/responses",
                                  "/spend/logs", "/docs"])
def test_litellms_admin_surface_is_gone(proxy: RunningProxy, path: str) -> None:
    for method in ("GET", "POST"):
        response = httpx.request(method, f"{proxy.url}{path}", headers=HEADERS, json={} if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.text)


def test_health_never_calls_a_bot(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    for path in ("/health", "/health/liveliness", "/health/readiness"):
        assert httpx.get(f"{proxy.url}{path}").status_code == 200
    assert poe_clean.requests() == []


@pytest.mark.parametrize("raw", [b"not json at all", b"[1, 2, 3]", b"\"a string\"", b""], ids=["text", "array", "string", "empty"])
def test_a_body_that_is_not_a_json_object_is_a_400(proxy: RunningProxy, raw: bytes) -> None:
    response = httpx.post(f"{proxy.url}/v1/messages", content=raw, headers={**HEADERS, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "invalid_request_error"


def _raw_exchange(url: str, head: bytes, body_sent: bytes = b"") -> bytes:
    """Send a request's head (and maybe part of its body) and read what comes back, without sending the rest."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(head + body_sent)
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
        return answer


def test_an_oversized_body_is_refused_before_it_is_read(proxy: RunningProxy) -> None:
    # 100 MB announced, none of it sent: the answer comes at once, so nothing was buffered.
    head = (f"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {MASTER_KEY}\r\ncontent-type: application/json\r\n"
            f"content-length: {100 * 1024 * 1024}\r\n\r\n").encode()
    began = time.monotonic()
    answer = _raw_exchange(proxy.url, head, b'{"model": "x", ')
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - began < 5
    # Without a length (chunked), reading stops at the limit too.
    big = {"model": CLAUDE_ROUTE, "max_tokens": 5, "messages": [{"role": "user", "content": "x" * (33 * 1024 * 1024)}]}
    response = httpx.post(f"{proxy.url}/v1/messages", content=iter([json.dumps(big).encode()]), headers=HEADERS, timeout=60)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert "max_request_mb" in response.json()["error"]["message"]


def test_reload_without_the_control_token_is_refused_before_the_body_is_read(proxy: RunningProxy) -> None:
    for key in (MASTER_KEY, None):
        auth = f"x-api-key: {key}\r\n" if key else ""
        head = (f"POST /claude-poe-tui/reload HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\n"
                f"content-length: {100 * 1024 * 1024}\r\n\r\n").encode()
        answer = _raw_exchange(proxy.url, head)
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]


def test_count_tokens_for_an_unmapped_model_is_a_404(proxy: RunningProxy) -> None:
    response = httpx.post(f"{proxy.url}/v1/messages/count_tokens", headers=HEADERS,
                          json={"model": "claude-3-opus-20240229", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_openai_clients_are_served_through_the_same_router(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    plain = httpx.post(f"{proxy.url}/v1/chat/completions", headers=headers, timeout=30,
                       json={"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]})
    assert plain.status_code == 200
    assert plain.json()["choices"][0]["message"]["content"] == "Hello from GPT-5."
    streamed = httpx.post(f"{proxy.url}/v1/chat/completions", headers=headers, timeout=30,
                          json={"model": "gpt-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
    unknown = httpx.post(f"{proxy.url}/v1/chat/completions", headers=headers,
                         json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"


# --- the Claude route is verbatim -----------------------------------------------------------


def test_the_claude_route_reaches_poe_as_claude_code_sent_it(proxy: RunningProxy, poe_clean: PoeStandin) -> None:
    body = {
        "model": CLAUDE_ROUTE,
        "max_tokens": 32000,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}],
        "metadata": {"user_id": "user_abc_account__session_123"},
        "tools": [{"name": "Write", "description": "write", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "auto"},
        "temperature": 1,
        "a_field_from_a_newer_api": {"kept": True},
    }
    betas = "zeta-2026-01-01,claude-code-20250219,context-1m-2025-08-07,extended-cache-ttl-2025-04-11"
    response = httpx.post(f"{proxy.url}/v1/messages?beta=true", json=body, timeout=30,
                          headers={**HEADERS, "anthropic-beta": betas, "x-claude-code-session-id": "s-1",
                                   "x-app": "cli", "user-agent": "claude-cli/2.1.0 (external, cli)"})
    assert response.status_code == 200
    (upstream,) = upstream_requests(poe_clean, "/v1/messages")
    assert upstream["body"] == {**body, "model": "Claude-Sonnet-4.5"}
    assert list(upstream["body"]) == list(body)  # the fields' order too
    assert upstream["query"] == "beta=true"
    assert upstream["headers"]["anthropic-beta"] == betas  # order kept, nothing added
    assert upstream["headers"]["x-claude-code-session-id"] == "s-1" and upstream["headers"]["x-app"] == "cli"
    assert upstream["headers"]["user-agent"] == "claude-cli/2.1.0 (external, cli)"
    assert upstream["headers"]["authorization"] == f"Bearer {poe_clean.key}"
    assert MASTER_KEY not in json.dumps(upstream["headers"])


# --- what Poe sends back is never passed on as something it is not ---------------------------


@BOTH_ROUTES
def test_invalid_json_from_poe_is_a_502(proxy: RunningProxy, poe_clean: PoeStandin, model: str) -> None:
    before = logged(proxy)
    poe_clean.fault(kind="badjson")
    response = ask(proxy, model, stream=False)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "api_error"

    poe_clean.fault(kind="badjson", after=2)
    streamed = ask(proxy, model, stream=True)
    assert "data: {this is not json" not in streamed.text  # the garbage is not forwarded as an event
    names = [name for name, _ in events(streamed.text)]
    assert names[-1] == "error" and "message_stop" not in names
    assert events(streamed.text)[-1][1]["error"]["type"] == "api_error"
    records = records_after(proxy, before, 2)
    assert [(r["status"], r["error_type"]) for r in records] == [(502, "api_error"), (502, "api_error")]


@BOTH_ROUTES
@pytest.mark.parametrize("kind", ["cut", "early_end"])
def test_a_stream_that_breaks_ends_in_an_error_event_and_is_recorded_failed(
    proxy: RunningProxy, poe_clean: PoeStandin, model: str, kind: str
) -> None:
    before = logged(proxy)
    poe_clean.fault(kind=kind, after=3)
    response = ask(proxy, model, stream=True)
    assert response.status_code == 200  # the stream had begun
    found = events(response.text)
    assert found[-1][0] == "error", response.text[-300:]
    assert found[-1][1]["error"]["type"] == "api_error"
    assert not any(name == "message_stop" for name, _ in found)
    (record,) = records_after(proxy, before, 1)
    assert record["status"] == 502 and record["error_type"] == "api_error" and record["stream"] is True
    # The client saw a failure, and so does every figure.
    with pytest.raises(anthropic.APIStatusError):
        poe_clean.fault(kind=kind, after=3)
        with proxy.anthropic().messages.stream(model=model, max_tokens=50, messages=[{"role": "user", "content": "hi"}]) as s:
            s.until_done()


@BOTH_ROUTES
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_reset_connection_is_one_upstream_request_and_a_502(
    proxy: RunningProxy, poe_clean: PoeStandin, model: str, stream: bool
) -> None:
    poe_clean.fault(kind="reset")
    response = ask(proxy, model, stream=stream)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["type"] == "api_error"
    time.sleep(0.2)
    assert len(upstream_requests(poe_clean, upstream_path(model))) == 1  # no hidden retry
    assert ask(proxy, model, stream=stream).status_code == 200


def test_a_stalled_stream_times_out_with_an_error_event(tmp_path: Path, poe: PoeStandin) -> None:
    running = start_proxy(tmp_path, poe, extra="", models=(("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),),
                          proxy_extra="request_timeout = 2\n")
    try:
        poe.clear()
        poe.fault(kind="stall", after=2, delay=6)
        response = ask(running, CLAUDE_ROUTE, stream=True)
        found = events(response.text)
        assert found[-1][0] == "error" and found[-1][1]["error"]["type"] == "timeout_error"
        record = read_records(running.request_log, at_least=1)[-1]
        assert record["status"] == 504 and record["error_type"] == "timeout_error"
    finally:
        running.process.stop()


# --- stopping drains, reloading drops nothing -------------------------------------------------


def test_stopping_lets_streams_finish_then_ends_the_rest_with_an_error_event(tmp_path: Path, poe: PoeStandin) -> None:
    import threading

    running = start_proxy(tmp_path, poe, models=(("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),),
                          proxy_extra="drain_seconds = 3\n")
    poe.clear()
    results: dict[str, httpx.Response] = {}

    def stream(name: str) -> None:
        results[name] = ask(running, CLAUDE_ROUTE, stream=True)

    try:
        poe.fault(kind="stall", after=2, delay=1.0)  # finishes within the drain
        short = threading.Thread(target=stream, args=("short",))
        short.start()
        time.sleep(0.3)
        poe.fault(kind="stall", after=2, delay=20.0)  # does not
        long = threading.Thread(target=stream, args=("long",))
        long.start()
        time.sleep(0.5)
        began = time.monotonic()
        running.process.stop()
        stopped_in = time.monotonic() - began
        short.join(10)
        long.join(10)
    finally:
        running.process.stop()
    assert [name for name, _ in events(results["short"].text)][-1] == "message_stop"
    last_name, last = events(results["long"].text)[-1]
    assert last_name == "error" and last["error"]["type"] == "overloaded_error"
    assert 2.5 < stopped_in < 8, stopped_in
    statuses = sorted(r["status"] for r in read_records(running.request_log, at_least=2))
    assert statuses == [200, 529]


def test_reloading_under_load_fails_no_request(tmp_path: Path, poe: PoeStandin) -> None:
    import concurrent.futures

    from claude_poe_tui.config import load_config, resolve_secrets
    from claude_poe_tui.proxy.parent.process import ApplyOutcome

    running = start_proxy(tmp_path, poe)
    stop = False

    def load() -> list[int]:
        statuses = []
        with httpx.Client(timeout=30) as client:
            while not stop:
                for stream in (False, True):
                    body = {"model": CHAT_ROUTE if len(statuses) % 2 else CLAUDE_ROUTE, "max_tokens": 20, "stream": stream,
                            "messages": [{"role": "user", "content": "hi"}]}
                    statuses.append(client.post(f"{running.url}/v1/messages", json=body, headers=HEADERS).status_code)
        return statuses

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(load) for _ in range(8)]
            text = running.config_path.read_text()
            for round_ in range(10):
                extra = f'\n[[models]]\nname = "extra-{round_}"\npoe_model = "GPT-4o"\n'
                running.config_path.write_text(text + extra)
                config = load_config(running.config_path)
                assert running.process.apply(config, resolve_secrets(config)) is ApplyOutcome.RELOADED
                time.sleep(0.2)
            stop = True
            statuses = [s for f in futures for s in f.result()]
    finally:
        running.process.stop()
    assert len(statuses) > 50
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}


def test_a_request_log_that_cannot_write_shows_on_the_status_page(tmp_path: Path, poe: PoeStandin) -> None:
    # The log's path is a folder: every write fails, as on a read-only or full disk (the writer's
    # own tests cover a disk that fills mid-write).
    blocked = tmp_path / "not-a-file"
    blocked.mkdir()
    running = start_proxy(tmp_path, poe, models=(("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),),
                          extra=f'\n[log]\npath = "{blocked}"\n')
    try:
        assert ask(running, CLAUDE_ROUTE, stream=False).status_code == 200  # serving goes on
        deadline = time.monotonic() + 5
        status = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{running.url}/claude-poe-tui/status").json()
            if status.get("request_log_dropped"):
                break
            time.sleep(0.05)
        assert status["request_log_dropped"] >= 1
        assert "Is a directory" in status["request_log_failing"] and str(blocked) in status["request_log_failing"]
    finally:
        running.process.stop()


def test_a_proxy_listening_beyond_loopback_shows_its_status_to_key_holders_only(tmp_path: Path, poe: PoeStandin) -> None:
    from conftest import POE_KEY

    long_key = "sk-" + "x" * 40
    running = start_proxy(tmp_path, poe, models=(("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),),
                          host="0.0.0.0", dotenv={"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": long_key})
    try:
        url = running.url.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(f"{url}/claude-poe-tui/status").status_code == 401
        status = httpx.get(f"{url}/claude-poe-tui/status", headers={"x-api-key": long_key})
        assert status.status_code == 200 and status.json()["product"] == "claude-poe-tui"
        assert httpx.get(f"{url}/health/liveliness").status_code == 200  # liveness stays open
    finally:
        running.process.stop()


def test_the_request_log_streams_to_a_dashboard_elsewhere_with_the_master_key(proxy: RunningProxy) -> None:
    import threading

    url = f"{proxy.url}/claude-poe-tui/requests"
    assert httpx.get(url).status_code == 401
    for model in (CHAT_ROUTE, CHAT_ROUTE, CLAUDE_ROUTE):
        assert ask(proxy, model, stream=False).status_code == 200
    time.sleep(0.3)
    tail = httpx.get(url, params={"tail": 3}, headers=HEADERS)
    lines = [json.loads(line) for line in tail.text.splitlines() if line.strip()]
    assert len(lines) == 3 and lines[-1]["model"] == CLAUDE_ROUTE

    followed: list[dict] = []

    def follow() -> None:
        with httpx.stream("GET", url, params={"tail": 0, "follow": 1}, headers=HEADERS, timeout=30) as response:
            for line in response.iter_lines():
                if line.strip():
                    followed.append(json.loads(line))
                    if len(followed) == 2:
                        return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    time.sleep(0.5)
    ask(proxy, CHAT_ROUTE, stream=True)
    ask(proxy, CLAUDE_ROUTE, stream=True)
    reader.join(10)
    assert [r["model"] for r in followed] == [CHAT_ROUTE, CLAUDE_ROUTE]


def test_the_points_stream_to_a_dashboard_elsewhere_with_the_master_key(tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.control.remote import PointsStream, RemoteTarget

    running = start_proxy(tmp_path / "on", poe, extra='\n[[clients]]\nname = "alice"\nkey = "alice-token-0123456789"\n')
    quiet = start_proxy(tmp_path / "off", poe, extra="\n[log]\npoints = false\n")
    try:
        url = f"{running.url}/claude-poe-tui/points"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"x-api-key": "alice-token-0123456789"}).status_code == 401  # a member's: no
        for model in (CHAT_ROUTE, CLAUDE_ROUTE):
            assert ask(running, model, stream=False).status_code == 200
        records = read_records(running.request_log, at_least=2)

        def points_lines() -> list[dict]:
            tail = httpx.get(url, params={"tail": 100}, headers=HEADERS, timeout=10)
            assert tail.status_code == 200 and tail.headers["content-type"] == "application/x-ndjson"
            return [json.loads(line) for line in tail.text.splitlines() if line.strip()]

        deadline = time.monotonic() + 20
        while {r["id"] for r in records} - {line["id"] for line in points_lines()} and time.monotonic() < deadline:
            time.sleep(0.2)  # each request's first line (an estimate) is written when its record is
        assert {r["id"] for r in records} <= {line["id"] for line in points_lines()}

        # Followed, as the dashboard does: a new request's line arrives while the stream is open.
        stream = PointsStream(RemoteTarget(running.url, MASTER_KEY, "LITELLM_MASTER_KEY", "the test"), tail=0)
        taken: list = []
        try:
            stream.start()
            deadline = time.monotonic() + 10
            while not stream.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ask(running, CHAT_ROUTE, stream=True).status_code == 200
            new_id = read_records(running.request_log, at_least=3)[-1]["id"]
            deadline = time.monotonic() + 20
            while new_id not in {line.id for line in taken} and time.monotonic() < deadline:
                taken += stream.read()[1]
                time.sleep(0.1)
            assert new_id in {line.id for line in taken}
        finally:
            stream.close()

        # A gateway that counts no points says so, and the stream does not ask again.
        off = PointsStream(RemoteTarget(quiet.url, MASTER_KEY, "LITELLM_MASTER_KEY", "the test"), first_retry=0.05)
        off.start()
        off._thread.join(10)
        assert off.absent is not None and "counts no points" in off.absent and off.connections == 0
    finally:
        running.process.stop()
        quiet.process.stop()


def test_serve_and_doctor_say_when_the_request_log_cannot_write(tmp_path: Path, poe: PoeStandin) -> None:
    import subprocess
    import sys

    from conftest import write_config

    blocked = tmp_path / "not-a-file"
    blocked.mkdir()
    config = write_config(tmp_path / "config", poe_base_url=poe.base_url,
                          models=(("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),),
                          extra=f'\n[log]\npath = "{blocked}"\n')
    env = {**__import__("os").environ, "CLAUDE_POE_TUI_STATE_DIR": str(tmp_path / "state")}
    output = tmp_path / "serve.out"
    with open(output, "wb") as sink:
        serve = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config)],
                                 stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        from claude_poe_tui.config import load_config

        url = load_config(config).base_url
        deadline = time.monotonic() + 120
        while "ready in" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        body = {"model": CLAUDE_ROUTE, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{url}/v1/messages", json=body, headers=HEADERS, timeout=30).status_code == 200
        deadline = time.monotonic() + 20
        while "request log failing" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f"warning: request log failing: Is a directory ({blocked}) (1 record dropped)" in output.read_text()
        doctor = subprocess.run([sys.executable, "-m", "claude_poe_tui", "doctor", "--config", str(config)],
                                capture_output=True, text=True, env=env, timeout=120)
        assert "✗ request log failing: Is a directory" in doctor.stdout
    finally:
        serve.terminate()
        serve.wait(60)


def test_an_idle_connection_stays_open_longer_than_a_balancer_keeps_it(proxy: RunningProxy) -> None:
    """uvicorn closes idle connections after 5 s by default; nginx keeps its idle upstream
    connections for 60 s and may send a request on one at the moment the gateway closes it (a 502
    for a POST). The gateway keeps them longer than the exported nginx site does."""
    import http.client

    connection = http.client.HTTPConnection(urlparse(proxy.url).hostname, urlparse(proxy.url).port, timeout=10)
    try:
        connection.request("GET", "/health/liveliness")
        first = connection.getresponse()
        assert first.status == 200 and first.read()
        opened = connection.sock
        time.sleep(6.5)  # past uvicorn's default keep-alive
        connection.request("GET", "/health/liveliness")  # on the same socket: closed, this raises
        again = connection.getresponse()
        assert again.status == 200 and again.read() and connection.sock is opened
    finally:
        connection.close()

