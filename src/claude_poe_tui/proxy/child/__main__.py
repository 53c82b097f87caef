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
* ``[proxy] workers = N`` forks N gateway processes once LiteLLM is loaded (workers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_poe_tui.proxy.protocol import CONTROL_TOKEN_ENV, KEEP_ALIVE_SECONDS, READY_LINE, WARM_LINE

EXIT_GRACE_SECONDS = 5.0  # after the drain, before the process is simply gone
RELOAD_FILE = "reload.json"  # beside the compiled files: the last reload, for every worker


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


def _die_with_master() -> None:
    """A worker ends when the process that forked it does (Linux: the kernel tells it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


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
    workers = int(gateway_config.get("workers", 1) or 1)
    server_box: dict[str, Any] = {}
    gone = threading.Event()

    def parent_gone() -> None:
        gone.set()
        server = server_box.get("server")
        if server is None:
            if workers > 1 and server_box.get("master"):
                return  # the master sees the flag and stops its workers
            os._exit(0)
        server.should_exit = True
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
    import uvicorn  # noqa: F401 - loaded once, before any fork

    from claude_poe_tui.proxy.child import app as _app  # noqa: F401

    litellm_seam.configure()
    print(f"claude-poe-tui: LiteLLM loaded in {time.perf_counter() - started:.1f} s", flush=True)
    # Pay LiteLLM's first-request imports now (before any fork: every worker shares them), so no
    # client's first request waits for them.
    warm = time.perf_counter()
    chat_route = any(m.get("route") == "chat" for m in gateway_config.get("models", []))
    litellm_seam.import_lazy_modules(chat_route)
    print(f"{WARM_LINE} in {time.perf_counter() - warm:.1f} s", flush=True)

    run_dir = Path(args.gateway_config).parent
    listener = socket.socket(fileno=args.fd)
    options = ServeOptions(gateway_config, router_config, master_key, control_token, listener, drain_seconds, run_dir)
    if workers <= 1:
        return serve(options, server_box)

    from claude_poe_tui.proxy.child.workers import Master

    def serve_worker(slot, board) -> int:
        _die_with_master()
        return serve(options, {}, board=board, slot=slot)

    master = Master(workers, serve_worker, drain_seconds=drain_seconds, grace_seconds=EXIT_GRACE_SECONDS,
                    say=lambda line: print(line, flush=True))
    server_box["master"] = master
    return master.run(parent_gone=gone.is_set)


@dataclass(frozen=True)
class ServeOptions:
    gateway_config: dict
    router_config: dict
    master_key: str
    control_token: str
    listener: socket.socket
    drain_seconds: float
    run_dir: Path


def serve(options: ServeOptions, server_box: dict, *, board: Any = None, slot: int = 0) -> int:
    """One gateway: the app over an engine, served by uvicorn on the inherited socket."""
    import uvicorn

    from claude_poe_tui.proxy.child import litellm_seam
    from claude_poe_tui.proxy.child.app import GatewayApp
    from claude_poe_tui.proxy.child.engine import Engine
    from claude_poe_tui.proxy.child.settings import GatewaySettings
    from claude_poe_tui.proxy.protocol import ReloadPayload
    from claude_poe_tui.requestlog.writer import RequestLogWriter

    gateway_config, router_config = options.gateway_config, options.router_config
    reload_file = options.run_dir / RELOAD_FILE
    if board is not None and board.reload_target and reload_file.exists():
        # A worker started again after a crash serves what its siblings serve now.
        payload = ReloadPayload.from_json(json.loads(reload_file.read_text(encoding="utf-8")))
        gateway_config = {**gateway_config, **payload.gateway}
        router_config = payload.router
    litellm_seam.install_http_client()
    settings = GatewaySettings.from_json(gateway_config, options.master_key)
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
    app = GatewayApp(engine, settings, writer, control_token=options.control_token, points=points,
                     board=board, slot=slot, reload_file=reload_file)
    if board is not None:
        board.mark_applied(slot, board.reload_target)
    drain_seconds = options.drain_seconds

    class GatewayServer(uvicorn.Server):
        async def startup(self, sockets=None) -> None:  # type: ignore[override]
            await super().startup(sockets=sockets)
            if not self.started:
                return
            await engine.start()
            if points is not None:
                from claude_poe_tui.points.service import traffic_since_last_call

                # Poe's history is polled only while requests flow.
                await points.astart(has_traffic=traffic_since_last_call(lambda: app.requests_served))
            if board is None:
                print(READY_LINE, flush=True)
                return
            # A sibling's reload arrives as SIGHUP (through the master).
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, app.take_sibling_reload)
            board.ready(slot)

        async def shutdown(self, sockets=None) -> None:  # type: ignore[override]
            app.begin_drain(drain_seconds)
            if app.open_streams:
                print(f"claude-poe-tui: stopping; {app.open_streams} stream(s) in flight get up to "
                      f"{drain_seconds:g} s to finish", flush=True)
            await super().shutdown(sockets=sockets)
            await engine.close()
            if points is not None:
                await points.astop()

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
        # Longer than a load balancer keeps idle connections to us (protocol.BALANCER_KEEP_ALIVE_SECONDS):
        # with uvicorn's 5 s, nginx could reuse a connection at the moment we close it, and a POST that
        # meets that race is a 502 nginx does not retry.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="off",
    )
    server = GatewayServer(config)
    server_box["server"] = server
    sockets = [options.listener]
    if board is not None:
        own = _own_socket(options.listener)
        if own is not None:
            sockets.append(own)
    try:
        server.run(sockets=sockets)
    finally:
        if writer is not None:
            writer.close()
    return 0 if server.started else 1


def _own_socket(shared: socket.socket) -> socket.socket | None:
    """A worker's own listening socket on the shared port (``SO_REUSEPORT``: the parent bound the
    port so): the kernel then spreads new connections over the workers instead of letting the
    first one awake take them all. None where the port is not shared that way."""
    try:
        if not shared.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
            return None
        own = socket.socket(shared.family, socket.SOCK_STREAM)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own.bind(shared.getsockname()[:2])
        own.listen(2048)
        return own
    except (AttributeError, OSError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
