"""The `claude` launcher and the background proxy: Claude Code's own commands run at once without a
proxy; two launches at the same moment share one proxy; a launch while the background proxy heals
waits for it instead of failing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from background_helpers import Machine, alive, make_machine, serve_processes, wait_until
from claude_poe_tui.commands.claude import reaches_no_model
from conftest import PoeStandin
from test_cli_setup_claude import FAKE_CLAUDE

RECORDING_CLAUDE = """#!{python}
import json, os, sys
with open({record!r}, "a") as handle:
    handle.write(json.dumps({{"argv": sys.argv[1:], "base_url": os.environ.get("ANTHROPIC_BASE_URL")}}) + "\\n")
print("claude says: " + " ".join(sys.argv[1:]))
"""


def script(tmp_path: Path, name: str, text: str) -> tuple[Path, Path]:
    record = tmp_path / f"{name}.jsonl"
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.format(python=sys.executable, record=str(record)))
    path.chmod(0o755)
    return path, record


@pytest.fixture
def machine(tmp_path: Path, poe: PoeStandin):
    made = make_machine(tmp_path, poe)
    yield made
    made.cleanup()


def test_which_arguments_never_reach_a_model() -> None:
    for args in (["--version"], ["-v"], ["--help"], ["-h"], ["update"], ["upgrade"], ["mcp", "list"],
                 ["doctor"], ["config", "list"], ["plugin", "install", "x"], ["install", "stable"],
                 ["auth", "status"], ["setup-token"], ["-p", "hi", "--help"]):
        assert reaches_no_model(args), args
    for args in ([], ["-p", "update the changelog"], ["-p", "mcp"], ["--model", "opus"], ["agents"],
                 ["-p", "x", "--", "--help"], ["--resume"], ["-c"]):
        assert not reaches_no_model(args), args


def test_claude_codes_own_commands_run_at_once_without_a_proxy(machine: Machine, tmp_path: Path) -> None:
    fake, record = script(tmp_path, "claude", RECORDING_CLAUDE)
    for args in (["mcp", "list"], ["update"], ["--help"], ["-p", "x", "--version"]):
        began = time.monotonic()
        done = machine.cli("claude", *args, CLAUDE_CODE_BIN=str(fake))
        took = time.monotonic() - began
        assert done.returncode == 0, done.stderr
        assert done.stdout == "claude says: " + " ".join(args) + "\n" and done.stderr == ""
        assert took < 5.0, f"{args}: {took:.1f} s"
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    assert [s["argv"] for s in seen] == [["mcp", "list"], ["update"], ["--help"], ["-p", "x", "--version"]]
    assert {s["base_url"] for s in seen} == {machine.url}  # pointed at the proxy all the same
    assert not (machine.run_dir / "serve.json").exists() and serve_processes(machine.config) == []
    assert machine.cli("status").returncode == 3

    # Without any config too: Claude Code's own help needs none of ours.
    done = machine.box.run("claude", "--version", with_config=False,
                           env=machine.box.env(CLAUDE_CODE_BIN=str(fake), CLAUDE_POE_TUI_CONFIG=str(tmp_path / "none.toml")))
    assert done.returncode == 0 and done.stdout == "claude says: --version\n"
    assert json.loads(record.read_text().splitlines()[-1])["base_url"] is None


@pytest.mark.claude_code
def test_the_real_claude_code_version_through_us_needs_no_proxy(machine: Machine, claude_code_bin: Path) -> None:
    done = machine.cli("claude", "--version", CLAUDE_CODE_BIN=str(claude_code_bin))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+ \(Claude Code\)\n", done.stdout)
    assert serve_processes(machine.config) == [] and machine.cli("status").returncode == 3


@pytest.mark.proxy
def test_two_launches_at_the_same_moment_share_one_background_proxy(machine: Machine, tmp_path: Path) -> None:
    fake, record = script(tmp_path, "claude", FAKE_CLAUDE.replace("{record!r}, \"w\"", "{record!r} + str(os.getpid()), \"w\""))
    launches = [machine.popen("claude", "-p", f"task {i}", CLAUDE_CODE_BIN=str(fake)) for i in range(2)]
    results = [(p.wait(300), *p.communicate()) for p in launches]
    assert [code for code, _, _ in results] == [7, 7], results
    said = [err for _, _, err in results]
    assert sum("proxy ready in" in err for err in said) == 1, said
    assert sum("using the proxy" in err for err in said) == 1, said
    replies = [json.loads(p.read_text())["reply"] for p in tmp_path.glob(f"{record.name}*")]
    assert replies == ["Hello from Claude-Sonnet-4.5."] * 2
    assert len(serve_processes(machine.config)) == 1


@pytest.mark.proxy
def test_a_launch_while_the_background_proxy_heals_waits_for_it(machine: Machine, tmp_path: Path) -> None:
    fake, record = script(tmp_path, "claude", FAKE_CLAUDE)
    assert machine.cli("start").returncode == 0
    before = machine.record()
    os.kill(before["child_pid"], signal.SIGKILL)
    wait_until(lambda: machine.record()["state"] != "running", 10, "the serve to notice the crash")
    done = machine.cli("claude", "-p", "x", CLAUDE_CODE_BIN=str(fake))
    assert done.returncode == 7, done.stderr
    assert "not answering yet" in done.stderr and "waiting for it" in done.stderr
    assert json.loads(record.read_text())["reply"] == "Hello from Claude-Sonnet-4.5."
    after = machine.record()
    assert after["pid"] == before["pid"] and after["child_pid"] != before["child_pid"] and alive(after["child_pid"])


LAUNCH_PATH_MODULES = [
    "claude_poe_tui.commands.claude",
    "claude_poe_tui.commands.status",
    "claude_poe_tui.proxy.parent.client",
    "claude_poe_tui.proxy.parent.background",
    "claude_poe_tui.proxy.parent.portowner",
    "claude_poe_tui.proxy.parent.process",
]


@pytest.mark.parametrize("module", LAUNCH_PATH_MODULES)
def test_the_launch_path_imports_nothing_heavy(module: str) -> None:
    """Every launch probes the proxy: httpx alone would cost ~0.1 s of the 0.3 s allowed."""
    code = f"import sys, json, {module}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert not loaded & {"httpx", "textual", "rich", "litellm"}, module


def test_status_and_the_probe_run_without_httpx(machine: Machine) -> None:
    code = (
        "import contextlib, io, sys, json\n"
        "from claude_poe_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['--config', {str(machine.config)!r}, 'status']) == 3\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=machine.box.env())
    assert "httpx" not in {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_claude_code_gets_the_default_sigpipe_as_from_a_shell(machine: Machine, tmp_path: Path) -> None:
    """Python ignores SIGPIPE for itself; the Claude Code we become must not inherit that."""
    fake = tmp_path / "bin" / "claude"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text("#!/bin/sh\ngrep SigIgn /proc/$$/status\n")
    fake.chmod(0o755)
    done = machine.cli("claude", "--version", CLAUDE_CODE_BIN=str(fake))
    assert done.returncode == 0, done.stderr
    ignored = int(done.stdout.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), done.stdout
