"""The real Claude Code CLI: the session id its status line gets is the one the proxy records.

Claude Code sends ``x-claude-code-session-id`` with each request (the request log's ``session``) and
gives its status-line command ``session_id``; ``-p --output-format json`` prints the same
``session_id``. So the points the proxy counts per session are the ones the status line shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MASTER_KEY, PoeStandin, RunningProxy, read_records

from claude_poe_tui.points.model import PointsKind


@pytest.mark.proxy
@pytest.mark.claude_code
def test_claude_codes_session_is_the_one_the_points_are_kept_for(
    tmp_path: Path, proxy: RunningProxy, poe: PoeStandin, claude_code_bin: Path,
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "HOME": str(home), "LANG": "C.UTF-8",
        "PATH": f"{claude_code_bin.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANTHROPIC_BASE_URL": proxy.url, "ANTHROPIC_AUTH_TOKEN": MASTER_KEY, "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_MODEL": "claude-sonnet-4-5-20250929",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5-20251001",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    seen = len(read_records(proxy.request_log))
    done = subprocess.run([str(claude_code_bin), "-p", "Say hello", "--output-format", "json"], env=env, cwd=work,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    session = json.loads(done.stdout)["session_id"]
    time.sleep(0.5)
    mine = [r for r in read_records(proxy.request_log)[seen:] if r["path"] == "/v1/messages"]
    assert mine and {r["session"] for r in mine} == {session}

    # The proxy's own points service (the only writer of the points files) settles the session's
    # requests from Poe's history; it polls while requests wait for their points.
    from claude_poe_tui.points.report import latest_lines

    ids = {r["id"] for r in mine}
    deadline = time.monotonic() + 90
    while True:
        lines = [line for line in latest_lines(proxy.request_log, 0).values() if line.id in ids]
        if len(lines) == len(ids) and all(line.kind is not PointsKind.ESTIMATED for line in lines):
            break
        assert time.monotonic() < deadline, lines
        time.sleep(0.2)
    assert {line.session for line in lines} == {session}
    points = sum(line.points for line in lines)
    stdin = json.dumps({"session_id": session, "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet"}})
    shown = subprocess.run([str(Path(sys.executable).parent / "claude-poe-tui"), "statusline", "--log",
                            str(proxy.request_log)], input=stdin, capture_output=True, text=True, timeout=30).stdout
    assert shown.startswith(f"Claude-Sonnet-4.5 · session {points:,.0f} pts · balance "), shown
