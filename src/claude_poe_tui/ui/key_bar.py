"""The bottom line: the keys of what has focus, drawn as text that wraps at entry boundaries.

Textual's ``Footer`` recomposes on every focus change, so every pane switch mounted a fresh set of
``FooterKey`` widgets. Their style caches outlived them (Textual's colour cache keeps up to
1024 of them: see ui/memory.py), and the garbage collector walked all of that on every full collection: measured
at 200 requests/s, collections of 70-130 ms every couple of seconds, which keys waited behind.
This bar is one widget whose text changes, and nothing else.

When the entries do not fit the width (an 80-column terminal) they wrap onto a second line,
never in the middle of an entry; what a third line would hold is left to ``?`` (help) and
``ctrl+p`` (the palette), and the bar says so with a final ``…``.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widgets import Static

MAX_LINES = 2


def layout_entries(widths: list[int], width: int, max_lines: int = MAX_LINES) -> list[list[int]]:
    """Which entries go on which line: greedy, never splitting an entry; entries that would need
    more than ``max_lines`` lines are left out (and the last line keeps room for "…")."""
    lines: list[list[int]] = [[]]
    used = 0
    for index, entry in enumerate(widths):
        if lines[-1] and used + entry > width:
            if len(lines) == max_lines:
                break
            lines.append([])
            used = 0
        lines[-1].append(index)
        used += entry
    shown = sum(len(line) for line in lines)
    if shown < len(widths):
        # Room for the "…" that says more keys exist.
        while lines[-1] and sum(widths[i] for i in lines[-1]) + 2 > width:
            lines[-1].pop()
    return lines


class KeyBar(Static):
    COMPONENT_CLASSES = {"key-bar--key"}
    DEFAULT_CSS = """
    KeyBar { height: auto; max-height: 2; background: $panel; color: $text; }
    KeyBar > .key-bar--key { color: $accent; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # (line, first column, past the last, key) of each entry
        self._key_spans: list[tuple[int, int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self, event: events.Resize) -> None:
        self.update(self.keys_text())

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.update(self.keys_text())

    def _entries(self) -> list[tuple[Text, str | None]]:
        key_style = self.get_component_rich_style("key-bar--key")
        entries: list[tuple[Text, str | None]] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)  # one entry per action, as Footer shows it
            entry = Text()
            entry.append(f" {self.app.get_key_display(binding)} ", style=key_style if enabled else "dim")
            entry.append(f"{binding.description} ", style="" if enabled else "dim")
            entries.append((entry, binding.key.split(",")[0].strip() if enabled else None))
        if self.app.ENABLE_COMMAND_PALETTE:
            entry = Text()
            entry.append("  ^p ", style=key_style)
            entry.append("palette")
            entries.append((entry, "ctrl+p"))
        return entries

    def keys_text(self, width: int | None = None) -> Text:
        entries = self._entries()
        width = width or self.size.width or self.app.size.width
        lines = layout_entries([cell_len(entry.plain) for entry, _ in entries], width)
        text = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, int, str]] = []
        shown = 0
        for number, line in enumerate(lines):
            if number:
                text.append("\n")
            column = 0
            for index in line:
                entry, key = entries[index]
                text.append_text(entry)
                if key is not None:
                    spans.append((number, column, column + cell_len(entry.plain), key))
                column += cell_len(entry.plain)
                shown += 1
        if shown < len(entries):
            text.append(" …", style="dim")
        self._key_spans = spans
        return text

    def on_click(self, event: events.Click) -> None:
        """A click on an entry does what its key does, as on Textual's Footer."""
        for line, start, end, key in self._key_spans:
            if line == event.y and start <= event.x < end:
                self.app.simulate_key(key)
                return
