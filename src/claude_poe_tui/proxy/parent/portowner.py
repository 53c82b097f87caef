"""Which program listens on a TCP port, so "port 4000 is in use" can say by whom.

Linux: the listening sockets in ``/proc/net/tcp`` and ``/proc/net/tcp6`` give the socket's inode
and owner uid; the process holding that inode is found among ``/proc/<pid>/fd``. Processes of
other users cannot be looked into: then only their uid is known. Elsewhere (macOS, BSD):
``lsof``, when installed. Best effort: ``None`` when nothing can be learned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column


@dataclass(frozen=True)
class PortOwner:
    pid: int | None
    name: str | None
    """The program's short name (``comm``), e.g. ``nginx``."""
    command: str | None
    """Its command line, shortened."""
    uid: int | None = None

    def describe(self) -> str:
        """``used by nginx (pid 812: nginx -g daemon off;)``, or by whom as far as known."""
        if self.pid is not None:
            what = self.name or "a program"
            command = f": {self.command}" if self.command and self.command != self.name else ""
            return f"used by {what} (pid {self.pid}{command})"
        if self.uid is not None:
            return f"used by a program of user {_user_name(self.uid)}"
        return "used by another program"


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def _listening_inodes(port: int, proc: Path) -> dict[int, int]:
    """inode -> owner uid of the sockets listening on ``port``, from /proc/net/tcp{,6}."""
    found: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            try:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port:
                    found[int(fields[9])] = int(fields[7])
            except (ValueError, IndexError):
                continue
    return {inode: uid for inode, uid in found.items() if inode}


def _short(command: str, limit: int = 120) -> str:
    return command if len(command) <= limit else command[: limit - 1] + "…"


def _process_of_inodes(inodes: dict[int, int], proc: Path) -> PortOwner | None:
    targets = {f"socket:[{inode}]" for inode in inodes}
    try:
        entries = sorted((int(e.name) for e in os.scandir(proc) if e.name.isdigit()))
    except OSError:
        return None
    for pid in entries:
        try:
            fds = os.scandir(proc / str(pid) / "fd")
        except OSError:
            continue  # gone, or another user's
        with fds:
            for fd in fds:
                try:
                    if os.readlink(fd.path) not in targets:
                        continue
                except OSError:
                    continue
                base = proc / str(pid)
                try:
                    name = (base / "comm").read_text().strip() or None
                except OSError:
                    name = None
                try:
                    raw = (base / "cmdline").read_bytes()
                    command = _short(raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()) or None
                except OSError:
                    command = None
                return PortOwner(pid=pid, name=name, command=command)
    return None


def _linux_owner(port: int, proc: Path) -> PortOwner | None:
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    owner = _process_of_inodes(inodes, proc)
    if owner is not None:
        return owner
    return PortOwner(pid=None, name=None, command=None, uid=next(iter(inodes.values())))


def _lsof_owner(port: int) -> PortOwner | None:
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    try:
        done = subprocess.run(
            [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    pid, name = None, None
    for line in done.stdout.splitlines():
        if line.startswith("p") and pid is None:
            pid = int(line[1:]) if line[1:].isdigit() else None
        elif line.startswith("c") and name is None:
            name = line[1:]
    if pid is None:
        return None
    command = None
    try:
        ps = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
        command = _short(ps.stdout.strip()) or None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return PortOwner(pid=pid, name=name, command=command)


def port_owner(port: int, *, proc: Path = Path("/proc")) -> PortOwner | None:
    """Who listens on TCP ``port`` on this machine, as far as can be known."""
    if sys.platform.startswith("linux") and (proc / "net" / "tcp").exists():
        return _linux_owner(port, proc)
    return _lsof_owner(port)


def describe_port_owner(port: int) -> str:
    """A phrase for messages: ``used by nginx (pid 812: …)``; empty when nothing is known."""
    owner = port_owner(port)
    return owner.describe() if owner else ""
