"""``claude-poe-tui compile``: print what the proxy child runs, compiled from the TOML config.

The Router's configuration (its model list and settings: what ``litellm.Router`` gets) and, with
``--gateway``, our gateway's settings (the mapping table with each bot's limits).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    parser.add_argument("--gateway", action="store_true", help="also print the gateway's settings (mapping table, limits)")


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.compiler import compile_gateway_settings, compile_router_config, render_yaml
    from claude_poe_tui.paths import StatePaths
    from claude_poe_tui.poe.catalog import load_cache

    config = config_from_args(args)
    compiled: dict = {"router": compile_router_config(config)}
    if args.gateway:
        paths = StatePaths.default()
        gateway = compile_gateway_settings(config, str(paths.request_log_for(config.log.path)), load_cache(paths.catalog_cache))
        compiled["gateway"] = gateway
    if args.json:
        print(json.dumps(compiled if args.gateway else compiled["router"], indent=2))
        return 0
    print(f"# What the proxy child's litellm.Router gets, compiled from {config.path}")
    print("# Keys are environment references; claude-poe-tui fills them in the proxy's environment.")
    print(render_yaml(compiled if args.gateway else compiled["router"]), end="")
    return 0
