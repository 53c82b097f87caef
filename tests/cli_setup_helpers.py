"""Running the real CLI in a subprocess, with a home, config dir and state dir of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Sandbox:
    """A user's machine in a folder: HOME, the config (and its .env), the state, a project."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def config(self) -> Path:
        return self.root / "conf" / "config.toml"

    @property
    def dotenv(self) -> Path:
        return self.config.parent / ".env"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def project(self) -> Path:
        path = self.root / "project"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "CLAUDE_CODE_", "CLAUDE_POE_TUI_")) and k not in ("POE_API_KEY", "LITELLM_MASTER_KEY")
        }
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_STATE_HOME=str(self.home / ".local" / "state"),
            CLAUDE_POE_TUI_STATE_DIR=str(self.state),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0,
            cwd: Path | None = None, with_config: bool = True) -> subprocess.CompletedProcess[str]:
        head = ["--config", str(self.config)] if with_config else []
        return subprocess.run(
            [sys.executable, "-m", "claude_poe_tui", *head, *args],
            capture_output=True,
            text=True,
            env=env if env is not None else self.env(),
            cwd=cwd or self.project,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def make_sandbox(root: Path) -> Sandbox:
    sandbox = Sandbox(root)
    sandbox.home.mkdir(parents=True, exist_ok=True)
    return sandbox
