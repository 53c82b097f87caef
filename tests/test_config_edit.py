"""Editing the config keeps the user's comments and order, refuses invalid edits, writes atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claude_poe_tui.config.edit import ConfigEditor
from claude_poe_tui.config.model import ModelMapping, Route
from claude_poe_tui.errors import ConfigError

USER_FILE = """\
# My setup for Claude Code on Poe.
[proxy]
port = 4000  # 4000 is taken at work: see below
master_key = "env:LITELLM_MASTER_KEY"

[poe]
api_key = "env:POE_API_KEY"

# Sonnet does most of the work.
[[models]]
name = "claude-sonnet-4-5-20250929"   # what Claude Code asks for
poe_model = "Claude-Sonnet-4.5"

# Haiku runs the background tasks: a cheap bot is enough.
[[models]]
name = "claude-haiku-4-5-20251001"
poe_model = "GPT-4o"  # cheap and fast
route = "chat"

# Request log: keep a little more.
[log]
backups = 5
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(USER_FILE)
    os.chmod(path, 0o600)
    return path


def test_open_and_save_without_edits_is_byte_identical(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.save()
    assert config_file.read_text() == USER_FILE


def test_adding_a_mapping_keeps_every_comment(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.add_model(ModelMapping("claude-opus-4-5-20251101", "Claude-Opus-4.5"))
    config = editor.save()
    text = config_file.read_text()
    for line in USER_FILE.splitlines():
        assert line in text, f"lost: {line!r}"
    assert [m.name for m in config.models][-1] == "claude-opus-4-5-20251101"
    # The new table sits with the other mappings, before the [log] section and its comment.
    assert text.index('name = "claude-opus-4-5-20251101"') < text.index("# Request log: keep a little more.")
    assert "route" not in text.split("claude-opus-4-5-20251101")[1].split("[log]")[0]


def test_editing_a_mapping_keeps_its_inline_comments(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.update_model(1, ModelMapping("claude-haiku-4-5-20251001", "Gemini-2.5-Pro", Route.CHAT))
    editor.save()
    text = config_file.read_text()
    assert 'poe_model = "Gemini-2.5-Pro"  # cheap and fast' in text
    assert "# Haiku runs the background tasks: a cheap bot is enough." in text


def test_reordering_moves_a_mapping_with_its_comment(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.move_model(1, 0)
    config = editor.save()
    assert [m.name for m in config.models] == ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]
    text = config_file.read_text()
    haiku_comment = text.index("# Haiku runs the background tasks")
    assert haiku_comment < text.index('name = "claude-haiku-4-5-20251001"') < text.index("# Sonnet does most")
    assert text.index("# Sonnet does most") < text.index('name = "claude-sonnet-4-5-20250929"')
    # And back again gives the user's file, byte for byte.
    editor.move_model(1, 0)
    editor.save()
    assert config_file.read_text() == USER_FILE


def test_deleting_a_mapping_takes_its_comment_and_nothing_else(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.delete_model(0)
    editor.save()
    text = config_file.read_text()
    assert "claude-sonnet-4-5-20250929" not in text and "# Sonnet does most" not in text
    assert "# Haiku runs the background tasks: a cheap bot is enough." in text
    assert "# Request log: keep a little more." in text and "# My setup for Claude Code on Poe." in text


def test_setting_a_value_keeps_the_section_comments(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.set_value("proxy", "port", 4111)
    editor.set_value("proxy", "host", "127.0.0.1")
    editor.set_value("claude_code", "haiku", "claude-haiku-4-5-20251001")
    config = editor.save()
    assert config.proxy.port == 4111 and config.claude_code.haiku == "claude-haiku-4-5-20251001"
    text = config_file.read_text()
    assert "port = 4111  # 4000 is taken at work: see below" in text
    assert text.index('host = "127.0.0.1"') < text.index("[poe]")


def test_an_invalid_edit_is_refused_and_nothing_is_written(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.add_model(ModelMapping("claude-sonnet-4-5-20250929", "Claude-Opus-4.5"))  # a duplicate name
    with pytest.raises(ConfigError, match="already mapped"):
        editor.save()
    assert config_file.read_text() == USER_FILE


def test_a_file_changed_on_disk_is_not_overwritten(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.set_value("proxy", "port", 4111)
    config_file.write_text(USER_FILE + "\n# edited by hand meanwhile\n")
    with pytest.raises(ConfigError, match="changed on disk"):
        editor.save()
    assert config_file.read_text().endswith("# edited by hand meanwhile\n")


def test_save_keeps_permissions_and_leaves_no_temp_files(config_file: Path) -> None:
    editor = ConfigEditor.open(config_file)
    editor.set_value("proxy", "port", 4222)
    editor.save()
    assert config_file.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.toml"]


def test_a_new_file_gets_models(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    editor = ConfigEditor.open(path)
    editor.add_model(ModelMapping("a", "GPT-5"))
    editor.add_model(ModelMapping("b", "Claude-Haiku-4.5"))
    config = editor.save()
    assert [m.name for m in config.models] == ["a", "b"]


def test_thinking_is_written_only_when_not_the_default(config_file: Path) -> None:
    from claude_poe_tui.config.model import Thinking

    editor = ConfigEditor.open(config_file)
    editor.update_model(1, ModelMapping("claude-haiku-4-5-20251001", "GPT-4o", Route.CHAT, Thinking.OFF))
    config = editor.save()
    assert config.models[1].thinking is Thinking.OFF
    assert 'thinking = "off"' in config_file.read_text()
    editor.update_model(1, ModelMapping("claude-haiku-4-5-20251001", "GPT-4o", Route.CHAT))
    editor.save()
    assert config_file.read_text() == USER_FILE
