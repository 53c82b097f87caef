"""``claude-poe-tui doctor``: every check against real parts (stand-in Poe, a real proxy, files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_setup_helpers import Sandbox, make_sandbox
from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy, write_config

FAKE_CLAUDE = "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '2.1.197 (Claude Code)'; exit 0; fi\nexit 3\n"


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    box = make_sandbox(tmp_path)
    fake = tmp_path / "bin" / "claude"
    fake.parent.mkdir()
    fake.write_text(FAKE_CLAUDE)
    fake.chmod(0o755)
    return box


def doctor(box: Sandbox, *args: str, **env: str):
    env.setdefault("CLAUDE_CODE_BIN", str(box.root / "bin" / "claude"))
    return box.run("doctor", *args, env=box.env(**env))


def lines(text: str, mark: str) -> list[str]:
    return [line[2:] for line in text.splitlines() if line.startswith(mark + " ")]


def test_a_good_setup_passes(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url)
    done = doctor(box)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done.stdout, "✗") == []
    passed = "\n".join(lines(done.stdout, "✓"))
    for expected in (
        f"config: {box.config} (5 mappings, from --config)",
        f"Poe API key: poe…6789 from POE_API_KEY in {box.dotenv}",
        "master key: sk-ma…ef01 from LITELLM_MASTER_KEY",
        "Poe accepted the key:",
        "all 5 mapped bots exist on Poe",
        "is free; the proxy is not running",
        "Claude Code: 2.1.197 (Claude Code)",
    ):
        assert expected in passed
    assert lines(done.stdout, "·")[0].startswith("Claude Code is not pointed here")
    assert "Points balance: " in done.stdout and done.stdout.rstrip().endswith("all checks passed")
    assert POE_KEY not in done.stdout and MASTER_KEY not in done.stdout


def test_an_unknown_bot_is_named_with_close_matches(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url,
                 models=(("claude-sonnet-4-5", "Claude-Sonet-4.5"), ("gpt-5", "gpt-5")))
    done = doctor(box)
    assert done.returncode == 1
    assert lines(done.stdout, "✗") == [
        "mapping claude-sonnet-4-5: Poe has no bot 'Claude-Sonet-4.5'; did you mean Claude-Sonnet-4.5?"
    ]
    assert f"    fix: set poe_model in [[models]] entry 1 of {box.config}" in done.stdout
    assert "1 check failed" in done.stdout


def test_a_rejected_poe_key(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url,
                 dotenv={"POE_API_KEY": "revoked-key-000000", "LITELLM_MASTER_KEY": MASTER_KEY})
    done = doctor(box)
    assert done.returncode == 1
    (failure,) = lines(done.stdout, "✗")
    assert failure.startswith(f"Poe rejected the Poe API key (from POE_API_KEY in {box.dotenv}): Invalid API key")
    assert "init --force --poe-key KEY" in done.stdout


def test_missing_keys_and_a_lax_dotenv(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url, dotenv={"POE_API_KEY": POE_KEY})
    os.chmod(box.dotenv, 0o644)
    done = doctor(box)
    assert done.returncode == 1
    failures = lines(done.stdout, "✗")
    assert f"master key: not set (nowhere: LITELLM_MASTER_KEY is not in the environment nor in {box.dotenv})" in failures
    assert f"{box.dotenv} is readable by other users" in failures
    assert f"fix: chmod 600 {box.dotenv}" in done.stdout


def test_no_config_and_no_claude_code(box: Sandbox) -> None:
    done = doctor(box, CLAUDE_CODE_BIN=str(box.root / "bin" / "missing"))
    assert done.returncode == 1
    failures = lines(done.stdout, "✗")
    assert failures[0].startswith(f"config: {box.config}: no config file here")
    assert f"fix: run `claude-poe-tui --config {box.config} init`" in done.stdout
    assert failures[1] == "Claude Code: not installed (no `claude` on PATH)"
    assert "npm install -g @anthropic-ai/claude-code" in done.stdout


def test_a_foreign_server_on_the_port(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url, port=int(poe.url.rsplit(":", 1)[1]))
    done = doctor(box)
    assert done.returncode == 1
    assert any("something that is not a claude-poe-tui proxy answers at" in f for f in lines(done.stdout, "✗"))


@pytest.mark.proxy
def test_a_running_proxy_is_checked(box: Sandbox, poe: PoeStandin, proxy: RunningProxy) -> None:
    done = box.run("--config", str(proxy.config_path), "doctor",
                   env=box.env(CLAUDE_CODE_BIN=str(box.root / "bin" / "claude")), with_config=False)
    assert done.returncode == 0, done.stdout
    passed = lines(done.stdout, "✓")
    assert any(line.startswith(f"proxy running on {proxy.url} (pid {proxy.process.pid}") for line in passed)
    assert "proxy health: ok, serving 5 model names" in passed


def test_claude_code_pointed_here_or_elsewhere(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url, port=4788)
    assert box.run("claude-settings").returncode == 0
    here = doctor(box)
    assert here.returncode == 0, here.stdout
    settings = box.project / ".claude" / "settings.local.json"
    assert f"Claude Code is pointed here (ANTHROPIC_BASE_URL and the master key from {settings})" in lines(here.stdout, "✓")

    data = json.loads(settings.read_text())
    data["env"]["ANTHROPIC_DEFAULT_OPUS_MODEL"] = "claude-opus-9"
    settings.write_text(json.dumps(data))
    unmapped = doctor(box)
    assert "asks for unmapped models: ANTHROPIC_DEFAULT_OPUS_MODEL=claude-opus-9" in unmapped.stdout

    data["env"]["ANTHROPIC_AUTH_TOKEN"] = "sk-someone-elses"
    settings.write_text(json.dumps(data))
    assert "its ANTHROPIC_AUTH_TOKEN is not this proxy's master key" in doctor(box).stdout

    settings.unlink()
    elsewhere = doctor(box, ANTHROPIC_BASE_URL="http://127.0.0.1:4000", ANTHROPIC_AUTH_TOKEN=MASTER_KEY)
    assert elsewhere.returncode == 1
    assert ("Claude Code is pointed at http://127.0.0.1:4000 (ANTHROPIC_BASE_URL from the environment), "
            "not at this proxy (http://127.0.0.1:4788)") in lines(elsewhere.stdout, "✗")
