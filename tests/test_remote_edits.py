"""Mapping edits that reach a gateway through its config file: ``serve`` applies its config file when
it changes (a hand edit applies live, a typo is said and the old config keeps serving), the
gateway's ``/claude-poe-tui/models`` writes ``[[models]]`` with the master key only (comments kept,
bad lists refused with the mapping and field named, a read-only file said), and the dashboard
attached to a remote gateway edits its mappings through that endpoint. Real proxy children, a real
``serve``, Textual's Pilot."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.control.mappings import MappingEdit, edit_mapping_list
from claude_poe_tui.config.model import ModelMapping
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ProxyProcess
from claude_poe_tui.proxy.protocol import MODELS_PATH
from conftest import MASTER_KEY, PoeStandin, write_config

ALICE = "alice-token-0123456789abcdef"
COMMENTED = """
# the team's own bot: keep this comment
[[models]]
name = "team-bot"  # asked for by the team's scripts
poe_model = "Gemini-2.5-Pro"
rpm = 500
"""


def ask(url: str, model: str, key: str = MASTER_KEY) -> int:
    return httpx.post(f"{url}/v1/messages", timeout=30,
                      headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                      json={"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
                      ).status_code


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    config: Path
    output: Path
    url: str

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for_output(self, words: str, timeout: float = 30.0, after: int = 0) -> None:
        wait_until(lambda: words in self.text()[after:], timeout, repr(words))


def start_serve(tmp_path: Path, poe: PoeStandin, **config_kwargs) -> Serve:
    config = write_config(tmp_path / "config", poe_base_url=poe.base_url, **config_kwargs)
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(tmp_path / "state")}
    output = tmp_path / "serve.out"
    with open(output, "wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config)],
                                   stdout=sink, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    serve = Serve(process, config, output, load_config(config).base_url)
    try:
        serve.wait_for_output("ready in", timeout=120)
    except BaseException:
        stop_serve(serve)
        raise
    return serve


def stop_serve(serve: Serve) -> None:
    serve.process.terminate()
    try:
        serve.process.wait(60)
    except subprocess.TimeoutExpired:
        serve.process.kill()


@pytest.fixture
def serve(tmp_path: Path, poe: PoeStandin) -> Iterator[Serve]:
    running = start_serve(tmp_path, poe, extra=COMMENTED + '\n[[clients]]\nname = "alice"\nkey = "env:ALICE_TOKEN"\n',
                          dotenv={"POE_API_KEY": "poe-test-key-0123456789", "LITELLM_MASTER_KEY": MASTER_KEY,
                                  "ALICE_TOKEN": ALICE})
    yield running
    stop_serve(running)


def put(url: str, body, key: str | None = MASTER_KEY) -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    return httpx.put(url + MODELS_PATH, json=body, headers=headers, timeout=30)


def get(url: str, key: str | None = MASTER_KEY) -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    return httpx.get(url + MODELS_PATH, headers=headers, timeout=30)


# -- pure parts --

def test_an_edit_of_a_list_in_memory() -> None:
    a, b, c = ModelMapping("a", "A"), ModelMapping("b", "B"), ModelMapping("c", "C")
    assert edit_mapping_list([a, b], MappingEdit.add(c)).mappings == [a, b, c]
    moved = edit_mapping_list([a, b, c], MappingEdit.move(0, 2))
    assert (moved.mappings, moved.row, moved.what) == ([b, c, a], 2, "moved a to row 3")
    deleted = edit_mapping_list([a, b], MappingEdit.delete(1))
    assert (deleted.mappings, deleted.row) == ([a], 0)
    assert edit_mapping_list([a], MappingEdit.update(0, c)).mappings == [c]


# -- serve watches its config file --

@pytest.mark.proxy
def test_serve_applies_its_config_file_when_it_changes_and_keeps_the_old_one_on_a_typo(serve: Serve) -> None:
    assert ask(serve.url, "grok") == 404
    text = serve.config.read_text()
    serve.config.write_text(text + '\n[[models]]\nname = "grok"\npoe_model = "GPT-4o"\n')
    serve.wait_for_output("config.toml changed: applied without a restart")
    assert ask(serve.url, "grok") == 200
    assert ask(serve.url, "gpt-5") == 200

    # A typo: said with file, line and key; the config as it was keeps serving.
    before = len(serve.text())
    broken = serve.config.read_text() + '\n[[models]]\nname = "later"\npoe_modle = "GPT-5"\n'
    serve.config.write_text(broken)
    line = broken.splitlines().index('poe_modle = "GPT-5"') + 1
    serve.wait_for_output("still serving the config as it was", after=before)
    said = serve.text()[before:]
    assert f"{serve.config}:{line}: models[7].poe_modle: unknown key" in said
    assert "did you mean 'poe_model'?" in said
    assert ask(serve.url, "grok") == 200 and ask(serve.url, "later") == 404
    assert serve.process.poll() is None

    # Fixed: applied.
    before = len(serve.text())
    serve.config.write_text(broken.replace("poe_modle", "poe_model"))
    serve.wait_for_output("config.toml changed: applied without a restart", after=before)
    assert ask(serve.url, "later") == 200

    # What a reload cannot take is said, not silently dropped.
    before = len(serve.text())
    serve.config.write_text(serve.config.read_text().replace("[proxy]\n", "[proxy]\ndrain_seconds = 5\n", 1))
    serve.wait_for_output("[proxy] drain_seconds take effect at the next restart", after=before)
    assert serve.process.poll() is None and ask(serve.url, "later") == 200


# -- the gateway's mapping endpoint --

@pytest.mark.proxy
def test_the_mapping_endpoint_writes_the_config_with_the_master_key_only(serve: Serve) -> None:
    url = serve.url
    listing = get(url)
    assert listing.status_code == 200, listing.text
    data = listing.json()
    assert data["editable"] is True and data["config"] == str(serve.config)
    team = next(m for m in data["models"] if m["name"] == "team-bot")
    assert team == {"name": "team-bot", "poe_model": "Gemini-2.5-Pro", "route": "auto", "thinking": "auto",
                    "fallbacks": [], "rpm": 500}
    keys = data["models"]

    # Who may: the master key; a member's token is refused (403), no key or a wrong one 401.
    assert get(url, key=None).status_code == 401 and put(url, {"models": keys}, key=None).status_code == 401
    assert put(url, {"models": keys}, key="sk-wrong").status_code == 401
    refused = put(url, {"models": keys}, key=ALICE)
    assert refused.status_code == 403 and "alice" in refused.json()["error"]["message"]
    assert get(url, key=ALICE).status_code == 403

    original = serve.config.read_text()
    # Bad lists: 400, naming the mapping and the field; nothing written.
    cases = [
        ({"models": [*keys, {"name": "x", "poe_model": "GPT-5", "rpm": 0}]}, "mapping 7 (x), rpm: must be more than 0"),
        ({"models": [*keys, {"name": "x", "poe_model": "GPT-5", "route": "fast"}]}, "mapping 7 (x), route: must be one of"),
        ({"models": [*keys, {"name": "x"}]}, "mapping 7 (x), poe_model: is missing"),
        ({"models": [*keys, {"name": "x", "poe_model": "GPT-5", "api_key": "sk"}]}, "mapping 7 (x), api_key: unknown field"),
        ({"models": [*keys, {"name": "x", "poe_model": "GPT-5", "fallbacks": ["nope"]}]},
         "mapping 7 (x), fallbacks: 'nope' is not a mapped model name"),
        ({"models": keys, "proxy": {"host": "0.0.0.0"}}, "unknown field 'proxy'"),
        ({"models": "gpt-5"}, "must be a list"),
    ]
    for body, words in cases:
        answer = put(url, body)
        assert answer.status_code == 400, (body, answer.text)
        assert words in answer.json()["error"]["message"], answer.text
    bad_json = httpx.put(url + MODELS_PATH, content=b"{not json", headers={"x-api-key": MASTER_KEY}, timeout=30)
    assert bad_json.status_code == 400
    assert serve.config.read_text() == original

    # A good list: written, comments kept, the rest of the file untouched; serve applies it.
    renamed = [m for m in keys if m["name"] != "gemini"] + [{"name": "grok", "poe_model": "GPT-4o", "tpm": 9000}]
    team_index = next(i for i, m in enumerate(renamed) if m["name"] == "team-bot")
    renamed[team_index] = {**renamed[team_index], "poe_model": "GPT-5", "rpm": None}
    answer = put(url, {"models": renamed})
    assert answer.status_code == 200, answer.text
    assert answer.json()["models"] == [m["name"] for m in renamed]
    written = serve.config.read_text()
    assert "# the team's own bot: keep this comment" in written
    assert 'name = "team-bot"  # asked for by the team\'s scripts' in written
    assert 'poe_model = "GPT-5"' in written and "rpm = 500" not in written
    assert 'name = "gemini"' not in written and 'tpm = 9000' in written
    assert written.startswith(original.split("[[models]]")[0])  # [proxy], [poe], comments above: as they were
    assert '[[clients]]\nname = "alice"' in written
    assert [m.name for m in load_config(serve.config).models] == [m["name"] for m in renamed]
    serve.wait_for_output("config.toml changed: applied without a restart")
    wait_until(lambda: ask(url, "grok") == 200, 10, "the new mapping to answer")
    assert ask(url, "gemini") == 404

    # A read-only file: said, not written.
    os.chmod(serve.config, 0o444)
    try:
        answer = put(url, {"models": keys})
        assert answer.status_code == 409
        assert answer.json()["error"]["message"] == (
            f"the gateway's config file cannot be written: {serve.config} is read-only (mode 0444)")
        assert serve.config.read_text() == written
        assert get(url).json()["editable"] is False
    finally:
        os.chmod(serve.config, 0o644)


@pytest.mark.proxy
def test_a_gateway_not_run_by_serve_does_not_write_its_config(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    config = load_config(config_path)
    process = ProxyProcess(config, resolve_secrets(config), StatePaths(tmp_path / "state"))
    process.start()
    try:
        process.wait_ready(120)
        original = config_path.read_text()
        data = get(process.url).json()
        assert data["editable"] is False and "not started by `claude-poe-tui serve`" in data["why_not"]
        answer = put(process.url, {"models": data["models"][:1]})
        assert answer.status_code == 409 and "not started by `claude-poe-tui serve`" in answer.text
        assert config_path.read_text() == original
    finally:
        process.stop()


# -- the dashboard attached to a remote gateway --

@pytest.mark.proxy
async def test_the_dashboard_edits_a_remote_gateways_mappings(tmp_path: Path, serve: Serve) -> None:
    from textual.widgets._toast import Toast

    from claude_poe_tui.ui.app import PoeTuiApp
    from claude_poe_tui.ui.screens.mapping_editor import MappingEditorScreen
    from test_dashboard_models import wait_for
    from test_dashboard_remote import remote
    from test_untrusted_text import plain

    def toasts() -> list[str]:
        return [plain(t) for t in app.screen.query(Toast)]

    app = PoeTuiApp(tmp_path / "here" / "config.toml", start_proxy=False, remote=remote(serve.url))
    async with app.run_test(size=(160, 44), notifications=True) as pilot:
        table = app.query_one("#models-table")
        await wait_for(pilot, lambda: table.row_count == 6 and app.remote_mappings_full, timeout=20,
                       what="the gateway's mappings in full")
        hint = plain(app.query_one("#models-hint"))
        assert "Changes are written to its config file" in hint and str(serve.config) in hint
        names = [str(table.cells_at(i)["name"]) for i in range(6)]
        assert names[-1] == "team-bot" and str(table.cells_at(5)["bot"]) == "Gemini-2.5-Pro"
        assert str(table.cells_at(3)["bot"]) == "GPT-5"  # the bot itself, not only the one that last answered

        # Add a mapping: written to the gateway's file, applied by its serve, and it answers.
        await pilot.press("a")
        assert isinstance(app.screen, MappingEditorScreen)
        await pilot.press(*"grok", "enter", *"GPT-4o", "ctrl+s")
        await wait_for(pilot, lambda: any("Saved on the gateway" in t or "added grok" in t for t in toasts()),
                       timeout=20, what="saved on the gateway")
        assert table.row_count == 7 and str(table.cells_at(6)["name"]) == "grok"
        assert 'name = "grok"' in serve.config.read_text()
        assert "# the team's own bot: keep this comment" in serve.config.read_text()
        await wait_for(pilot, lambda: "grok" in (app.gateway.names if app.gateway else []), timeout=10,
                       what="the status page to list grok")
        assert ask(serve.url, "grok") == 200

        # Delete one: gone from the file and from the gateway.
        table.move_cursor(row=4)  # gemini
        await pilot.pause()
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: table.row_count == 6, timeout=20, what="gemini deleted")
        assert 'name = "gemini"' not in serve.config.read_text()
        await wait_for(pilot, lambda: "gemini" not in app.gateway.names, timeout=10, what="the gateway without gemini")
        assert ask(serve.url, "gemini") == 404

        # The gateway refuses (its file is read-only): its words, as text.
        os.chmod(serve.config, 0o444)
        try:
            await pilot.press("a")
            await pilot.press(*"later", "enter", *"GPT-5", "ctrl+s")
            await wait_for(pilot, lambda: any("cannot be written" in t for t in toasts()), timeout=20,
                           what="the refusal")
            assert any(f"{serve.config} is read-only (mode 0444)" in t for t in toasts())
            assert table.row_count == 6 and 'name = "later"' not in serve.config.read_text()
        finally:
            os.chmod(serve.config, 0o644)
        assert app.query_one("#models-table").row_count == 6


@pytest.mark.proxy
def test_with_workers_any_worker_writes_and_serve_applies_once(tmp_path: Path, poe: PoeStandin) -> None:
    running = start_serve(tmp_path, poe, proxy_extra="workers = 2")
    try:
        keys = get(running.url).json()["models"]
        before = len(running.text())
        answer = put(running.url, {"models": [*keys, {"name": "grok", "poe_model": "GPT-4o"}]})
        assert answer.status_code == 200, answer.text
        running.wait_for_output("config.toml changed: applied without a restart", after=before)
        # Every worker took it: each one's status page lists it.
        seen: dict[int, bool] = {}
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            status = httpx.get(running.url + "/claude-poe-tui/status", timeout=10).json()
            seen[status["worker_pid"]] = "grok" in status["models"]
        assert len(seen) == 2 and all(seen.values()), seen
        assert [ask(running.url, "grok") for _ in range(4)] == [200] * 4
        time.sleep(1.5)
        assert running.text()[before:].count("config.toml changed") == 1
    finally:
        stop_serve(running)
