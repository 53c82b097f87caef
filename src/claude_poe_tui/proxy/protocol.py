"""The wire contract between our side (``proxy/parent``) and the proxy child (``proxy/child``).

Both sides import this module and nothing else of each other: the paths and headers the child
answers, the line it prints when ready, how the control token travels, and the typed payloads that
cross the boundary. Plain Python: no LiteLLM, no httpx, no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Printed by the child on stdout once it serves requests.
READY_LINE = "claude-poe-tui: proxy ready"
# Printed by the child once LiteLLM's first-request costs are paid (part of getting ready).
WARM_LINE = "claude-poe-tui: proxy warmed up"

# Answered by the child without the master key: what it is, for probes (attach, doctor, claude).
STATUS_PATH = "/claude-poe-tui/status"
# A new model list, applied without a restart; needs the control token, not the master key.
RELOAD_PATH = "/claude-poe-tui/reload"
CONTROL_HEADER = b"x-claude-poe-tui-control"
# The request log, for a dashboard on another machine (master key): its last ``tail`` records as
# JSON lines, then, with ``follow=1``, every new record as it is written (blank lines keep it alive).
REQUESTS_PATH = "/claude-poe-tui/requests"
# The points of those requests, the same way (master key): the points store's last ``tail`` lines,
# then each new one (a later line for a request replaces its earlier one). 404 without points.
POINTS_PATH = "/claude-poe-tui/points"
# The mapping list, for a dashboard on another machine (master key only; a member's token gets 403):
# GET answers ``{"models": [mapping, ...], "config": path, "editable": bool, "why_not": str | null}``
# as the config file says; PUT with ``{"models": [mapping, ...]}`` (every [[models]] field, nothing
# else) validates the list and writes it into the config file, comments kept. The ``serve`` that runs
# the gateway sees the file change and applies it. Only a gateway whose parent set
# ``config_editable`` in its gateway settings writes (``serve`` does; a dashboard's own proxy not).
MODELS_PATH = "/claude-poe-tui/models"
# The control token reaches the child in its environment (it removes it at once) and the
# dashboard or CLI through a 0600 file in the run folder.
CONTROL_TOKEN_ENV = "CLAUDE_POE_TUI_CONTROL_TOKEN"
# On SIGTERM the child lets streams in flight finish for this many seconds (``[proxy]
# drain_seconds``, a decimal number), then ends those still open with an error event and exits.
# The parent waits that long plus DRAIN_MARGIN_SECONDS before it sends SIGKILL.
DRAIN_SECONDS_ENV = "CLAUDE_POE_TUI_DRAIN_SECONDS"
DRAIN_MARGIN_SECONDS = 5.0

# How long the gateway keeps an idle client connection open, and how long a load balancer in front
# may keep one (the exported nginx site): the gateway must outlast the balancer, or a request the
# balancer sends on a connection the gateway is closing fails with a 502.
KEEP_ALIVE_SECONDS = 75
BALANCER_KEEP_ALIVE_SECONDS = 60

# Liveness and readiness, without a key and without calling any bot.
HEALTH_PATHS = ("/health/liveliness", "/health/readiness", "/health")

PRODUCT = "claude-poe-tui"

# In each compiled Router deployment's model_info: which mapping it serves and by which route
# ("messages": Poe's Anthropic endpoint, the body as sent; "chat": translated by LiteLLM).
MAPPING_INFO_KEY = "poe_tui_mapping"
ROUTE_INFO_KEY = "poe_tui_route"
KEY_INFO_KEY = "poe_tui_key"  # with a key pool: the variable holding this deployment's Poe key
LIMITS_INFO_KEY = "poe_tui_limits"  # {"rpm": N, "tpm": M}: the mapping's limits, enforced by the gateway


def control_token_path(run_dir: Path) -> Path:
    return run_dir / "control.token"


@dataclass(frozen=True)
class ReloadPayload:
    """What :data:`RELOAD_PATH` takes: the Router's configuration and the gateway's, both compiled.

    ``router`` is what ``compile_router_config`` returns (model list and router settings);
    ``gateway`` is what ``compile_gateway_settings`` returns (the mapping table and our settings).
    """

    router: dict[str, Any]
    gateway: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"router": self.router, "gateway": self.gateway}

    @classmethod
    def from_json(cls, data: Any) -> ReloadPayload:
        if not isinstance(data, dict):
            raise ValueError("the reload payload must be a JSON object")
        router, gateway = data.get("router"), data.get("gateway")
        if not isinstance(router, dict) or not isinstance(router.get("model_list"), list):
            raise ValueError("the reload payload needs router.model_list (a list)")
        if not isinstance(gateway, dict) or not isinstance(gateway.get("models"), list):
            raise ValueError("the reload payload needs gateway.models (a list)")
        return cls(router=router, gateway=gateway)


@dataclass(frozen=True)
class ProxyStatus:
    """What :data:`STATUS_PATH` answers (never a key, never a prompt)."""

    version: str
    pid: int
    config: str
    started_at: float
    models: list[str]
    request_log: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    """Figures the child adds (requests served, in flight, the request log's health, …)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "product": PRODUCT,
            "version": self.version,
            "pid": self.pid,
            "config": self.config,
            "started_at": self.started_at,
            "models": self.models,
            "request_log": self.request_log,
            **self.extra,
        }
