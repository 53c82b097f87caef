"""`service install|uninstall|status`: the systemd user unit and the launchd agent, their content
(checked by `systemd-analyze verify` where it exists), and what install and uninstall do."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claude_poe_tui.commands.service import launchd_plist, serve_command, systemd_quote, systemd_unit
from claude_poe_tui.config import load_config
from cli_setup_helpers import make_sandbox
from conftest import PoeStandin, write_config

RECORDING_SYSTEMCTL = """#!/bin/sh
echo "$@" >> {record}
case "$*" in
  *is-enabled*) echo enabled ;;
  *is-active*) echo active ;;
esac
exit 0
"""


def odd_config(tmp_path: Path, poe: PoeStandin) -> Path:
    """A config in a folder whose name holds what unit files treat specially: spaces, %, $, quotes."""
    folder = tmp_path / 'my "conf" 100% $HOME'
    path = write_config(folder, poe_base_url=poe.base_url)
    path.write_text(path.read_text().replace('master_key = "env:LITELLM_MASTER_KEY"',
                                             'master_key = "env:LITELLM_MASTER_KEY"\ndrain_seconds = 12', 1))
    return path


def unit_words(line: str) -> list[str]:
    """ExecStart's words as systemd reads them (double quotes, C escapes, %% and $$)."""
    words = shlex.split(line.split("=", 1)[1])
    return [w.replace("%%", "%").replace("$$", "$") for w in words]


def test_the_systemd_unit_runs_serve_with_this_python_and_the_config(tmp_path: Path, poe: PoeStandin) -> None:
    config = load_config(odd_config(tmp_path, poe))
    command = serve_command(config.path)
    unit = systemd_unit(config, command, tmp_path / "state 50%")
    lines = unit.splitlines()
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert unit_words(exec_start) == [sys.executable, "-m", "claude_poe_tui", "--config", str(config.path), "serve"]
    assert '100%% $$HOME' in exec_start and '\\"conf\\"' in exec_start
    for expected in ("[Unit]", "[Service]", "Type=simple", "Restart=on-failure", "RestartSec=5", "KillMode=mixed",
                     "TimeoutStopSec=22", "Environment=PYTHONUNBUFFERED=1", "[Install]", "WantedBy=default.target",
                     f"Description=claude-poe-tui: Claude Code on Poe, proxy on {config.base_url}"):
        assert expected in lines, expected
    assert any(line.startswith("ExecReload=") and line.endswith("kill -USR1 $MAINPID") for line in lines)
    assert f'Environment="CLAUDE_POE_TUI_STATE_DIR={tmp_path}/state 50%%"' in lines
    assert systemd_quote('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path, poe: PoeStandin) -> None:
    config = load_config(odd_config(tmp_path, poe))
    unit_path = tmp_path / "units" / "claude-poe-tui.service"
    unit_path.parent.mkdir()
    unit_path.write_text(systemd_unit(config, serve_command(config.path), tmp_path / "state"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in done.stderr.splitlines() if "claude-poe-tui.service" in line]
    assert done.returncode == 0 and complaints == [], done.stderr
    # The check is real: a broken line in the same unit is reported.
    unit_path.write_text(unit_path.read_text().replace("Type=simple", "Type=simpel"))
    broken = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True, text=True, timeout=60)
    assert "Failed to parse service type" in broken.stderr


def test_the_launchd_agent_runs_serve_at_login(tmp_path: Path, poe: PoeStandin) -> None:
    config = load_config(odd_config(tmp_path, poe))
    agent = plistlib.loads(launchd_plist(config, serve_command(config.path), tmp_path / "state"))
    assert agent["Label"] == "claude-poe-tui.serve"
    assert agent["ProgramArguments"] == [sys.executable, "-m", "claude_poe_tui", "--config", str(config.path), "serve"]
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["ExitTimeOut"] == 22
    assert agent["StandardOutPath"] == agent["StandardErrorPath"] == str(tmp_path / "state" / "service.log")
    assert agent["EnvironmentVariables"]["CLAUDE_POE_TUI_STATE_DIR"] == str(tmp_path / "state")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd user units are for Linux")
def test_install_status_and_uninstall_drive_systemctl(tmp_path: Path, poe: PoeStandin) -> None:
    """No user systemd runs here: a systemctl on PATH records what it is asked, so what we ask is pinned."""
    box = make_sandbox(tmp_path)
    write_config(box.config.parent, poe_base_url=poe.base_url)
    record = tmp_path / "systemctl.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(RECORDING_SYSTEMCTL.format(record=record))
    (bin_dir / "systemctl").chmod(0o755)
    env = box.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    unit = box.home / ".config" / "systemd" / "user" / "claude-poe-tui.service"

    assert box.run("service", "status", env=env).returncode == 3
    printed = box.run("service", "install", "--print", env=env)
    assert printed.returncode == 0 and "ExecStart=" in printed.stdout and not unit.exists()

    installed = box.run("service", "install", env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert unit.read_text() == printed.stdout
    assert f"wrote {unit}" in installed.stdout and "journalctl --user -u claude-poe-tui.service" in installed.stdout
    assert record.read_text().splitlines() == ["--user daemon-reload", "--user enable --now claude-poe-tui.service"]

    status = box.run("service", "status", env=env)
    assert status.returncode == 0 and f"installed: {unit}" in status.stdout and "active     active" in status.stdout

    removed = box.run("service", "uninstall", env=env)
    assert removed.returncode == 0 and not unit.exists()
    assert record.read_text().splitlines()[-2:] == ["--user disable --now claude-poe-tui.service", "--user daemon-reload"]
    assert box.run("service", "status", env=env).returncode == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd user units are for Linux")
def test_install_without_a_reachable_systemd_says_what_to_run(tmp_path: Path, poe: PoeStandin) -> None:
    box = make_sandbox(tmp_path)
    write_config(box.config.parent, poe_base_url=poe.base_url)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text('#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n')
    (bin_dir / "systemctl").chmod(0o755)
    done = box.run("service", "install", env=box.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"))
    assert done.returncode == 1
    assert "(Failed to connect to bus: No medium found); in your login session run: systemctl --user daemon-reload" \
           " && systemctl --user enable --now claude-poe-tui.service" in done.stdout
    assert (box.home / ".config" / "systemd" / "user" / "claude-poe-tui.service").exists()


def test_install_warns_when_a_key_lives_only_in_the_shell(tmp_path: Path, poe: PoeStandin) -> None:
    box = make_sandbox(tmp_path)
    write_config(box.config.parent, poe_base_url=poe.base_url, dotenv={"LITELLM_MASTER_KEY": "sk-master-test-0123456789abcdef01"})
    done = box.run("service", "install", "--print", env=box.env(POE_API_KEY="poe-from-the-shell-123"))
    assert done.returncode == 0  # --print installs nothing, and warns nothing either
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "systemctl").chmod(0o755)
    done = box.run("service", "install",
                   env=box.env(POE_API_KEY="poe-from-the-shell-123", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"))
    assert done.returncode == 0
    assert "the service does not see your shell's environment: put it in" in done.stdout
    assert "poe-from-the-shell-123" not in done.stdout
