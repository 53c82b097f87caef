"""Shared fixtures: an isolated home, the stand-in Poe server, configs, and real proxy children."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

TESTS_DIR = Path(__file__).parent
POE_KEY = "poe-test-key-0123456789"
MASTER_KEY = "sk-master-test-0123456789abcdef01"

# The mappings most proxy tests use: a Claude bot (untranslated /v1/messages route) and non-Claude
# bots (translated chat route).
DEFAULT_MODELS = (
    ("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),
    ("claude-opus-4-5-20251101", "Claude-Opus-4.5"),
    ("claude-haiku-4-5-20251001", "GPT-4o"),
    ("gpt-5", "GPT-5"),
    ("gemini", "Gemini-2.5-Pro"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered at {url} within {timeout} s")


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test reads or writes the real user's config, state or Claude Code settings."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
        for name in ("CLAUDE_POE_TUI_CONFIG", "CLAUDE_POE_TUI_STATE_DIR", "POE_API_KEY", "LITELLM_MASTER_KEY",
                     "LITELLM_PORT", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"):
            patch.delenv(name, raising=False)
        yield home


@dataclass
class PoeStandin:
    url: str  # http://127.0.0.1:PORT (Poe's root, where /usage lives)
    key: str
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def fault(self, status: int = 200, *, count: int = 1, message: str = "", retry_after: str | None = None,
              delay: float = 0.0, kind: str = "", after: int = 1, path: str | None = None,
              body: str | None = None) -> None:
        """Queue a failure (``status``), or a broken answer (``kind``: reset, cut, badjson, early_end,
        stall); ``path`` limits it to one endpoint (``/usage/points_history``), ``body`` is a raw answer."""
        spec: dict[str, Any] = {"status": status, "count": count, "message": message, "delay": delay,
                                "kind": kind, "after": after}
        if retry_after is not None:
            spec["retry_after"] = retry_after
        if path is not None:
            spec["path"] = path
        if body is not None:
            spec["body"] = body
        httpx.post(f"{self.url}/_standin/faults", json=spec).raise_for_status()

    def spend(self, bot: str, points: int, *, usage_type: str = "API", when: float | None = None,
              count: int = 1) -> None:
        """Entries in the points history as if spent elsewhere (``when``: Unix seconds)."""
        spec: dict[str, Any] = {"bot": bot, "points": points, "usage_type": usage_type, "count": count}
        if when is not None:
            spec["creation_time"] = int(when * 1_000_000)
        httpx.post(f"{self.url}/_standin/spend", json=spec).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_standin/requests").json()

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_standin/requests").raise_for_status()


def start_standin(*extra_args: str) -> PoeStandin:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TESTS_DIR / "poe_standin.py"), "--port", str(port), "--key", POE_KEY, *extra_args],
    )
    standin = PoeStandin(url=f"http://127.0.0.1:{port}", key=POE_KEY, process=process)
    wait_for_http(f"{standin.url}/v1/models")
    return standin


@pytest.fixture(scope="session")
def poe() -> Iterator[PoeStandin]:
    standin = start_standin()
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


@pytest.fixture
def poe_clean(poe: PoeStandin) -> PoeStandin:
    """The stand-in with no queued faults and an empty request record."""
    poe.clear()
    return poe


def write_config(
    directory: Path,
    *,
    poe_base_url: str,
    port: int | None = None,
    models: tuple[tuple[str, str], ...] = DEFAULT_MODELS,
    extra: str = "",
    proxy_extra: str = "",
    dotenv: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> Path:
    """A config file like a user's, with keys in the .env beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "# claude-poe-tui config written by the tests",
        "[proxy]",
        f'host = "{host}"',
        f"port = {port or free_port()}",
        'master_key = "env:LITELLM_MASTER_KEY"',
        *proxy_extra.splitlines(),
        "",
        "[poe]",
        'api_key = "env:POE_API_KEY"',
        f'base_url = "{poe_base_url}"',
        "",
    ]
    for name, bot in models:
        lines += ["[[models]]", f'name = "{name}"', f'poe_model = "{bot}"', ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + extra)
    env = {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": MASTER_KEY} if dotenv is None else dotenv
    if env:
        (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        os.chmod(directory / ".env", 0o600)
    return path


OFFLINE_POE = "http://127.0.0.1:9/v1"  # nothing listens there


def offline_dashboard(tmp_path: Path):
    """The dashboard over a fresh config whose Poe is unreachable, with no proxy started."""
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.ui.app import PoeTuiApp

    config = write_config(tmp_path / "config", poe_base_url=OFFLINE_POE)
    return PoeTuiApp(config, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)


@dataclass
class RunningProxy:
    process: Any  # ProxyProcess
    config_path: Path
    state_dir: Path

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def master_key(self) -> str:
        return MASTER_KEY

    @property
    def request_log(self) -> Path:
        return self.process.request_log_path

    def anthropic(self, **kwargs: Any):
        import anthropic

        return anthropic.Anthropic(base_url=self.url, api_key=MASTER_KEY, max_retries=0, **kwargs)


def start_proxy(directory: Path, poe: PoeStandin, **config_kwargs: Any) -> RunningProxy:
    from claude_poe_tui.config import load_config, resolve_secrets
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.proxy.parent.process import ProxyProcess

    config_path = write_config(directory / "config", poe_base_url=poe.base_url, **config_kwargs)
    config = load_config(config_path)
    state_dir = directory / "state"
    process = ProxyProcess(config, resolve_secrets(config), StatePaths(state_dir))
    process.start()
    try:
        process.wait_ready(timeout=120)
    except BaseException:
        process.stop()
        raise
    return RunningProxy(process=process, config_path=config_path, state_dir=state_dir)


@pytest.fixture(scope="session")
def proxy(poe: PoeStandin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """One real LiteLLM proxy child for the session, in front of the stand-in."""
    running = start_proxy(tmp_path_factory.mktemp("proxy"), poe)
    yield running
    running.process.stop()


def read_records(path: Path, at_least: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The request log's records, waiting (briefly) for the writer thread to catch up."""
    deadline = time.monotonic() + timeout
    while True:
        records = []
        if path.exists():
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if len(records) >= at_least or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


# --- the real Claude Code CLI ------------------------------------------------------------------

NPM_CACHE_DIR = Path(tempfile.gettempdir()) / "claude-poe-tui-tests" / "claude-code"


@pytest.fixture(scope="session")
def claude_code_bin() -> Path:
    """The real Claude Code CLI: $CLAUDE_CODE_BIN, else installed from the npm registry into a cache."""
    for candidate in (os.environ.get("CLAUDE_CODE_BIN"), NPM_CACHE_DIR / "node_modules" / ".bin" / "claude"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("Claude Code is not installed and npm is not available to install it")
    NPM_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--prefix", str(NPM_CACHE_DIR), "--no-audit", "--no-fund",
                    "@anthropic-ai/claude-code"], check=True, capture_output=True, timeout=600)
    return NPM_CACHE_DIR / "node_modules" / ".bin" / "claude"
