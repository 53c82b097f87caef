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


# --- settings for fallbacks, limits, budgets, team members -----------------------------------

TEAM_EXAMPLE = """\
[proxy]
stop_when_idle = "2h"
drain_seconds = 10
workers = 2

[poe]
api_keys = ["env:POE_KEY_A", "env:POE_KEY_B"]

[redis]
url = "env:REDIS_URL"

[budget]
session_points = 5000
daily_points = 50000

[[models]]
name = "claude-sonnet-5"
poe_model = "Claude-Sonnet-5"
fallbacks = ["gpt-5", "haiku"]
context_window = 200000
rpm = 500

[[models]]
name = "gpt-5"
poe_model = "GPT-5"
max_output_tokens = 16384

[[models]]
name = "haiku"
poe_model = "Claude-Haiku-4.5"

[[clients]]
name = "alice"
key = "env:ALICE_TOKEN"
"""


def test_fallbacks_limits_budgets_and_members_load(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TEAM_EXAMPLE), environ={})
    sonnet, gpt, _ = config.models
    assert sonnet.fallbacks == ("gpt-5", "haiku") and sonnet.context_window == 200000 and sonnet.rpm == 500
    assert gpt.max_output_tokens == 16384 and gpt.fallbacks == () and gpt.context_window is None
    assert config.proxy.stop_when_idle_seconds == 7200 and config.proxy.workers == 2
    assert config.poe.api_keys == ("env:POE_KEY_A", "env:POE_KEY_B")
    assert config.budget.session_points == 5000 and config.budget.min_balance is None
    assert config.clients[0].name == "alice" and config.redis.url == "env:REDIS_URL"


@pytest.mark.parametrize(
    "change,line,key,words",
    [
        (('fallbacks = ["gpt-5", "haiku"]', 'fallbacks = ["gpt-6"]'), 19, "models[0].fallbacks", "'gpt-6' is not a mapped"),
        (('max_output_tokens = 16384', 'max_output_tokens = 16384\nfallbacks = ["claude-sonnet-5"]'), 19,
         "models[0].fallbacks", "circle: claude-sonnet-5 -> gpt-5 -> claude-sonnet-5"),
        (('fallbacks = ["gpt-5", "haiku"]', 'fallbacks = [5]'), 19, "models[0].fallbacks[0]", "must be a string"),
        (('session_points = 5000', 'session_points = 0'), 13, "budget.session_points", "more than 0 points"),
        (('daily_points = 50000', 'daily_points = -5'), 14, "budget.daily_points", "more than 0 points"),
        (('stop_when_idle = "2h"', 'stop_when_idle = "soon"'), 2, "proxy.stop_when_idle", "not a duration"),
        (('rpm = 500', 'rpm = 0'), 21, "models[0].rpm", "more than 0"),
        (('key = "env:ALICE_TOKEN"', 'key = "env:ALICE_TOKEN"\n[[clients]]\nname = "alice"\nkey = "env:B"'), 36,
         "clients[1].name",
         "already [[clients]] entry 1"),
        (('url = "env:REDIS_URL"', 'url = "localhost:6379"'), 10, "redis.url", "redis:// URL"),
    ],
)
def test_bad_team_settings_name_line_and_key(tmp_path: Path, change: tuple[str, str], line: int, key: str,
                                             words: str) -> None:
    assert_refused(tmp_path, TEAM_EXAMPLE.replace(*change), line, key, words)


def assert_refused(tmp_path: Path, text: str, line: int, key: str, words: str) -> None:
    """``text`` as config.toml is refused with an error naming the file, ``line`` and ``key``."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    error = caught.value
    assert (error.line, error.key) == (line, key), str(error)
    assert words in error.message
    assert str(error).startswith(f"{tmp_path / 'config.toml'}:{line}: {key}: ")


def test_fallbacks_survive_an_edit_and_can_be_cleared(tmp_path: Path) -> None:
    import dataclasses

    from claude_poe_tui.config.edit import ConfigEditor

    path = write(tmp_path, TEAM_EXAMPLE)
    editor = ConfigEditor.open(path)
    sonnet = editor.models()[0]
    editor.update_model(0, dataclasses.replace(sonnet, fallbacks=("haiku",)))
    config = editor.save()
    assert config.models[0].fallbacks == ("haiku",)
    assert config.models[0].context_window == 200000 and config.models[0].rpm == 500  # untouched keys kept
    editor = ConfigEditor.open(path)
    editor.update_model(0, dataclasses.replace(config.models[0], fallbacks=()))
    assert "fallbacks" not in editor.save().path.read_text().split("[[models]]")[1]
