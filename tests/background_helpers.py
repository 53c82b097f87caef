"""A user's machine with a background proxy: run the CLI, read the serve's files, clean up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cli_setup_helpers import Sandbox, make_sandbox
from conftest import MASTER_KEY, PoeStandin, free_port, write_config


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def ask(url: str, model: str = "claude-haiku-4-5-20251001", key: str = MASTER_KEY) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages",
        json={"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        timeout=120,
    )


def serve_processes(config: Path) -> list[int]:
    """Living `serve --background` processes for ``config``, found in /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--background" in argv and str(config).encode() in argv and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@dataclass
class Machine:
    box: Sandbox
    port: int

    @property
    def config(self) -> Path:
        return self.box.config

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.box.state / "run" / str(self.port)

    def cli(self, *args: str, timeout: float = 240.0, **env: str) -> subprocess.CompletedProcess[str]:
        return self.box.run(*args, timeout=timeout, env=self.box.env(**env))

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "claude_poe_tui", "--config", str(self.config), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.box.env(**env),
            cwd=self.box.project, stdin=subprocess.DEVNULL,
        )

    def record(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "serve.json").read_text())

    def status(self) -> tuple[int, dict[str, Any]]:
        done = self.cli("status", "--json")
        return done.returncode, json.loads(done.stdout)

    def log(self) -> str:
        path = self.run_dir / "serve.log"
        return path.read_text() if path.exists() else ""

    def cleanup(self) -> None:
        """Whatever a test left: stop it, and kill what would not stop."""
        pid_file = self.run_dir / "serve.pid"
        pids = serve_processes(self.config)
        if pid_file.exists() and pid_file.read_text().strip().isdigit():
            pids.append(int(pid_file.read_text().strip()))
        try:
            self.cli("stop", timeout=90)
        except subprocess.TimeoutExpired:
            pass
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def make_machine(root: Path, poe: PoeStandin, *, proxy_settings: str = "", **config_kwargs: Any) -> Machine:
    box = make_sandbox(root)
    port = free_port()
    path = write_config(box.config.parent, poe_base_url=poe.base_url, port=port, **config_kwargs)
    if proxy_settings:
        path.write_text(path.read_text().replace('master_key = "env:LITELLM_MASTER_KEY"',
                                                 'master_key = "env:LITELLM_MASTER_KEY"\n' + proxy_settings, 1))
    return Machine(box, port)
