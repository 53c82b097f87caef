"""``claude-poe-tui`` with no command (or ``dashboard``): the dashboard, after first-run setup when
there is no config; with ``--attach URL``, the dashboard over a gateway on another machine."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--attach", metavar="URL", default=argparse.SUPPRESS,
                        help="show the gateway at URL (https://gateway:4000): its status, live requests, latency, "
                             "mappings (read-only); nothing is started here")
    parser.add_argument("--key-env", metavar="NAME", default=argparse.SUPPRESS,
                        help="the variable holding that gateway's master key, from the environment or the .env "
                             "beside the config (default: LITELLM_MASTER_KEY)")


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
    attach = getattr(args, "attach", None)
    if getattr(args, "key_env", None) and not attach:
        from claude_poe_tui.errors import UserError

        raise UserError("--key-env names the master key of a gateway given with --attach URL")
    if attach:
        return _attached(attach, location.path, getattr(args, "key_env", None))
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


def _attached(url: str, config_path, key_env: str | None) -> int:
    """The dashboard over a remote gateway: no config of its own needed, only the master key."""
    from claude_poe_tui.control.remote import attach_target
    from claude_poe_tui.ui.app import PoeTuiApp

    target = attach_target(url, config_path, key_env)
    app = PoeTuiApp(config_path, start_proxy=False, remote=target)
    app.run()
    return app.return_code or 0
