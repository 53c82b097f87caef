"""Where claude-poe-tui keeps its files.

* config: ``--config PATH``, else ``$CLAUDE_POE_TUI_CONFIG``, else ``<config dir>/config.toml``.
* state (request log, compiled proxy config, catalog cache, the background proxy's pid, locks and
  output): ``$CLAUDE_POE_TUI_STATE_DIR``, else ``$XDG_STATE_HOME/claude-poe-tui``
  (``~/.local/state/claude-poe-tui``).

Nothing here creates a directory: callers do, when they write.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "claude-poe-tui"
CONFIG_ENV = "CLAUDE_POE_TUI_CONFIG"
STATE_ENV = "CLAUDE_POE_TUI_STATE_DIR"


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def user_config_dir() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("APPDATA")
        return Path(base) / APP_NAME if base else _home() / "AppData" / "Roaming" / APP_NAME
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else _home() / ".config") / APP_NAME


def user_state_dir() -> Path:
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / APP_NAME if base else _home() / "AppData" / "Local" / APP_NAME
    base = os.environ.get("XDG_STATE_HOME")
    return (Path(base) if base else _home() / ".local" / "state") / APP_NAME


@dataclass(frozen=True)
class ConfigLocation:
    path: Path
    source: str  # "--config", "$CLAUDE_POE_TUI_CONFIG" or "user config directory"


def locate_config(cli_path: str | os.PathLike[str] | None = None) -> ConfigLocation:
    if cli_path:
        return ConfigLocation(Path(cli_path).expanduser(), "--config")
    env_path = os.environ.get(CONFIG_ENV)
    if env_path:
        return ConfigLocation(Path(env_path).expanduser(), f"${CONFIG_ENV}")
    return ConfigLocation(user_config_dir() / "config.toml", "user config directory")


@dataclass(frozen=True)
class StatePaths:
    """The files the product writes outside the user's config."""

    root: Path

    @property
    def request_log(self) -> Path:
        return self.root / "requests.jsonl"

    def request_log_for(self, configured: str) -> Path:
        """The request log: ``[log] path`` when set, else the one in the state folder."""
        return Path(configured).expanduser() if configured else self.request_log

    @property
    def catalog_cache(self) -> Path:
        return self.root / "poe-models.json"

    def run_dir(self, port: int) -> Path:
        """Compiled proxy config and the proxy's own output, one folder per port."""
        return self.root / "run" / str(port)

    def serve_files(self, port: int) -> ServeFiles:
        """The files of the ``serve`` process on ``port`` (pid, state, locks, background output)."""
        return ServeFiles(self.run_dir(port))

    @classmethod
    def default(cls) -> StatePaths:
        return cls(user_state_dir())


@dataclass(frozen=True)
class ServeFiles:
    """What a ``serve`` process leaves in the run folder of its port, for ``status``, ``stop`` and
    the dashboard. Each file has one writer; ``serve.lock`` tells whether that writer still lives."""

    run_dir: Path

    @property
    def pid(self) -> Path:
        """The ``serve`` process's pid, one line (for ``kill $(cat …)`` and other tools)."""
        return self.run_dir / "serve.pid"

    @property
    def record(self) -> Path:
        """JSON: pid, mode, state, the proxy child's pid, config, output file, idle stop."""
        return self.run_dir / "serve.json"

    @property
    def lock(self) -> Path:
        """Held (``flock``, exclusive) by the ``serve`` process for its whole life: a pid file left
        by a dead process is recognised because nobody holds this any more."""
        return self.run_dir / "serve.lock"

    @property
    def start_lock(self) -> Path:
        """Held by ``start``, ``stop`` and the ``claude`` launcher while they decide and act, so two
        at the same moment leave exactly one proxy."""
        return self.run_dir / "start.lock"

    @property
    def output(self) -> Path:
        """The background proxy's output (ours and the proxy child's), rotated by size."""
        return self.run_dir / "serve.log"
