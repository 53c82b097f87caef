#!/usr/bin/env python3
"""Benchmark: claude-poe-tui's proxy against bare LiteLLM proxies, on one stand-in Poe upstream.

One run starts the stand-in Poe server (``tests/poe_standin.py``) and, against it:

* ``ours``: ``python -m claude_poe_tui serve --config ...`` (request recording on, the default): our
  gateway over ``litellm.Router`` in the proxy child;
* ``bare-same``: the anchor. ``litellm --config FILE --port P``, LiteLLM's own proxy, with the same
  model list ``claude-poe-tui compile`` gives the Router (native ``poe/`` deployments; the Claude
  route's deployments marked ``supported_endpoints: ["/v1/messages"]`` so LiteLLM forwards them to
  Poe's Anthropic endpoint), the same router settings, ``drop_params`` and no retries;
* ``bare-seed``: the Docker recipe's LiteLLM config (``custom_llm_provider: openai``), fixed with
  ``use_chat_completions_url_for_anthropic_messages: true``, started the same way.

Diagnostics (``--systems``): ``ours-nolog`` is ``ours`` without request recording.

Requests are Anthropic-shaped streaming ``POST /v1/messages`` (no ``thinking``) for two routes:
``chat`` (GPT-4o, translated to Poe's chat completions) and ``messages`` (Claude-Sonnet-4.5,
forwarded untranslated to Poe's ``/v1/messages``; the recipe has no such route).

It measures for each system: start time (spawn to the first 200 from ``/health/liveliness``) and
the first streamed answer right after; time to first byte of sequential requests (shuffled
between the systems, so the machine's other load hits all alike); completed requests per second
with N concurrent streaming clients, the load split in slices that the systems take in turns; and
the CPU time the system's processes spent per request, under load and sequentially.

Run from the repository with its venv:  python benchmarks/bench_proxy.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench_common import free_port

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "poe_standin.py"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

POE_KEY = "poe-bench-key-0123456789"
MASTER_KEY = "sk-bench-master-0123456789abcdef"
ANTHROPIC_VERSION = "2023-06-01"

# route -> (model name clients ask for, the Poe bot behind it)
ROUTES = {
    "chat": ("gpt-4o", "GPT-4o"),  # translated: Anthropic in, Poe chat completions out
    "messages": ("claude-sonnet-4-5", "Claude-Sonnet-4.5"),  # untranslated: Poe's /v1/messages
}
SYSTEM_ORDER = ("upstream", "ours", "bare-same", "bare-seed", "ours-nolog")
SYSTEM_NOTES = {
    "upstream": "the stand-in Poe server called directly (reference: no proxy)",
    "ours": "claude-poe-tui serve (our gateway over litellm.Router, request log on)",
    "bare-same": "`litellm --config` CLI with the model list and router settings `claude-poe-tui compile` "
    "gives the Router (the anchor)",
    "ours-nolog": "diagnostic: claude-poe-tui serve with [log] enabled = false (no request recording)",
    "bare-seed": "`litellm --config` CLI, the recipe's custom_llm_provider: openai config, fixed with "
    "use_chat_completions_url_for_anthropic_messages",
}
# The targets for ours against bare-same (ratios in one run).
TARGETS = {"throughput": {"messages": 1.8, "chat": 1.5}, "ttfb_p50": 0.6, "child_rss": 0.85, "first_answer": 0.9}
# Variables that would change what a proxy does if inherited from the caller's shell.
ENV_DROPPED = (
    "DATABASE_URL", "DIRECT_URL", "DATABASE_URL_READ_REPLICA", "LITELLM_CONFIG_BUCKET_NAME", "CONFIG_FILE_PATH",
    "LITELLM_LOG", "LITELLM_MASTER_KEY", "POE_API_KEY", "LITELLM_PORT", "CLAUDE_POE_TUI_CONFIG",
    "CLAUDE_POE_TUI_STATE_DIR", "LITELLM_MODE",
)


# --- processes --------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    children = _children_map()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) these processes have used, all their threads, finished ones too.

    The kernel derives /proc/PID/stat's utime + stime from the threads' exact run time (only the
    split between user and system is sampled at the clock tick), so over seconds this is precise.
    (Summing /proc/PID/task/*/schedstat is not: threads that end take their time with them, and
    LiteLLM's thread pools start and end threads under load.)
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields_ = handle.read().rsplit(b")", 1)[1].split()
            total += int(fields_[11]) + int(fields_[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@dataclass
class Child:
    """A process we started, with its output in a file; stopped with all of its descendants."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float
    known_pids: set[int] = field(default_factory=set)

    def tree(self) -> list[int]:
        pids = process_tree(self.popen.pid) if self.popen.poll() is None else []
        self.known_pids.update(pids)
        return pids

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        self.tree()  # remember the descendants while the parent still links them
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        # Descendants in their own session (our proxy child) exit when their parent does; make sure.
        leftovers = [pid for pid in self.known_pids if pid != self.popen.pid and _alive(pid)]
        deadline = time.monotonic() + 6.0
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.1)
            leftovers = [pid for pid in leftovers if _alive(pid)]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in leftovers:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
            leftovers = [pid for pid in leftovers if _alive(pid)]


class Children:
    def __init__(self) -> None:
        self.items: list[Child] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> Child:
        log = open(log_path, "wb")  # noqa: SIM115 - the child owns it
        try:
            started = time.perf_counter()
            popen = subprocess.Popen(
                argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop them in order
            )
        finally:
            log.close()
        child = Child(name, argv, popen, log_path, started)
        self.items.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.items):
            try:
                child.stop()
            except Exception as exc:  # keep stopping the others
                print(f"warning: stopping {child.name}: {exc}", file=sys.stderr)
        self.items.clear()


def wait_live(child: Child, url: str, timeout: float) -> float:
    """Seconds from spawn to the first 200 from ``/health/liveliness``."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                raise RuntimeError(f"{child.name} exited with code {child.popen.returncode}:\n{child.tail()}")
            try:
                if client.get(f"{url}/health/liveliness").status_code == 200:
                    return time.perf_counter() - child.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{child.name} did not answer /health/liveliness within {timeout:.0f} s:\n{child.tail()}")


# --- the systems ------------------------------------------------------------------------------


@dataclass
class System:
    name: str
    url: str
    routes: dict[str, str]  # route -> request path at this system
    how: str
    child: Child | None = None
    start_s: float | None = None
    first_request_s: float | None = None  # spawn to the end of the first streamed answer
    first_request_ms: float | None = None  # that first request alone
    pids: list[int] = field(default_factory=list)


def base_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROPPED}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["CLAUDE_POE_TUI_STATE_DIR"] = str(state_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def write_our_config(directory: Path, port: int, poe_base_url: str, routes: list[str], log: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "[proxy]", 'host = "127.0.0.1"', f"port = {port}", 'master_key = "env:LITELLM_MASTER_KEY"', "",
        "[poe]", 'api_key = "env:POE_API_KEY"', f'base_url = "{poe_base_url}"', "",
        "[log]", f"enabled = {'true' if log else 'false'}", "",
    ]
    for route in routes:
        name, bot = ROUTES[route]
        lines += ["[[models]]", f'name = "{name}"', f'poe_model = "{bot}"', ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines))
    dotenv = directory / ".env"
    dotenv.write_text(f"POE_API_KEY={POE_KEY}\nLITELLM_MASTER_KEY={MASTER_KEY}\n")
    os.chmod(dotenv, 0o600)
    return path


def bare_same_config(config_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """LiteLLM's proxy config for the model list and router settings ``claude-poe-tui compile`` gives."""
    out = subprocess.run(
        [sys.executable, "-m", "claude_poe_tui", "compile", "--json", "--config", str(config_path)],
        env=env, capture_output=True, text=True, check=True, cwd=REPO,
    )
    router = json.loads(out.stdout)
    model_list = []
    for entry in router["model_list"]:
        entry = json.loads(json.dumps(entry))
        if entry.get("model_info", {}).get("poe_tui_route") == "messages":
            entry["model_info"]["supported_endpoints"] = ["/v1/messages"]
        model_list.append(entry)
    return {
        "model_list": model_list,
        "router_settings": router["router_settings"],
        "litellm_settings": {"drop_params": True, "num_retries": 0, "telemetry": False},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }


def seed_config(poe_base_url: str) -> dict[str, Any]:
    """The recipe's litellm-config.yaml for the chat-route bot, with the documented fix."""
    name, bot = ROUTES["chat"]
    return {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {
                    "model": bot,
                    "api_base": poe_base_url,
                    "api_key": "os.environ/POE_API_KEY",
                    "custom_llm_provider": "openai",
                },
            }
        ],
        "litellm_settings": {"use_chat_completions_url_for_anthropic_messages": True},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }


def write_yaml(path: Path, data: Any) -> Path:
    import yaml  # PyYAML: a LiteLLM dependency

    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def litellm_cli() -> str:
    candidate = Path(sys.executable).with_name("litellm")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("litellm")
    if not found:
        raise RuntimeError("the `litellm` CLI is not installed beside this Python")
    return found


def start_system(name: str, children: Children, work: Path, poe_base_url: str, routes: list[str],
                 timeout: float) -> System:
    env = base_env(work / "state")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    paths = {route: "/v1/messages" for route in routes}
    if name in ("ours", "ours-nolog"):
        config = write_our_config(work / name, port, poe_base_url, routes, log=name == "ours")
        argv = [sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config)]
        how = " ".join(["python", *argv[1:]])
    elif name == "bare-same":
        config = write_our_config(work / "compile-input", free_port(), poe_base_url, routes)
        yaml_path = write_yaml(work / "bare-same.yaml", bare_same_config(config, env))
        env.update(POE_API_KEY=POE_KEY, LITELLM_MASTER_KEY=MASTER_KEY, LITELLM_DONT_SHOW_FEEDBACK_BOX="true")
        argv = [litellm_cli(), "--config", str(yaml_path), "--host", "127.0.0.1", "--port", str(port)]
        how = f"litellm --config {yaml_path.name} --host 127.0.0.1 --port {port}"
    elif name == "bare-seed":
        paths = {"chat": "/v1/messages"} if "chat" in routes else {}
        yaml_path = write_yaml(work / "bare-seed.yaml", seed_config(poe_base_url))
        env.update(POE_API_KEY=POE_KEY, LITELLM_MASTER_KEY=MASTER_KEY)
        argv = [litellm_cli(), "--config", str(yaml_path), "--host", "127.0.0.1", "--port", str(port)]
        how = f"litellm --config {yaml_path.name} --host 127.0.0.1 --port {port}"
    else:
        raise ValueError(name)
    child = children.spawn(name, argv, env, work / f"{name}.log", cwd=work)
    system = System(name, url, paths, how, child)
    system.start_s = wait_live(child, url, timeout)
    system.pids = child.tree()
    return system


def first_request(system: System, target: Target) -> None:
    """The first streamed request, sent as soon as the proxy is live: what a client that starts
    with the proxy waits for (LiteLLM builds its routes and imports modules on first use)."""
    assert system.child is not None
    started = time.perf_counter()
    with httpx.Client(timeout=120.0) as client:
        with client.stream("POST", target.url, content=target.body, headers=target.headers) as response:
            body = response.read()
    done = time.perf_counter()
    if response.status_code != 200 or target.end_marker not in body:
        raise RuntimeError(f"{target.key}: the first request failed (HTTP {response.status_code}): {body[:500]!r}")
    system.first_request_ms = (done - started) * 1000
    system.first_request_s = done - system.child.started


def start_upstream(children: Children, work: Path, chunks: int, chunk_delay: float) -> System:
    port = free_port()
    argv = [sys.executable, str(STANDIN), "--port", str(port), "--key", POE_KEY,
            "--chunks", str(chunks), "--chunk-delay", str(chunk_delay)]
    child = children.spawn("upstream", argv, base_env(work / "state"), work / "upstream.log", cwd=work)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if child.popen.poll() is not None:
            raise RuntimeError(f"the stand-in exited:\n{child.tail()}")
        try:
            httpx.get(f"{url}/v1/models", timeout=1.0)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("the stand-in did not start") from None
            time.sleep(0.05)
    system = System("upstream", url, {"chat": "/v1/chat/completions", "messages": "/v1/messages"},
                    " ".join(["python", "tests/poe_standin.py", *argv[2:]]), child)
    system.pids = child.tree()
    return system


# --- requests ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One system on one route: what to POST and how to tell the stream finished."""

    system: System
    route: str
    url: str
    body: bytes
    headers: dict[str, str]
    end_marker: bytes

    @property
    def key(self) -> str:
        return f"{self.system.name}/{self.route}"


def make_target(system: System, route: str, max_tokens: int) -> Target:
    name, bot = ROUTES[route]
    path = system.routes[route]
    if system.name == "upstream":
        key_header = {"authorization": f"Bearer {POE_KEY}"}
        model = bot
    else:
        key_header = {"authorization": f"Bearer {MASTER_KEY}"}
        model = name
    messages = [{"role": "user", "content": "Say hello."}]
    headers = {"content-type": "application/json", **key_header}
    if path == "/v1/messages":
        headers["anthropic-version"] = ANTHROPIC_VERSION
        body = {"model": model, "max_tokens": max_tokens, "stream": True, "messages": messages}
        marker = b"message_stop"
    else:  # the stand-in's chat completions, called directly
        body = {"model": model, "max_tokens": max_tokens, "stream": True, "messages": messages}
        marker = b"[DONE]"
    return Target(system, route, system.url + path, json.dumps(body).encode(), headers, marker)


@dataclass
class Sample:
    ok: bool
    status: int
    headers_ms: float
    first_byte_ms: float | None
    total_ms: float
    finished_at: float


async def stream_once(client: httpx.AsyncClient, target: Target) -> Sample:
    started = time.perf_counter()
    first = None
    received = bytearray()
    async with client.stream("POST", target.url, content=target.body, headers=target.headers) as response:
        headers_at = time.perf_counter()
        async for chunk in response.aiter_raw():
            if first is None and chunk:
                first = time.perf_counter()
            received += chunk
    done = time.perf_counter()
    ok = response.status_code == 200 and target.end_marker in received
    return Sample(
        ok=ok,
        status=response.status_code,
        headers_ms=(headers_at - started) * 1000,
        first_byte_ms=(first - started) * 1000 if first is not None else None,
        total_ms=(done - started) * 1000,
        finished_at=done,
    )


def new_client(connections: int = 1) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "p95": round(percentile(values, 0.95), 3),
        "mean": round(statistics.fmean(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


async def check(target: Target) -> None:
    async with new_client() as client:
        sample = await stream_once(client, target)
    if not sample.ok:
        async with new_client() as client:
            response = await client.post(target.url, content=target.body, headers=target.headers)
        raise RuntimeError(f"{target.key}: a streaming request failed (HTTP {sample.status}): {response.text[:500]}")


async def check_all(targets: list[Target]) -> None:
    await asyncio.wait_for(asyncio.gather(*(check(t) for t in targets)), 60)


async def measure_ttfb(targets: list[Target], requests: int, warmup: int, gap_s: float) -> dict[str, dict[str, Any]]:
    """Sequential requests over kept-alive connections, one target after another.

    The order is shuffled every pass and requests are ``gap_s`` apart: a proxy keeps working
    after a stream ends (LiteLLM's success logging, our request log), and that work must neither
    land on the next request nor always on the same neighbour.
    """
    clients = {t.key: new_client() for t in targets}
    samples: dict[str, list[Sample]] = {t.key: [] for t in targets}
    shuffler = random.Random(20261125)
    systems = {t.system.name: t.system for t in targets}
    cpu_before: dict[str, float] = {}
    try:
        for index in range(warmup + requests):
            if index == warmup:
                cpu_before = {name: cpu_seconds(s.pids) for name, s in systems.items()}
            order = list(targets)
            shuffler.shuffle(order)
            for target in order:
                await asyncio.sleep(gap_s)
                sample = await stream_once(clients[target.key], target)
                if index >= warmup:
                    samples[target.key].append(sample)
        cpu_used = {name: cpu_seconds(s.pids) - cpu_before[name] for name, s in systems.items()}
    finally:
        for client in clients.values():
            await client.aclose()
    out = {}
    per_system = {name: sum(len(samples[t.key]) for t in targets if t.system.name == name) for name in systems}
    for key, items in samples.items():
        good = [s for s in items if s.ok]
        name = key.split("/")[0]
        out[key] = {
            # CPU of the system's processes over this phase, per request it served (all its routes)
            "system_cpu_ms_per_request": round(cpu_used[name] * 1000 / per_system[name], 3) if per_system[name] else None,
            "requests": len(items),
            "errors": len(items) - len(good),
            "first_byte_ms": summary([s.first_byte_ms for s in good if s.first_byte_ms is not None]),
            "headers_ms": summary([s.headers_ms for s in good]),
            "total_ms": summary([s.total_ms for s in good]),
        }
    return out


async def load(target: Target, clients: int, duration: float) -> dict[str, Any]:
    """``clients`` workers streaming back to back for ``duration`` s; completions inside it count."""
    pids = target.system.pids
    cpu_before = cpu_seconds(pids)
    started = time.perf_counter()
    window_end = started + duration
    samples: list[Sample] = []
    failures: list[str] = []

    async def worker() -> None:
        async with new_client() as client:
            while time.perf_counter() < window_end:
                try:
                    sample = await stream_once(client, target)
                except httpx.HTTPError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if sample.finished_at <= window_end:
                    samples.append(sample)

    await asyncio.gather(*(worker() for _ in range(clients)))
    good = [s for s in samples if s.ok]
    return {
        "duration_s": duration,
        "completed": len(good),
        "errors": len(samples) - len(good) + len(failures),
        "cpu_s": cpu_seconds(pids) - cpu_before,
        "latencies_ms": [s.total_ms for s in good],
        "failures": failures[:5],
    }


async def measure_throughput(targets: list[Target], clients: int, duration: float, warmup_s: float,
                             slices: int) -> dict[str, dict[str, Any]]:
    """Each target's ``duration`` of load in ``slices`` parts, targets taking turns (order alternating)
    so that a change in the machine's other load falls on all of them alike. The stand-in upstream
    itself (a reference, far faster) gets one part."""
    parts: dict[str, list[dict[str, Any]]] = {t.key: [] for t in targets}
    slice_s = duration / slices
    for target in targets:  # warm every target under load once (connection pools, caches)
        await load(target, clients, warmup_s)
    for index in range(slices):
        order = targets if index % 2 == 0 else list(reversed(targets))
        print(f"  slice {index + 1}/{slices}: {slice_s:g} s per target, {clients} clients", flush=True)
        for target in order:
            if target.system.name == "upstream" and index > 0:
                continue
            parts[target.key].append(await load(target, clients, slice_s))
    out = {}
    for key, items in parts.items():
        completed = sum(p["completed"] for p in items)
        seconds = sum(p["duration_s"] for p in items)
        cpu = sum(p["cpu_s"] for p in items)
        out[key] = {
            "rps": round(completed / seconds, 3),
            "rps_slices": [round(p["completed"] / p["duration_s"], 2) for p in items],
            "seconds": seconds,
            "completed": completed,
            "errors": sum(p["errors"] for p in items),
            "failures": [f for p in items for f in p["failures"]][:5],
            "cpu_ms_per_request": round(cpu * 1000 / completed, 3) if completed else None,
            "cpu_cores_used": round(cpu / seconds, 3),
            "latency_ms": summary([v for p in items for v in p["latencies_ms"]]),
        }
    return out


# --- report -----------------------------------------------------------------------------------


def comparisons(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    targets = results["targets"]
    pairs = [("ours", "bare-same", "our gateway over the Router vs LiteLLM's proxy, same model list (the anchor)"),
             ("bare-same", "bare-seed", "route difference: poe/ provider vs the seed's openai provider"),
             ("ours", "bare-seed", "ours vs the recipe a user would otherwise run"),
             ("ours", "ours-nolog", "request recording alone")]
    for route in ROUTES:
        for a, b, meaning in pairs:
            ta, tb = targets.get(f"{a}/{route}"), targets.get(f"{b}/{route}")
            if not ta or not tb:
                continue
            entry: dict[str, Any] = {"route": route, "system": a, "baseline": b, "meaning": meaning}
            fa, fb = ta["ttfb"]["first_byte_ms"], tb["ttfb"]["first_byte_ms"]
            if fa.get("n") and fb.get("n"):
                entry["ttfb_added_ms_median"] = round(fa["median"] - fb["median"], 2)
                entry["ttfb_added_ms_p95"] = round(fa["p95"] - fb["p95"], 2)
                entry["ttfb_ratio_median"] = round(fa["median"] / fb["median"], 3)
            ra, rb = ta["throughput"]["rps"], tb["throughput"]["rps"]
            if rb:
                entry["throughput_ratio"] = round(ra / rb, 3)
                entry["throughput_cost_pct"] = round((1 - ra / rb) * 100, 1)
            # The same ratio slice by slice (the two ran minutes apart at most): its spread shows
            # how much of the difference the machine's other load can explain.
            sa, sb = ta["throughput"]["rps_slices"], tb["throughput"]["rps_slices"]
            if len(sa) == len(sb) and all(sb):
                paired = [round(x / y, 3) for x, y in zip(sa, sb)]
                entry["throughput_ratio_slices"] = paired
                entry["throughput_ratio_slices_median"] = round(statistics.median(paired), 3)
                if len(paired) >= 3:  # geometric mean of the paired ratios, +-2 standard errors
                    logs = [math.log(r) for r in paired]
                    mean, se = statistics.fmean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
                    entry["throughput_ratio_interval"] = [round(math.exp(mean - 2 * se), 3),
                                                          round(math.exp(mean + 2 * se), 3)]
            ca, cb = ta["throughput"]["cpu_ms_per_request"], tb["throughput"]["cpu_ms_per_request"]
            if ca and cb:
                entry["cpu_ms_per_request_added"] = round(ca - cb, 2)
                entry["cpu_cost_pct"] = round((ca / cb - 1) * 100, 1)
            routes_a = {t["route"] for t in targets.values() if t["system"] == a}
            routes_b = {t["route"] for t in targets.values() if t["system"] == b}
            qa, qb = ta["ttfb"].get("system_cpu_ms_per_request"), tb["ttfb"].get("system_cpu_ms_per_request")
            if routes_a == routes_b and qa and qb:
                entry["sequential_cpu_ms_per_request_added"] = round(qa - qb, 3)
                entry["sequential_cpu_cost_pct"] = round((qa / qb - 1) * 100, 1)
            if a == "ours" and b == "bare-same":
                wanted = TARGETS["throughput"][route]
                entry["throughput_target"] = wanted
                entry["throughput_met"] = bool(entry.get("throughput_ratio", 0) >= wanted)
                entry["ttfb_target"] = TARGETS["ttfb_p50"]
                entry["ttfb_met"] = bool(entry.get("ttfb_ratio_median", 9) <= TARGETS["ttfb_p50"])
            out.append(entry)
    return out


def print_report(results: dict[str, Any]) -> None:
    upstream_ttfb = {
        route: results["targets"].get(f"upstream/{route}", {}).get("ttfb", {}).get("first_byte_ms", {}).get("median")
        for route in ROUTES
    }
    print()
    print(f"{'system/route':<20} {'start s':>8} {'1st s':>6} {'RSS MB':>7} {'TTFB med':>9} {'TTFB p95':>9} {'+upstream':>10}"
          f" {'rps@' + str(results['parameters']['clients']):>8} {'CPU ms/req':>11} {'CPU seq':>8} {'errors':>7}")
    for key, target in results["targets"].items():
        system = results["systems"][target["system"]]
        ttfb = target["ttfb"]["first_byte_ms"]
        base = upstream_ttfb.get(target["route"])
        added = f"{ttfb['median'] - base:+.1f}" if base is not None and ttfb.get("n") and target["system"] != "upstream" else ""
        start = f"{system['start_s']:.2f}" if system.get("start_s") is not None else "-"
        first = f"{system['first_request_s']:.2f}" if system.get("first_request_s") else "-"
        cpu = target["throughput"]["cpu_ms_per_request"]
        seq = target["ttfb"].get("system_cpu_ms_per_request")
        errors = target["ttfb"]["errors"] + target["throughput"]["errors"]
        print(f"{key:<20} {start:>8} {first:>6} {system.get('rss_mb', 0):>7.0f} {ttfb.get('median', float('nan')):>9.2f}"
              f" {ttfb.get('p95', float('nan')):>9.2f} {added:>10} {target['throughput']['rps']:>8.1f}"
              f" {(f'{cpu:.2f}' if cpu else '-'):>11} {(f'{seq:.2f}' if seq else '-'):>8} {errors:>7}")
    print()
    print("start s: spawn to the first answer from /health/liveliness; 1st s: spawn to the end of the first")
    print("streamed answer (asked for as soon as the proxy was live); RSS: all the system's processes.")
    print("TTFB: ms from sending the request to the first body byte (sequential, kept-alive connection);")
    print("+upstream: median TTFB minus the stand-in's own; rps: completed streams per second;")
    print("CPU ms/req: CPU time of the system's processes per request completed under load; CPU seq: the same")
    print("during the sequential TTFB requests (per system, all its routes).")
    print("Throughput ratios: total over all slices; 'paired slices' is the geometric mean of the ratios")
    print("of slices run side by side, +-2 standard errors: the noise the machine's other load adds.")
    print()
    for c in results["comparisons"]:
        parts = [f"{c['route']:<8} {c['system']:>9} vs {c['baseline']:<9}"]
        if "ttfb_added_ms_median" in c:
            parts.append(f"TTFB {c['ttfb_added_ms_median']:+.2f} ms median ({c['ttfb_added_ms_p95']:+.2f} p95,"
                         f" x{c['ttfb_ratio_median']:.3f})")
        if "throughput_ratio" in c:
            spread = ""
            if c.get("throughput_ratio_interval"):
                low, high = c["throughput_ratio_interval"]
                spread = f", paired slices: x{low:.3f}..{high:.3f}"
            elif c.get("throughput_ratio_slices"):
                spread = f", slices x{min(c['throughput_ratio_slices']):.2f}..{max(c['throughput_ratio_slices']):.2f}"
            parts.append(f"throughput x{c['throughput_ratio']:.3f} ({c['throughput_cost_pct']:+.1f}% cost{spread})")
        if "cpu_cost_pct" in c:
            parts.append(f"CPU/req {c['cpu_ms_per_request_added']:+.2f} ms ({c['cpu_cost_pct']:+.1f}%)")
        if "sequential_cpu_cost_pct" in c:
            parts.append(f"CPU/req sequential {c['sequential_cpu_ms_per_request_added']:+.2f} ms"
                         f" ({c['sequential_cpu_cost_pct']:+.1f}%)")
        if "throughput_met" in c:
            parts.append(f"targets: throughput >=x{c['throughput_target']} {'met' if c['throughput_met'] else 'NOT met'},"
                         f" TTFB <=x{c['ttfb_target']} {'met' if c['ttfb_met'] else 'NOT met'}")
        print("  ".join(parts))
    process = results.get("process_comparison")
    if process:
        print(f"\nproxy process RSS (ours: the child alone): ours {process['ours_child_rss_mb']:.0f} MB, "
              f"bare-same {process['bare_rss_mb']:.0f} MB: x{process['rss_ratio']:.3f} (target <=x{TARGETS['child_rss']})"
              f" {'met' if process['rss_met'] else 'NOT met'}")
        print(f"spawn to first answer: ours {process['ours_first_answer_s']:.2f} s, bare-same "
              f"{process['bare_first_answer_s']:.2f} s: x{process['first_answer_ratio']:.3f} "
              f"(target <=x{TARGETS['first_answer']}) {'met' if process['first_answer_met'] else 'NOT met'}")
    load_before, load_after = results["environment"]["loadavg_before"], results["environment"]["loadavg_after"]
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} CPUs")


def git_revision() -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()
        return rev + ("+dirty(src)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def package_location() -> str | None:
    """Where the children import claude_poe_tui from (PYTHONPATH may point at another tree)."""
    import importlib.util

    spec = importlib.util.find_spec("claude_poe_tui")
    return str(Path(spec.origin).parent) if spec and spec.origin else None


def litellm_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("litellm")
    except Exception:
        return None


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load per system and route")
    parser.add_argument("--clients", type=int, default=8, help="concurrent streaming clients for throughput")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per target for TTFB")
    parser.add_argument("--warmup", type=int, default=20, help="sequential warm-up requests per target")
    parser.add_argument("--gap-ms", type=float, default=25.0,
                        help="idle time before each sequential TTFB request (lets the previous one's after-work end)")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="seconds of concurrent warm-up per target")
    parser.add_argument("--slices", type=int, default=4,
                        help="the load duration is split in this many parts, the systems taking turns")
    parser.add_argument("--routes", default="chat,messages",
                        help="chat (GPT-4o, translated) and/or messages (Claude-Sonnet-4.5, untranslated)")
    parser.add_argument("--systems", default="ours,bare-same,bare-seed",
                        help="proxies to run; diagnostic: ours-nolog (ours without request recording)")
    parser.add_argument("--max-tokens", type=int, default=64, help="max_tokens of each request")
    parser.add_argument("--upstream-chunks", type=int, default=8, help="text pieces per streamed answer")
    parser.add_argument("--upstream-chunk-delay", type=float, default=0.0, help="seconds between streamed pieces")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds each proxy may take to start")
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: --requests 20 --warmup 3 --duration 4 --slices 2 --warmup-seconds 1")
    parser.add_argument("--output", type=Path, help="JSON result path [benchmarks/results/bench_proxy-<time>.json]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (configs, logs)")
    parser.add_argument("--hold", action="store_true",
                        help="after starting, print the systems' PIDs and wait for Enter before measuring "
                        "(to attach py-spy)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.warmup, args.duration, args.warmup_seconds, args.slices = 20, 3, 4.0, 1.0, 2
    args.routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for route in args.routes:
        if route not in ROUTES:
            parser.error(f"unknown route {route!r}")
    for name in args.systems:
        if name not in SYSTEM_ORDER[1:]:
            parser.error(f"unknown system {name!r}")
    return args


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    children = Children()
    results: dict[str, Any] = {
        "benchmark": "bench_proxy",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": {
            "python": platform.python_version(),
            "litellm": litellm_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "git": git_revision(),
            "claude_poe_tui_from": package_location(),
            "loadavg_before": os.getloadavg(),
        },
        "systems": {},
        "targets": {},
    }
    try:
        print(f"work folder {work}", flush=True)
        upstream = start_upstream(children, work, args.upstream_chunks, args.upstream_chunk_delay)
        poe_base_url = f"{upstream.url}/v1"
        systems = [upstream]
        for name in args.systems:
            print(f"starting {name} ...", flush=True)
            system = start_system(name, children, work, poe_base_url, args.routes, args.start_timeout)
            first_request(system, make_target(system, next(r for r in args.routes if r in system.routes),
                                              args.max_tokens))
            print(f"  {name} answered /health/liveliness {system.start_s:.2f} s after spawn; its first streamed"
                  f" answer took {system.first_request_ms:.0f} ms, done {system.first_request_s:.2f} s after spawn",
                  flush=True)
            systems.append(system)
        targets = [make_target(s, route, args.max_tokens) for route in args.routes for s in systems
                   if route in s.routes]
        asyncio.run(check_all(targets))
        for system in systems:
            system.pids = system.child.tree() if system.child else []
            results["systems"][system.name] = {
                "how": system.how,
                "note": SYSTEM_NOTES[system.name],
                "start_s": round(system.start_s, 3) if system.start_s is not None else None,
                "first_request_ms": round(system.first_request_ms, 1) if system.first_request_ms else None,
                "first_request_s": round(system.first_request_s, 3) if system.first_request_s else None,
                "pids": system.pids,
            }
        if args.hold:
            for system in systems:
                print(f"  {system.name}: pids {system.pids} at {system.url}")
            input("press Enter to measure ")
        print(f"TTFB: {args.requests} sequential requests per target ({args.warmup} warm-up), shuffled between targets,"
              f" {args.gap_ms:g} ms apart", flush=True)
        ttfb = asyncio.run(measure_ttfb(targets, args.requests, args.warmup, args.gap_ms / 1000))
        print(f"throughput: {args.clients} clients, {args.duration:g} s per target in {args.slices} slices", flush=True)
        throughput = asyncio.run(
            measure_throughput(targets, args.clients, args.duration, args.warmup_seconds, args.slices)
        )
        for system in systems:
            results["systems"][system.name]["rss_mb"] = round(rss_mb(system.pids), 1)
            proxy_pids = [pid for pid in system.pids if "claude_poe_tui.proxy.child" in cmdline(pid)]
            if proxy_pids:
                results["systems"][system.name]["child_rss_mb"] = round(rss_mb(proxy_pids), 1)
        if "ours" in results["systems"] and "bare-same" in results["systems"]:
            ours_s, bare_s = results["systems"]["ours"], results["systems"]["bare-same"]
            child_rss = ours_s.get("child_rss_mb", ours_s["rss_mb"])
            results["process_comparison"] = {
                "ours_child_rss_mb": child_rss,
                "bare_rss_mb": bare_s["rss_mb"],
                "rss_ratio": round(child_rss / bare_s["rss_mb"], 3),
                "rss_met": child_rss / bare_s["rss_mb"] <= TARGETS["child_rss"],
                "ours_first_answer_s": ours_s["first_request_s"],
                "bare_first_answer_s": bare_s["first_request_s"],
                "first_answer_ratio": round(ours_s["first_request_s"] / bare_s["first_request_s"], 3),
                "first_answer_met": ours_s["first_request_s"] / bare_s["first_request_s"] <= TARGETS["first_answer"],
            }
        for target in targets:
            results["targets"][target.key] = {
                "system": target.system.name,
                "route": target.route,
                "model": ROUTES[target.route][0],
                "bot": ROUTES[target.route][1],
                "ttfb": ttfb[target.key],
                "throughput": throughput[target.key],
            }
        results["environment"]["loadavg_after"] = os.getloadavg()
        results["comparisons"] = comparisons(results)
        ours_log = work / "state" / "requests.jsonl"
        if "ours" in args.systems:
            results["ours_request_log_lines"] = (
                sum(1 for _ in ours_log.open()) if ours_log.exists() else None
            )
        print_report(results)
        if results.get("ours_request_log_lines") is not None:
            print(f"ours recorded {results['ours_request_log_lines']} requests in its request log")
        output = args.output or RESULTS_DIR / f"bench_proxy-{time.strftime('%Y%m%d-%H%M%S')}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresult written to {output}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C (or a SIGTERM) must not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        children.stop_all()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
