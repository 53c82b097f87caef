"""Where claude-poe-tui keeps its files.

* config: ``--config PATH``, else ``$CLAUDE_POE_TUI_CONFIG``, else ``<config dir>/config.toml``.
* state (request log, compiled proxy config, catalog cache): ``$CLAUDE_POE_TUI_STATE_DIR``, else
  ``$XDG_STATE_HOME/claude-poe-tui`` (``~/.local/state/claude-poe-tui``).

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

    @classmethod
    def default(cls) -> StatePaths:
        return cls(user_state_dir())
