"""Dashboard benchmark: first paint, keystroke latency under 200 requests/s, memory over minutes.

Everything runs against the real dashboard process, ``python -m claude_poe_tui --config X``, in a
pseudo-terminal (``os.openpty``, 120x40 by default) whose output is fed to a terminal emulator
(pyte: ``pip install pyte``), so what is measured is what a person would see on the screen. The
config points Poe at 127.0.0.1:9 (nothing listens there: no network) and the proxy at a free port;
the dashboard starts its own proxy child as usual, which is stopped at the end (ctrl+q, then
SIGTERM to the process group if needed; a leftover ``claude_poe_tui.proxy.child`` is reported).

  paint   from launching the process to the first screen showing the status bar's URL (and, for
          information, to the Models table's header), ``--paint-runs`` times, with an empty request
          log and with ``--history`` records in it. Target 0.5 s.
  keys    a separate process appends ``--rate`` realistic records per second to the request log
          through the proxy's RequestLogWriter (the config's rotation), from before the dashboard
          starts until the end. Once the log's history is on screen, keys are sent every 0.3-0.6 s
          for ``--duration`` seconds: 1 2 3 up up down down 4 ? escape, over and over. Each key's
          latency is the time from writing it to the pty to the arrival of the output that makes
          the screen show its effect: the pane's own header (1-4), the help screen opening (?) or
          closing (escape, sent as the kitty-protocol ``CSI 27 u`` that Textual asks terminals
          for, so Textual's 100 ms ESCDELAY for a bare ESC is not counted; ``--bare-escape`` sends
          a bare ESC), the Logs cursor row moving one line (up/down). Target 100 ms.
  memory  the dashboard's VmRSS (/proc/PID/status) at first paint, once the history is shown, and
          every 10 s of the load; it must stay flat (Logs keeps 5000 rows, statistics are histograms).

    python benchmarks/bench_dashboard.py                       # all of it, about 5 minutes
    python benchmarks/bench_dashboard.py --skip-load           # first paint only
    python benchmarks/bench_dashboard.py --skip-paint --duration 90 --profile 30

``--profile N`` also records N seconds of the loaded dashboard with py-spy (collapsed stacks and a
top-functions summary in benchmarks/results/). A table goes to stdout, the figures as JSON to
benchmarks/results/dashboard-<time>.json.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import queue
import random
import re
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench_common import free_port

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

try:
    import pyte
except ImportError:  # only the measuring side needs it; the writer process does not
    pyte = None

DAY = 86400.0
URL_WAIT = 30.0  # seconds a launch may take before it counts as failed
KEY_WAIT = 5.0  # seconds a key's effect may take before it counts as a timeout

CONFIG = """\
# claude-poe-tui dashboard benchmark: Poe at an address where nothing listens, a free proxy port.
[proxy]
port = {port}
master_key = "env:LITELLM_MASTER_KEY"

[poe]
api_key = "env:POE_API_KEY"
base_url = "http://127.0.0.1:9/v1"

[log]
max_size_mb = {max_mb}
backups = {backups}
{models}"""


def make_setup(root: Path, *, max_mb: float, backups: int) -> dict:
    from realistic_records import MODELS

    config_dir, state = root / "config", root / "state"
    shutil.rmtree(root, ignore_errors=True)
    config_dir.mkdir(parents=True)
    state.mkdir(parents=True)
    port = free_port()
    models = "".join(f'\n[[models]]\nname = "{name}"\npoe_model = "{bot}"\n' for name, bot, *_ in MODELS)
    config = config_dir / "config.toml"
    config.write_text(CONFIG.format(port=port, max_mb=max_mb, backups=backups, models=models))
    env_file = config_dir / ".env"
    env_file.write_text("POE_API_KEY=poe-bench-key-0000\nLITELLM_MASTER_KEY=sk-bench-master-0000\n")
    os.chmod(env_file, 0o600)
    return {"root": root, "config": config, "state": state, "log": state / "requests.jsonl", "port": port,
            "url": f"http://127.0.0.1:{port}", "max_bytes": int(max_mb * 1024 * 1024), "backups": backups}


def reset_log(setup: dict, history: int, seed: int) -> None:
    for file in setup["state"].glob("requests.jsonl*"):
        file.unlink()
    if history:
        from realistic_records import write_log

        now = time.time()
        write_log(setup["log"], history, start=now - DAY, end=now, max_bytes=setup["max_bytes"],
                  backups=setup["backups"], seed=seed)


# -- the writer process: --rate records per second, through RequestLogWriter --


def run_writer(path: Path, rate: float, duration: float, max_bytes: int, backups: int, seed: int) -> int:
    from realistic_records import RecordMaker

    from claude_poe_tui.requestlog.writer import RequestLogWriter

    maker = RecordMaker(seed)
    writer = RequestLogWriter(path, max_bytes=max_bytes, backups=backups).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    sent = 0
    while not stop.is_set():
        elapsed = time.monotonic() - started
        if elapsed >= duration:
            break
        due = int(elapsed * rate)
        while sent < due:
            writer.submit(maker.make(time.time()))
            sent += 1
        stop.wait(0.02)
    writer.close()
    elapsed = time.monotonic() - started
    print(json.dumps({"sent": sent, "seconds": round(elapsed, 2), "rate": round(sent / elapsed, 1),
                      "dropped": writer.dropped}), flush=True)
    return 0


# -- the dashboard in a pty, and what its screen shows --


class Terminal:
    """The dashboard's process on a pty; its output read by a thread (timestamped) into pyte."""

    def __init__(self, setup: dict, size: tuple[int, int]):
        self.setup = setup
        self.columns, self.lines = size
        self.screen = pyte.Screen(self.columns, self.lines)
        self.stream = pyte.ByteStream(self.screen)
        self.chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self.bytes_read = 0
        self.process: subprocess.Popen | None = None
        self.master = -1
        self.launched = 0.0

    def launch(self) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.lines, self.columns, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
                   CLAUDE_POE_TUI_STATE_DIR=str(self.setup["state"]))
        for name in ("TEXTUAL", "TEXTUAL_DEVTOOLS", "NO_COLOR", "POE_API_KEY", "LITELLM_MASTER_KEY"):
            env.pop(name, None)

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.launched = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "claude_poe_tui", "--config", str(self.setup["config"])],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=controlling_tty, close_fds=True,
        )
        os.close(slave)
        self.master = master
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            now = time.perf_counter()
            self.chunks.put((now, data))
            if not data:
                return

    def send(self, data: bytes) -> float:
        sent = time.perf_counter()
        os.write(self.master, data)
        return sent

    def pump(self, until: float, condition: Callable[[], bool] | None = None) -> float | None:
        """Feed output to the screen until ``until`` (perf_counter); with a condition, stop as soon
        as it holds and return the arrival time of the output that made it hold."""
        if condition is not None and condition():
            return time.perf_counter()
        while True:
            left = until - time.perf_counter()
            if left <= 0:
                return None
            try:
                arrived, data = self.chunks.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            if not data:
                raise RuntimeError("the dashboard closed its terminal")
            self.bytes_read += len(data)
            self.stream.feed(data)
            if condition is not None and condition():
                return arrived

    # what the screen shows

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def has(self, needle: str) -> bool:
        return any(needle in line for line in self.screen.display)

    def status_requests(self) -> int | None:
        match = re.search(r"([\d,]+) requests?\b", self.screen.display[0])
        return int(match.group(1).replace(",", "")) if match else None

    def cursor_row(self) -> int | None:
        """The screen line of the Logs table's cursor: among the lines that show a request, the one
        whose background colour no other one has (the rest alternate two zebra colours)."""
        rows = [y for y, line in enumerate(self.screen.display) if re.match(r" \d\d:\d\d:\d\d  ", line)]
        if len(rows) < 3:
            return None
        colours: dict[str, list[int]] = {}
        for y in rows:
            colours.setdefault(self.screen.buffer[y][1].bg, []).append(y)
        single = [ys[0] for ys in colours.values() if len(ys) == 1]
        return single[0] if len(single) == 1 else None

    # the process

    def rss_kib(self, pid: int | None = None) -> int | None:
        try:
            status = Path(f"/proc/{pid or self.process.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(match.group(1)) if match else None

    def children(self) -> list[int]:
        pid = self.process.pid
        out = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
        return out

    def quit(self) -> dict:
        """ctrl+q, then SIGTERM/SIGKILL to the process group if it does not exit; reports leftovers."""
        outcome = {"quit": "ctrl+q"}
        process = self.process
        started = time.perf_counter()
        try:
            self.send(b"\x11")
        except OSError:
            pass
        deadline = time.perf_counter() + 30
        while process.poll() is None and time.perf_counter() < deadline:
            try:
                self.pump(time.perf_counter() + 0.2)
            except RuntimeError:
                break
        try:
            process.wait(max(0.0, deadline - time.perf_counter()))  # the pty closes before the exit
        except subprocess.TimeoutExpired:
            pass
        if process.poll() is None:
            outcome["quit"] = "SIGTERM (ctrl+q did not end it in 30 s)"
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                outcome["quit"] = "SIGKILL"
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        outcome["exit_code"] = process.returncode
        outcome["seconds"] = round(time.perf_counter() - started, 2)
        try:
            os.close(self.master)
        except OSError:
            pass
        outcome["leftover_proxy_children"] = leftover_proxies(self.setup["state"])
        return outcome


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def leftover_proxies(state: Path, wait: float = 10.0) -> list[int]:
    """Proxy children started for this benchmark's state folder that are still alive (then killed)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "claude_poe_tui.proxy.child" in command and str(state) in command:
                found.append(int(entry.name))
        if not found or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return found


# -- (a) first paint --


def first_paint(setup: dict, size: tuple[int, int], runs: int, history: int, seed: int) -> dict:
    reset_log(setup, history, seed)
    times, full, outcomes = [], [], []
    url = setup["url"]
    for _ in range(runs):
        term = Terminal(setup, size)
        term.launch()
        try:
            arrived = term.pump(term.launched + URL_WAIT, lambda: term.has(url))
            if arrived is None:
                raise RuntimeError(f"no status bar within {URL_WAIT} s:\n{term.text()}")
            times.append(arrived - term.launched)
            table = term.pump(term.launched + URL_WAIT, lambda: term.has("Claude Code asks for"))
            full.append(None if table is None else table - term.launched)
            term.pump(time.perf_counter() + 1.0)  # let it settle (and the proxy start) before quitting
        finally:
            outcomes.append(term.quit())
        time.sleep(0.5)
    return {
        "history_records": history,
        "runs": runs,
        "status_bar_s": [round(t, 3) for t in times],
        "models_table_s": [None if t is None else round(t, 3) for t in full],
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "target_s": 0.5,
        "quits": outcomes,
    }


# -- (b) keys and (c) memory under load --

# Each pane's table header (the Logs columns' titles may shorten, its first two never do).
PANE_MARKERS = {"1": "Claude Code asks for", "2": "config says", "3": "time      status", "4": "tok/s"}
HELP_MARKER = "(esc closes; ctrl+p opens the command palette)"  # the help screen's title
KEYS = {"1": b"1", "2": b"2", "3": b"3", "4": b"4", "up": b"\x1b[A", "down": b"\x1b[B", "?": b"?",
        "escape": b"\x1b[27u"}
SEQUENCE = ["1", "2", "3", "up", "up", "down", "down", "4", "?", "escape"]


def expectation(term: Terminal, key: str) -> Callable[[], bool]:
    """What the screen must show once ``key`` has been handled (judged against the screen now)."""
    if key in PANE_MARKERS:
        marker = PANE_MARKERS[key]
        return lambda: term.has(marker) and not term.has(HELP_MARKER)
    if key == "?":
        return lambda: term.has(HELP_MARKER)
    if key == "escape":
        return lambda: not term.has(HELP_MARKER)
    before = term.cursor_row()
    if before is None:
        raise RuntimeError(f"no Logs cursor on screen before {key}:\n{term.text()}")
    wanted = before - 1 if key == "up" else before + 1
    return lambda: term.cursor_row() == wanted


def logs_lag(term: Terminal, keys: dict[str, bytes]) -> float | None:
    """How far the Logs pane (following) is behind the clock: now minus its newest row's time.
    A dashboard that keeps up shows about the feed's poll interval; one that falls behind, more
    and more (its updates queue up in memory)."""
    term.send(keys["escape"])
    term.send(keys["3"])
    term.send(b"G")  # follow
    term.pump(time.perf_counter() + 1.5)
    newest = None
    for line in term.screen.display:
        match = re.match(r" (\d\d):(\d\d):(\d\d)  ", line)
        if match:
            h, m, sec = (int(g) for g in match.groups())
            newest = max(newest or 0, h * 3600 + m * 60 + sec)
    if newest is None:
        return None
    now = time.localtime()
    lag = (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec - newest) % 86400
    return float(lag)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def summarise(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    return {"count": len(values), "median_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1), "max_ms": round(max(values), 1)}


def load_run(setup: dict, size: tuple[int, int], *, history: int, rate: float, duration: float, seed: int,
             bare_escape: bool, profile: float, stamp: str) -> dict:
    reset_log(setup, history, seed)
    keys = dict(KEYS)
    if bare_escape:
        keys["escape"] = b"\x1b"
    writer_time = duration + 60 + URL_WAIT
    writer = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--writer", str(setup["log"]), "--rate", str(rate),
         "--writer-seconds", str(writer_time), "--max-bytes", str(setup["max_bytes"]),
         "--backups", str(setup["backups"]), "--seed", str(seed + 1)],
        stdout=subprocess.PIPE, text=True,
    )
    load_started = time.perf_counter()
    term = Terminal(setup, size)
    result: dict = {"history_records": history, "rate": rate, "escape_sent_as": keys["escape"].decode("latin-1")}
    rss: list[dict] = []
    samples: list[dict] = []
    profile_proc = None
    try:
        term.launch()
        pid = term.process.pid
        arrived = term.pump(term.launched + URL_WAIT, lambda: term.has(setup["url"]))
        if arrived is None:
            raise RuntimeError(f"no status bar:\n{term.text()}")
        result["first_paint_s"] = round(arrived - term.launched, 3)
        rss.append({"at": "first paint", "t_s": round(time.perf_counter() - load_started, 1), "kib": term.rss_kib()})
        shown = term.pump(term.launched + 120, lambda: (term.status_requests() or 0) > 0)
        if shown is None:
            raise RuntimeError(f"the history never reached the status bar:\n{term.text()}")
        result["history_shown_s"] = round(shown - term.launched, 3)
        rss.append({"at": "history shown", "t_s": round(time.perf_counter() - load_started, 1),
                    "kib": term.rss_kib()})
        keys_started = time.perf_counter()
        next_rss = keys_started + 10
        cpu_before = (cpu_seconds(pid), cpu_seconds(writer.pid), own_cpu_seconds())
        if profile:
            RESULTS.mkdir(parents=True, exist_ok=True)
            raw = RESULTS / f"dashboard-pyspy-{stamp}.txt"
            profile_proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--duration",
                 str(int(profile)), "--rate", "200", "--format", "raw", "--threads", "--output", str(raw), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            result["py_spy_raw"] = str(raw)
        index = 0
        rng = random.Random(seed)
        while time.perf_counter() - keys_started < duration:
            term.pump(time.perf_counter() + rng.uniform(0.3, 0.6))
            now = time.perf_counter()
            if now >= next_rss:
                rss.append({"at": f"{now - keys_started:.0f} s of keys", "t_s": round(now - load_started, 1),
                            "kib": term.rss_kib()})
                next_rss += 10
            key = SEQUENCE[index % len(SEQUENCE)]
            index += 1
            condition = expectation(term, key)
            sent = term.send(keys[key])
            seen = term.pump(sent + KEY_WAIT, condition)
            samples.append({"key": key, "t_s": round(sent - keys_started, 2),
                            "ms": None if seen is None else round((seen - sent) * 1000, 1)})
            if seen is None:  # the screen is not where the sequence expects: start it again
                term.send(keys["escape"])
                term.pump(time.perf_counter() + 0.5)
                index = 0
        rss.append({"at": "end", "t_s": round(time.perf_counter() - load_started, 1), "kib": term.rss_kib()})
        result["keys_seconds"] = round(time.perf_counter() - keys_started, 1)
        spent = [after - before for after, before in
                 zip((cpu_seconds(pid), cpu_seconds(writer.pid), own_cpu_seconds()), cpu_before)]
        result["cpu_percent"] = {name: round(100 * value / result["keys_seconds"], 1) for name, value in
                                 zip(("dashboard", "writer", "this harness (pty reader + pyte)"), spent)}
        result["logs_lag_s"] = logs_lag(term, keys)
        children = term.children()
        result["proxy_child_rss_kib"] = {str(c): term.rss_kib(c) for c in children}
        result["screen_at_end"] = term.text()
    finally:
        if profile_proc is not None:
            try:
                profile_proc.wait(max(5.0, profile + 30))
            except subprocess.TimeoutExpired:
                profile_proc.kill()
        result["quit"] = term.quit() if term.process is not None else None
        writer.send_signal(signal.SIGTERM)
        out, _ = writer.communicate(timeout=30)
        result["writer"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
    latencies = [s["ms"] for s in samples if s["ms"] is not None]
    result["keystrokes"] = summarise(latencies)
    result["keystrokes"]["timeouts"] = sum(1 for s in samples if s["ms"] is None)
    result["by_key"] = {key: summarise([s["ms"] for s in samples if s["key"] == key and s["ms"] is not None])
                        for key in dict.fromkeys(SEQUENCE)}
    result["over_100ms"] = sum(1 for v in latencies if v > 100)
    result["samples"] = samples
    result["rss"] = rss
    result["bytes_from_pty"] = term.bytes_read
    if profile and result.get("py_spy_raw") and Path(result["py_spy_raw"]).exists():
        result["py_spy_top"] = py_spy_summary(Path(result["py_spy_raw"]))
    return result


def py_spy_summary(raw: Path, top: int = 25) -> dict:
    """From py-spy's collapsed stacks: the share of samples per thread, and per function (inclusive)
    on the main (event loop) thread."""
    threads: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    main_total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0]
        threads[thread] = threads.get(thread, 0) + count
        if "MainThread" in thread or "main" in thread.lower():
            main_total += count
            for frame in dict.fromkeys(frames[1:]):
                inclusive[frame] = inclusive.get(frame, 0) + count
    total = sum(threads.values()) or 1
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])
    interesting = [(f, c) for f, c in ranked if not re.search(r"\((asyncio|threading|runpy|selectors)[/.]", f)]
    return {
        "samples": total,
        "threads": {t: round(100 * c / total, 1) for t, c in sorted(threads.items(), key=lambda kv: -kv[1])},
        "main_thread_samples": main_total,
        "main_thread_inclusive_pct": {f: round(100 * c / (main_total or 1), 1) for f, c in interesting[:top]},
    }


# -- the report --


def report(result: dict) -> str:
    lines = []
    for paint in result.get("paint", []):
        lines.append(f"first paint, {paint['history_records']:,} records in the log: median {paint['median_s']} s, "
                     f"max {paint['max_s']} s over {paint['runs']} runs (target 0.5 s); "
                     f"all {paint['status_bar_s']}; Models table {paint['models_table_s']}")
        for quit in paint["quits"]:
            if quit["quit"] != "ctrl+q" or quit["leftover_proxy_children"]:
                lines.append(f"  quit: {quit}")
    load = result.get("load")
    if load:
        k = load["keystrokes"]
        lines.append(f"load: {load['rate']} records/s (writer: {load['writer']}), {load['history_records']:,} records "
                     f"of history; first paint {load['first_paint_s']} s, history on screen at {load['history_shown_s']} s")
        lines.append(f"keystrokes over {load['keys_seconds']} s: {k['count']} measured, {k['timeouts']} timeouts; "
                     f"median {k.get('median_ms')} ms, p95 {k.get('p95_ms')} ms, max {k.get('max_ms')} ms "
                     f"(target 100 ms); {load['over_100ms']} over 100 ms")
        lines.append("  key      count  median ms  p95 ms  max ms")
        for key, s in load["by_key"].items():
            if s["count"]:
                lines.append(f"  {key:<7} {s['count']:>6} {s['median_ms']:>10} {s['p95_ms']:>7} {s['max_ms']:>7}")
        lines.append(f"Logs pane behind the clock at the end: {load.get('logs_lag_s')} s; CPU during the keys "
                     f"(% of one core): {load.get('cpu_percent')}; load average at start/end "
                     f"{result['machine']['load_avg_at_start']} / {result['machine'].get('load_avg_at_end')}")
        lines.append("dashboard RSS: " + ", ".join(f"{r['at']} ({r['t_s']} s) {r['kib'] / 1024:.1f} MiB"
                                                   for r in load["rss"] if r["kib"]))
        lines.append(f"proxy child RSS: {load['proxy_child_rss_kib']}; quit: {load['quit']}")
        if load.get("py_spy_top"):
            top = load["py_spy_top"]
            lines.append(f"py-spy: {top['samples']} samples; threads {top['threads']}")
            for frame, pct in list(top["main_thread_inclusive_pct"].items())[:15]:
                lines.append(f"  {pct:5.1f}%  {frame}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxLINES (default 120x40)")
    parser.add_argument("--paint-runs", type=int, default=5)
    parser.add_argument("--history", type=int, default=200_000,
                        help="records already in the log (default 200000: about what the default rotation keeps)")
    parser.add_argument("--rate", type=float, default=200.0, help="records appended per second (default 200)")
    parser.add_argument("--duration", type=float, default=200.0, help="seconds of keys under load (default 200)")
    parser.add_argument("--max-mb", type=float, default=20.0, help="[log] max_size_mb (default 20, the product's)")
    parser.add_argument("--backups", type=int, default=3, help="[log] backups (default 3, the product's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-paint", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--bare-escape", action="store_true", help="send escape as a bare ESC byte")
    parser.add_argument("--profile", type=float, default=0, help="py-spy the loaded dashboard for N seconds")
    parser.add_argument("--root", type=Path, help="working folder (default: a fresh one under $TMPDIR)")
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/dashboard-<time>.json)")
    parser.add_argument("--writer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--writer-seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--max-bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.writer:
        return run_writer(args.writer, args.rate, args.writer_seconds, args.max_bytes, args.backups, args.seed)
    if pyte is None:
        raise SystemExit("bench_dashboard.py needs pyte (a terminal emulator): pip install pyte")

    columns, lines = (int(n) for n in args.size.lower().split("x"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = args.root or Path(os.environ.get("TMPDIR", "/tmp")) / "claude-poe-tui-bench" / f"dashboard-{os.getpid()}"
    setup = make_setup(root, max_mb=args.max_mb, backups=args.backups)
    result: dict = {
        "benchmark": "dashboard",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "size": [columns, lines],
        "port": setup["port"],
    }
    try:
        if not args.skip_paint:
            result["paint"] = []
            for history in dict.fromkeys([0, args.history]):
                print(f"first paint, {history:,} records in the log ...", flush=True)
                result["paint"].append(first_paint(setup, (columns, lines), args.paint_runs, history, args.seed))
        if not args.skip_load:
            print(f"keys and memory: {args.rate:g} records/s, {args.duration:g} s of keys ...", flush=True)
            result["load"] = load_run(setup, (columns, lines), history=args.history, rate=args.rate,
                                      duration=args.duration, seed=args.seed, bare_escape=args.bare_escape,
                                      profile=args.profile, stamp=stamp)
    finally:
        result["machine"]["load_avg_at_end"] = os.getloadavg()
        result["leftover_proxy_children_at_end"] = leftover_proxies(setup["state"], wait=0)
        out = args.out or RESULTS / f"dashboard-{stamp}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str))
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(report(result))
    print(f"leftover proxy children at the end: {result['leftover_proxy_children_at_end'] or 'none'}")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
