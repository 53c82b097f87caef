"""What most commands start with: finding and reading the config."""

from __future__ import annotations

import argparse

from claude_poe_tui.config import Config, load_config
from claude_poe_tui.paths import locate_config


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(locate_config(getattr(args, "config", None)).path)
