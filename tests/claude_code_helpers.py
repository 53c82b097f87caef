"""Running `claude-poe-tui serve` and the real Claude Code CLI the way a user does."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path


class Serve:
    """`claude-poe-tui serve` as a user runs it, its output collected."""

    def __init__(self, config: Path, env: dict[str, str]):
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "claude-poe-tui: ready in" in line:
                self.ready.set()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(30)


def claude_env_from_cli(config: Path, env: dict[str, str]) -> dict[str, str]:
    """What `eval "$(claude-poe-tui env)"` would set (its `unset` lines name nothing to set)."""
    printed = subprocess.run([sys.executable, "-m", "claude_poe_tui", "env", "--config", str(config), "--shell", "sh"],
                             env=env, capture_output=True, text=True, check=True).stdout
    claude_env = {}
    for line in printed.splitlines():
        if not line.startswith("export "):
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        claude_env[name] = shlex.split(value)[0] if value else ""
    return claude_env


def claude_home(root: Path) -> tuple[Path, Path]:
    """A home of its own for Claude Code (no onboarding, the work folder trusted), and that folder."""
    home, work = root / "home", root / "work"
    work.mkdir(parents=True, exist_ok=True)
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    (home / ".claude.json").write_text(
        '{"hasCompletedOnboarding": true, "theme": "dark", "projects": {"%s": '
        '{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}}}' % work
    )
    return home, work


def claude_environment(binary: Path, home: Path, claude_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        **claude_env,
        **extra,
    }


def run_claude(binary: Path, root: Path, claude_env: dict[str, str], *args: str, timeout: float = 300,
               **extra: str) -> subprocess.CompletedProcess[str]:
    """``claude ARGS`` non-interactively, in ``root/work`` with ``root/home`` as its home."""
    home, work = claude_home(root)
    return subprocess.run([str(binary), *args], env=claude_environment(binary, home, claude_env, **extra), cwd=work,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
