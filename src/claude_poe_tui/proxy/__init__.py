"""The embedded LiteLLM proxy: the process we own (parent side) and what runs inside it."""
