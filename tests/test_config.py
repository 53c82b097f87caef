"""Reading the TOML config: the typed model, defaults, and errors that name file, line and key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from claude_poe_tui.config import Route, load_config, parse_config, resolve_secrets
from claude_poe_tui.errors import ConfigError, MissingSecretError

ISSUE_EXAMPLE = """\
[proxy]
host = "127.0.0.1"
port = 4000
master_key = "env:LITELLM_MASTER_KEY"   # what Claude Code sends as its token

[poe]
api_key = "env:POE_API_KEY"
base_url = "https://api.poe.com/v1"      # overridable: tests, corporate gateways

[[models]]
name = "claude-sonnet-4-5-20250929"      # the model name Claude Code asks for
poe_model = "Claude-Sonnet-4.5"          # the Poe bot that answers it
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_documented_shape_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ISSUE_EXAMPLE), environ={})
    assert config.proxy.host == "127.0.0.1" and config.proxy.port == 4000
    assert config.poe.base_url == "https://api.poe.com/v1"
    (mapping,) = config.models
    assert mapping.name == "claude-sonnet-4-5-20250929"
    assert mapping.poe_model == "Claude-Sonnet-4.5"
    assert mapping.effective_route is Route.MESSAGES
    assert config.base_url == "http://127.0.0.1:4000"


def test_routes_default_by_bot_and_can_be_forced(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE + '\n[[models]]\nname = "gpt"\npoe_model = "GPT-5"\n' \
        '\n[[models]]\nname = "forced"\npoe_model = "Claude-Opus-4.5"\nroute = "chat"\n'
    config = load_config(write(tmp_path, text), environ={})
    routes = {m.name: m.effective_route for m in config.models}
    assert routes == {"claude-sonnet-4-5-20250929": Route.MESSAGES, "gpt": Route.CHAT, "forced": Route.CHAT}


def test_an_empty_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    assert config.proxy.port == 4000 and config.proxy.host == "127.0.0.1"
    assert config.proxy.master_key == "env:LITELLM_MASTER_KEY" and config.poe.api_key == "env:POE_API_KEY"
    assert config.models == ()


def test_seed_port_variable_is_honoured_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LITELLM_PORT=4123\n")
    config = load_config(write(tmp_path, '[poe]\napi_key = "env:POE_API_KEY"\n'), environ={})
    assert config.proxy.port == 4123
    config = load_config(write(tmp_path, '[proxy]\nport = "env:MY_PORT"\n'), environ={"MY_PORT": "4555"})
    assert config.proxy.port == 4555


@pytest.mark.parametrize(
    "text,line,key,words",
    [
        ("[proxy]\nport = 4000\nhots = \"x\"\n", 3, "proxy.hots", ["unknown key", "did you mean 'host'"]),
        ("[proxy]\nport = \"four\"\n", 2, "proxy.port", ["port number"]),
        ("[proxy]\nport = 99999\n", 2, "proxy.port", ["between 1 and 65535"]),
        ("[poe]\nbase_url = 42\n", 2, "poe.base_url", ["must be a string"]),
        ("[poe]\nbase_url = \"api.poe.com\"\n", 2, "poe.base_url", ["http(s) URL"]),
        ("[prxy]\nport = 1\n", 1, "prxy", ["unknown key", "did you mean 'proxy'"]),
        ("[[models]]\nname = \"a\"\npoe_modle = \"B\"\n", 3, "models[0].poe_modle", ["did you mean 'poe_model'"]),
        ("[[models]]\nname = \"a\"\n", 1, "models[0]", ["no 'poe_model'"]),
        ("[[models]]\nname = \"a\"\npoe_model = \"B\"\n\n[[models]]\nname = \"a\"\npoe_model = \"C\"\n", 6,
         "models[1].name", ["already mapped"]),
        ("[[models]]\nname = \"a\"\npoe_model = \"B\"\nroute = \"fast\"\n", 4, "models[0].route",
         ["'auto', 'messages', 'chat'"]),
        ("[log]\nenabled = \"yes\"\n", 2, "log.enabled", ["true or false"]),
        ("[proxy]\nmaster_key = \"env:BAD-NAME\"\n", 2, "proxy.master_key", ["env:NAME"]),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, line: int, key: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    error = caught.value
    assert (error.path, error.line, error.key) == (path, line, key)
    message = str(error)
    assert message.startswith(f"{path}:{line}: {key}: ")
    for word in words:
        assert word in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[proxy]\nport = 4000\nhost "127.0.0.1"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.line == 3
    assert "not valid TOML" in str(caught.value)


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="claude-poe-tui init"):
        load_config(tmp_path / "nope.toml", environ={})


def test_secrets_resolve_from_environment_then_dotenv(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE)
    (tmp_path / ".env").write_text('POE_API_KEY="from-dotenv"\nexport LITELLM_MASTER_KEY=sk-dotenv # comment\n')
    config = load_config(path, environ={})
    secrets = resolve_secrets(config, environ={"POE_API_KEY": "from-env"})
    assert secrets.poe_api_key == "from-env" and secrets.poe_api_key_origin == "environment $POE_API_KEY"
    assert secrets.master_key == "sk-dotenv" and secrets.master_key_origin == f".env {tmp_path / '.env'}"


def test_missing_secret_names_the_variable_and_where_it_looked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ISSUE_EXAMPLE), environ={})
    with pytest.raises(MissingSecretError) as caught:
        resolve_secrets(config, environ={"LITELLM_MASTER_KEY": "sk-x"})
    message = str(caught.value)
    assert "POE_API_KEY" in message and "environment" in message and str(tmp_path / ".env") in message


def test_literal_keys_are_allowed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[poe]\napi_key = "literal-poe"\n[proxy]\nmaster_key = "sk-lit"\n'), environ={})
    secrets = resolve_secrets(config, environ={})
    assert (secrets.poe_api_key, secrets.master_key) == ("literal-poe", "sk-lit")
    assert secrets.poe_api_key_origin.startswith("config ")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_poe_tui", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("command", ["serve", "compile"])
def test_cli_bad_config_is_one_line_no_traceback_file_untouched(tmp_path: Path, command: str) -> None:
    text = "[proxy]\nport = 4000\nmaster_kye = \"env:LITELLM_MASTER_KEY\"\n"
    path = write(tmp_path, text)
    before = path.stat()
    result = run_cli(command, "--config", str(path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1
    assert f"{path}:3: proxy.master_kye" in error_lines[0] and "did you mean 'master_key'" in error_lines[0]
    assert path.read_text() == text and path.stat().st_mtime_ns == before.st_mtime_ns


def test_cli_serve_missing_key_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE)
    result = run_cli("serve", "--config", str(path), env={"LITELLM_MASTER_KEY": "sk-123456"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "POE_API_KEY" in result.stderr and "is not set" in result.stderr


def test_config_found_by_env_variable_then_user_dir(tmp_path: Path, isolated_home: Path) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE)
    result = run_cli("compile", env={"CLAUDE_POE_TUI_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert "poe/Claude-Sonnet-4.5" in result.stdout
    user_config = isolated_home / ".config" / "claude-poe-tui" / "config.toml"
    user_config.parent.mkdir(parents=True, exist_ok=True)
    user_config.write_text(ISSUE_EXAMPLE.replace("Claude-Sonnet-4.5", "Claude-Opus-4.5"))
    try:
        result = run_cli("compile")
        assert result.returncode == 0, result.stderr
        assert "poe/Claude-Opus-4.5" in result.stdout
    finally:
        user_config.unlink()


def test_parse_config_is_pure(tmp_path: Path) -> None:
    config = parse_config(ISSUE_EXAMPLE, tmp_path / "x.toml", environ={})
    assert config.path == tmp_path / "x.toml"
    assert not (tmp_path / "x.toml").exists()
