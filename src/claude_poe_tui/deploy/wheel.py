"""The running claude-poe-tui as a wheel, for the gateway image to pip-install.

The image then holds exactly the version that wrote the deployment, from any install (a checkout
installed with ``pip install -e .``, or a wheel), without a package index that serves it. The
wheel is pure Python and built from what is installed: the package's files, with the metadata and
entry points pip recorded. Entries are sorted and dated 1980-01-01, so the same install gives the
same bytes and Docker's layer cache holds.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from pathlib import Path

import claude_poe_tui

DISTRIBUTION = "claude-poe-tui"
PACKAGE = "claude_poe_tui"
# What the package ships (pyproject's package-data: *.tcss, *.toml), besides its modules.
SHIPPED_SUFFIXES = (".py", ".tcss", ".toml")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def wheel_filename() -> str:
    return f"{PACKAGE}-{claude_poe_tui.__version__}-py3-none-any.whl"


def _package_files() -> list[tuple[str, Path]]:
    root = Path(claude_poe_tui.__file__).parent
    files = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts:
            files.append((f"{PACKAGE}/{path.relative_to(root).as_posix()}", path))
    return sorted(files)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{name},sha256={digest},{len(data)}"


def wheel_bytes() -> bytes:
    """The wheel's contents."""
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    version = claude_poe_tui.__version__
    if distribution.version != version:
        raise RuntimeError(f"installed metadata says {distribution.version}, the package {version}: reinstall it")
    info = f"{PACKAGE}-{version}.dist-info"
    entries: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in _package_files()]
    entries.append((f"{info}/METADATA", (distribution.read_text("METADATA") or "").encode("utf-8")))
    entries.append((f"{info}/entry_points.txt", (distribution.read_text("entry_points.txt") or "").encode("utf-8")))
    entries.append((f"{info}/WHEEL", (
        "Wheel-Version: 1.0\n"
        f"Generator: claude-poe-tui export {version}\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    ).encode("ascii")))
    record = "".join(_record_line(name, data) + "\n" for name, data in entries) + f"{info}/RECORD,,\n"
    entries.append((f"{info}/RECORD", record.encode("utf-8")))

    handle = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            item = zipfile.ZipInfo(name, date_time=_EPOCH)
            item.compress_type = zipfile.ZIP_DEFLATED
            item.external_attr = 0o644 << 16
            archive.writestr(item, data)
    handle.seek(0)
    return handle.read()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (temp file in the same folder, then rename), mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_wheel(directory: Path) -> Path:
    """Write the wheel into ``directory``; its path."""
    path = directory / wheel_filename()
    atomic_write_bytes(path, wheel_bytes())
    return path
