"""Copying text to the user's clipboard, and saying truthfully how far it got.

In order:

1. Inside tmux (``$TMUX`` set): ``tmux load-buffer -w -``. The text lands in tmux's paste buffer
   for certain, and ``-w`` has tmux pass it on to the outer terminal's clipboard as well (tmux's
   default ``set-clipboard external`` drops an application's own OSC 52, so sending that alone
   would reach nothing).
2. A system clipboard tool when one is there: ``wl-copy`` (Wayland), ``xclip`` or ``xsel`` (X11),
   ``pbcopy`` (macOS).
3. Else an OSC 52 escape sequence, which the caller writes to the terminal. Nothing answers it,
   so whether it reached the clipboard is unknown, and :meth:`CopyResult.message` says so.

The text goes to the tools on stdin, never on a command line. Plain Python, no Textual.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TOOL_TIMEOUT = 3.0  # seconds; a clipboard tool that hangs must not hold the dashboard


class CopyMethod(enum.Enum):
    TMUX = "tmux"  # tmux's paste buffer (and, through tmux, the terminal's clipboard)
    TOOL = "tool"  # a system clipboard tool
    OSC52 = "osc52"  # an escape sequence the terminal may or may not honour


@dataclass(frozen=True)
class CopyResult:
    method: CopyMethod
    tool: str = ""
    """The program that took the text (``tmux``, ``xclip``…); empty for OSC 52."""
    problems: tuple[str, ...] = ()
    """Ways tried before this one that failed, for the message."""

    @property
    def certain(self) -> bool:
        """Whether the text is known to have arrived somewhere it can be pasted from."""
        return self.method is not CopyMethod.OSC52

    def message(self, what: str) -> str:
        if self.method is CopyMethod.TMUX:
            return (f"{what} copied into tmux's paste buffer (prefix ] pastes it); tmux also passes it to "
                    "your terminal's clipboard if the terminal allows that.")
        if self.method is CopyMethod.TOOL:
            return f"{what} copied to the clipboard (with {self.tool})."
        tried = f" ({'; '.join(self.problems)})" if self.problems else ""
        return (f"{what} sent to the terminal as an OSC 52 clipboard request, with no clipboard tool "
                f"found{tried}. It may not have reached the clipboard: many terminals ignore it.")


Runner = Callable[..., subprocess.CompletedProcess]


def clipboard_tools(environ: Mapping[str, str], platform: str = sys.platform) -> list[list[str]]:
    """The clipboard commands worth trying here, best first (whether installed is checked later)."""
    tools: list[list[str]] = []
    if environ.get("WAYLAND_DISPLAY"):
        tools.append(["wl-copy"])
    if environ.get("DISPLAY"):
        tools += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    if platform == "darwin":
        tools.append(["pbcopy"])
    return tools


def _feed(command: list[str], text: str, run: Runner, environ: Mapping[str, str]) -> str | None:
    """Run ``command`` with ``text`` on stdin; None when it worked, else what went wrong.

    Output goes to /dev/null: xclip and wl-copy stay behind to serve the selection, and a pipe
    they hold open would keep us waiting for them.
    """
    try:
        done = run(command, input=text.encode("utf-8"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=TOOL_TIMEOUT, env=dict(environ), check=False)
    except subprocess.TimeoutExpired:
        return f"{command[0]} did not finish within {TOOL_TIMEOUT:.0f} s"
    except OSError as exc:
        return f"{command[0]}: {exc.strerror or exc}"
    if done.returncode != 0:
        return f"{command[0]} failed (exit status {done.returncode})"
    return None


def copy_text(text: str, *, environ: Mapping[str, str] | None = None, run: Runner = subprocess.run,
              which: Callable[[str], str | None] = shutil.which, platform: str = sys.platform) -> CopyResult:
    """Copy ``text`` by the best way available (blocking, up to a few seconds: call from a worker).

    An OSC 52 result means nothing else worked: the caller sends the sequence itself.
    """
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    if environ.get("TMUX") and which("tmux"):
        problem = _feed(["tmux", "load-buffer", "-w", "-"], text, run, environ)
        if problem is None:
            return CopyResult(CopyMethod.TMUX, "tmux")
        problems.append(problem)
    for command in clipboard_tools(environ, platform):
        if which(command[0]) is None:
            continue
        problem = _feed(command, text, run, environ)
        if problem is None:
            return CopyResult(CopyMethod.TOOL, command[0], tuple(problems))
        problems.append(problem)
    return CopyResult(CopyMethod.OSC52, problems=tuple(problems))
