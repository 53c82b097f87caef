"""Points benchmark: the status line's latency, and what the history poller costs.

**statusline**: Claude Code runs the status-line command on every refresh; the target is 50 ms.
Each command is started ``--runs`` times (interleaved, so the machine's noise falls on all alike)
with Claude Code's statusLine JSON on stdin, against the state a traffic run leaves (a request log
and a points summary): median and p95 wall time, from spawn to exit, beside anchors: ``true``
(spawning a process), ``python -c pass`` and a Python that reads the JSON (the least any Python
status line costs). Also the statusline's imports (``python -X importtime``).

**poller**: the stand-in Poe (``tests/poe_standin.py``), a history of 3,000 older entries, and a
traffic process that sends requests to it (Claude bots on ``/v1/messages``, others on chat
completions; two workers, so some overlap on one bot) and writes each to a request log through the
proxy's own ``RequestLogWriter``, at ``--rate`` requests per second for ``--duration`` seconds. A
:class:`PointsService` runs in a thread (the dashboard's way; the proxy child's asyncio task does
the same work) with its default poll interval. Measured from the stand-in's own record of what it
was asked: requests per minute to Poe's usage endpoints while requests flow, while the last ones
settle, and idle; CPU of the poller's thread (its own CPU clock) per poll and per minute; how
the requests' points ended up (exact, ambiguous, estimated); and, in-process, what ``on_record``
and ``check`` (the gateway's per-request calls) cost.

    python benchmarks/bench_points.py             # about 3.5 minutes
    python benchmarks/bench_points.py --quick     # about 1 minute

A table goes to stdout, the figures as JSON to benchmarks/results/points-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_common import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
POE_KEY = "poe-bench-key"
# name Claude Code asks for, Poe bot, share of requests
TRAFFIC = [("claude-sonnet-4-5", "Claude-Sonnet-4.5", 0.5), ("claude-haiku-4-5", "Claude-Haiku-4.5", 0.25),
           ("gpt-5", "GPT-5", 0.15), ("gemini", "Gemini-2.5-Pro", 0.10)]


def start_standin() -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "poe_standin.py"), "--port", str(port),
                                "--key", POE_KEY, "--chunks", "4", "--chunk-delay", "0.05"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/v1/models", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the stand-in did not start")


# -- the traffic process ----------------------------------------------------------------------------


def traffic(url: str, log: str, rate: float, duration: float, seed: int) -> None:
    """Requests to the stand-in, each recorded in the request log as the proxy records it."""
    import uuid

    import httpx

    from claude_poe_tui.requestlog.record import RequestRecord
    from claude_poe_tui.requestlog.writer import RequestLogWriter

    writer = RequestLogWriter(Path(log), max_bytes=20 * 2**20, backups=3).start()
    rng = random.Random(seed)
    sessions = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(6)]
    end = time.time() + duration
    headers = {"authorization": f"Bearer {POE_KEY}", "anthropic-version": "2023-06-01"}

    def worker(index: int) -> None:
        local = random.Random(seed + index)
        with httpx.Client(timeout=30) as client:
            while time.time() < end:
                name, bot, _ = local.choices(TRAFFIC, [t[2] for t in TRAFFIC])[0]
                started = time.time()
                t0 = time.perf_counter()
                body = {"model": bot, "max_tokens": 200, "stream": True,
                        "messages": [{"role": "user", "content": "word " * local.randint(5, 400)}]}
                path = "/v1/messages" if bot.startswith("Claude") else "/v1/chat/completions"
                with client.stream("POST", f"{url}{path}", json=body, headers=headers) as response:
                    for _ in response.iter_bytes():
                        pass
                latency = (time.perf_counter() - t0) * 1000
                writer.submit(RequestRecord(
                    ts=started, id=f"bench-{uuid.UUID(int=local.getrandbits(128), version=4)}",
                    session=local.choice(sessions), method="POST", path="/v1/messages", model=name, poe_model=bot,
                    route="messages" if path == "/v1/messages" else "chat", stream=True, status=response.status_code,
                    error_type=None, error_message=None, latency_ms=round(latency, 2), ttft_ms=None,
                    input_tokens=len(body["messages"][0]["content"].split()), output_tokens=local.randint(50, 900)))
                time.sleep(max(0.0, local.expovariate(rate / 2)))

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    writer.close()


# -- the poller ---------------------------------------------------------------------------------------


def usage_requests(url: str) -> list[float]:
    import httpx

    return [r["time"] for r in httpx.get(f"{url}/_standin/requests").json() if r["path"].startswith("/usage/")]


def per_minute(times: list[float], start: float, end: float) -> float | None:
    if end - start < 1:
        return None
    return round(sum(1 for t in times if start <= t < end) * 60 / (end - start), 1)


def run_poller(args: argparse.Namespace, state: Path) -> dict:
    import httpx

    from claude_poe_tui.points.model import PointsKind
    from claude_poe_tui.points.pricing import PriceTable
    from claude_poe_tui.points.service import PointsService, PointsSettings
    from claude_poe_tui.poe.catalog import Catalog

    sys.path.insert(0, str(ROOT / "tests"))
    from poe_standin import CATALOG

    process, url = start_standin()
    try:
        httpx.post(f"{url}/_standin/spend", json={"bot": "GPT-5", "points": 40, "usage_type": "Chat", "count": 3000,
                                                  "creation_time": int((time.time() - 86400) * 1e6)})
        log = state / "requests.jsonl"
        settings = PointsSettings(request_log=str(log), poe_base_url=f"{url}/v1",
                                  prices=PriceTable.from_catalog(Catalog.from_entries(CATALOG)).prices_json(),
                                  models={name: bot for name, bot, _ in TRAFFIC})
        service = PointsService(settings, POE_KEY, poll_seconds=args.poll, close_grace=args.grace)
        wall0 = time.time()
        service.start_thread()
        clock_id = time.pthread_getcpuclockid(service._thread.ident)  # noqa: SLF001 - the poller's own CPU

        def cpu() -> float:
            return time.clock_gettime(clock_id)

        cpu0 = cpu()
        time.sleep(2)  # the first poll (the balance) before traffic
        httpx.delete(f"{url}/_standin/requests")  # the stand-in keeps its last 500 requests: start afresh
        flow_start = time.time()
        cpu_flow0 = cpu()
        generator = subprocess.Popen([sys.executable, __file__, "--traffic", url, str(log), str(args.rate),
                                      str(args.duration)])
        seen: list[float] = []
        while generator.poll() is None:
            time.sleep(5)
            seen = sorted(set(seen) | set(usage_requests(url)))
        flow_end = time.time()
        cpu_flow = cpu() - cpu_flow0
        polls_flow = len(service.polls)
        settle_deadline = flow_end + args.grace + 6 * args.poll + 30
        while (service._waiting or time.time() < flow_end + 1) and time.time() < settle_deadline:  # noqa: SLF001
            time.sleep(1)
            seen = sorted(set(seen) | set(usage_requests(url)))
        settled = time.time()
        cpu_idle0 = cpu()
        time.sleep(args.idle)
        idle_end = time.time()
        cpu_idle = cpu() - cpu_idle0
        cpu_total = cpu() - cpu0
        seen = sorted(set(seen) | set(usage_requests(url)))
        service.stop_thread()
        lines = {}
        for line in service.store.read():
            lines[line.id] = line
        kinds = {kind.value: sum(1 for l in lines.values() if l.kind is kind) for kind in PointsKind}
        reports = [p for p in service.polls]
        records = sum(1 for _ in open(log)) if log.exists() else 0
        minute = [sum(1 for t in seen if s <= t < s + 60) for s in seen] if seen else [0]
        return {
            "rate_requests_per_second": args.rate, "duration_s": args.duration, "poll_seconds": service.poll_seconds,
            "close_grace_s": args.grace, "records": records,
            "usage_requests_per_minute": {
                "while_requests_flow": per_minute(seen, flow_start, flow_end),
                "while_settling": per_minute(seen, flow_end, settled),
                "idle": per_minute(seen, settled, idle_end),
                "busiest_minute": max(minute),
            },
            "settled_after_traffic_s": round(settled - flow_end, 1),
            "cpu_ms_per_poll": {
                "median": round(statistics.median(p.cpu_seconds for p in reports) * 1000, 2) if reports else None,
                "max": round(max(p.cpu_seconds for p in reports) * 1000, 2) if reports else None,
            },
            "polls": len(reports), "polls_during_flow": polls_flow,
            "cpu_ms_per_minute": {"while_requests_flow": round(cpu_flow * 1000 * 60 / max(flow_end - flow_start, 1), 1),
                                  "idle": round(cpu_idle * 1000 * 60 / max(idle_end - settled, 1), 1)},
            "cpu_s_total": round(cpu_total, 3), "wall_s_total": round(time.time() - wall0, 1),
            "points_kinds": kinds,
        }
    finally:
        process.terminate()
        process.wait(10)


def per_request_calls(state: Path) -> dict:
    """``on_record`` and ``check``: what the gateway pays per request (in-process, no network)."""
    sys.path.insert(0, str(HERE))
    from realistic_records import RecordMaker

    from claude_poe_tui.points.budget import BudgetLimits
    from claude_poe_tui.points.service import PointsService, PointsSettings

    folder = state / "calls"
    folder.mkdir()
    settings = PointsSettings(request_log=str(folder / "requests.jsonl"), poe_base_url="http://127.0.0.1:9/v1",
                              budget=BudgetLimits(session_points=1e12, daily_points=1e12, min_balance=1.0),
                              prices={"claude-sonnet-5": [0.0000026, 0.000013], "claude-haiku-4.5": [8.5e-7, 4.3e-6]})
    service = PointsService(settings, None)
    service.open()
    service.balance, service.balance_at = 10**9, time.time() - 600
    maker = RecordMaker(7)
    now = time.time()
    records = [maker.make(now - 3600 + i * 0.36) for i in range(10_000)]
    started = time.perf_counter()
    for record in records:
        service.on_record(record)
    on_record_us = (time.perf_counter() - started) / len(records) * 1e6
    sessions = [r.session for r in records[-1000:]]
    started = time.perf_counter()
    for _ in range(5):
        for session in sessions:
            service.check(session)
    check_us = (time.perf_counter() - started) / (5 * len(sessions)) * 1e6
    service._release_lock()  # noqa: SLF001
    return {"on_record_us": round(on_record_us, 1), "check_us": round(check_us, 2),
            "records_in_ledger_window": 10_000}


# -- the status line -----------------------------------------------------------------------------------


def timed(argv: list[str], stdin: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, check=False)
    return (time.perf_counter() - started) * 1000


def run_statusline(args: argparse.Namespace, state: Path) -> dict:
    log = state / "requests.jsonl"
    session = None
    for line in open(log, encoding="utf-8"):
        session = json.loads(line).get("session") or session
    stdin = json.dumps({"session_id": session, "model": {"id": "claude-sonnet-4-5", "display_name": "Sonnet 4.5"},
                        "workspace": {"current_dir": "/tmp", "project_dir": "/tmp"}, "version": "2.1.197",
                        "cost": {"total_cost_usd": 0.12}, "context_window": {"used": 1000, "total": 200000}})
    script = str(Path(sys.executable).parent / "claude-poe-tui")
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(state),
           "CLAUDE_POE_TUI_CONFIG": str(state / "no-config.toml")}
    commands = {
        "true": [shutil.which("true") or "/bin/true"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "python reads the JSON": [sys.executable, "-c", "import json, sys; print(json.load(sys.stdin)['model']['id'])"],
        "statusline --log (installed)": [script, "statusline", "--log", str(log)],
        "statusline (finds the log)": [script, "statusline"],
        "python -m claude_poe_tui statusline --log": [sys.executable, "-m", "claude_poe_tui", "statusline", "--log",
                                                      str(log)],
    }
    output = subprocess.run(commands["statusline --log (installed)"], input=stdin, capture_output=True, text=True,
                            env=env).stdout.strip()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(3):  # warm the page cache
        for argv in commands.values():
            timed(argv, stdin, env)
    for _ in range(args.runs):
        for name, argv in commands.items():
            times[name].append(timed(argv, stdin, env))
    imports = subprocess.run([sys.executable, "-X", "importtime", script, "statusline", "--log", str(log)],
                             input=stdin, capture_output=True, text=True, env=env).stderr
    total_us = sum(int(line.split("|")[1]) for line in imports.splitlines()
                   if line.startswith("import time:") and line.split("|")[2].startswith(" ") and
                   not line.split("|")[2].startswith("  ") and line.split("|")[1].strip().isdigit())
    ours = sorted(line.split("|")[2].strip() for line in imports.splitlines()
                  if "claude_poe_tui" in line and line.startswith("import time:"))
    return {
        "runs": args.runs, "output": output, "log_bytes": log.stat().st_size,
        "ms": {name: {"median": round(statistics.median(v), 1),
                      "p95": round(sorted(v)[max(0, int(len(v) * 0.95) - 1)], 1)} for name, v in times.items()},
        "imports_ms": round(total_us / 1000, 1), "our_modules": ours,
    }


# -- the report ------------------------------------------------------------------------------------------


def report(result: dict) -> str:
    out = ["statusline (ms, spawn to exit; target 50):"]
    for name, figures in result["statusline"]["ms"].items():
        out.append(f"  {name:<44} median {figures['median']:6.1f}   p95 {figures['p95']:6.1f}")
    out.append(f"  imports {result['statusline']['imports_ms']} ms; prints: {result['statusline']['output']}")
    p = result["poller"]
    rpm = p["usage_requests_per_minute"]
    out += [
        f"poller ({p['rate_requests_per_second']} requests/s for {p['duration_s']} s, poll every {p['poll_seconds']} s, "
        f"{p['records']} records):",
        f"  requests/minute to Poe: {rpm['while_requests_flow']} while requests flow, {rpm['while_settling']} while the "
        f"last settle ({p['settled_after_traffic_s']} s), {rpm['idle']} idle; busiest minute {rpm['busiest_minute']} "
        "(Poe allows 500)",
        f"  CPU per poll: median {p['cpu_ms_per_poll']['median']} ms, max {p['cpu_ms_per_poll']['max']} ms over "
        f"{p['polls']} polls; CPU per minute {p['cpu_ms_per_minute']['while_requests_flow']} ms while requests flow, "
        f"{p['cpu_ms_per_minute']['idle']} ms idle",
        f"  points: {p['points_kinds']}",
        f"per request in the gateway: on_record {result['calls']['on_record_us']} µs, check {result['calls']['check_us']} µs",
    ]
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--traffic":
        url, log, rate, duration = sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
        traffic(url, log, rate, duration, seed=11)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter traffic, fewer runs")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second while traffic flows")
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of traffic")
    parser.add_argument("--poll", type=float, default=15.0, help="the poller's interval (10-30 s in the product)")
    parser.add_argument("--grace", type=float, default=60.0, help="seconds after a request before its points are final")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idling measured after settling")
    parser.add_argument("--runs", type=int, default=40, help="starts of each status-line command")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.poll, args.grace, args.idle, args.runs = 25.0, 10.0, 10.0, 12.0, 15
    state = Path(tempfile.mkdtemp(prefix="bench-points-"))
    try:
        result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
        result["poller"] = run_poller(args, state)
        result["calls"] = per_request_calls(state)
        result["statusline"] = run_statusline(args, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print(report(result))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"points-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"figures: {path}")


if __name__ == "__main__":
    main()
