"""The bottom line: the keys of what has focus, drawn as one line of text.

Textual's ``Footer`` recomposes on every focus change, so every pane switch mounted a fresh set of
``FooterKey`` widgets. Their style caches outlived them (Textual's colour cache keeps up to
1024 of them: see ui/memory.py), and the garbage collector walked all of that on every full collection: measured
at 200 requests/s, collections of 70-130 ms every couple of seconds, which keys waited behind.
This bar is one widget whose text changes, and nothing else.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
    COMPONENT_CLASSES = {"key-bar--key"}
    DEFAULT_CSS = """
    KeyBar { height: 1; background: $panel; color: $text; }
    KeyBar > .key-bar--key { color: $accent; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key_spans: list[tuple[int, int, str]] = []  # (first column, past the last, key) of each entry

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.update(self.keys_text())

    def keys_text(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        key_style = self.get_component_rich_style("key-bar--key")
        seen: set[str] = set()
        spans: list[tuple[int, int, str]] = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)  # one entry per action, as Footer shows it
            start = len(line)
            line.append(f" {self.app.get_key_display(binding)} ", style=key_style if enabled else "dim")
            line.append(f"{binding.description} ", style="" if enabled else "dim")
            if enabled:
                spans.append((start, len(line), binding.key.split(",")[0].strip()))
        if self.app.ENABLE_COMMAND_PALETTE:
            start = len(line)
            line.append("  ^p ", style=key_style)
            line.append("palette")
            spans.append((start, len(line), "ctrl+p"))
        self._key_spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        """A click on an entry does what its key does, as on Textual's Footer."""
        for start, end, key in self._key_spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
