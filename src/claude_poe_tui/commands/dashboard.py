"""``claude-poe-tui`` with no command: the dashboard (after first-run setup when there is no config)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _first_run(args: argparse.Namespace) -> int:
    """No config yet: run `init` in the terminal (it asks for the Poe key), then open the dashboard."""
    from claude_poe_tui.commands import init

    print("claude-poe-tui: no config yet, so first the setup (the same as `claude-poe-tui init`).\n")
    setup = argparse.Namespace(
        config=getattr(args, "config", None),
        poe_key=None,
        port=None,
        yes=False,
        force=False,
        no_check=False,
        poe_base_url=None,
    )
    return init.run(setup)


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.paths import locate_config

    location = locate_config(getattr(args, "config", None))
    if not location.path.exists() and sys.stdin.isatty():
        code = _first_run(args)
        if code:
            return code
    from claude_poe_tui.ui.app import PoeTuiApp

    app = PoeTuiApp(location.path)
    try:
        app.run()
    finally:
        if app.proxy is not None:
            app.proxy.shutdown()  # however the app ended, a proxy it started does not outlive it
    return app.return_code or 0
