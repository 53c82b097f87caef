"""Asking for one value (a key): hidden while typed, ``enter`` accepts, ``esc`` cancels."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class PromptScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
        Binding("ctrl+r", "reveal", "Show/hide", id="prompt.reveal"),
    ]

    def __init__(self, title: str, explanation: str, *, secret: bool = True, placeholder: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.explanation = explanation
        self.secret = secret
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.explanation, classes="dialog-text", markup=False)
            yield Input(password=self.secret, placeholder=self.placeholder, id="prompt-value")
            yield Static("", id="prompt-message", classes="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (enter)", variant="primary", id="prompt-ok")
                yield Button("Cancel (esc)", id="prompt-cancel")

    def on_mount(self) -> None:
        self.query_one("#prompt-value", Input).focus()

    def action_reveal(self) -> None:
        field = self.query_one("#prompt-value", Input)
        field.password = not field.password

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _accept(self) -> None:
        value = self.query_one("#prompt-value", Input).value.strip()
        message = self.query_one("#prompt-message", Static)
        if not value or any(ch.isspace() for ch in value):
            message.update("Enter a value without spaces (paste it whole).")
            message.add_class("error")
            return
        self.dismiss(value)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._accept()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "prompt-ok":
            self._accept()
        else:
            self.dismiss(None)
