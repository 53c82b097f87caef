"""The proxy's output as events: one headline each, the detail (a traceback) folded under it.

The proxy child prints whatever its libraries print: one upstream 429 can be ~60 lines of
traceback. :class:`OutputGrouper` takes the lines as they come and groups them, by shape only
(never by a library's exact wording, which changes between versions):

- a line starting ``Traceback (most recent call last):`` opens a traceback; it belongs to the event
  before it when that one announces a problem (it mentions an error, exception, failure or
  warning, or ends with ``:``), as ``logger.exception("…")`` prints it; else it starts an event;
- inside a traceback, indented and blank lines are frames; the first line that is not indented is
  the exception line, which ends the traceback and becomes the event's summary;
- after the exception line, Python's chaining lines ("During handling of the above exception…",
  "The above exception was the direct cause…") and the next traceback stay in the event, as do
  lines that carry on the exception's message (anything that does not look like the start of a
  new log record: a time stamp, a level word, a bracket, a ``name: `` prefix);
- elsewhere an indented line carries on the event before it, a blank line is dropped, and every
  other line is an event of its own.

Plain Python, no Textual; the dashboard's Proxy output pane shows the events.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

TRACEBACK_START = "Traceback (most recent call last):"
CHAINING = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
DETAIL_KEPT = 400  # lines of detail per event; the rest are counted
MESSAGE_CONTINUATION_MAX = 20  # unindented lines after an exception line that may carry on its message

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PROBLEM = re.compile(r"error|exception|fail|warn|critical|fatal|traceback", re.IGNORECASE)
_LEVEL = r"(?:DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL|EXCEPTION)\b"
# The start of a new log record: a date or time stamp, a bracket, a level word (also after a
# logger's name, as in `litellm.proxy: ERROR`), a `name: ` prefix, or a traceback.
_RECORD_START = re.compile(
    r"^(?:\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d|\[|" + _LEVEL + r"|[\w.\- ]{1,40}?[:\s-]\s*" + _LEVEL
    + r"|[\w.\-]+:\s|Traceback\b)"
)


def plain(line: str) -> str:
    """A line without its terminal colours."""
    return _ANSI.sub("", line)


def looks_like_record_start(line: str) -> bool:
    return bool(_RECORD_START.match(line))


@dataclass(eq=False)
class OutputEvent:
    number: int
    """Counts up from 0 in the order events start."""
    headline: str
    at: float = 0.0
    """When its first line arrived (Unix time)."""
    detail: list[str] = field(default_factory=list)
    """The folded lines, in order (at most DETAIL_KEPT)."""
    dropped: int = 0
    """Detail lines beyond DETAIL_KEPT, counted only."""
    exception: str | None = None
    """The line that ended its (last) traceback: ``ValueError: …``."""
    version: int = 0
    """Bumped on every change, so a view can tell a cached drawing is stale."""

    @property
    def summary(self) -> str:
        """The one line that stands for the event: its headline, and the exception that ended its
        traceback unless the headline says that already."""
        if self.exception is None:
            return self.headline
        if self.headline.startswith(TRACEBACK_START):
            return self.exception
        message = self.exception.rpartition(": ")[2].strip()
        if message and message in self.headline:
            return self.headline
        return f"{self.headline}  ⟶ {self.exception}"

    @property
    def folded(self) -> int:
        """How many lines are folded under the headline."""
        return len(self.detail) + self.dropped

    def add_detail(self, line: str) -> None:
        if len(self.detail) < DETAIL_KEPT:
            self.detail.append(line)
        else:
            self.dropped += 1
        self.version += 1


class OutputGrouper:
    """Feed it lines; it says which event each went to."""

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.current: OutputEvent | None = None
        self._next = 0
        self._in_frames = False  # between a traceback's first line and its exception line
        self._after_exception = 0  # lines since the exception line, 0 when not just after one

    def _new(self, headline: str) -> OutputEvent:
        event = OutputEvent(self._next, headline, self.clock())
        self._next += 1
        self.current = event
        self._in_frames = False
        self._after_exception = 0
        return event

    def feed(self, raw: str) -> tuple[OutputEvent | None, bool]:
        """``(the event the line went to, whether that event is new)``; ``(None, False)`` for a
        line that went nowhere (a blank line before any event)."""
        line = plain(raw).rstrip()
        stripped = line.strip()
        current = self.current
        indented = line[:1].isspace()

        if stripped.startswith(TRACEBACK_START) and not indented:
            if current is not None and (self._in_frames or self._chained() or self._announces(current)):
                current.add_detail(line)
                self._in_frames, self._after_exception = True, 0
                return current, False
            event = self._new(line)
            self._in_frames = True
            return event, True

        if current is not None and self._in_frames:
            current.add_detail(line)
            if stripped and not indented:  # the exception line
                current.exception = stripped
                current.version += 1
                self._in_frames, self._after_exception = False, 1
            return current, False

        if current is not None and self._after_exception:
            if not stripped or stripped in CHAINING or indented or (
                self._after_exception <= MESSAGE_CONTINUATION_MAX and not looks_like_record_start(line)
            ):
                current.add_detail(line)
                self._after_exception += 1
                return current, False
            self._after_exception = 0

        if not stripped:
            return None, False
        if indented and current is not None:
            current.add_detail(line)
            return current, False
        return self._new(line), True

    def _chained(self) -> bool:
        """The last lines of the current event say another traceback follows."""
        current = self.current
        if current is None or not self._after_exception:
            return False
        return any(line.strip() in CHAINING for line in current.detail[-3:])

    def _announces(self, event: OutputEvent) -> bool:
        """The event's headline announces a problem, so the traceback that follows is its detail."""
        if event.exception is not None:
            return False  # its own traceback is over; this one is a new story
        return bool(_PROBLEM.search(event.headline)) or event.headline.rstrip().endswith(":")


def group_lines(lines: list[str]) -> list[OutputEvent]:
    """All the events in ``lines`` (a convenience for tests and one-off use)."""
    grouper = OutputGrouper(clock=lambda: 0.0)
    events: list[OutputEvent] = []
    for line in lines:
        event, new = grouper.feed(line)
        if new and event is not None:
            events.append(event)
    return events
