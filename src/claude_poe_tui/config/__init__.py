"""The config: typed model, reading with precise errors, and comment-preserving edits."""

from claude_poe_tui.config.load import Secrets, load_config, parse_config, resolve_secrets
from claude_poe_tui.config.model import Config, ModelMapping, Route

__all__ = ["Config", "ModelMapping", "Route", "Secrets", "load_config", "parse_config", "resolve_secrets"]
