"""The setup core stays light: no Textual, Rich or LiteLLM, and httpx only when a command talks to Poe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_config

HEAVY = ("textual", "rich", "litellm")

CORE_MODULES = [
    "claude_poe_tui.poe.catalog",
    "claude_poe_tui.poe.thinking",
    "claude_poe_tui.poe.client",
    "claude_poe_tui.keys",
    "claude_poe_tui.claude_code.wiring",
    "claude_poe_tui.claude_code.defaults",
    "claude_poe_tui.compiler",
    # The dashboard's controllers and the core pieces it shows: no screen in them.
    "claude_poe_tui.control.mappings",
    "claude_poe_tui.control.keys",
    "claude_poe_tui.control.config",
    "claude_poe_tui.control.requests",
    "claude_poe_tui.control.proxy",
    "claude_poe_tui.control.points",
    "claude_poe_tui.control.sessions",
    "claude_poe_tui.control.status",
    "claude_poe_tui.control.remote",
    "claude_poe_tui.clipboard",
    "claude_poe_tui.output_events",
    "claude_poe_tui.requestlog.describe",
    "claude_poe_tui.requestlog.query",
    "claude_poe_tui.ui.columns",
]


def loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_nothing_heavy(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert not loaded & {*HEAVY, "httpx"}, f"{module} pulls in {sorted(loaded & {*HEAVY, 'httpx'})}"


def test_env_command_runs_without_httpx(tmp_path: Path) -> None:
    config = write_config(tmp_path, poe_base_url="http://127.0.0.1:9/v1")
    code = (
        "import contextlib, io\n"
        "from claude_poe_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['--config', {str(config)!r}, 'env']) == 0"
    )
    loaded = loaded_after(code)
    assert not loaded & {*HEAVY, "httpx"}
