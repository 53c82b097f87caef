"""Copying says what happened: tmux's buffer (a real tmux server), a clipboard tool, or OSC 52."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from claude_poe_tui.clipboard import CopyMethod, copy_text

SECRET = "sk-copy-me-0123456789abcdef"


@pytest.fixture
def tmux_server(tmp_path: Path):
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux")
    socket = tmp_path / "tmux.sock"
    subprocess.run(["tmux", "-S", str(socket), "new-session", "-d", "-s", "copy", "sleep 300"], check=True)
    pid = subprocess.run(["tmux", "-S", str(socket), "display", "-p", "#{pid}"], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        yield socket, f"{socket},{pid},0"  # what $TMUX holds inside that server's panes
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True)


def test_inside_tmux_the_text_lands_in_tmuxs_buffer(tmux_server) -> None:
    socket, tmux_variable = tmux_server
    result = copy_text(SECRET, environ={"TMUX": tmux_variable, "PATH": "/usr/bin:/bin"})
    assert result.method is CopyMethod.TMUX and result.certain
    shown = subprocess.run(["tmux", "-S", str(socket), "show-buffer"], capture_output=True, text=True, check=True)
    assert shown.stdout == SECRET
    message = result.message("Master key")
    assert "tmux's paste buffer" in message and SECRET not in message


class Recorder:
    """Stands in for subprocess.run: records commands and their stdin, fails the ones listed."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[list[str], bytes]] = []
        self.failing = failing

    def __call__(self, command, *, input, **kwargs):
        self.calls.append((command, input))
        assert kwargs["stdout"] is subprocess.DEVNULL, "a tool that stays behind must not hold our pipe"
        return subprocess.CompletedProcess(command, 1 if command[0] in self.failing else 0)


def installed(*names: str):
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_outside_tmux_a_clipboard_tool_takes_it_on_stdin() -> None:
    run = Recorder()
    result = copy_text(SECRET, environ={"DISPLAY": ":0"}, run=run, which=installed("xsel"), platform="linux")
    assert result.method is CopyMethod.TOOL and result.tool == "xsel"
    assert run.calls == [(["xsel", "--clipboard", "--input"], SECRET.encode())]
    assert result.message("Poe API key") == "Poe API key copied to the clipboard (with xsel)."


def test_a_failing_tmux_falls_back_to_a_tool_and_wayland_comes_first() -> None:
    run = Recorder(failing=("tmux",))
    environ = {"TMUX": "/tmp/x,1,0", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    result = copy_text(SECRET, environ=environ, run=run, which=installed("tmux", "wl-copy", "xclip"), platform="linux")
    assert [call[0][0] for call in run.calls] == ["tmux", "wl-copy"]
    assert result.method is CopyMethod.TOOL and result.tool == "wl-copy"


def test_with_nothing_to_copy_with_it_says_the_clipboard_may_not_have_it() -> None:
    run = Recorder(failing=("xclip",))
    result = copy_text(SECRET, environ={"DISPLAY": ":0"}, run=run, which=installed("xclip"), platform="linux")
    assert result.method is CopyMethod.OSC52 and not result.certain
    message = result.message("Master key")
    assert "OSC 52" in message and "may not have reached the clipboard" in message
    assert "xclip failed (exit status 1)" in message
    # macOS: pbcopy, whatever the display variables say.
    mac = copy_text(SECRET, environ={}, run=Recorder(), which=installed("pbcopy"), platform="darwin")
    assert mac.method is CopyMethod.TOOL and mac.tool == "pbcopy"


def test_a_hanging_tool_is_given_up_on() -> None:
    def hangs(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    result = copy_text(SECRET, environ={"WAYLAND_DISPLAY": "w"}, run=hangs, which=installed("wl-copy"), platform="linux")
    assert result.method is CopyMethod.OSC52 and "did not finish" in result.message("x")
