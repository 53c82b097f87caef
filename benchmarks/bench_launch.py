#!/usr/bin/env python3
"""Benchmark: what launching Claude Code through claude-poe-tui costs, and the idle background proxy.

Against the stand-in Poe server (``tests/poe_standin.py``) and the real Claude Code CLI
(``$CLAUDE_CODE_BIN``, else the copy the tests install from npm), in a temporary home, config and
state folder:

1. **first launch**: ``claude-poe-tui claude -p "say hi"`` with no proxy running (it starts the
   background proxy), once;
2. **second launch**: ``claude-poe-tui claude -p "say hi"`` against plain ``claude -p "say hi"``
   with the variables of ``claude-poe-tui env``, both on the same running proxy, alternating
   (``--runs`` pairs, the order flipped every pair). Target: the median costs at most 0.3 s more;
3. **help**: ``claude-poe-tui claude --version`` with no proxy running against ``claude --version``,
   alternating. Target: within 0.3 s, and no proxy started;
4. **idle memory**: RSS (and PSS) of the background ``serve`` and its proxy child after one request
   and ``--idle`` seconds of nothing; with gdb, what ``gc.collect()`` and ``malloc_trim(0)`` inside
   the child give back (the shrink experiment, ``--no-shrink`` skips it);
5. **recovery**: ``kill -9`` of the proxy child, then a request at once: seconds until it is
   answered (issue 11's target: 10 s), with the first start's time beside it.

Run from the repository with its venv:  python benchmarks/bench_launch.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import free_port

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "poe_standin.py"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
NPM_CLAUDE = Path(tempfile.gettempdir()) / "claude-poe-tui-tests" / "claude-code" / "node_modules" / ".bin" / "claude"

POE_KEY = "poe-bench-key-0123456789"
MASTER_KEY = "sk-bench-master-0123456789abcdef"
PROMPT = "say hi"


def wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(url)


def claude_code() -> Path:
    for candidate in (os.environ.get("CLAUDE_CODE_BIN"), NPM_CLAUDE, shutil.which("claude")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    sys.exit("Claude Code not found: set CLAUDE_CODE_BIN, or run the tests once (they install it from npm)")


def our_command() -> list[str]:
    script = Path(sys.executable).parent / "claude-poe-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "claude_poe_tui"]


class Bench:
    def __init__(self, root: Path, claude: Path):
        self.root = root
        self.claude = claude
        self.home = root / "home"
        self.home.mkdir()
        self.work = root / "work"
        self.work.mkdir()
        self.state = root / "state"
        self.config = root / "conf" / "config.toml"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ours = our_command()

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANTHROPIC_", "CLAUDE_CODE_", "CLAUDE_POE_TUI_")) and k not in ("POE_API_KEY", "LITELLM_MASTER_KEY")}
        env.update(HOME=str(self.home), CLAUDE_POE_TUI_STATE_DIR=str(self.state), CLAUDE_CODE_BIN=str(self.claude),
                   XDG_CONFIG_HOME=str(self.home / ".config"), XDG_STATE_HOME=str(self.home / ".local" / "state"))
        return env

    def write_config(self, poe_base_url: str) -> None:
        self.config.parent.mkdir(parents=True)
        self.config.write_text("\n".join([
            "[proxy]", 'host = "127.0.0.1"', f"port = {self.port}", 'master_key = "env:LITELLM_MASTER_KEY"', "",
            "[poe]", 'api_key = "env:POE_API_KEY"', f'base_url = "{poe_base_url}"', "",
            "[[models]]", 'name = "claude-opus-4-5"', 'poe_model = "Claude-Opus-4.5"', "",
            "[[models]]", 'name = "claude-sonnet-4-5"', 'poe_model = "Claude-Sonnet-4.5"', "",
            "[[models]]", 'name = "claude-haiku-4-5"', 'poe_model = "Claude-Haiku-4.5"', "",
        ]))
        dotenv = self.config.parent / ".env"
        dotenv.write_text(f"POE_API_KEY={POE_KEY}\nLITELLM_MASTER_KEY={MASTER_KEY}\n")
        dotenv.chmod(0o600)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.ours, "--config", str(self.config), *args], env=self.base_env(),
                              capture_output=True, text=True, timeout=300, cwd=self.work, stdin=subprocess.DEVNULL)
        if check and done.returncode not in (0, 3):
            raise RuntimeError(f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def plain_env(self) -> dict[str, str]:
        env = self.base_env()
        for line in self.cli("env", "--shell", "sh").stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'")
        return env

    def timed(self, argv: list[str], env: dict[str, str]) -> float:
        began = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=self.work,
                              stdin=subprocess.DEVNULL)
        took = time.perf_counter() - began
        if done.returncode != 0:
            raise RuntimeError(f"{argv[-3:]} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return took

    def status(self) -> dict[str, Any]:
        return json.loads(self.cli("status", "--json").stdout)


def alternate(bench: Bench, a: tuple[list[str], dict[str, str]], b: tuple[list[str], dict[str, str]],
              runs: int) -> tuple[list[float], list[float]]:
    """``runs`` pairs, the order flipped every pair, so drift on a shared machine hits both."""
    times_a: list[float] = []
    times_b: list[float] = []
    for index in range(runs):
        order = [(a, times_a), (b, times_b)] if index % 2 == 0 else [(b, times_b), (a, times_a)]
        for (argv, env), sink in order:
            sink.append(bench.timed(argv, env))
    return times_a, times_b


def compare(ours: list[float], plain: list[float]) -> dict[str, Any]:
    med_ours, med_plain = statistics.median(ours), statistics.median(plain)
    paired = [o - p for o, p in zip(ours, plain)]
    return {
        "ours_median_s": round(med_ours, 3),
        "plain_median_s": round(med_plain, 3),
        "difference_s": round(med_ours - med_plain, 3),
        "paired_difference_median_s": round(statistics.median(paired), 3),
        "ratio": round(med_ours / med_plain, 3),
        "ours_s": [round(t, 3) for t in ours],
        "plain_s": [round(t, 3) for t in plain],
    }


def memory(pid: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
            name, value = line.split(":")
            figures[name.lower() + "_mb"] = round(int(value.split()[0]) / 1024, 1)
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                figures["pss_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return figures


def gdb_call(pid: int, *commands: str) -> bool:
    gdb = shutil.which("gdb")
    if gdb is None:
        return False
    argv = [gdb, "-p", str(pid), "-batch", "-nx"]
    for command in commands:
        argv += ["-ex", command]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return done.returncode == 0 and "ptrace" not in done.stderr.lower()


def shrink_experiment(pid: int) -> dict[str, Any]:
    """What the idle child gives back to the system: ``gc.collect()``, then ``malloc_trim(0)``.

    Both are called inside the running child through gdb (the GIL taken as an extension would);
    this is an experiment on a copy of today's child, not something the product does.
    """
    before = memory(pid)
    collected = gdb_call(pid, "call (int)PyGILState_Ensure()",
                         'call (int)PyRun_SimpleString("import gc; gc.collect()")',
                         "call (void)PyGILState_Release($1)")
    after_gc = memory(pid)
    trimmed = gdb_call(pid, "call (int)malloc_trim(0)")
    after_trim = memory(pid)
    return {"before": before, "after_gc_collect": after_gc if collected else None,
            "after_malloc_trim": after_trim if trimmed else None, "gdb": collected and trimmed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="alternating pairs per comparison (default 10)")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds idle before memory is read")
    parser.add_argument("--no-shrink", action="store_true", help="skip the gdb shrink experiment")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    import httpx

    claude = claude_code()
    root = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    bench = Bench(root, claude)
    poe_port = free_port()
    standin = subprocess.Popen([sys.executable, str(STANDIN), "--port", str(poe_port), "--key", POE_KEY],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "claude_code": subprocess.run([str(claude), "--version"], capture_output=True, text=True,
                                      env={**os.environ, "HOME": str(bench.home)}).stdout.strip(),
        "runs": args.runs,
    }
    try:
        wait_http(f"http://127.0.0.1:{poe_port}/v1/models")
        bench.write_config(f"http://127.0.0.1:{poe_port}/v1")
        ours_p = ([*bench.ours, "--config", str(bench.config), "claude", "-p", PROMPT], bench.base_env())
        plain_p = ([str(claude), "-p", PROMPT], bench.plain_env())

        # 3. help, first: nothing runs yet.
        print(f"help: {args.runs * 2} alternating runs of `--version`, no proxy running", flush=True)
        version_ours = ([*bench.ours, "--config", str(bench.config), "claude", "--version"], bench.base_env())
        version_plain = ([str(claude), "--version"], bench.plain_env())
        ours, plain = alternate(bench, version_ours, version_plain, args.runs * 2)
        results["help"] = compare(ours, plain)
        results["help"]["proxy_started"] = bench.status()["running"]

        # 1. the first launch starts the background proxy.
        print("first launch (starts the background proxy)", flush=True)
        results["first_launch_s"] = round(bench.timed(*ours_p), 2)
        facts = bench.status()
        assert facts["running"] and facts["mode"] == "background", facts

        # 2. second launches against plain claude, same proxy.
        print(f"second launch: {args.runs} alternating pairs of `-p {PROMPT!r}`", flush=True)
        ours, plain = alternate(bench, ours_p, plain_p, args.runs)
        results["second_launch"] = compare(ours, plain)

        # 4. idle memory.
        print(f"idle memory: {args.idle:.0f} s without requests", flush=True)
        time.sleep(args.idle)
        facts = bench.status()
        results["idle_memory"] = {
            "serve": memory(facts["pid"]),
            "proxy_child": memory(facts["proxy_pid"]),
            "requests_served": facts["requests"],
        }
        if not args.no_shrink:
            print("shrink experiment (gdb)", flush=True)
            results["idle_memory"]["shrink_experiment"] = shrink_experiment(facts["proxy_pid"])

        # 5. recovery after kill -9.
        print("recovery after kill -9 of the proxy child", flush=True)
        os.kill(facts["proxy_pid"], signal.SIGKILL)
        killed = time.perf_counter()
        answer = httpx.post(f"{bench.url}/v1/messages", timeout=120,
                            json={"model": "claude-haiku-4-5", "max_tokens": 20,
                                  "messages": [{"role": "user", "content": "hi"}]},
                            headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"})
        results["recovery"] = {"answered_after_s": round(time.perf_counter() - killed, 2), "status": answer.status_code}
        log = (bench.state / "run" / str(bench.port) / "serve.log").read_text()
        starts = [float(line.split("ready in ")[1].split(" s")[0]) for line in log.splitlines() if "ready in " in line]
        results["recovery"]["first_start_s"] = starts[0] if starts else None
        results["machine"]["load_average_at_end"] = os.getloadavg()
    finally:
        bench.cli("stop", check=False)
        standin.terminate()
        standin.wait(10)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"launch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    second, help_ = results["second_launch"], results["help"]
    memory_ = results["idle_memory"]
    print()
    print(f"first launch (starts the proxy):   {results['first_launch_s']:.2f} s")
    print(f"second launch, ours vs plain:       {second['ours_median_s']:.3f} s vs {second['plain_median_s']:.3f} s "
          f"(+{second['difference_s']:.3f} s, x{second['ratio']:.2f}; paired median +{second['paired_difference_median_s']:.3f} s)"
          f"  target: at most +0.3 s")
    print(f"--version, ours vs plain, no proxy: {help_['ours_median_s']:.3f} s vs {help_['plain_median_s']:.3f} s "
          f"(+{help_['difference_s']:.3f} s)  target: within 0.3 s; proxy started: {help_['proxy_started']}")
    print(f"idle memory: serve {memory_['serve'].get('vmrss_mb')} MB RSS, proxy child "
          f"{memory_['proxy_child'].get('vmrss_mb')} MB RSS ({memory_['proxy_child'].get('pss_mb')} MB PSS)")
    shrink = memory_.get("shrink_experiment")
    if shrink and shrink["gdb"]:
        print(f"  shrink: {shrink['before']['vmrss_mb']} MB -> gc.collect() {shrink['after_gc_collect']['vmrss_mb']} MB"
              f" -> malloc_trim(0) {shrink['after_malloc_trim']['vmrss_mb']} MB")
    print(f"recovery after kill -9: answered after {results['recovery']['answered_after_s']} s "
          f"(first start took {results['recovery']['first_start_s']} s)")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
