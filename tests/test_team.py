"""The team gateway's shared parts: rpm limits over several proxies through a real Redis, Redis lost
and back, member tokens added and revoked without a restart, and pools of Poe keys."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.config.load import resolve_member_tokens
from claude_poe_tui.errors import ConfigError
from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy, free_port, read_records, start_proxy, start_standin

pytestmark = pytest.mark.proxy

HEADERS = {"anthropic-version": "2023-06-01"}
LIMITED = """
[[models]]
name = "claude-sonnet-4-5"
poe_model = "Claude-Sonnet-4.5"
rpm = 10

[[models]]
name = "gpt-4o"
poe_model = "GPT-4o"
"""


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def start(self) -> None:
        self.process = _spawn_redis(self.port, self.directory)


def _spawn_redis(port: int, directory: Path) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's)")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    port = free_port()
    server = RedisServer(port, _spawn_redis(port, tmp_path), tmp_path)
    yield server
    server.stop()


def ask(proxy: RunningProxy, model: str = "claude-sonnet-4-5", key: str = MASTER_KEY) -> httpx.Response:
    return httpx.post(f"{proxy.url}/v1/messages", headers={**HEADERS, "x-api-key": key}, timeout=30,
                      json={"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})


def fresh_minute(margin: float = 20.0) -> None:
    """Wait for a new minute window when this one is nearly over (limits count per minute)."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)


def test_two_proxies_sharing_redis_serve_one_rpm_limit_together(tmp_path: Path, poe: PoeStandin,
                                                                redis_server: RedisServer) -> None:
    extra = LIMITED + f'\n[redis]\nurl = "{redis_server.url}"\n'
    first = start_proxy(tmp_path / "a", poe, models=(), extra=extra)
    second = start_proxy(tmp_path / "b", poe, models=(), extra=extra)
    try:
        fresh_minute()
        statuses = [ask(proxy).status_code for _ in range(15) for proxy in (first, second)]
        assert statuses.count(200) == 10, statuses  # the limit, exactly, over both
        refused = ask(first)
        assert refused.status_code == 429
        assert "rpm" in refused.json()["error"]["message"] and int(refused.headers["retry-after"]) >= 1
        assert ask(first, model="gpt-4o").status_code == 200  # other mappings are not limited
        for proxy in (first, second):
            assert httpx.get(f"{proxy.url}/claude-poe-tui/status").json()["limits_shared"] is True
    finally:
        first.process.stop()
        second.process.stop()


def test_without_redis_each_proxy_has_the_limit_to_itself(tmp_path: Path, poe: PoeStandin) -> None:
    first = start_proxy(tmp_path / "a", poe, models=(), extra=LIMITED)
    second = start_proxy(tmp_path / "b", poe, models=(), extra=LIMITED)
    try:
        fresh_minute()
        statuses = [ask(proxy).status_code for _ in range(12) for proxy in (first, second)]
        assert statuses.count(200) == 20
    finally:
        first.process.stop()
        second.process.stop()


def test_redis_lost_while_serving_then_back(tmp_path: Path, poe: PoeStandin, redis_server: RedisServer) -> None:
    extra = LIMITED.replace("rpm = 10", "rpm = 1000") + f'\n[redis]\nurl = "{redis_server.url}"\n'
    running = start_proxy(tmp_path, poe, models=(), extra=extra)
    try:
        assert ask(running).status_code == 200
        redis_server.stop()
        statuses = [ask(running).status_code for _ in range(20)]
        assert set(statuses) == {200}  # serving goes on, counting in the process
        status = httpx.get(f"{running.url}/claude-poe-tui/status").json()
        assert status["limits_shared"] is False
        assert any("Redis unreachable while serving" in line for line in running.process.output)
        redis_server.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert ask(running).status_code == 200
            if httpx.get(f"{running.url}/claude-poe-tui/status").json()["limits_shared"]:
                break
            time.sleep(0.5)
        assert httpx.get(f"{running.url}/claude-poe-tui/status").json()["limits_shared"] is True
        assert any("Redis answers again" in line for line in running.process.output)
    finally:
        running.process.stop()


def test_redis_unreachable_at_start_serves_with_limits_per_process(tmp_path: Path, poe: PoeStandin) -> None:
    extra = LIMITED + f'\n[redis]\nurl = "redis://127.0.0.1:{free_port()}/0"\n'
    running = start_proxy(tmp_path, poe, models=(), extra=extra)
    try:
        assert ask(running).status_code == 200
        assert any("Redis unreachable at start" in line for line in running.process.output)
    finally:
        running.process.stop()


# --- member tokens ------------------------------------------------------------------------------


ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef00"


def members_config(names: list[str]) -> str:
    blocks = [f'\n[[clients]]\nname = "{name}"\nkey = "env:{name.upper()}_TOKEN"\n' for name in names]
    return "".join(blocks)


def test_members_are_recorded_and_revoked_without_a_restart(tmp_path: Path, poe: PoeStandin) -> None:
    dotenv = {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY, "ALICE_TOKEN": ALICE, "BOB_TOKEN": BOB}
    running = start_proxy(tmp_path, poe, models=(("claude-sonnet-4-5", "Claude-Sonnet-4.5"),),
                          extra=members_config(["alice"]), dotenv=dotenv)
    try:
        pid = running.process.pid
        assert ask(running, key=ALICE).status_code == 200
        assert ask(running, key=BOB).status_code == 401
        record = read_records(running.request_log, at_least=2)
        assert record[-2]["member"] == "alice" and record[-1]["status"] == 401

        # Bob joins, Alice leaves: applied to the running proxy, no restart.
        text = running.config_path.read_text().split("[[clients]]")[0] + members_config(["bob"])
        running.config_path.write_text(text)
        config = load_config(running.config_path)
        running.process.apply(config, resolve_secrets(config))
        assert running.process.pid == pid
        assert ask(running, key=ALICE).status_code == 401
        assert ask(running, key=BOB).status_code == 200
        assert read_records(running.request_log, at_least=4)[-1]["member"] == "bob"
        assert ask(running).status_code == 200  # the master key still works
        import json as json_module
        import sys

        stats = subprocess.run([sys.executable, "-m", "claude_poe_tui", "stats", "--json", "--config",
                                str(running.config_path)], capture_output=True, text=True, timeout=60,
                               env={**__import__("os").environ, "CLAUDE_POE_TUI_STATE_DIR": str(running.state_dir)})
        members = json_module.loads(stats.stdout)["members"]
        assert members["alice"]["requests"] == 1 and members["bob"]["requests"] == 1
        assert members["(master key)"]["requests"] >= 2 and members["(master key)"]["errors"] >= 2  # the 401s
        gateway_file = (running.process.run_dir / "gateway.json").read_text()
        assert ALICE not in gateway_file and BOB not in gateway_file  # digests only
    finally:
        running.process.stop()


@pytest.mark.parametrize("tokens,words", [
    ({"ALICE_TOKEN": ALICE, "BOB_TOKEN": ALICE}, "same token as member 'alice'"),
    ({"ALICE_TOKEN": MASTER_KEY, "BOB_TOKEN": BOB}, "is the master key"),
])
def test_shared_or_master_tokens_are_config_errors(tmp_path: Path, tokens: dict, words: str) -> None:
    from conftest import write_config

    dotenv = {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY, **tokens}
    path = write_config(tmp_path, poe_base_url="http://127.0.0.1:9/v1", extra=members_config(["alice", "bob"]),
                        dotenv=dotenv)
    with pytest.raises(ConfigError, match=words) as caught:
        resolve_member_tokens(load_config(path), environ={})
    assert caught.value.line is not None and caught.value.key.startswith("clients[")


# --- Poe key pools ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_key_poe() -> Iterator[PoeStandin]:
    standin = start_standin("--key", "poe-second-key-0123456789")
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


def test_a_pool_key_poe_refuses_leaves_the_pool_and_the_request_goes_on(tmp_path: Path, two_key_poe: PoeStandin) -> None:
    pool = '\n'.join(["[poe]", 'api_keys = ["env:POE_KEY_A", "env:POE_KEY_B", "env:POE_KEY_C"]',
                      f'base_url = "{two_key_poe.base_url}"', ""])
    dotenv = {"LITELLM_MASTER_KEY": MASTER_KEY, "POE_KEY_A": POE_KEY, "POE_KEY_B": "poe-revoked-key-0123456789",
              "POE_KEY_C": "poe-second-key-0123456789"}
    from conftest import write_config

    path = write_config(tmp_path / "config", poe_base_url=two_key_poe.base_url, models=(), dotenv=dotenv,
                        extra=LIMITED.replace("rpm = 10\n", ""))
    text = path.read_text()
    start, end = text.index("[poe]"), text.index("[[models]]")
    path.write_text(text[:start] + pool + "\n" + text[end:])
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.process import ProxyProcess

    config = load_config(path)
    process = ProxyProcess(config, resolve_secrets(config), StatePaths(tmp_path / "state"))
    process.start()
    try:
        process.wait_ready(120)
        running = RunningProxy(process=process, config_path=path, state_dir=tmp_path / "state")
        statuses = [ask(running, model=model).status_code for _ in range(6) for model in ("claude-sonnet-4-5", "gpt-4o")]
        assert set(statuses) == {200}, statuses  # B's 401 never reached a client
        status = httpx.get(f"{running.url}/claude-poe-tui/status").json()
        assert list(status["keys_out"]) == ["POE_KEY_B"] and "401" in status["keys_out"]["POE_KEY_B"]
        used = {r["poe_key"] for r in read_records(running.request_log, at_least=12)}
        assert used == {"POE_KEY_A", "POE_KEY_C"}
        asked_with = {r["headers"].get("authorization") for r in two_key_poe.requests()
                      if r["path"] in ("/v1/messages", "/v1/chat/completions")}
        assert f"Bearer {POE_KEY}" in asked_with and "Bearer poe-second-key-0123456789" in asked_with
    finally:
        process.stop()


def test_balance_shows_points_per_pool_key(tmp_path: Path, two_key_poe: PoeStandin) -> None:
    import json as json_module
    import os
    import sys

    from conftest import write_config

    dotenv = {"LITELLM_MASTER_KEY": MASTER_KEY, "POE_KEY_A": POE_KEY, "POE_KEY_B": "poe-revoked-key-0123456789"}
    path = write_config(tmp_path, poe_base_url=two_key_poe.base_url, models=(), dotenv=dotenv)
    text = path.read_text().replace('api_key = "env:POE_API_KEY"', 'api_keys = ["env:POE_KEY_A", "env:POE_KEY_B"]')
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "POE_API_KEY"}
    done = subprocess.run([sys.executable, "-m", "claude_poe_tui", "balance", "--config", str(path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1  # one key is refused
    assert "over 2 keys of [poe] api_keys" in done.stdout
    assert "POE_KEY_A" in done.stdout and "points" in done.stdout
    assert "POE_KEY_B  refused:" in done.stdout
    as_json = subprocess.run([sys.executable, "-m", "claude_poe_tui", "balance", "--json", "--config", str(path)],
                             capture_output=True, text=True, env=env, timeout=60)
    keys = {row["key"]: row for row in json_module.loads(as_json.stdout)["keys"]}
    assert keys["POE_KEY_A"]["balance"] > 0 and keys["POE_KEY_B"]["error"]
