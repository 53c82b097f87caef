"""``claude-poe-tui serve``: run the embedded proxy in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="do not print the proxy's own output")
    parser.add_argument(
        "--start-timeout", type=float, default=120.0, metavar="SECONDS", help="how long to wait for the proxy to start"
    )


def _say(message: str) -> None:
    print(f"claude-poe-tui: {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    from claude_poe_tui.commands._common import config_from_args
    from claude_poe_tui.config import resolve_secrets
    from claude_poe_tui.poe.refresh import refresh_catalog_in_background
    from claude_poe_tui.proxy.parent.process import OutputLine, ProxyProcess, ProxyState

    config = config_from_args(args)
    secrets = resolve_secrets(config)
    proxy = ProxyProcess(config, secrets)
    if not args.quiet:
        proxy.add_listener(lambda event: print(f"  proxy | {event.text}", flush=True) if isinstance(event, OutputLine) else None)

    # SIGTERM (systemd, docker stop, kill) stops as gracefully as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    _say(f"config {config.path}")
    if not config.models:
        _say("warning: no [[models]] mappings: every request will be refused until you add one")
    for mapping in config.models:
        _say(f"  {mapping.name} -> Poe {mapping.poe_model} ({mapping.effective_route.value})")
    _say(f"starting the LiteLLM proxy on {proxy.url} (Poe key from {secrets.poe_api_key_origin})")
    began = time.monotonic()
    try:
        proxy.start()
        proxy.wait_ready(timeout=args.start_timeout)
        refresh_catalog_in_background(config.poe.base_url, proxy.state_paths.catalog_cache, say=_say,
                                      then=lambda _: proxy.apply(proxy.config, proxy.secrets))  # stale or missing
        _say(f"ready in {time.monotonic() - began:.1f} s: point Claude Code at it with")
        _say(f"  export ANTHROPIC_BASE_URL={proxy.url} ANTHROPIC_AUTH_TOKEN=<master key> ANTHROPIC_API_KEY=")
        _say("  (or: eval \"$(claude-poe-tui env)\"); Ctrl-C stops the proxy")
        while proxy.state is ProxyState.RUNNING:
            time.sleep(0.2)
        _say(f"error: {proxy.detail}")
        return 1
    except KeyboardInterrupt:
        _say("stopping the proxy")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        proxy.stop()
        if proxy.state is ProxyState.STOPPED:
            print("claude-poe-tui: stopped", file=sys.stderr, flush=True)
