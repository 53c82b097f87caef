"""The gateway's settings inside the child: the mapping table and limits, as the compiler wrote them.

Read from the gateway JSON the parent writes (``compile_gateway_settings``) and replaced whole on a
reload; plain data, no LiteLLM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MappingInfo:
    name: str
    poe_model: str
    route: str
    """``messages`` (Poe's Anthropic endpoint, the body as sent) or ``chat`` (translated)."""
    thinking: dict[str, Any] | None = None
    """How Claude Code's thinking reaches the bot (compiler.thinking_spec); see shaping.py."""
    context_window: int | None = None
    max_output_tokens: int | None = None
    fallbacks: tuple[str, ...] = ()
    picker_id: str | None = None
    """The id Claude Code's /model lists and sends (``anthropic-poe-<name>`` for non-Claude names)."""
    display_name: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MappingInfo:
        return cls(
            name=data["name"],
            poe_model=data["poe_model"],
            route=data["route"],
            thinking=data.get("thinking"),
            context_window=data.get("context_window"),
            max_output_tokens=data.get("max_output_tokens"),
            fallbacks=tuple(data.get("fallbacks") or ()),
            picker_id=data.get("picker_id"),
            display_name=data.get("display_name") or data["name"],
        )


@dataclass
class GatewaySettings:
    models: dict[str, MappingInfo]
    master_key: str
    poe_key_origin: str = "[poe] api_key"
    master_key_origin: str = "[proxy] master_key"
    request_timeout: float = 600.0
    drain_seconds: float = 30.0
    max_request_bytes: int = 32 * 1024 * 1024
    exposed: bool = False
    """Listening beyond loopback: the status page then needs the master key too."""
    members: dict[str, str] = field(default_factory=dict)
    """``[[clients]]``: SHA-256 of a member's token -> the member's name."""
    redis_url: str | None = None
    """``[redis] url`` (an ``os.environ/NAME`` reference is resolved in the child)."""
    request_log: dict[str, Any] | None = None
    config_path: str = ""
    config_editable: bool = False
    """The parent watches ``config_path`` and applies it (``serve``): the mapping endpoint may write it."""
    started_at: float = field(default_factory=time.time)

    @classmethod
    def from_json(cls, data: dict[str, Any], master_key: str) -> GatewaySettings:
        return cls(
            models={m["name"]: MappingInfo.from_json(m) for m in data.get("models", [])},
            master_key=master_key,
            poe_key_origin=data.get("poe_key_origin", "[poe] api_key"),
            master_key_origin=data.get("master_key_origin", "[proxy] master_key"),
            request_timeout=float(data.get("request_timeout", 600.0)),
            drain_seconds=float(data.get("drain_seconds", 30.0)),
            max_request_bytes=int(data.get("max_request_bytes", 32 * 1024 * 1024)),
            exposed=bool(data.get("exposed", False)),
            members={m["sha256"]: m["name"] for m in data.get("members") or []},
            redis_url=data.get("redis_url"),
            request_log=data.get("request_log"),
            config_path=data.get("config_path", ""),
            config_editable=bool(data.get("config_editable", False)),
        )

    def mapping(self, model: str) -> MappingInfo | None:
        """The mapping a requested model name reaches: its own name, or its /model picker id."""
        found = self.models.get(model)
        if found is not None:
            return found
        return next((m for m in self.models.values() if m.picker_id == model), None)

    def take_reload(self, fresh: GatewaySettings) -> None:
        """What a reload may change without a new child: the mappings and their limits."""
        self.models = fresh.models
        self.request_timeout = fresh.request_timeout
        self.members = fresh.members

    def unknown_model_message(self, model: str) -> str:
        names = ", ".join(sorted(self.models)) or "(none)"
        return (
            f"model '{model}' is not mapped to a Poe bot. Configured model names: {names}. "
            f"Add a [[models]] entry with name = \"{model}\" to {self.config_path or 'the config'}."
        )
