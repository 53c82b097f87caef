"""``[proxy] workers = N``: N gateway processes on one port, one request log, one status, one reload."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.proxy.parent.process import ApplyOutcome
from claude_poe_tui.requestlog.reader import read_history
from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy, start_proxy

pytestmark = pytest.mark.proxy

HEADERS = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}
MODELS = (("claude-sonnet-4-5", "Claude-Sonnet-4.5"), ("gpt-4o", "GPT-4o"))


def ask(url: str, model: str = "claude-sonnet-4-5", key: str = MASTER_KEY, stream: bool = False) -> httpx.Response:
    # A new connection each time, so the kernel may hand it to any worker.
    with httpx.Client(timeout=30) as client:
        return client.post(f"{url}/v1/messages", headers={**HEADERS, "x-api-key": key},
                           json={"model": model, "max_tokens": 10, "stream": stream,
                                 "messages": [{"role": "user", "content": "hi"}]})


def status(url: str) -> dict:
    with httpx.Client(timeout=5) as client:
        return client.get(f"{url}/claude-poe-tui/status").json()


@pytest.fixture(scope="module")
def workers_proxy(poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    # A tiny request log, so the workers rotate it many times between them.
    running = start_proxy(tmp_path_factory.mktemp("workers"), poe, models=MODELS, proxy_extra="workers = 2\n",
                          extra="\n[log]\nmax_size_mb = 0.01\nbackups = 500\n",
                          dotenv={"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY,
                                  "ALICE_TOKEN": "alice-token-0123456789abcdef"})
    yield running
    running.process.stop()


def test_two_workers_serve_one_port_and_report_one_status(workers_proxy: RunningProxy) -> None:
    first = status(workers_proxy.url)
    assert first["workers"] == 2 and first["workers_ready"] == 2
    pids = {status(workers_proxy.url)["worker_pid"] for _ in range(40)}
    assert len(pids) == 2, pids  # both workers take connections
    assert workers_proxy.process.pid not in pids  # the proxy child itself only minds them
    before = status(workers_proxy.url)["requests"]
    for _ in range(10):
        assert ask(workers_proxy.url).status_code == 200
    assert status(workers_proxy.url)["requests"] == before + 10  # counted over both, whichever answers


def test_one_request_log_whole_under_concurrent_writes_and_rotations(workers_proxy: RunningProxy) -> None:
    log = workers_proxy.request_log
    before = {r.id for r in read_history(log)}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: ask(workers_proxy.url, MODELS[i % 2][0], stream=bool(i % 3)).status_code,
                                 range(240)))
    assert set(statuses) == {200}
    deadline = time.monotonic() + 10
    records = []
    while time.monotonic() < deadline:
        records = [r for r in read_history(log) if r.id not in before]
        if len(records) >= 240:
            break
        time.sleep(0.2)
    assert len(records) == 240
    assert len({r.id for r in records}) == 240  # none twice, none lost
    files = list(log.parent.glob(log.name + ".*[0-9]"))
    assert len(files) >= 3, "the log should have rotated several times"
    for path in [log, *files]:  # every line of every file is a whole record
        for line in path.read_bytes().splitlines():
            assert json.loads(line)["id"]


def test_a_reload_reaches_every_worker_before_it_returns(workers_proxy: RunningProxy) -> None:
    path = workers_proxy.config_path
    original = path.read_text()
    try:
        path.write_text(original + '\n[[models]]\nname = "gemini"\npoe_model = "Gemini-2.5-Pro"\n'
                        '\n[[clients]]\nname = "alice"\nkey = "env:ALICE_TOKEN"\n')
        config = load_config(path)
        assert workers_proxy.process.apply(config, resolve_secrets(config)) is ApplyOutcome.RELOADED
        # Whichever worker takes each connection, the new mapping and the new member are there.
        assert {ask(workers_proxy.url, "gemini").status_code for _ in range(16)} == {200}
        assert {ask(workers_proxy.url, key="alice-token-0123456789abcdef").status_code for _ in range(16)} == {200}
        path.write_text(original)
        config = load_config(path)
        workers_proxy.process.apply(config, resolve_secrets(config))
        # Revoked on every worker at once.
        assert {ask(workers_proxy.url, key="alice-token-0123456789abcdef").status_code for _ in range(16)} == {401}
        assert {ask(workers_proxy.url, "gemini").status_code for _ in range(16)} == {404}
    finally:
        path.write_text(original)


def test_a_worker_that_dies_is_started_again_and_the_port_keeps_answering(workers_proxy: RunningProxy) -> None:
    victim = status(workers_proxy.url)["worker_pid"]
    os.kill(victim, signal.SIGKILL)
    answered = [ask(workers_proxy.url).status_code for _ in range(20)]
    assert answered.count(200) == 20  # the other worker took every connection meanwhile
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = status(workers_proxy.url)
        pids = {status(workers_proxy.url)["worker_pid"] for _ in range(20)}
        if current["workers_ready"] == 2 and len(pids) == 2 and victim not in pids:
            break
        time.sleep(0.2)
    assert current["workers_ready"] == 2 and victim not in pids and len(pids) == 2
    assert any(f"(pid {victim}) was killed by SIGKILL" in line and "starting it again" in line
               for line in workers_proxy.process.output)
