"""claude-poe-tui: Claude Code on Poe through an embedded LiteLLM proxy."""

__version__ = "0.1.0"
