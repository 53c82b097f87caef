"""The Proxy output pane's list: one line per event, its detail folded, wrapped to the pane.

Events come from :class:`~claude_poe_tui.output_events.OutputGrouper`. Each shows as its summary
(a time, ▸ when lines are folded under it, and how many), wrapped to the width of the pane as it
is now, not as it was when the line arrived; enter unfolds the selected event's detail (a
traceback) under it, and folds it again. Like the Logs table this draws only the lines on screen
(Textual's line API) and keeps a bounded number of events.
"""

from __future__ import annotations

import bisect
import collections
import time
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from claude_poe_tui.output_events import OutputEvent

DETAIL_INDENT = "    "


class OutputView(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"output-view--cursor", "output-view--time", "output-view--folded"}
    DEFAULT_CSS = """
    OutputView { background: $surface; }
    OutputView > .output-view--cursor { background: $block-cursor-background 40%; }
    OutputView:blur > .output-view--cursor { background: $block-cursor-blurred-background 30%; }
    OutputView > .output-view--time { color: $text-muted; }
    OutputView > .output-view--folded { color: $text-muted; text-style: italic; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Follow", id="output.follow", tooltip="Jump to the newest event and keep following"),
        Binding("enter", "toggle", "Unfold", id="output.toggle", tooltip="Show or fold the selected event's detail"),
    ]

    def __init__(self, *, max_events: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.events: collections.deque[OutputEvent] = collections.deque(maxlen=max_events)
        self.expanded: set[int] = set()  # numbers of unfolded events
        self.cursor = 0  # index into events
        self.following = True
        self._counts: dict[int, int] = {}  # event number -> screen lines at _counted_width
        self._counted_width = 0
        self._starts: list[int] | None = None  # first screen line of each event (None: to rebuild)
        self._strips: LRUCache[tuple[int, int, int, bool], list[Strip]] = LRUCache(512)

    # -- feeding --

    def add(self, event: OutputEvent, new: bool) -> None:
        """``event`` is new, or an event shown already got more lines."""
        if new:
            full = len(self.events) == self.events.maxlen
            if full:
                gone = self.events[0]
                self._counts.pop(gone.number, None)
                self.expanded.discard(gone.number)
                self.cursor = max(0, self.cursor - 1)
            self.events.append(event)
        self._counts.pop(event.number, None)
        self._starts = None
        self._update_size()
        if self.following:
            self.cursor = len(self.events) - 1
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def clear(self) -> None:
        self.events.clear()
        self.expanded.clear()
        self._counts.clear()
        self._starts = None
        self.cursor = 0
        self.following = True
        self._update_size()
        self.refresh()

    # -- layout --

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width

    def _event_lines(self, event: OutputEvent, width: int) -> list[Text]:
        """The event as screen lines: ``time ▸ summary`` wrapped under itself (a hanging indent),
        then, when unfolded, its detail indented further."""
        console = self.app.console
        folded = event.folded
        open_ = event.number in self.expanded
        head = Text(time.strftime("%H:%M:%S ", time.localtime(event.at)), style=self.get_component_rich_style("output-view--time"))
        head.append("▾ " if folded and open_ else ("▸ " if folded else "  "))
        indent = head.cell_len
        body = Text(event.summary)
        if folded and not open_:
            body.append(f"  (+{folded} lines: enter)", style=self.get_component_rich_style("output-view--folded"))
        lines = [head + line if number == 0 else Text(" " * indent) + line
                 for number, line in enumerate(body.wrap(console, max(8, width - indent), overflow="fold"))]
        if open_:
            detail = list(event.detail)
            if event.dropped:
                detail.append(f"… {event.dropped} more lines not kept")
            for raw in detail:
                for line in Text(raw).wrap(console, max(8, width - indent - 2), overflow="fold"):
                    lines.append(Text(" " * (indent + 2)) + line)
        return lines

    def _lines(self, event: OutputEvent, width: int) -> list[Strip]:
        key = (event.number, event.version, width, event.number in self.expanded)
        strips = self._strips.get(key)
        if strips is None:
            console = self.app.console
            strips = [Strip(list(line.render(console, end=""))) for line in self._event_lines(event, max(width, 1))]
            self._strips[key] = strips
        return strips

    def _count(self, event: OutputEvent) -> int:
        width = self._width
        if width <= 0:
            return 1  # not on screen yet: counted again once it has a size
        if width != self._counted_width:
            self._counts.clear()
            self._counted_width = width
        count = self._counts.get(event.number)
        if count is None:
            count = self._counts[event.number] = len(self._lines(event, width))
        return count

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            starts, total = [], 0
            for event in self.events:
                starts.append(total)
                total += self._count(event)
            starts.append(total)
            self._starts = starts
        return self._starts

    def _update_size(self) -> None:
        self.virtual_size = Size(self._width, self._line_starts()[-1])

    def on_resize(self, event: events.Resize) -> None:
        self._starts = None
        self._update_size()
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    # -- the cursor --

    def move_cursor(self, index: int) -> None:
        if not self.events:
            return
        self.cursor = max(0, min(index, len(self.events) - 1))
        self.following = self.cursor == len(self.events) - 1
        starts = self._line_starts()
        top, bottom = starts[self.cursor], starts[self.cursor + 1]
        height = max(1, self.scrollable_content_region.height)
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False, immediate=True, force=True)
        elif bottom > self.scroll_y + height:
            self.scroll_to(y=max(top, bottom - height), animate=False, immediate=True, force=True)
        self.refresh()

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, direction: int) -> None:
        if not self.events:
            return
        starts = self._line_starts()
        target = starts[self.cursor] + direction * max(1, self.scrollable_content_region.height - 1)
        self.move_cursor(max(0, bisect.bisect_right(starts, max(0, target)) - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.events) - 1)
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_toggle(self) -> None:
        if not self.events:
            return
        event = self.events[self.cursor]
        if not event.folded:
            return
        self.expanded ^= {event.number}
        self._counts.pop(event.number, None)
        self._starts = None
        self._update_size()
        self.move_cursor(self.cursor)
        self.following = False if event.number in self.expanded else self.following

    def on_click(self, event: events.Click) -> None:
        starts = self._line_starts()
        line = round(self.scroll_y) + event.y
        index = bisect.bisect_right(starts, line) - 1
        if 0 <= index < len(self.events):
            if index == self.cursor:
                self.action_toggle()
            else:
                self.move_cursor(index)

    # -- drawing --

    def render_line(self, y: int) -> Strip:
        width = self._width
        base = self.rich_style
        line = round(self.scroll_y) + y
        starts = self._line_starts()
        index = bisect.bisect_right(starts, line) - 1
        if not 0 <= index < len(self.events):
            return Strip.blank(width, base)
        event = self.events[index]
        strips = self._lines(event, width)
        offset = line - starts[index]
        if offset >= len(strips):
            return Strip.blank(width, base)
        strip = strips[offset]
        style: Style = base
        if index == self.cursor:
            style = base + self.get_component_rich_style("output-view--cursor")
        return strip.apply_style(style).extend_cell_length(width, style).crop(0, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
