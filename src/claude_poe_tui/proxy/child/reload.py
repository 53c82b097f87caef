"""Applying a new model list to the running LiteLLM proxy, inside the child, without a restart.

The dashboard saves a mapping change and the proxy serves it within milliseconds: no dropped
streams, no 4-second start. What needs the child's environment or socket to change (keys, port,
host, the request log) still goes through a restart; :meth:`ProxyProcess.apply` decides.
"""

from __future__ import annotations

import copy
from typing import Any


def apply_litellm_models(litellm_config: dict[str, Any]) -> None:
    import litellm
    from litellm.proxy import proxy_server
    from litellm.types.router import ModelGroupSettings

    model_list = litellm_config.get("model_list") or []
    router = proxy_server.llm_router
    if router is None:
        raise RuntimeError("the proxy has no router yet")
    router.set_model_list(copy.deepcopy(model_list))
    proxy_server.llm_model_list = copy.deepcopy(model_list)
    group_settings = (litellm_config.get("litellm_settings") or {}).get("model_group_settings")
    litellm.model_group_settings = ModelGroupSettings(**group_settings) if group_settings else None
