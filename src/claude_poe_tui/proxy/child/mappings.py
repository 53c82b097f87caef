"""The gateway's ``/claude-poe-tui/models``: its config file's ``[[models]]``, read and written.

Runs in the proxy child, on a worker thread (the file is read and written synchronously). The list
is checked by the config's own rules (:func:`~claude_poe_tui.config.load.mappings_from_json`), then
written with the comment-preserving :class:`~claude_poe_tui.config.edit.ConfigEditor`, atomically,
and only after the whole config with the new list still validates. Nothing but ``[[models]]`` is
ever changed or sent: no keys, no URLs, no other section. The child does not apply what it wrote:
the ``serve`` that runs it watches the file and applies it (once, whatever the number of workers).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from claude_poe_tui.proxy.child.errors import anthropic_error

NOT_EDITABLE = ("this gateway does not change its config file: it was not started by `claude-poe-tui serve`, "
                "which watches that file and applies it")
_WRITING = threading.Lock()  # one write at a time in this process (workers: atomic replaces)


def _unwritable(path: Path) -> str | None:
    """Why ``path`` must not be written, or None. A file without any write permission is read-only
    even for root (who could write it): someone made it so on purpose."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        read_only_mount = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only_mount = False
    if read_only_mount:
        return f"{path} is on a read-only file system (mounted read-only, as `export compose` and `export systemd` do)"
    if not mode & 0o222 or not os.access(path, os.W_OK):
        return f"{path} is read-only (mode {mode & 0o777:04o})"
    if not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} cannot be written"
    return None


def read(path: str, editable: bool) -> tuple[int, dict[str, Any]]:
    from claude_poe_tui.config.load import load_config, mapping_to_json
    from claude_poe_tui.errors import UserError

    if not path:
        return 409, anthropic_error(409, "this gateway was started without a config file")
    try:
        config = load_config(Path(path))
    except UserError as exc:
        return 409, anthropic_error(409, f"the gateway's config file cannot be read: {exc}")
    why_not = None if editable else NOT_EDITABLE
    if why_not is None:
        problem = _unwritable(Path(path))
        why_not = f"the gateway's config file cannot be written: {problem}" if problem else None
    return 200, {"models": [mapping_to_json(m) for m in config.models], "config": path,
                 "editable": why_not is None, "why_not": why_not}


def write(path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    from claude_poe_tui.config.edit import ConfigEditor
    from claude_poe_tui.config.load import MappingListError, mappings_from_json
    from claude_poe_tui.errors import UserError

    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return 400, anthropic_error(400, f"the body must be JSON: {exc}")
    if isinstance(body, dict):
        extra = sorted(set(body) - {"models"})
        if extra:
            return 400, anthropic_error(400, f"unknown field {extra[0]!r}: the body is {{\"models\": [...]}} and "
                                             "nothing else (keys, URLs and other settings are not changed here)")
        body = body.get("models")
    try:
        mappings = mappings_from_json(body)
    except MappingListError as exc:
        return 400, anthropic_error(400, str(exc))
    file = Path(path)
    with _WRITING:
        problem = _unwritable(file)
        if problem:
            return 409, anthropic_error(409, f"the gateway's config file cannot be written: {problem}")
        try:
            editor = ConfigEditor.open(file)
            editor.replace_models(mappings)
            config = editor.save()
        except UserError as exc:  # the whole config refuses the list (a [claude_code] slot, …)
            return 400, anthropic_error(400, str(exc))
        except OSError as exc:
            return 409, anthropic_error(409, f"the gateway's config file cannot be written: {type(exc).__name__}: {exc}")
    return 200, {"models": [m.name for m in config.models], "config": path, "written": True}
