"""The variables that point Claude Code at our proxy, and the places they can live.

One source for ``env`` (lines to eval), ``claude-settings`` (Claude Code's settings files),
``claude`` (the environment of the Claude Code it starts) and ``doctor`` (is it pointed here?).
What each variable does was read from Claude Code 2.1.197's own code (see the README's
"What Claude Code is told"):

* ``ANTHROPIC_BASE_URL``: the proxy, without ``/v1``; ``ANTHROPIC_AUTH_TOKEN``: the master key
  (sent as Bearer); ``ANTHROPIC_API_KEY=""`` so an Anthropic key in the shell does not win.
* ``ANTHROPIC_DEFAULT_OPUS_MODEL`` / ``_SONNET_MODEL`` / ``_HAIKU_MODEL`` and
  ``CLAUDE_CODE_SUBAGENT_MODEL``: from ``[claude_code]``, else the first mapping whose name holds
  the family's name; ``…_MODEL_NAME`` / ``…_MODEL_DESCRIPTION``: how ``/model`` shows each slot.
* ``CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1``: ``/model`` lists every mapping (the proxy's
  ``GET /v1/models``). ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` would switch that off, so
  telemetry, error reports and the auto-updater are turned off one by one instead.
* The window variables of :mod:`claude_poe_tui.claude_code.windows`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_poe_tui.atomic import atomic_write_text
from claude_poe_tui.claude_code.picker import display_name
from claude_poe_tui.claude_code.windows import WINDOW_VARIABLES, window_plan
from claude_poe_tui.config.model import Config
from claude_poe_tui.errors import UserError
from claude_poe_tui.poe.catalog import Catalog, bot_limits

BASE_URL = "ANTHROPIC_BASE_URL"
AUTH_TOKEN = "ANTHROPIC_AUTH_TOKEN"
API_KEY = "ANTHROPIC_API_KEY"
MODEL_DISCOVERY = "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"
PRIVACY_VARIABLES = ("DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING", "DISABLE_AUTOUPDATER")
"""Analytics events, error reports to Anthropic, the background auto-updater: each off by itself."""
NONESSENTIAL_TRAFFIC = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"
"""Not set, and removed where an older version of this program set it: it also stops model discovery."""
SLOT_VARIABLES: dict[str, str] = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "subagent": "CLAUDE_CODE_SUBAGENT_MODEL",
}
PICKER_SLOTS = ("opus", "sonnet", "haiku")
"""The slots ``/model`` shows, with ``…_NAME`` and ``…_DESCRIPTION`` variables."""
OWNED_VARIABLES: tuple[str, ...] = (
    *SLOT_VARIABLES.values(),
    *(f"{SLOT_VARIABLES[slot]}_{part}" for slot in PICKER_SLOTS for part in ("NAME", "DESCRIPTION")),
    MODEL_DISCOVERY,
    *PRIVACY_VARIABLES,
    *WINDOW_VARIABLES,
    NONESSENTIAL_TRAFFIC,
)
"""Every variable this program decides besides the base URL and keys: those a config does not need
are unset (``env``), removed (``claude-settings``) or dropped (``claude``), so none goes stale."""
CLAUDE_CODE_BIN_ENV = "CLAUDE_CODE_BIN"
SHELLS = ("sh", "fish", "powershell")
SEED_SETTINGS_KEYS = ("anthropicBaseUrl", "anthropicAuthToken")  # the seed recipe's; not Claude Code settings


def model_slots(config: Config) -> dict[str, str]:
    """Claude Code's model slots -> mapped model names (slots with no mapping are left out)."""
    slots: dict[str, str] = {}
    for slot in SLOT_VARIABLES:
        chosen = getattr(config.claude_code, slot)
        if not chosen and slot != "subagent":
            chosen = next((m.name for m in config.models if slot in m.name.lower()), "")
        if chosen:
            slots[slot] = chosen
    return slots


def tokens_text(count: int) -> str:
    """``200000`` -> ``200k``; ``1048576`` -> ``1.05M``; ``16384`` -> ``16k``."""
    if count >= 1_000_000:
        return f"{round(count / 1_000_000, 2):g}M"
    if count >= 1000:
        return f"{round(count / 1000):g}k"
    return str(count)


def slot_description(config: Config, name: str, catalog: Catalog | None) -> str:
    """``Poe bot GPT-4o · 128k context · 16k output`` (the limits when known)."""
    mapping = config.mapping(name)
    if mapping is None:
        return f"{name} (not a mapped model)"
    limits = bot_limits(catalog, mapping.poe_model, mapping.context_window, mapping.max_output_tokens)
    parts = [f"Poe bot {mapping.poe_model}"]
    if limits.context_window:
        parts.append(f"{tokens_text(limits.context_window)} context")
    if limits.max_output_tokens:
        parts.append(f"{tokens_text(limits.max_output_tokens)} output")
    return " · ".join(parts)


def claude_code_env(config: Config, master_key: str, catalog: Catalog | None = None) -> dict[str, str]:
    """The variables, in the order people read them.

    ``catalog`` (Poe's, usually the cached one) gives the bots' display names and windows; without
    it the slots show the bot ids and only 1M context is turned off.
    """
    env = {BASE_URL: config.base_url, AUTH_TOKEN: master_key, API_KEY: ""}
    for slot, name in model_slots(config).items():
        variable = SLOT_VARIABLES[slot]
        env[variable] = name
        if slot in PICKER_SLOTS:
            mapping = config.mapping(name)
            env[f"{variable}_NAME"] = display_name(mapping.poe_model, catalog) if mapping else name
            env[f"{variable}_DESCRIPTION"] = slot_description(config, name, catalog)
    env[MODEL_DISCOVERY] = "1"
    for variable in PRIVACY_VARIABLES:
        env[variable] = "1"
    env.update(window_plan(config, catalog).variables)
    return env


def unneeded_variables(env: Mapping[str, str]) -> tuple[str, ...]:
    """The variables this program owns that ``env`` leaves out (to unset or remove)."""
    return tuple(name for name in OWNED_VARIABLES if name not in env)


def launch_environment(environ: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with ``env`` applied and every owned variable ``env`` leaves out removed."""
    merged = {k: v for k, v in environ.items() if k not in OWNED_VARIABLES}
    merged.update(env)
    return merged


# --- shells ---------------------------------------------------------------------------------


def default_shell(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    if os.name == "nt" and not environ.get("SHELL"):
        return "powershell"
    return "fish" if Path(environ.get("SHELL", "")).name == "fish" else "sh"


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render_env(env: Mapping[str, str], shell: str, unset: tuple[str, ...] = ()) -> str:
    """Lines that set ``env`` (and unset ``unset``) in ``shell``: ``eval "$(claude-poe-tui env)"`` and friends."""
    if shell == "sh":
        lines = [f"export {name}={_sh_quote(value)}" for name, value in env.items()]
        lines += [f"unset {name}" for name in unset]
    elif shell == "fish":
        lines = [f"set -gx {name} {_fish_quote(value)}" for name, value in env.items()]
        lines += [f"set -e {name}" for name in unset]
    elif shell == "powershell":
        lines = [f"$env:{name} = {_ps_quote(value)}" for name, value in env.items()]
        lines += [f"Remove-Item Env:{name} -ErrorAction SilentlyContinue" for name in unset]
    else:
        raise UserError(f"unknown shell {shell!r}: use one of {', '.join(SHELLS)}")
    return "\n".join(lines) + "\n"


# --- settings files -------------------------------------------------------------------------


def home() -> Path:
    return Path(os.path.expanduser("~"))


def settings_path(directory: Path | None = None, *, user: bool = False) -> Path:
    """``DIR/.claude/settings.local.json`` (DIR = cwd), or ``~/.claude/settings.json`` with ``user``."""
    if user:
        return home() / ".claude" / "settings.json"
    return (directory or Path.cwd()) / ".claude" / "settings.local.json"


def settings_files(directory: Path | None = None) -> list[Path]:
    """Where Claude Code reads settings from, highest precedence first (managed policy aside)."""
    directory = directory or Path.cwd()
    return [
        directory / ".claude" / "settings.local.json",
        directory / ".claude" / "settings.json",
        home() / ".claude" / "settings.json",
    ]


def read_settings(path: Path) -> dict[str, Any]:
    """A settings file's content; ``{}`` when absent; :class:`UserError` naming it when malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it: {exc}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix or remove it: it was left untouched"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: must hold a JSON object ({{...}}), not {type(data).__name__}; it was left untouched")
    if "env" in data and not isinstance(data["env"], dict):
        raise UserError(f"{path}: \"env\" must be a JSON object of variables; it was left untouched")
    return data


@dataclass(frozen=True)
class SettingsUpdate:
    path: Path
    created: bool
    changed: tuple[str, ...]
    """Variables added or given a new value."""
    kept_keys: tuple[str, ...]
    """Other top-level keys, kept as they were."""
    kept_env: tuple[str, ...]
    """Other env entries, kept as they were."""
    seed_keys: tuple[str, ...] = field(default=())
    """``anthropicBaseUrl``-style keys found: not Claude Code settings; kept, but they do nothing."""
    removed: tuple[str, ...] = field(default=())
    """Variables of ours this config no longer needs (or that stop model discovery), taken out."""


def write_settings_env(path: Path, env: Mapping[str, str]) -> SettingsUpdate:
    """Merge ``env`` into the settings file's ``"env"``: every other key and entry is kept, except
    the variables of ours that ``env`` leaves out (:data:`OWNED_VARIABLES`), which are removed.

    Atomic, mode 0600 (it holds the master key). A malformed file is an error, never overwritten.
    """
    data = read_settings(path)
    created = not path.exists()
    section = dict(data.get("env") or {})
    removed = tuple(name for name in unneeded_variables(env) if name in section)
    for name in removed:
        del section[name]
    changed = tuple(name for name, value in env.items() if section.get(name) != value)
    kept_env = tuple(name for name in section if name not in env)
    section.update(env)
    merged = dict(data)
    merged["env"] = section
    atomic_write_text(path, json.dumps(merged, indent=2, ensure_ascii=False) + "\n", mode=0o600)
    return SettingsUpdate(
        path=path,
        created=created,
        changed=changed,
        kept_keys=tuple(k for k in data if k != "env"),
        kept_env=kept_env,
        seed_keys=tuple(k for k in SEED_SETTINGS_KEYS if k in data),
        removed=removed,
    )


# --- the status line --------------------------------------------------------------------------

STATUS_LINE = "statusLine"


def statusline_command(request_log: Path, program: str | None = None) -> str:
    """What Claude Code runs for its status line: our ``statusline`` with the request log's path.

    The program is the ``claude-poe-tui`` beside the running Python (a venv's), else the one on
    PATH, else ``python -m claude_poe_tui`` (slower to start).
    """
    import shlex
    import sys

    if program is None:
        beside = Path(sys.executable).parent / ("claude-poe-tui.exe" if os.name == "nt" else "claude-poe-tui")
        found = str(beside) if beside.is_file() else shutil.which("claude-poe-tui")
        program = shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m claude_poe_tui"
    return f"{program} statusline --log {shlex.quote(str(request_log))}"


def is_our_statusline(value: Any) -> bool:
    command = value.get("command") if isinstance(value, dict) else None
    return isinstance(command, str) and "claude" in command and "poe" in command and " statusline" in command


@dataclass(frozen=True)
class StatusLineUpdate:
    path: Path
    installed: bool
    """False when the file already had a status line of its own, kept (no ``force``)."""
    previous: Any = None
    """The ``statusLine`` the file had before."""


def write_settings_statusline(path: Path, command: str, *, force: bool = False) -> StatusLineUpdate:
    """Set ``"statusLine": {"type": "command", "command": command}``, keeping another one unless ``force``."""
    data = read_settings(path)
    previous = data.get(STATUS_LINE)
    if previous is not None and not force and not is_our_statusline(previous):
        return StatusLineUpdate(path, installed=False, previous=previous)
    merged = dict(data)
    merged[STATUS_LINE] = {"type": "command", "command": command}
    atomic_write_text(path, json.dumps(merged, indent=2, ensure_ascii=False) + "\n", mode=0o600)
    return StatusLineUpdate(path, installed=True, previous=previous)


# --- is Claude Code pointed here? ----------------------------------------------------------


@dataclass(frozen=True)
class Pointer:
    where: str
    """``the environment`` or a settings file path."""
    base_url: str
    token_matches: bool | None
    """None when that place sets no ANTHROPIC_AUTH_TOKEN."""


def _same_url(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return url.strip().rstrip("/").replace("://localhost:", "://127.0.0.1:")

    return norm(a) == norm(b)


def effective_pointer(
    config: Config, master_key: str | None, environ: Mapping[str, str] | None = None, directory: Path | None = None
) -> tuple[Pointer | None, list[str]]:
    """Where Claude Code started here would send requests, and problems found on the way.

    Settings files' ``env`` override the shell's environment; the first file (by precedence)
    that sets ``ANTHROPIC_BASE_URL`` wins.
    """
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    for path in settings_files(directory):
        try:
            section = read_settings(path).get("env") or {}
        except UserError as exc:
            problems.append(str(exc))
            continue
        if isinstance(section.get(BASE_URL), str):
            token = section.get(AUTH_TOKEN, environ.get(AUTH_TOKEN))
            matches = None if token is None else (master_key is not None and token == master_key)
            return Pointer(str(path), section[BASE_URL], matches), problems
    if environ.get(BASE_URL):
        token = environ.get(AUTH_TOKEN)
        matches = None if token is None else (master_key is not None and token == master_key)
        return Pointer("the environment", environ[BASE_URL], matches), problems
    return None, problems


def points_here(pointer: Pointer, config: Config) -> bool:
    return _same_url(pointer.base_url, config.base_url)


# --- the binary -----------------------------------------------------------------------------


def find_claude_code(environ: Mapping[str, str] | None = None) -> str | None:
    """``$CLAUDE_CODE_BIN`` when set, else ``claude`` on PATH."""
    environ = os.environ if environ is None else environ
    override = environ.get(CLAUDE_CODE_BIN_ENV)
    if override:
        return override if Path(override).is_file() else shutil.which(override)
    return shutil.which("claude", path=environ.get("PATH"))


def claude_code_version(binary: str, timeout: float = 20.0) -> str | None:
    """``2.1.197 (Claude Code)``, or ``None`` if it does not answer."""
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or "").strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None
