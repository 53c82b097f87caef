"""The proxy child process: LiteLLM's proxy app behind our gateway, served by uvicorn.

Started by :class:`claude_poe_tui.proxy.parent.process.ProxyProcess` as
``python -m claude_poe_tui.proxy.child --fd N --litellm-config X --gateway-config Y``. This is the
only place that imports LiteLLM (~3.6 s, ~200 MB), so the dashboard and the CLI stay fast.

* The listening socket is bound by the parent and inherited as ``--fd``: a busy port is the
  parent's clear error, and a restart never drops the port.
* The parent holds our stdin open; when it closes (the parent exited, even by SIGKILL) we shut
  down, so no proxy is ever left behind.
* Keys arrive only in the environment; the compiled files refer to them by name.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time

from claude_poe_tui.proxy.protocol import CONTROL_TOKEN_ENV, READY_LINE

SHUTDOWN_GRACE_SECONDS = 3.0


def _watch_parent(on_parent_gone) -> None:
    """Call ``on_parent_gone`` when stdin (a pipe the parent holds) reaches end of file."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        on_parent_gone()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claude_poe_tui.proxy.child")
    parser.add_argument("--fd", type=int, required=True, help="listening socket inherited from the parent")
    parser.add_argument("--litellm-config", required=True)
    parser.add_argument("--gateway-config", required=True)
    args = parser.parse_args(argv)

    server_box: dict[str, object] = {}

    def parent_gone() -> None:
        server = server_box.get("server")
        if server is not None:
            server.should_exit = True  # type: ignore[attr-defined]
        # Whatever happens to the graceful path, be gone soon.
        timer = threading.Timer(SHUTDOWN_GRACE_SECONDS + 2.0, lambda: os._exit(0))
        timer.daemon = True
        timer.start()
        if server is None:
            os._exit(0)

    _watch_parent(parent_gone)

    # LiteLLM reads these at import and start; no network at start, no feedback banner.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "true")
    os.environ.setdefault("LITELLM_LOG", "WARNING")
    os.environ["CONFIG_FILE_PATH"] = args.litellm_config

    with open(args.gateway_config, encoding="utf-8") as handle:
        gateway_config = json.load(handle)
    master_key = os.environ.get(gateway_config["master_key_env"], "")
    if not master_key:
        print(f"claude-poe-tui: {gateway_config['master_key_env']} is not set for the proxy", file=sys.stderr)
        return 2

    started = time.perf_counter()
    import uvicorn
    from litellm.proxy.proxy_server import app as litellm_app

    from claude_poe_tui.proxy.child import litellm_patches
    from claude_poe_tui.proxy.child.gateway import Gateway, GatewaySettings
    from claude_poe_tui.requestlog.writer import RequestLogWriter

    litellm_patches.apply_all()
    settings = GatewaySettings.from_json(gateway_config, master_key)
    writer = None
    if settings.request_log:
        writer = RequestLogWriter(
            settings.request_log["path"],
            max_bytes=settings.request_log["max_bytes"],
            backups=settings.request_log["backups"],
        ).start()
    from claude_poe_tui.proxy.child.reload import apply_litellm_models

    app = Gateway(
        litellm_app,
        settings,
        writer,
        control_token=os.environ.pop(CONTROL_TOKEN_ENV, ""),
        reload_models=apply_litellm_models,
    )
    print(f"claude-poe-tui: LiteLLM loaded in {time.perf_counter() - started:.1f} s", flush=True)

    from claude_poe_tui.proxy.child.warmup import warm_up

    chat_route = any(mapping.route == "chat" for mapping in settings.models.values())

    class ReportingServer(uvicorn.Server):
        async def startup(self, sockets=None) -> None:  # type: ignore[override]
            await super().startup(sockets=sockets)
            if self.started:
                # Pay LiteLLM's first-request costs now, so neither a client's first request nor
                # a restart right after start finds the event loop busy with them.
                await warm_up(litellm_app, chat_route=chat_route)
                print(READY_LINE, flush=True)

    listener = socket.socket(fileno=args.fd)
    loop = "uvloop" if sys.platform != "win32" else "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        loop=loop,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_SECONDS),
        lifespan="on",
    )
    server = ReportingServer(config)
    server_box["server"] = server
    try:
        server.run(sockets=[listener])
    finally:
        if writer is not None:
            writer.close()
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
