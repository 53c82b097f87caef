#!/usr/bin/env python3
"""Benchmark: how close ``POST /v1/messages/count_tokens`` comes to Anthropic's own counts.

There is no Anthropic tokenizer offline, so the known counts are the ones Anthropic publishes in its
token-counting guide, for Claude Opus 4, with the exact request bodies printed there:

* ``basic``: system "You are a scientist", one user message "Hello, Claude": 14 tokens;
* ``tools``: the ``get_weather`` tool and "What's the weather like in San Francisco?": 403 tokens;
* ``thinking``: a three-turn conversation whose assistant turn carries a thinking block (which
  Anthropic does not count for earlier turns): 88 tokens.

(The guide's image and PDF examples need files this machine does not have.)

One run starts the stand-in Poe server without its ``count_tokens`` endpoint (so the proxy estimates
locally, as it does whenever Poe has no count) and, against it, ``ours`` (``claude-poe-tui serve``) and
the anchor ``bare-same`` (LiteLLM's own proxy with the same model list, as in ``bench_proxy.py``).
Each gets the three bodies for the Claude bot; the report gives each count and its ratio to Anthropic's.

Run from the repository with its venv:  python benchmarks/bench_count_tokens.py
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench_proxy import (ANTHROPIC_VERSION, MASTER_KEY, RESULTS_DIR, ROUTES, Children, _raise_interrupt,
                         git_revision, litellm_version, start_system, start_upstream)

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a given location",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}},
        "required": ["location"],
    },
}

# (name, request body without "model", Anthropic's published input_tokens)
PUBLISHED: list[tuple[str, dict[str, Any], int]] = [
    ("basic", {"system": "You are a scientist", "messages": [{"role": "user", "content": "Hello, Claude"}]}, 14),
    ("tools", {"tools": [WEATHER_TOOL],
               "messages": [{"role": "user", "content": "What's the weather like in San Francisco?"}]}, 403),
    ("thinking", {
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "messages": [
            {"role": "user", "content": "Are there an infinite number of prime numbers such that n mod 4 == 3?"},
            {"role": "assistant", "content": [
                {"type": "thinking",
                 "thinking": "This is a nice number theory question. Let's think about it step by step...",
                 "signature": "EuYBCkQYAiJAgCs1le6/Pol5Z4/JMomVOouGrWdhYNsH3ukzUECbB6iWrSQtsQuRHJID6lWV..."},
                {"type": "text", "text": "Yes, there are infinitely many prime numbers p such that p mod 4 = 3..."},
            ]},
            {"role": "user", "content": "Can you write a formal proof?"},
        ]}, 88),
]

SYSTEMS = ("ours", "bare-same")


def ask(url: str, model: str, body: dict[str, Any]) -> tuple[int | None, str | None]:
    response = httpx.post(f"{url}/v1/messages/count_tokens", json={"model": model, **body}, timeout=60,
                          headers={"x-api-key": MASTER_KEY, "authorization": f"Bearer {MASTER_KEY}",
                                   "anthropic-version": ANTHROPIC_VERSION})
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}: {response.text[:300]}"
    try:
        return int(response.json()["input_tokens"]), None
    except (ValueError, KeyError, TypeError):
        return None, f"no input_tokens in {response.text[:300]}"


def main() -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix="bench-count-tokens-"))
    children = Children()
    model = ROUTES["messages"][0]
    results: dict[str, Any] = {"benchmark": "bench_count_tokens", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "environment": {"litellm": litellm_version(), "git": git_revision()},
                               "model": model, "cases": {}}
    try:
        upstream = start_upstream(children, work, chunks=4, chunk_delay=0.0)
        urls = {}
        for name in SYSTEMS:
            system = start_system(name, children, work, f"{upstream.url}/v1", ["messages"], timeout=120)
            urls[name] = system.url
        for case, body, known in PUBLISHED:
            row: dict[str, Any] = {"anthropic": known}
            for name in SYSTEMS:
                count, error = ask(urls[name], model, body)
                row[name] = count if error is None else error
                row[f"{name}_ratio"] = round(count / known, 2) if count is not None else None
            results["cases"][case] = row
    finally:
        children.stop_all()
    ratios = {name: [row[f"{name}_ratio"] for row in results["cases"].values() if row[f"{name}_ratio"]]
              for name in SYSTEMS}
    results["mean_abs_error"] = {name: round(sum(abs(r - 1) for r in values) / len(values), 2) if values else None
                                 for name, values in ratios.items()}
    print(f"{'case':<10}{'Anthropic':>10}" + "".join(f"{name:>14}{'ratio':>7}" for name in SYSTEMS))
    for case, row in results["cases"].items():
        cells = "".join(f"{row[name] if isinstance(row[name], int) else 'error':>14}"
                        f"{row[name + '_ratio'] if row[name + '_ratio'] is not None else '-':>7}" for name in SYSTEMS)
        print(f"{case:<10}{row['anthropic']:>10}{cells}")
    for name in SYSTEMS:
        errors = [f"{case}: {row[name]}" for case, row in results["cases"].items() if not isinstance(row[name], int)]
        print(f"{name}: mean |ratio - 1| = {results['mean_abs_error'][name]}" + (f"; errors: {errors}" if errors else ""))
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"bench_count_tokens-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
