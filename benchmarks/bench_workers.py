#!/usr/bin/env python3
"""Scaling with ``[proxy] workers``: 1 worker against 2 on the same machine, same stand-in, one run.

Starts the stand-in Poe (``tests/poe_standin.py``) and two ``claude-poe-tui serve`` proxies in
front of it, one with ``[proxy] workers = 1`` and one with ``workers = 2``, then loads each in turn
(slices alternate, so the machine's other load falls on both alike) with ``wrk`` (a C load
generator: its own CPU cost is small beside Python's) at N connections, each POSTing streamed
Anthropic ``/v1/messages`` requests. Reports completed requests per second per system and the
ratio. Target (issue 15): 2 workers on 2 cores serve at least 1.6x one worker, at 16 clients.

Also, with ``--redis``, the same with both proxies sharing a Redis (limits high enough not to bite):
what counting in Redis costs per request.

With ``--instances``, the scaling per instance instead: one ``serve`` (1 worker) against two ``serve``
instances (1 worker each) sharing a Redis, each system behind its own nginx ``server`` with the
instances as its upstream, as ``export compose --replicas 2`` deploys them.

Run from the repository with its venv:  python benchmarks/bench_workers.py [--seconds 20] [--slices 4]
Needs ``wrk`` (Debian: apt-get install wrk); ``--redis`` needs ``redis-server``, ``--instances`` also ``nginx``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench_common import free_port, stop_all

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "poe_standin.py"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
POE_KEY = "poe-bench-key-0123456789"
MASTER_KEY = "sk-bench-master-0123456789abcdef0123"
ROUTES = {"messages": ("claude-sonnet-4-5", "Claude-Sonnet-4.5"), "chat": ("gpt-4o", "GPT-4o")}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"model": "%s", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Say hello."}]}'
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "%s"
wrk.headers["anthropic-version"] = "2023-06-01"
"""


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def start_serve(work: Path, name: str, workers: int, poe_url: str, env: dict, redis_url: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    folder = work / name
    folder.mkdir()
    lines = ["[proxy]", f"port = {port}", 'master_key = "env:LITELLM_MASTER_KEY"', f"workers = {workers}", "",
             "[poe]", 'api_key = "env:POE_API_KEY"', f'base_url = "{poe_url}/v1"', ""]
    if redis_url:
        lines += ["[redis]", f'url = "{redis_url}"', ""]
    for model, bot in ROUTES.values():
        lines += ["[[models]]", f'name = "{model}"', f'poe_model = "{bot}"'] + (["rpm = 1000000"] if redis_url else []) + [""]
    (folder / "config.toml").write_text("\n".join(lines))
    (folder / ".env").write_text(f"POE_API_KEY={POE_KEY}\nLITELLM_MASTER_KEY={MASTER_KEY}\n")
    os.chmod(folder / ".env", 0o600)
    log = open(folder / "serve.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(folder / "config.toml")],
                               env={**env, "CLAUDE_POE_TUI_STATE_DIR": str(folder / "state")}, stdout=log,
                               stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/health/readiness")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every worker ready
        body = httpx.get(f"{url}/claude-poe-tui/status", timeout=2).json()
        if body.get("workers_ready", 1) >= workers:
            break
        time.sleep(0.2)
    return process, url


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{servers}
}}
"""

NGINX_SERVER = """
  upstream {name} {{ {members} keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://{name};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
"""


def start_nginx(work: Path, upstreams: dict[str, list[str]]) -> tuple[subprocess.Popen, dict[str, str]]:
    """One nginx, one ``server`` per system, its instances as the upstream (streams not buffered)."""
    urls, servers = {}, []
    for index, (name, members) in enumerate(upstreams.items()):
        port = free_port()
        servers.append(NGINX_SERVER.format(name=f"system{index}", port=port,
                                           members=" ".join(f"server {m.removeprefix('http://')};" for m in members)))
        urls[name] = f"http://127.0.0.1:{port}"
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, servers="".join(servers)))
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for url in urls.values():
        wait_for(f"{url}/health/liveliness", 30)
    return process, urls


def wrk(url: str, route: str, connections: int, seconds: float, script: Path) -> float:
    model = ROUTES[route][0]
    script.write_text(WRK_SCRIPT % (model, MASTER_KEY))
    done = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "-s", str(script),
                           f"{url}/v1/messages"], capture_output=True, text=True, check=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed requests under load:\n{done.stdout}")
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per slice")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--routes", default="messages,chat")
    parser.add_argument("--redis", action="store_true", help="both proxies share a redis-server (limits counted there)")
    parser.add_argument("--instances", action="store_true",
                        help="1 instance against 2 instances sharing a redis-server, each behind nginx")
    args = parser.parse_args(argv)
    args.redis = args.redis or args.instances
    one_name, two_name = ("1 instance", "2 instances") if args.instances else ("1 worker", "2 workers")
    if shutil.which("wrk") is None:
        print("needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_POE_TUI", "LITELLM", "POE_"))}
    processes: list[subprocess.Popen] = []
    results: dict = {"benchmark": "bench_workers", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "parameters": vars(args), "cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}
    try:
        poe_port = free_port()
        processes.append(subprocess.Popen([sys.executable, str(STANDIN), "--port", str(poe_port), "--key", POE_KEY],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        poe = f"http://127.0.0.1:{poe_port}"
        wait_for(f"{poe}/v1/models", 30)
        redis_url = None
        if args.redis:
            redis_port = free_port()
            processes.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
        systems = {}
        if args.instances:
            upstreams: dict[str, list[str]] = {one_name: [], two_name: []}
            for name, folder in ((one_name, "alone"), (two_name, "first"), (two_name, "second")):
                process, url = start_serve(work, folder, 1, poe, env, redis_url)
                processes.append(process)
                upstreams[name].append(url)
            nginx, systems = start_nginx(work, upstreams)
            processes.append(nginx)
        else:
            for name, workers in ((one_name, 1), (two_name, 2)):
                process, url = start_serve(work, name.replace(" ", "-"), workers, poe, env, redis_url)
                processes.append(process)
                systems[name] = url
        script = work / "post.lua"
        rates: dict[str, dict[str, list[float]]] = {route: {name: [] for name in systems} for route in args.routes.split(",")}
        for route in rates:
            for url in systems.values():  # warm every system on this route
                wrk(url, route, args.connections, 3, script)
            for index in range(args.slices):
                order = list(systems.items()) if index % 2 == 0 else list(reversed(list(systems.items())))
                for name, url in order:
                    rate = wrk(url, route, args.connections, args.seconds, script)
                    rates[route][name].append(rate)
                    print(f"{route:<8} slice {index + 1}: {name:<10} {rate:7.1f} requests/s", flush=True)
        summary = {}
        for route, by_system in rates.items():
            one, two = statistics.fmean(by_system[one_name]), statistics.fmean(by_system[two_name])
            paired = [b / a for a, b in zip(by_system[one_name], by_system[two_name])]
            summary[route] = {f"{one_name} rps": round(one, 1), f"{two_name} rps": round(two, 1),
                              "ratio": round(two / one, 3), "ratio_per_slice": [round(r, 3) for r in paired],
                              "target": 1.6, "met": two / one >= 1.6}
            print(f"{route}: {one_name} {one:.1f} rps, {two_name} {two:.1f} rps: x{two / one:.3f} (target x1.6: "
                  f"{'met' if two / one >= 1.6 else 'NOT met'}); slices {', '.join(f'x{r:.2f}' for r in paired)}")
        results.update(rates=rates, summary=summary, loadavg_after=os.getloadavg())
        output = RESULTS_DIR / f"bench_workers-{time.strftime('%Y%m%d-%H%M%S')}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"result written to {output}")
        return 0
    finally:
        stop_all(processes)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
