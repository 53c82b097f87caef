"""``claude-poe-tui locate``: where the config, the state and the request log live."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.config import load_config
    from claude_poe_tui.errors import ConfigError
    from claude_poe_tui.paths import StatePaths, locate_config

    location = locate_config(getattr(args, "config", None))
    state = StatePaths.default()
    request_log = state.request_log
    port = None
    try:
        config = load_config(location.path)
        port = config.proxy.port
        request_log = state.request_log_for(config.log.path)
    except ConfigError:
        config = None
    exists = "" if location.path.exists() else "  (does not exist yet)"
    print(f"config:       {location.path}  [{location.source}]{exists}")
    print(f".env:         {location.path.parent / '.env'}")
    print(f"state:        {state.root}")
    print(f"request log:  {request_log}")
    if port is not None:
        print(f"proxy files:  {state.run_dir(port)}")
    print(f"Poe catalog:  {state.catalog_cache}")
    return 0
