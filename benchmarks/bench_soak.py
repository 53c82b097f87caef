#!/usr/bin/env python3
"""Fault soak: does the request log tell the truth when Poe misbehaves, and does the proxy heal?

One run starts the stand-in Poe (``tests/poe_standin.py --fault-rate``: each request meets, at that
rate, a random fault of every kind: 429 with Retry-After, 402, 500, 502, 503, 529, a reset
connection, a stream cut mid-way, invalid JSON, a stream that ends early, a stream that stalls past
the request timeout) and ``claude-poe-tui serve`` in front of it, then sends Anthropic
``/v1/messages`` requests from N clients for D seconds over both routes (a Claude bot, untranslated;
GPT-4o, translated), streamed and not, in turn.

It checks, from the clients' side and the request log's:

* sent = answered = recorded (every request gets an answer and exactly one record);
* the failures the clients saw = the failures recorded, exactly (a stream that ends in an error
  event, is cut, or never reaches ``message_stop`` is a failure);
* requests to Poe = requests sent (no hidden retries);
* the proxy child's RSS after warm-up stays within +-10 MB;
* after ``kill -9`` of the proxy child, the proxy answers again within 10 s (``serve`` restarts it).

Run from the repository with its venv:  python benchmarks/bench_soak.py [--duration 300] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench_common import free_port, stop_all

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "poe_standin.py"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
POE_KEY = "poe-soak-key-0123456789"
MASTER_KEY = "sk-soak-master-0123456789abcdef0123"
MODELS = {"messages": ("claude-sonnet-4-5", "Claude-Sonnet-4.5"), "chat": ("gpt-4o", "GPT-4o")}
HEADERS = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def child_pid(parent: int) -> int | None:
    """The proxy child under ``serve`` (its command line names the child module)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if ppid == parent and b"claude_poe_tui.proxy.child" in command:
            return int(entry)
    return None


def wait_until(check, timeout: float, what: str) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if check():
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen within {timeout:g} s")


class Outcome:
    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0
        self.failed = 0
        self.kinds: dict[str, int] = {}

    def fail(self, kind: str) -> None:
        self.failed += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


async def one(client: httpx.AsyncClient, url: str, route: str, stream: bool, outcome: Outcome) -> None:
    name, _ = MODELS[route]
    body = {"model": name, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "Say hello."}]}
    outcome.sent += 1
    try:
        if not stream:
            response = await client.post(url, json=body, headers=HEADERS)
            outcome.answered += 1
            if response.status_code != 200:
                outcome.fail(f"http {response.status_code}")
            elif response.json().get("type") != "message":
                outcome.fail("not a message")
            return
        async with client.stream("POST", url, json=body, headers=HEADERS) as response:
            raw = await response.aread()
        outcome.answered += 1
        if response.status_code != 200:
            outcome.fail(f"http {response.status_code}")
        elif b"event: error" in raw:
            outcome.fail("error event")
        elif b"message_stop" not in raw:
            outcome.fail("no message_stop")
    except httpx.HTTPError as exc:
        outcome.fail(f"transport {type(exc).__name__}")  # the client saw no answer at all


async def soak(url: str, clients: int, duration: float, outcome: Outcome, rss_samples: list, pid_box: dict) -> None:
    end = time.monotonic() + duration
    plan = [(route, stream) for route in MODELS for stream in (False, True)]

    async def worker(index: int) -> None:
        step = index
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
            while time.monotonic() < end:
                route, stream = plan[step % len(plan)]
                step += 1
                await one(client, url, route, stream, outcome)

    async def sample() -> None:
        while time.monotonic() < end:
            await asyncio.sleep(5)
            value = rss_mb(pid_box["child"])
            if value is not None:
                rss_samples.append((round(time.monotonic() - (end - duration), 1), round(value, 1)))

    await asyncio.gather(sample(), *(worker(i) for i in range(clients)))


def read_records(log: Path) -> list[dict[str, Any]]:
    """The /v1/messages records of the log and its rotated files, oldest first (the log rotates at
    [log] max_size_mb: a long soak fills more than one file)."""
    files = sorted(log.parent.glob(log.name + ".*[0-9]"), key=lambda path: -int(path.suffix[1:])) + [log]
    records = []
    for path in files:
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["path"] == "/v1/messages"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of soak")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before RSS counts as settled")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_POE_TUI", "LITELLM", "POE_"))}
    env["CLAUDE_POE_TUI_STATE_DIR"] = str(work / "state")
    poe_port, proxy_port = free_port(), free_port()
    processes: list[subprocess.Popen] = []
    results: dict[str, Any] = {"benchmark": "bench_soak", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "parameters": {k: str(v) for k, v in vars(args).items()}}
    try:
        standin_log = open(work / "standin.log", "wb")  # noqa: SIM115
        processes.append(subprocess.Popen(
            [sys.executable, str(STANDIN), "--port", str(poe_port), "--key", POE_KEY, "--fault-rate",
             str(args.fault_rate), "--fault-seed", "20261130"], stdout=standin_log, stderr=subprocess.STDOUT, env=env))
        poe = f"http://127.0.0.1:{poe_port}"
        wait_until(lambda: httpx.get(f"{poe}/v1/models", timeout=1).status_code == 200, 30, "the stand-in answering")

        config = work / "config.toml"
        lines = ["[proxy]", f"port = {proxy_port}", 'master_key = "env:LITELLM_MASTER_KEY"', "request_timeout = 3", "",
                 "[log]", "backups = 50", "",  # every record kept, however long the soak
                 "[poe]", 'api_key = "env:POE_API_KEY"', f'base_url = "{poe}/v1"', ""]
        for name, bot in MODELS.values():
            lines += ["[[models]]", f'name = "{name}"', f'poe_model = "{bot}"', ""]
        config.write_text("\n".join(lines))
        (work / ".env").write_text(f"POE_API_KEY={POE_KEY}\nLITELLM_MASTER_KEY={MASTER_KEY}\n")
        os.chmod(work / ".env", 0o600)
        serve_log = open(work / "serve.log", "wb")  # noqa: SIM115
        serve = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config)],
                                 stdout=serve_log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        processes.append(serve)
        proxy = f"http://127.0.0.1:{proxy_port}"
        wait_until(lambda: httpx.get(f"{proxy}/claude-poe-tui/status", timeout=1).status_code == 200, 120, "serve ready")
        time.sleep(2.0)  # the child reports ready after its warm-up
        pid_box = {"child": child_pid(serve.pid)}
        if pid_box["child"] is None:
            raise RuntimeError("no proxy child under serve")

        outcome = Outcome()
        rss_samples: list[tuple[float, float]] = []
        print(f"soaking {args.duration:g} s: {args.clients} clients, fault rate {args.fault_rate:g}", flush=True)
        began = time.monotonic()
        asyncio.run(soak(f"{proxy}/v1/messages", args.clients, args.duration, outcome, rss_samples, pid_box))
        elapsed = time.monotonic() - began
        time.sleep(1.5)  # the writer thread's last batch
        records = read_records(work / "state" / "requests.jsonl")
        recorded_failed = sum(1 for r in records if r["status"] >= 400)
        served = httpx.get(f"{poe}/_standin/served").json()
        upstream = served.get("/v1/messages", 0) + served.get("/v1/chat/completions", 0)
        settled = [value for at, value in rss_samples if at >= args.warmup]
        error_types: dict[str, int] = {}
        for r in records:
            if r["status"] >= 400:
                error_types[f"{r['status']} {r['error_type']}"] = error_types.get(f"{r['status']} {r['error_type']}", 0) + 1

        # Heal: kill -9 the child; the proxy must answer again within 10 s.
        victim = pid_box["child"]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()

        def answers() -> bool:
            response = httpx.post(f"{proxy}/v1/messages", headers=HEADERS, timeout=5, json={
                "model": MODELS["messages"][0], "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
            return response.status_code == 200

        try:
            # Faults still apply: a request that meets one is retried by this check, as a client would.
            healed_in = wait_until(answers, 60, "an answer after kill -9")
        except RuntimeError as exc:
            healed_in = None
            results["heal_error"] = str(exc)
        results.update({
            "seconds": round(elapsed, 1),
            "sent": outcome.sent,
            "answered": outcome.answered,
            "recorded": len(records),
            "client_failures": outcome.failed,
            "client_failure_kinds": outcome.kinds,
            "recorded_failures": recorded_failed,
            "recorded_failure_types": error_types,
            "upstream_requests": upstream,
            "requests_per_second": round(outcome.sent / elapsed, 1),
            "child_rss_mb": rss_samples,
            "child_rss_settled_mb": {"min": min(settled), "max": max(settled), "spread": round(max(settled) - min(settled), 1),
                                     "median": statistics.median(settled)} if settled else None,
            "healed_after_kill_s": round(healed_in, 2) if healed_in is not None else None,
            "new_child_pid": child_pid(serve.pid),
            "killed_child_pid": victim,
            "kill_to_check_started_s": round(time.monotonic() - killed_at, 2),
        })
        checks = {
            "sent = answered = recorded": outcome.sent == outcome.answered == len(records),
            "client failures = recorded failures": outcome.failed == recorded_failed,
            "upstream requests = requests sent (no hidden retries)": upstream == outcome.sent,
            "RSS flat within +-10 MB after warm-up": bool(settled) and max(settled) - min(settled) <= 20,
            "answers again within 10 s of kill -9": healed_in is not None and healed_in <= 10,
        }
        results["checks"] = checks
        print(json.dumps({k: v for k, v in results.items() if k != "child_rss_mb"}, indent=2))
        for what, ok in checks.items():
            print(f"  {'ok ' if ok else 'NOT'}  {what}")
        output = args.output or RESULTS_DIR / f"bench_soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"result written to {output}")
        return 0 if all(checks.values()) else 1
    finally:
        stop_all(processes)


if __name__ == "__main__":
    raise SystemExit(main())
