"""The proxy child process: our gateway over LiteLLM's Router, served by uvicorn.

Started by :class:`claude_poe_tui.proxy.parent.process.ProxyProcess` as
``python -m claude_poe_tui.proxy.child --fd N --router-config X --gateway-config Y``. This is the
only process that imports LiteLLM (~3.6 s, ~200 MB), so the dashboard and the CLI stay fast; and
it imports LiteLLM's library only, never its proxy-server app (no admin routes, no database).

* The listening socket is bound by the parent and inherited as ``--fd``: a busy port is the
  parent's clear error, and a restart never drops the port.
* The parent holds our stdin open; when it closes (the parent exited, even by SIGKILL) we shut
  down, so no proxy is ever left behind.
* Keys arrive only in the environment; the compiled files refer to them by name.
* SIGTERM drains: no new connections are taken, streams in flight get ``[proxy] drain_seconds`` to
  finish, and those still open then end with an ``event: error`` instead of a cut.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
import time

from claude_poe_tui.proxy.protocol import CONTROL_TOKEN_ENV, READY_LINE, WARM_LINE

EXIT_GRACE_SECONDS = 5.0  # after the drain, before the process is simply gone


def _watch_parent(on_parent_gone) -> None:
    """Call ``on_parent_gone`` when stdin (a pipe the parent holds) reaches end of file."""

    def watch() -> None:
        # The raw descriptor, not sys.stdin: a thread blocked in a buffered read holds its lock and
        # makes the interpreter abort when the child exits early (a config error, a wrong LiteLLM).
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        on_parent_gone()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claude_poe_tui.proxy.child")
    parser.add_argument("--fd", type=int, required=True, help="listening socket inherited from the parent")
    parser.add_argument("--router-config", required=True)
    parser.add_argument("--gateway-config", required=True)
    args = parser.parse_args(argv)

    with open(args.gateway_config, encoding="utf-8") as handle:
        gateway_config = json.load(handle)
    with open(args.router_config, encoding="utf-8") as handle:
        router_config = json.load(handle)
    drain_seconds = float(gateway_config.get("drain_seconds", 30.0))
    server_box: dict[str, object] = {}

    def parent_gone() -> None:
        server = server_box.get("server")
        if server is None:
            os._exit(0)
        server.should_exit = True  # type: ignore[attr-defined]
        # Whatever happens to the graceful path, be gone soon after the drain.
        timer = threading.Timer(drain_seconds + EXIT_GRACE_SECONDS + 2.0, lambda: os._exit(0))
        timer.daemon = True
        timer.start()

    _watch_parent(parent_gone)

    # LiteLLM reads these at import: no network at start, no feedback banner, quiet logs.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "true")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    master_key = os.environ.get(gateway_config["master_key_env"], "")
    if not master_key:
        print(f"claude-poe-tui: {gateway_config['master_key_env']} is not set for the proxy", file=sys.stderr)
        return 2
    control_token = os.environ.pop(CONTROL_TOKEN_ENV, "")

    from claude_poe_tui.proxy.child import litellm_seam

    try:
        litellm_seam.check_version()
    except litellm_seam.WrongLiteLLM as exc:
        print(f"claude-poe-tui: {exc}", file=sys.stderr, flush=True)
        return 2

    started = time.perf_counter()
    import uvicorn

    from claude_poe_tui.proxy.child.app import GatewayApp
    from claude_poe_tui.proxy.child.engine import Engine
    from claude_poe_tui.proxy.child.settings import GatewaySettings
    from claude_poe_tui.requestlog.writer import RequestLogWriter

    litellm_seam.configure()
    litellm_seam.install_http_client()
    settings = GatewaySettings.from_json(gateway_config, master_key)
    writer = None
    if settings.request_log:
        writer = RequestLogWriter(
            settings.request_log["path"],
            max_bytes=settings.request_log["max_bytes"],
            backups=settings.request_log["backups"],
        ).start()
    engine = Engine(router_config, settings)
    points = None
    if writer is not None and gateway_config.get("points"):
        from claude_poe_tui.points.service import PointsService, PointsSettings

        points_settings = PointsSettings.from_json(gateway_config["points"])
        points = PointsService(points_settings, os.environ.get(points_settings.api_key_env))
    app = GatewayApp(engine, settings, writer, control_token=control_token, points=points)
    print(f"claude-poe-tui: LiteLLM loaded in {time.perf_counter() - started:.1f} s", flush=True)
    chat_route = any(mapping.route == "chat" for mapping in settings.models.values())

    class GatewayServer(uvicorn.Server):
        async def startup(self, sockets=None) -> None:  # type: ignore[override]
            await super().startup(sockets=sockets)
            if self.started:
                await engine.start()
                if points is not None:
                    from claude_poe_tui.points.service import traffic_since_last_call

                    # Poe's history is polled only while requests flow.
                    await points.astart(has_traffic=traffic_since_last_call(lambda: app.requests_served))
                # Pay LiteLLM's first-request imports now, so no client's first request waits.
                warm = time.perf_counter()
                await asyncio.to_thread(litellm_seam.import_lazy_modules, chat_route)
                print(f"{WARM_LINE} in {time.perf_counter() - warm:.1f} s", flush=True)
                print(READY_LINE, flush=True)

        async def shutdown(self, sockets=None) -> None:  # type: ignore[override]
            app.begin_drain(drain_seconds)
            if app.open_streams:
                print(f"claude-poe-tui: stopping; {app.open_streams} stream(s) in flight get up to "
                      f"{drain_seconds:g} s to finish", flush=True)
            await super().shutdown(sockets=sockets)
            await engine.close()
            if points is not None:
                await points.astop()

    listener = socket.socket(fileno=args.fd)
    loop = "asyncio"
    if sys.platform != "win32":
        try:
            import uvloop  # noqa: F401

            loop = "uvloop"
        except ImportError:
            pass
    config = uvicorn.Config(
        app,
        loop=loop,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=int(drain_seconds + EXIT_GRACE_SECONDS),
        lifespan="off",
    )
    server = GatewayServer(config)
    server_box["server"] = server
    try:
        server.run(sockets=[listener])
    finally:
        if writer is not None:
            writer.close()
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
