"""The Textual dashboard: a thin layer that shows the core's state and turns keys into core calls."""
