"""``env`` and ``claude-settings``: the variables that point Claude Code at the proxy."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from claude_poe_tui.claude_code.wiring import claude_code_env, model_slots, render_env
from claude_poe_tui.config import load_config
from cli_setup_helpers import Sandbox, make_sandbox
from conftest import MASTER_KEY, write_config

MODELS = (("claude-opus-4-5", "Claude-Opus-4.5"), ("claude-sonnet-4-5", "Claude-Sonnet-4.5"),
          ("claude-haiku-4-5-20251001", "Claude-Haiku-4.5"), ("gpt-5", "GPT-5"))


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    box = make_sandbox(tmp_path)
    write_config(box.config.parent, poe_base_url="http://127.0.0.1:9/v1", port=4777, models=MODELS)
    return box


def expected(master: str = MASTER_KEY) -> dict[str, str]:
    """Without Poe's catalog cached: bot ids for names, and no window known but 1M context's."""
    return {
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:4777",
        "ANTHROPIC_AUTH_TOKEN": master,
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-4-5",
        "ANTHROPIC_DEFAULT_OPUS_MODEL_NAME": "Claude-Opus-4.5 (Poe)",
        "ANTHROPIC_DEFAULT_OPUS_MODEL_DESCRIPTION": "Poe bot Claude-Opus-4.5",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-5",
        "ANTHROPIC_DEFAULT_SONNET_MODEL_NAME": "Claude-Sonnet-4.5 (Poe)",
        "ANTHROPIC_DEFAULT_SONNET_MODEL_DESCRIPTION": "Poe bot Claude-Sonnet-4.5",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5-20251001",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL_NAME": "Claude-Haiku-4.5 (Poe)",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL_DESCRIPTION": "Poe bot Claude-Haiku-4.5",
        "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_1M_CONTEXT": "1",
    }


def cache_standin_catalog(box: Sandbox) -> None:
    """Poe's catalog in the sandbox's cache, as `init`, `serve` or the dashboard leave it."""
    from claude_poe_tui.poe.catalog import save_cache
    from poe_standin import CATALOG

    save_cache(box.state / "poe-models.json", CATALOG, "http://127.0.0.1:9/v1")


def test_slots_come_from_claude_code_section_or_names(box: Sandbox) -> None:
    config = load_config(box.config, environ={})
    assert model_slots(config) == {"opus": "claude-opus-4-5", "sonnet": "claude-sonnet-4-5",
                                   "haiku": "claude-haiku-4-5-20251001"}
    box.config.write_text(box.config.read_text() + '\n[claude_code]\nsonnet = "gpt-5"\nsubagent = "gpt-5"\n')
    config = load_config(box.config, environ={})
    env = claude_code_env(config, "k")
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "gpt-5" and env["CLAUDE_CODE_SUBAGENT_MODEL"] == "gpt-5"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "claude-opus-4-5"


def test_env_lines_eval_in_sh(box: Sandbox) -> None:
    done = box.run("env", "--shell", "sh")
    assert done.returncode == 0, done.stderr
    names = list(expected())
    script = f'eval "$(cat)"; for n in {" ".join(names)}; do printf "%s=%s\\n" "$n" "$(printenv $n)"; done'
    shell = subprocess.run(["sh", "-c", script], input=done.stdout, capture_output=True, text=True, check=True)
    assert dict(line.split("=", 1) for line in shell.stdout.splitlines()) == expected()


def test_env_with_the_catalog_names_the_bots_and_fits_the_windows(box: Sandbox) -> None:
    cache_standin_catalog(box)
    done = box.run("env", "--shell", "sh")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "export ANTHROPIC_DEFAULT_OPUS_MODEL_NAME='Claude Opus 4.5 (Poe)'" in lines
    assert "export ANTHROPIC_DEFAULT_HAIKU_MODEL_DESCRIPTION='Poe bot Claude-Haiku-4.5 · 200k context · 64k output'" in lines
    assert "export CLAUDE_CODE_DISABLE_1M_CONTEXT='1'" in lines
    assert "export CLAUDE_CODE_MAX_CONTEXT_TOKENS='400000'" in lines  # gpt-5, the one name not starting claude-
    assert "unset CLAUDE_CODE_AUTO_COMPACT_WINDOW" in lines  # every claude- name sits on a 200k bot


def test_eval_unsets_what_an_older_eval_left(box: Sandbox) -> None:
    """Model discovery only works without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, which older
    versions of `env` exported; a variable this config does not need goes too."""
    done = box.run("env", "--shell", "sh")
    stale = "export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_AUTO_COMPACT_WINDOW=150000; "
    script = stale + 'eval "$(cat)"; printf "[%s][%s]" "${CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC-unset}" ' \
        '"${CLAUDE_CODE_AUTO_COMPACT_WINDOW-unset}"'
    shell = subprocess.run(["sh", "-c", script], input=done.stdout, capture_output=True, text=True, check=True)
    assert shell.stdout == "[unset][unset]"
    fish = box.run("env", "--shell", "fish").stdout.splitlines()
    assert "set -e CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" in fish
    powershell = box.run("env", "--shell", "powershell").stdout.splitlines()
    assert "Remove-Item Env:CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC -ErrorAction SilentlyContinue" in powershell


def test_env_quotes_survive_awkward_values() -> None:
    awkward = {"X": "it's $HOME `x` \"q\" \\"}
    sh = subprocess.run(["sh", "-c", 'eval "$(cat)"; printf %s "$X"'], input=render_env(awkward, "sh"),
                        capture_output=True, text=True, check=True)
    assert sh.stdout == awkward["X"]
    if shutil.which("fish"):
        fish = subprocess.run(["fish", "-c", "source; printf %s $X"], input=render_env(awkward, "fish"),
                              capture_output=True, text=True, check=True)
        assert fish.stdout == awkward["X"]
    assert render_env({"X": "it's"}, "powershell") == "$env:X = 'it''s'\n"
    assert render_env({"X": "it's"}, "fish") == "set -gx X 'it\\'s'\n"


def test_env_follows_the_shell(box: Sandbox) -> None:
    fish = box.run("env", env=box.env(SHELL="/usr/bin/fish"))
    assert fish.stdout.splitlines()[0] == "set -gx ANTHROPIC_BASE_URL 'http://127.0.0.1:4777'"
    ps = box.run("env", "--shell", "powershell")
    assert "$env:ANTHROPIC_API_KEY = ''" in ps.stdout.splitlines()


def test_env_without_a_master_key_says_where_it_looked(box: Sandbox) -> None:
    box.dotenv.write_text("POE_API_KEY=x\n")
    done = box.run("env")
    assert done.returncode == 2
    assert f"LITELLM_MASTER_KEY is not set: looked in the environment and in {box.dotenv}" in done.stderr


def test_env_without_a_config_points_to_init(box: Sandbox) -> None:
    box.config.unlink()
    done = box.run("env")
    assert done.returncode == 2 and "create one with `claude-poe-tui init`" in done.stderr


# --- claude-settings ----------------------------------------------------------------------------


def test_settings_are_created_for_the_project(box: Sandbox) -> None:
    done = box.run("claude-settings")
    assert done.returncode == 0, done.stderr
    path = box.project / ".claude" / "settings.local.json"
    assert json.loads(path.read_text()) == {"env": expected()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MASTER_KEY not in done.stdout


def test_settings_keep_every_other_key_and_variable(box: Sandbox) -> None:
    path = box.project / ".claude" / "settings.local.json"
    path.parent.mkdir(parents=True)
    existing = {
        "permissions": {"allow": ["Bash(npm test)"], "deny": []},
        "model": "sonnet",
        "env": {"MY_TOOL_TOKEN": "keep-me", "ANTHROPIC_BASE_URL": "http://old:4000"},
        "anthropicBaseUrl": "http://localhost:4000",
    }
    path.write_text(json.dumps(existing, indent=4))
    done = box.run("claude-settings", "--dir", str(box.project), cwd=box.root)
    assert done.returncode == 0, done.stderr
    merged = json.loads(path.read_text())
    assert merged["permissions"] == existing["permissions"] and merged["model"] == "sonnet"
    assert merged["anthropicBaseUrl"] == "http://localhost:4000"
    assert merged["env"] == {"MY_TOOL_TOKEN": "keep-me", **expected()}
    assert "anthropicBaseUrl in that file are not Claude Code settings" in done.stdout
    assert "kept: 1 other env entries, 3 other settings" in done.stdout


def test_settings_drop_what_an_older_version_wrote(box: Sandbox) -> None:
    path = box.project / ".claude" / "settings.local.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"env": {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "MY_VAR": "x",
                                        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "99999"}}))
    done = box.run("claude-settings")
    assert done.returncode == 0, done.stderr
    assert json.loads(path.read_text())["env"] == {"MY_VAR": "x", **expected()}
    assert "del  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC (it also turns off /model's list of mappings)" in done.stdout
    assert "del  CLAUDE_CODE_MAX_CONTEXT_TOKENS (not needed now)" in done.stdout


def test_user_settings_go_to_the_home_folder(box: Sandbox) -> None:
    done = box.run("claude-settings", "--user")
    assert done.returncode == 0, done.stderr
    assert json.loads((box.home / ".claude" / "settings.json").read_text())["env"] == expected()
    assert not (box.project / ".claude").exists()


@pytest.mark.parametrize("content", ["{ not json", "[1, 2]", '{"env": "nope"}'])
def test_a_malformed_settings_file_is_named_and_left_untouched(box: Sandbox, content: str) -> None:
    path = box.project / ".claude" / "settings.local.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    done = box.run("claude-settings")
    assert done.returncode == 2
    assert done.stderr.startswith(f"claude-poe-tui: error: {path}: ")
    assert "left untouched" in done.stderr
    assert path.read_text() == content
