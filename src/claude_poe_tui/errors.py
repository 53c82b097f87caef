"""Errors a user can act on. The CLI prints their message, one line, and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Something the user can fix; ``str()`` says what and, where known, how."""

    exit_code = 2


class ConfigError(UserError):
    """The config file cannot be used as it is. Names the file, and the line and key when known."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None, key: str | None = None):
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        where = str(self.path) if self.path else "config"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


class MissingSecretError(UserError):
    """An ``env:NAME`` reference that is set nowhere."""


class PortInUseError(UserError):
    def __init__(self, host: str, port: int, detail: str = ""):
        self.host = host
        self.port = port
        hint = f" ({detail})" if detail else ""
        super().__init__(
            f"port {port} on {host} is already in use{hint}; stop what is using it or set "
            f"[proxy] port to a free port"
        )
