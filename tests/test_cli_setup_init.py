"""``claude-poe-tui init``: a real CLI run against the stand-in Poe; the interactive path in-process."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest

from claude_poe_tui.config import load_config
from claude_poe_tui.poe.catalog import load_cache
from claude_poe_tui.secrets import read_dotenv
from cli_setup_helpers import Sandbox, make_sandbox
from conftest import POE_KEY, PoeStandin, free_port

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def init(box: Sandbox, poe: PoeStandin, *extra: str, **env: str):
    return box.run("init", "--poe-base-url", poe.base_url, "--yes", *extra, env=box.env(**env))


def test_the_shipped_template_is_the_example() -> None:
    from claude_poe_tui.commands.init import template_text

    assert template_text() == (REPO / "config.example.toml").read_text(encoding="utf-8")


def test_init_writes_a_checked_setup(box: Sandbox, poe: PoeStandin) -> None:
    port = free_port()
    done = init(box, poe, "--poe-key", POE_KEY, "--port", str(port))
    assert done.returncode == 0, done.stderr
    assert re.search(r"✓ Poe accepted the key: [\d,]+ points left", done.stdout)
    # The config: the template's comments, this port and Poe URL, mappings on the bots Poe has.
    text = box.config.read_text()
    assert "# One [[models]] table per model name Claude Code asks for." in text
    config = load_config(box.config, environ={})
    assert config.proxy.port == port and config.poe.base_url == poe.base_url
    assert [(m.name, m.poe_model) for m in config.models] == [
        ("claude-opus-4-5", "Claude-Opus-4.5"),
        ("claude-sonnet-4-5", "Claude-Sonnet-4.5"),
        ("claude-haiku-4-5-20251001", "Claude-Haiku-4.5"),
    ]
    assert config.poe.api_key == "env:POE_API_KEY" and config.proxy.master_key == "env:LITELLM_MASTER_KEY"
    # The keys: only in the .env, mode 0600; never printed.
    keys = read_dotenv(box.dotenv)
    assert keys["POE_API_KEY"] == POE_KEY
    assert re.fullmatch(r"sk-[0-9a-f]{64}", keys["LITELLM_MASTER_KEY"])
    assert stat.S_IMODE(box.dotenv.stat().st_mode) == 0o600
    assert POE_KEY not in text and keys["LITELLM_MASTER_KEY"] not in text
    for secret in keys.values():
        assert secret not in done.stdout and secret not in done.stderr
    # Poe's catalog is cached for the proxy (thinking parameters) and `models`.
    assert load_cache(box.state / "poe-models.json").get("GPT-5") is not None
    assert f"claude-poe-tui --config {box.config} claude" in done.stdout


def test_a_bad_key_is_refused_and_nothing_is_written(box: Sandbox, poe: PoeStandin) -> None:
    done = init(box, poe, "--poe-key", "not-a-valid-key-0000")
    assert done.returncode == 2
    assert done.stderr.startswith("claude-poe-tui: error: Poe rejected the Poe API key (from --poe-key): Invalid API key")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "not-a-valid-key" not in done.stderr
    assert not box.config.exists() and not box.dotenv.exists()


def test_the_key_can_come_from_the_environment(box: Sandbox, poe: PoeStandin) -> None:
    done = init(box, poe, POE_API_KEY=POE_KEY)
    assert done.returncode == 0, done.stderr
    assert read_dotenv(box.dotenv)["POE_API_KEY"] == POE_KEY


def test_no_key_without_a_terminal_is_a_clear_error(box: Sandbox, poe: PoeStandin) -> None:
    done = init(box, poe)
    assert done.returncode == 2
    assert "no Poe API key: pass --poe-key KEY or set POE_API_KEY" in done.stderr


def test_an_existing_config_is_replaced_only_with_force(box: Sandbox, poe: PoeStandin) -> None:
    assert init(box, poe, "--poe-key", POE_KEY).returncode == 0
    box.config.write_text(box.config.read_text() + "\n# my own notes\n")
    before_config, before_keys = box.config.read_text(), read_dotenv(box.dotenv)

    again = init(box, poe, "--poe-key", POE_KEY)
    assert again.returncode == 2
    assert f"{box.config} already exists; pass --force to replace it" in again.stderr
    assert box.config.read_text() == before_config

    forced = init(box, poe, "--poe-key", POE_KEY, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "# my own notes" not in box.config.read_text()
    assert read_dotenv(box.dotenv) == before_keys  # the master key survives a fresh config
    assert "master key kept" in forced.stdout


def test_a_different_poe_key_is_replaced_only_with_force(box: Sandbox, poe: PoeStandin) -> None:
    box.dotenv.parent.mkdir(parents=True)
    box.dotenv.write_text("POE_API_KEY=an-older-key-999999\nOTHER=1\n")
    refused = init(box, poe, "--poe-key", POE_KEY)
    assert refused.returncode == 2
    assert "already holds a different POE_API_KEY (an-…9999); pass --force" in refused.stderr
    assert not box.config.exists()
    done = init(box, poe, "--poe-key", POE_KEY, "--force")
    assert done.returncode == 0, done.stderr
    assert read_dotenv(box.dotenv)["POE_API_KEY"] == POE_KEY and read_dotenv(box.dotenv)["OTHER"] == "1"


def test_offline_init_uses_claude_codes_default_names(box: Sandbox) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    done = box.run("init", "--poe-key", POE_KEY, "--no-check", "--yes", "--poe-base-url", unreachable)
    assert done.returncode == 0, done.stderr
    names = [(m["name"], m["poe_model"]) for m in tomllib.loads(box.config.read_text())["models"]]
    assert names == [("claude-opus-4-8", "Claude-Opus-4.8"), ("claude-sonnet-5", "Claude-Sonnet-5"),
                     ("claude-haiku-4-5-20251001", "Claude-Haiku-4.5")]


def test_bad_port_is_refused(box: Sandbox, poe: PoeStandin) -> None:
    done = init(box, poe, "--poe-key", POE_KEY, "--port", "70000")
    assert done.returncode == 2 and "--port must be between 1 and 65535" in done.stderr


# --- at a terminal ------------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, box: Sandbox):
    """Run init in-process as if at a terminal; answers are scripted, questions recorded."""
    from claude_poe_tui.commands import init as init_command

    for name, value in box.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POE_API_KEY", raising=False)
    script = {"secrets": [], "answers": [], "asked": []}

    def ask_secret(prompt: str) -> str:
        script["asked"].append(prompt)
        return script["secrets"].pop(0)

    def ask_yes_no(question: str, default: bool = False) -> bool:
        script["asked"].append(question)
        return script["answers"].pop(0)

    monkeypatch.setattr(init_command, "_interactive", lambda args: True)
    monkeypatch.setattr(init_command, "_ask_secret", ask_secret)
    monkeypatch.setattr(init_command, "_ask_yes_no", ask_yes_no)
    return script


def test_at_a_terminal_the_key_is_asked_for_and_asked_again_if_rejected(box: Sandbox, poe: PoeStandin, terminal, capsys) -> None:
    from claude_poe_tui.cli import main

    terminal["secrets"] = ["typo-key-000000000", POE_KEY]
    assert main(["--config", str(box.config), "init", "--poe-base-url", poe.base_url]) == 0
    assert terminal["asked"] == ["Poe API key: ", "Poe API key: "]
    assert "Poe rejected that key; try again" in capsys.readouterr().out
    assert read_dotenv(box.dotenv)["POE_API_KEY"] == POE_KEY


def test_at_a_terminal_declining_keeps_the_config(box: Sandbox, poe: PoeStandin, terminal) -> None:
    from claude_poe_tui.cli import main

    terminal["secrets"] = [POE_KEY]
    assert main(["--config", str(box.config), "init", "--poe-base-url", poe.base_url]) == 0
    box.config.write_text(box.config.read_text().replace("request_timeout = 600", "request_timeout = 300"))
    master = read_dotenv(box.dotenv)["LITELLM_MASTER_KEY"]
    terminal["answers"] = [False]  # replace the config? no
    assert main(["--config", str(box.config), "init", "--poe-base-url", poe.base_url]) == 0
    assert terminal["asked"][-1].startswith(f"{box.config} exists. Replace it")
    assert "request_timeout = 300" in box.config.read_text()
    assert read_dotenv(box.dotenv) == {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": master}


def test_the_seed_recipes_env_file_is_taken_over(box: Sandbox, poe: PoeStandin) -> None:
    """Users come from the Docker recipe: its .env (Poe key, master key, port) moves in as it is."""
    port = free_port()
    master = "sk-" + "ab" * 32
    box.dotenv.parent.mkdir(parents=True)
    box.dotenv.write_text(f"# Get your Poe API key from https://poe.com/api_key\nPOE_API_KEY={POE_KEY}\n\n"
                          f"LITELLM_MASTER_KEY={master}\n\n# Port (default: 4000)\nLITELLM_PORT={port}\n")
    box.dotenv.chmod(0o644)
    done = init(box, poe)
    assert done.returncode == 0, done.stderr
    assert f"Using the Poe key already in {box.dotenv}" in done.stdout
    config = load_config(box.config, environ={})
    assert config.proxy.port == port
    assert read_dotenv(box.dotenv) == {"POE_API_KEY": POE_KEY, "LITELLM_MASTER_KEY": master, "LITELLM_PORT": str(port)}
    assert box.dotenv.read_text().startswith("# Get your Poe API key")
    assert stat.S_IMODE(box.dotenv.stat().st_mode) == 0o600


# --- at a terminal, with Poe out of reach ---------------------------------------------------------


@pytest.fixture
def offline_terminal(terminal, monkeypatch: pytest.MonkeyPatch):
    """The terminal fixture, plus scripted answers to the offline menu and the base-URL question."""
    from claude_poe_tui.commands import init as init_command

    terminal["texts"] = []

    def ask_text(prompt: str) -> str:
        terminal["asked"].append(prompt)
        return terminal["texts"].pop(0)

    monkeypatch.setattr(init_command, "_ask_text", ask_text)
    return terminal


def test_poe_out_of_reach_offers_another_base_url_and_the_key_is_typed_once(
        box: Sandbox, poe: PoeStandin, offline_terminal, capsys) -> None:
    from claude_poe_tui.cli import main

    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    offline_terminal["secrets"] = [POE_KEY]
    offline_terminal["texts"] = ["r", "u", "not a url", poe.base_url]  # retry (still out), then the stand-in
    assert main(["--config", str(box.config), "init", "--poe-base-url", unreachable]) == 0
    asked = offline_terminal["asked"]
    assert asked.count("Poe API key: ") == 1, asked
    assert sum(question.startswith("Choose [r/u/s/q]") for question in asked) == 2
    out = capsys.readouterr().out
    assert "cannot reach Poe at" in out and "use another base URL" in out and "skip the check" in out
    assert "A base URL starts with http:// or https://" in out
    assert re.search(r"✓ Poe accepted the key: [\d,]+ points left", out)
    config = load_config(box.config, environ={})
    assert config.poe.base_url == poe.base_url  # the URL that answered is the one written
    assert read_dotenv(box.dotenv)["POE_API_KEY"] == POE_KEY


def test_poe_out_of_reach_the_check_can_be_skipped(box: Sandbox, offline_terminal, capsys) -> None:
    from claude_poe_tui.cli import main

    offline_terminal["secrets"] = [POE_KEY]
    offline_terminal["texts"] = ["s"]
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["--config", str(box.config), "init", "--poe-base-url", unreachable]) == 0
    assert offline_terminal["asked"].count("Poe API key: ") == 1
    assert "Not checking the key with Poe" in capsys.readouterr().out
    config = load_config(box.config, environ={})
    assert config.poe.base_url == unreachable
    assert [m.name for m in config.models] == ["claude-opus-4-8", "claude-sonnet-5", "claude-haiku-4-5-20251001"]
    assert read_dotenv(box.dotenv)["POE_API_KEY"] == POE_KEY


def test_poe_out_of_reach_quitting_writes_nothing(box: Sandbox, offline_terminal) -> None:
    from claude_poe_tui.cli import main

    offline_terminal["secrets"] = [POE_KEY]
    offline_terminal["texts"] = ["q"]
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["--config", str(box.config), "init", "--poe-base-url", unreachable]) == 2
    assert not box.config.exists() and not box.dotenv.exists()


def test_a_kept_config_takes_the_base_url_that_answered(box: Sandbox, poe: PoeStandin, offline_terminal) -> None:
    from claude_poe_tui.cli import main

    assert init(box, poe, "--poe-key", POE_KEY).returncode == 0
    text = box.config.read_text().replace(poe.base_url, f"http://127.0.0.1:{free_port()}/v1")
    box.config.write_text(text)
    offline_terminal["answers"] = [False]  # keep the config
    offline_terminal["texts"] = ["u", poe.base_url]
    assert main(["--config", str(box.config), "init"]) == 0
    assert load_config(box.config, environ={}).poe.base_url == poe.base_url
    assert "# claude-poe-tui config" in box.config.read_text()  # the file's comments stay


def test_the_readmes_config_is_what_init_writes(box: Sandbox) -> None:
    """The README shows the config word for word as an offline `init` writes it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"is what `init` writes.*?```toml\n(.*?)```\n", readme, re.DOTALL)
    assert shown, "the README's TOML example is gone"
    done = box.run("init", "--poe-key", POE_KEY, "--no-check", "--yes", "--port", "4000")
    assert done.returncode == 0, done.stderr
    assert shown.group(1) == box.config.read_text()
