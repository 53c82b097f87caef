"""``claude-poe-tui`` with no command: the dashboard."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.paths import locate_config
    from claude_poe_tui.ui.app import PoeTuiApp

    app = PoeTuiApp(locate_config(getattr(args, "config", None)).path)
    try:
        app.run()
    finally:
        if app.session is not None:
            app.session.shutdown()  # however the app ended, a proxy it started does not outlive it
    return app.return_code or 0
