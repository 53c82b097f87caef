"""nginx in front of the gateway: streams pass through event by event, waits outlast the gateway's.

The file is an ``http``-level snippet (an ``upstream`` and a ``server``), the form both the official
nginx image (``/etc/nginx/conf.d/default.conf``) and the distributions (``/etc/nginx/conf.d/*.conf``)
include. The gateway marks each stream ``X-Accel-Buffering: no``, but an nginx that ignores that
header and compresses event streams (a global ``gzip_types``) holds events until a block fills
unless the site says ``proxy_buffering off`` (tests/test_export.py shows both). Without
``proxy_http_version 1.1`` nginx speaks HTTP/1.0 to the gateway and cannot keep connections open.
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_poe_tui.deploy.plan import READ_TIMEOUT_MARGIN_SECONDS, GatewayPlan, Target
from claude_poe_tui.proxy.protocol import BALANCER_KEEP_ALIVE_SECONDS, KEEP_ALIVE_SECONDS

UPSTREAM_NAME = "claude_poe_tui"


def render_nginx_site(plan: GatewayPlan, servers: Sequence[str], *, listen: int, written_by: str) -> str:
    """The snippet for ``servers`` (``host:port`` each), listening on ``listen``."""
    balance = ""
    if plan.target is Target.COMPOSE or len(servers) > 1:
        balance = (
            "    # The gateway with the fewest requests in flight: a request lasts from a second to minutes.\n"
            "    least_conn;\n"
        )
    server_lines = "".join(f"    server {server};\n" for server in servers)
    if plan.target is Target.COMPOSE:
        resolved = ("    # `gateway` is every replica: Docker's DNS gives nginx each one's address when nginx\n"
                    "    # starts (compose restarts nginx when the replicas are recreated).\n")
    else:
        resolved = (f"    # One `serve`: its {plan.workers} worker(s) share this one socket ([proxy] workers).\n")
    proxy = plan.config.proxy
    return (
        f"# claude-poe-tui team gateway: nginx in front, passing streams through as they come.\n"
        f"# Written by `{written_by}` from {plan.config_path}.\n"
        f"# TLS: terminate it here (listen 443 ssl; ssl_certificate ...) or in a proxy in front; see the README.\n"
        f"\n"
        f"upstream {UPSTREAM_NAME} {{\n"
        f"{balance}"
        f"{resolved}"
        f"{server_lines}"
        f"    # Connections kept open to the gateway (HTTP/1.1 and an empty Connection header below).\n"
        f"    keepalive 32;\n"
        f"    # Idle ones closed before the gateway's own {KEEP_ALIVE_SECONDS} s, so nginx never sends a request on one\n"
        f"    # the gateway is closing.\n"
        f"    keepalive_timeout {BALANCER_KEEP_ALIVE_SECONDS}s;\n"
        f"}}\n"
        f"\n"
        f"server {{\n"
        f"    listen {listen};\n"
        f"    # Above [proxy] max_request_mb ({proxy.max_request_mb:g}): the gateway itself answers 413, in the client's shape.\n"
        f"    client_max_body_size {plan.max_body_mb}m;\n"
        f"\n"
        f"    location / {{\n"
        f"        proxy_pass http://{UPSTREAM_NAME};\n"
        f"        proxy_http_version 1.1;\n"
        f"        proxy_set_header Connection \"\";\n"
        f"        proxy_set_header Host $host;\n"
        f"        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        f"        proxy_set_header X-Forwarded-Proto $scheme;\n"
        f"        # Streamed answers (server-sent events) go to the client event by event, and request\n"
        f"        # bodies to the gateway as they arrive: nothing waits in nginx's buffers. (The gateway also\n"
        f"        # sends X-Accel-Buffering: no; this holds even where that header is ignored, or where\n"
        f"        # nginx compresses event streams, which would hold events until a block fills.)\n"
        f"        proxy_buffering off;\n"
        f"        proxy_request_buffering off;\n"
        f"        # A bot may think for minutes before its next event: [proxy] request_timeout ({proxy.request_timeout:g} s)\n"
        f"        # x {plan.attempts} bot(s) a request may try (the longest fallbacks list) + {READ_TIMEOUT_MARGIN_SECONDS} s,\n"
        f"        # so the gateway's own timeout answers first.\n"
        f"        proxy_read_timeout {plan.read_timeout_seconds}s;\n"
        f"        # A model request (a POST) goes to another gateway only when this one never got it:\n"
        f"        # nginx adds no hidden retries.\n"
        f"        proxy_next_upstream error timeout;\n"
        f"        proxy_connect_timeout 5s;\n"
        f"    }}\n"
        f"}}\n"
    )
