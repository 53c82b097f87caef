"""What most commands start with: finding and reading the config."""

from __future__ import annotations

import argparse

from claude_poe_tui.config import Config, load_config
from claude_poe_tui.paths import locate_config


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(locate_config(getattr(args, "config", None)).path)


def request_log_from_args(args: argparse.Namespace):
    """The request log of the config the arguments name (the default one when there is no config)."""
    from claude_poe_tui.paths import StatePaths

    state = StatePaths.default()
    location = locate_config(getattr(args, "config", None))
    if not location.path.exists():
        return state.request_log
    return state.request_log_for(load_config(location.path).log.path)
