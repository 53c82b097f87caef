"""The first run with Poe out of reach, as a new user meets it: in tmux, from an empty home.

`claude-poe-tui` with no config asks for the key once; Poe does not answer at its default URL
(nothing is reachable from the tests), so the way on is offered in place: a retry (still out of
reach), then another base URL (the stand-in), and the dashboard opens on the new config. tmux
drives the real program in a real terminal (send-keys) and reads its screen (capture-pane).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import POE_KEY, PoeStandin, free_port

pytestmark = [pytest.mark.proxy, pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


class Tmux:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, timeout=30)
        return done.stdout

    def screen(self, history: bool = False) -> str:
        return self("capture-pane", "-p", "-t", "first", *(["-S", "-"] if history else []))

    def wait_for(self, text: str, timeout: float = 60.0, history: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(history)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")
            time.sleep(0.2)


def test_first_run_offline_in_tmux(tmp_path: Path, poe: PoeStandin) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = Path(sys.executable).parent
    port = free_port()
    env = (f"env -i HOME={home} PATH={bin_dir}:/usr/bin:/bin TERM=xterm-256color LANG=C.UTF-8 "
           f"CLAUDE_POE_TUI_STATE_DIR={tmp_path / 'state'} LITELLM_PORT={port}")
    command = f"{env} {sys.executable} -m claude_poe_tui; echo EXITED $?; sleep 600"
    tmux = Tmux(tmp_path / "tmux.sock")
    tmux("new-session", "-d", "-s", "first", "-x", "80", "-y", "24", command)
    try:
        tmux.wait_for("Poe API key:")
        tmux("send-keys", "-t", "first", POE_KEY, "Enter")
        tmux.wait_for("Choose [r/u/s/q]:")
        screen = tmux.screen()
        assert "try again" in screen and "use another base URL" in screen and "skip the check" in screen
        tmux("send-keys", "-t", "first", "r", "Enter")  # still out of reach: asked again, not the key
        deadline = time.monotonic() + 60
        while tmux.screen(history=True).count("Choose [r/u/s/q]:") < 2:
            assert time.monotonic() < deadline, tmux.screen(history=True)
            time.sleep(0.2)
        tmux("send-keys", "-t", "first", "u", "Enter")
        tmux.wait_for("Poe's API base URL")
        tmux("send-keys", "-t", "first", poe.base_url, "Enter")
        screen = tmux.wait_for("asks for", timeout=60)  # the dashboard's Models table, at 80x24
        assert "claude-opus-4-5" in screen
        tmux.wait_for("running", timeout=120)
        tmux("send-keys", "-t", "first", "C-q")
        history = tmux.wait_for("EXITED 0", timeout=60, history=True)
        assert history.count("Poe API key:") == 1, history  # typed once
        assert "✓ Poe accepted the key" in history
        config = (home / ".config" / "claude-poe-tui" / "config.toml").read_text()
        assert f'base_url = "{poe.base_url}"' in config and f"port = {port}" in config
        assert POE_KEY not in history
    finally:
        tmux("kill-server")
