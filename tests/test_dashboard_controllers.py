"""The dashboard's controllers without the screen: mapping edits, keys, the Poe key check, the
request-log watcher and the proxy controller."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from claude_poe_tui.config import load_config
from claude_poe_tui.config.model import ModelMapping, Thinking
from claude_poe_tui.control.keys import CheckOutcome, check_poe_key, store_dashboard_key
from claude_poe_tui.control.mappings import MappingAction, MappingEdit, apply_mapping_edit
from claude_poe_tui.control.proxy import ProxyAction, ProxyController
from claude_poe_tui.control.requests import RequestLogWatcher
from claude_poe_tui.errors import ConfigError, UserError
from claude_poe_tui.keys import KeyKind
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.secrets import read_dotenv
from conftest import MASTER_KEY, OFFLINE_POE, PoeStandin, write_config

MODELS = (("claude-sonnet-5", "Claude-Sonnet-5"), ("gpt-5", "GPT-5"), ("gemini", "Gemini-2.5-Pro"))


# -- mapping edits --

def test_each_action_saves_and_says_where_the_cursor_goes(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url=OFFLINE_POE, models=MODELS)
    added = apply_mapping_edit(path, MappingEdit.add(ModelMapping("haiku", "GPT-4o", thinking=Thinking.OFF)))
    assert added.row == 3 and added.what == "added haiku → GPT-4o"
    assert [m.name for m in load_config(path).models] == ["claude-sonnet-5", "gpt-5", "gemini", "haiku"]
    moved = apply_mapping_edit(path, MappingEdit.move(3, 0))
    assert moved.row == 0 and [m.name for m in moved.config.models][:2] == ["haiku", "claude-sonnet-5"]
    updated = apply_mapping_edit(path, MappingEdit.update(1, ModelMapping("claude-sonnet-5", "Claude-Sonnet-5",
                                                                          fallbacks=("gpt-5", "gemini"))))
    assert updated.row == 1
    assert 'fallbacks = ["gpt-5", "gemini"]' in path.read_text()
    assert load_config(path).models[1].fallbacks == ("gpt-5", "gemini")
    with pytest.raises(ConfigError, match="'gemini' is not a mapped model name"):
        apply_mapping_edit(path, MappingEdit.delete(3))  # claude-sonnet-5 falls back to it
    apply_mapping_edit(path, MappingEdit.update(1, ModelMapping("claude-sonnet-5", "Claude-Sonnet-5")))
    deleted = apply_mapping_edit(path, MappingEdit.delete(3))
    assert deleted.row == 2 and deleted.what == "deleted gemini"  # the last row went: the cursor to the new last


def test_an_edit_that_breaks_the_config_writes_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url=OFFLINE_POE, models=MODELS)
    before = path.read_text()
    with pytest.raises(ConfigError, match="not a mapped model name"):
        apply_mapping_edit(path, MappingEdit.update(0, ModelMapping("claude-sonnet-5", "X", fallbacks=("nope",))))
    assert path.read_text() == before


def test_an_edit_must_say_what_it_needs() -> None:
    with pytest.raises(ValueError, match="update needs index"):
        MappingEdit(MappingAction.UPDATE, mapping=ModelMapping("a", "B"))
    with pytest.raises(ValueError):
        MappingEdit("rename", index=0)  # a string is not an action: nothing falls through to "move"


# -- keys --

def test_a_stored_key_shadowed_by_the_environment_is_used_by_this_process(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url=OFFLINE_POE)
    environ = {"LITELLM_MASTER_KEY": "sk-the-shells-own-value-000"}
    stored = store_dashboard_key(load_config(path), KeyKind.MASTER, "sk-new-value-1234567890", environ)
    assert read_dotenv(tmp_path / ".env")["LITELLM_MASTER_KEY"] == "sk-new-value-1234567890"
    assert environ["LITELLM_MASTER_KEY"] == "sk-new-value-1234567890"
    assert "this dashboard uses the new value, your shell still sets $LITELLM_MASTER_KEY" in stored.what
    with pytest.raises(UserError, match="must not contain spaces"):
        store_dashboard_key(load_config(path), KeyKind.POE, "two words", environ)


def test_the_poe_key_check_reports_as_data(tmp_path: Path, poe: PoeStandin) -> None:
    good = check_poe_key(load_config(write_config(tmp_path / "good", poe_base_url=poe.base_url)))
    assert good.outcome is CheckOutcome.ACCEPTED and good.balance is not None and good.ok
    assert good.message == f"Poe accepts the key. Balance: {good.balance:,} points."
    wrong = check_poe_key(load_config(write_config(tmp_path / "wrong", poe_base_url=poe.base_url,
                                                   dotenv={"POE_API_KEY": "wrong-key-0000000", "LITELLM_MASTER_KEY": MASTER_KEY})))
    assert wrong.outcome is CheckOutcome.FAILED and "rejected the Poe API key" in wrong.message
    missing = check_poe_key(load_config(write_config(tmp_path / "missing", poe_base_url=poe.base_url, dotenv={})))
    assert missing.outcome is CheckOutcome.NOT_SET and "POE_API_KEY" in missing.message


# -- the request-log watcher --

def record(n: int, ts: float) -> RequestRecord:
    return RequestRecord(ts=ts, id=f"req-{n}", session=None, method="POST", path="/v1/messages", model="gpt-5",
                         poe_model="GPT-5", route="chat", stream=False, status=200, error_type=None,
                         error_message=None, latency_ms=100.0, ttft_ms=None, input_tokens=1, output_tokens=1)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_watcher_sends_history_then_new_requests_one_update_at_a_time(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    now = time.time()
    log.write_text("".join(record(n, now - 10 + n).to_json() + "\n" for n in range(3)))
    updates = []
    watcher = RequestLogWatcher(log, updates.append, interval=0.02)
    watcher.start()
    try:
        wait_until(lambda: updates)
        assert updates[0].history and [r.id for r in updates[0].records] == ["req-0", "req-1", "req-2"]
        assert updates[0].figures.requests == 3 and updates[0].figures.window == "1h"
        with log.open("a") as out:
            out.write(record(3, now).to_json() + "\n")
        time.sleep(0.3)
        assert len(updates) == 1, "nothing more until the receiver has shown the last update"
        watcher.shown()
        wait_until(lambda: len(updates) == 2)
        assert [r.id for r in updates[1].records] == ["req-3"] and not updates[1].history
        assert watcher.next_window() == "6h" and watcher.figures().window == "6h"
        watcher.shown()
        wait_until(lambda: len(updates) >= 3)  # figures age without requests: sent about once a second
        assert updates[-1].figures.window == "6h" and updates[-1].records == []
    finally:
        watcher.close()
    assert not watcher.running


# -- the proxy controller --

class RecordingSession:
    """Records when each call starts and ends, on which thread; a call takes a little while."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.state = ProxyState.STOPPED
        self.mode = None
        self.config = None
        self.fail_start = False
        self.listeners = []

    def add_listener(self, listener) -> None:
        self.listeners.append(listener)

    def _call(self, name: str) -> None:
        self.calls.append((name, "in", time.monotonic()))
        time.sleep(0.05)
        self.calls.append((name, "out", time.monotonic()))

    def start(self, secrets) -> None:
        self._call("start")
        if self.fail_start:
            raise UserError("port 4000 is busy")
        self.state = ProxyState.RUNNING

    def stop(self) -> None:
        self._call("stop")
        self.state = ProxyState.STOPPED

    def restart(self, secrets) -> None:
        self._call("restart")

    def refresh(self) -> None:
        self._call("refresh")

    def apply(self, config, secrets) -> str:
        self._call("apply")
        return "applied to the proxy"

    def shutdown(self) -> None:
        self.calls.append(("shutdown", "in", time.monotonic()))


def test_actions_and_applies_never_overlap_and_run_in_order(tmp_path: Path) -> None:
    session = RecordingSession()
    failures = []
    controller = ProxyController(session, on_failure=lambda action, reason: failures.append((action, reason)),
                                 secrets=lambda config: None)
    controller.request(ProxyAction.START)
    applied: list[str] = []
    applier = threading.Thread(target=lambda: applied.append(controller.apply(object())))
    time.sleep(0.01)
    applier.start()  # while the start is running: waits for it
    controller.request(ProxyAction.STOP)
    applier.join(5)
    wait_until(lambda: ("stop", "out") in [(n, w) for n, w, _ in session.calls])
    names = [name for name, when, _ in session.calls if when == "in"]
    assert names[0] == "start" and set(names) == {"start", "apply", "stop"}
    spans = [(session.calls[i][2], session.calls[i + 1][2]) for i in range(0, len(session.calls), 2)]
    for (_, end), (begin, _) in zip(spans, spans[1:]):
        assert begin >= end, f"two calls overlapped: {session.calls}"
    assert applied == ["applied to the proxy"] and failures == []
    controller.shutdown()


def test_a_failed_action_is_reported_with_its_action_and_refreshes_do_not_pile_up() -> None:
    session = RecordingSession()
    session.fail_start = True
    failures = []
    controller = ProxyController(session, on_failure=lambda action, reason: failures.append((action, reason)),
                                 secrets=lambda config: None)
    controller.request(ProxyAction.START)
    for _ in range(20):
        controller.request(ProxyAction.REFRESH)  # asked each second; only one waits at a time
    wait_until(lambda: failures)
    assert failures == [(ProxyAction.START, "port 4000 is busy")]
    time.sleep(0.3)
    assert [name for name, when, _ in session.calls if when == "in"].count("refresh") == 1
    assert controller.toggle_action() is ProxyAction.START
    controller.shutdown()
    controller.request(ProxyAction.START)  # after shutdown: nothing happens
    time.sleep(0.1)
    assert [name for name, when, _ in session.calls if when == "in"].count("start") == 1


@pytest.mark.proxy
def test_a_real_session_connects_applies_and_shuts_down(tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.session import ProxySession

    import httpx

    path = write_config(tmp_path / "config", poe_base_url=poe.base_url, models=MODELS[:2])
    states = []
    session = ProxySession(load_config(path), StatePaths(tmp_path / "state"))
    controller = ProxyController(session, on_event=lambda event: states.append(getattr(event, "state", None)))
    controller.request(ProxyAction.CONNECT)
    try:
        wait_until(lambda: controller.state is ProxyState.RUNNING, timeout=120)
        assert controller.owner.startswith("own proxy, pid ")
        edited = apply_mapping_edit(path, MappingEdit.add(ModelMapping("gemini", "Gemini-2.5-Pro")))
        assert controller.apply(edited.config) == "applied to the proxy"
        answer = httpx.post(f"{session.url}/v1/messages", timeout=60,
                            headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"},
                            json={"model": "gemini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200
        assert controller.toggle_action() is ProxyAction.STOP
    finally:
        controller.shutdown()
    assert session.state is ProxyState.STOPPED and ProxyState.RUNNING in states
