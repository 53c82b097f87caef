"""``claude-poe-tui compile``: print the LiteLLM config our compiler makes from the TOML config."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of YAML")


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.compiler import compile_litellm_config, render_yaml

    config = config_from_args(args)
    compiled = compile_litellm_config(config)
    if args.json:
        print(json.dumps(compiled, indent=2))
    else:
        print(f"# LiteLLM proxy config compiled from {config.path}")
        print("# Keys are environment references; claude-poe-tui fills them in the proxy's environment.")
        print(render_yaml(compiled), end="")
    return 0
