"""Key management: where each key comes from, masking, generating, and storing only into the .env."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from claude_poe_tui.config import load_config
from claude_poe_tui.keys import (
    KeyKind,
    LiteralKeyError,
    describe_key,
    describe_keys,
    generate_master_key,
    mask,
    store_key,
)
from conftest import MASTER_KEY, POE_KEY, write_config


def _config(tmp_path: Path, **kwargs):
    return load_config(write_config(tmp_path, poe_base_url="http://127.0.0.1:9/v1", **kwargs), environ={})


def test_master_keys_are_sk_and_64_hex() -> None:
    keys = {generate_master_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(re.fullmatch(r"sk-[0-9a-f]{64}", key) for key in keys)


def test_mask_shows_too_little_to_use() -> None:
    key = generate_master_key()
    assert mask(key) == f"{key[:5]}…{key[-4:]}"
    assert mask(POE_KEY) == "poe…6789"
    assert mask("short") == "…" and mask("") == ""


def test_keys_from_the_dotenv(tmp_path: Path) -> None:
    config = _config(tmp_path)
    poe, master = describe_keys(config, environ={})
    assert (poe.kind, poe.value, poe.source, poe.env_name) == (KeyKind.POE, POE_KEY, ".env", "POE_API_KEY")
    assert poe.origin == str(tmp_path / ".env")
    assert poe.where() == f"POE_API_KEY in {tmp_path / '.env'}"
    assert master.value == MASTER_KEY and master.masked == mask(MASTER_KEY)


def test_the_environment_wins_over_the_dotenv(tmp_path: Path) -> None:
    info = describe_key(_config(tmp_path), KeyKind.POE, environ={"POE_API_KEY": "from-the-shell-123456"})
    assert (info.value, info.source, info.where()) == ("from-the-shell-123456", "environment", "the environment ($POE_API_KEY)")


def test_a_missing_key_says_where_it_was_looked_for(tmp_path: Path) -> None:
    info = describe_key(_config(tmp_path, dotenv={}), KeyKind.MASTER, environ={})
    assert info.value is None and not info.resolved and info.masked == "(not set)"
    assert info.where() == f"nowhere: LITELLM_MASTER_KEY is not in the environment nor in {tmp_path / '.env'}"


def test_a_literal_key_is_described_as_in_the_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url="http://127.0.0.1:9/v1")
    path.write_text(path.read_text().replace('api_key = "env:POE_API_KEY"', 'api_key = "literal-poe-key-000111"'))
    info = describe_key(load_config(path, environ={}), KeyKind.POE, environ={})
    assert (info.value, info.source, info.env_name) == ("literal-poe-key-000111", "config", None)


def test_store_writes_only_the_dotenv_and_keeps_its_other_lines(tmp_path: Path) -> None:
    config = _config(tmp_path, dotenv={})
    dotenv = tmp_path / ".env"
    dotenv.write_text("# my settings\nOTHER=keep me\nexport POE_API_KEY=old-key-000000000\n")
    dotenv.chmod(0o644)
    config_before = config.path.read_text()
    stored = store_key(config, KeyKind.POE, "new-key-111111111", environ={})
    assert stored.dotenv_path == dotenv and stored.env_name == "POE_API_KEY" and not stored.shadowed
    assert dotenv.read_text() == "# my settings\nOTHER=keep me\nexport POE_API_KEY=new-key-111111111\n"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    assert config.path.read_text() == config_before
    master = generate_master_key()
    store_key(config, KeyKind.MASTER, master, environ={})
    assert dotenv.read_text().endswith(f"LITELLM_MASTER_KEY={master}\n")
    assert describe_key(config, KeyKind.MASTER, environ={}).value == master


def test_store_creates_the_dotenv_with_mode_600(tmp_path: Path) -> None:
    config = _config(tmp_path / "fresh", dotenv={})
    store_key(config, KeyKind.POE, "  spaced-key-123456  ", environ={})
    dotenv = tmp_path / "fresh" / ".env"
    assert dotenv.read_text() == "POE_API_KEY=spaced-key-123456\n"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600


def test_store_warns_when_the_environment_shadows_the_stored_key(tmp_path: Path) -> None:
    stored = store_key(_config(tmp_path), KeyKind.POE, "new-key-111111111", environ={"POE_API_KEY": "shell-key"})
    assert stored.shadowed
    assert "$POE_API_KEY in your environment holds a different value" in stored.message()


def test_store_refuses_a_literal_in_the_config_and_rewrites_nothing(tmp_path: Path) -> None:
    path = write_config(tmp_path, poe_base_url="http://127.0.0.1:9/v1")
    path.write_text(path.read_text().replace('master_key = "env:LITELLM_MASTER_KEY"', 'master_key = "sk-literal-000000"'))
    before = (path.read_text(), (tmp_path / ".env").read_text())
    with pytest.raises(LiteralKeyError, match=r"\[proxy\] master_key holds the key itself"):
        store_key(load_config(path, environ={}), KeyKind.MASTER, generate_master_key(), environ={})
    assert (path.read_text(), (tmp_path / ".env").read_text()) == before


@pytest.mark.parametrize("bad", ["", "   ", "two words", "line\nbreak"])
def test_store_refuses_empty_or_spaced_keys(tmp_path: Path, bad: str) -> None:
    with pytest.raises(Exception, match="must not"):
        store_key(_config(tmp_path), KeyKind.POE, bad, environ={})
