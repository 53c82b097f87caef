"""Request log benchmark: reading a big log, rolling statistics over it, the dashboard's history load.

For each record count (default 1,000,000 and 100,000) it writes a request log of realistic records
(benchmarks/realistic_records.py) spread over the 24 hours before the moment of writing, through the
proxy's own RequestLogWriter with its size rotation (``--max-mb`` per file, ``--backups`` rotated
files, chosen so that every record stays on disk). Then, each in a fresh Python process:

  read   every record through ``read_history`` (rotated files oldest first, then the current one)
  stats  the same records fed, 2000 at a time, into a 1h and a 24h ``RollingStats``; ``summary()``
  feed   ``RequestFeed.load_history`` (what the dashboard does at start: every window, last 5000 kept)

and reports wall time, records per second and peak memory: peak RSS (``ru_maxrss``) minus the RSS
after the imports, and, in a second run of the same process with tracemalloc on (slower, so its
time is not reported), the peak of Python allocations. The statistics' clock is pinned to the
moment the log was written, so a log kept from an earlier run (``--keep``, the default) gives the
same windows.

    python benchmarks/bench_requestlog.py                      # 1M and 100k records
    python benchmarks/bench_requestlog.py --records 200000     # one size
    python benchmarks/bench_requestlog.py --fresh              # write the logs again

A table goes to stdout, the figures as JSON to benchmarks/results/requestlog-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_DATA = Path(os.environ.get("TMPDIR", "/tmp")) / "claude-poe-tui-bench" / "requestlog"
PHASES = ("read", "stats", "feed")
DAY = 86400.0


# -- the log --


def prepare_log(root: Path, count: int, *, max_mb: float, backups: int, seed: int, fresh: bool) -> dict:
    """The log for ``count`` records, written unless an identical one is already there."""
    folder = root / f"{count}"
    manifest_path = folder / "manifest.json"
    wanted = {"count": count, "seed": seed, "max_bytes": int(max_mb * 1024 * 1024), "backups": backups}
    if not fresh and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all(manifest.get(k) == v for k, v in wanted.items()):
            manifest["reused"] = True
            return manifest
    if folder.exists():
        for file in folder.iterdir():
            file.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    from realistic_records import write_log

    now = time.time()
    path = folder / "requests.jsonl"
    started = time.perf_counter()
    writer = write_log(path, count, start=now - DAY, end=now, max_bytes=wanted["max_bytes"], backups=backups,
                       seed=seed)
    seconds = time.perf_counter() - started
    files = sorted(folder.glob("requests.jsonl*"))
    manifest = {
        **wanted,
        "path": str(path),
        "anchor": now,
        "written_by": "RequestLogWriter",
        "write_seconds": round(seconds, 2),
        "write_records_per_second": round(count / seconds),
        "dropped": writer.dropped,
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    manifest["reused"] = False
    return manifest


# -- one measurement, in its own process --


def _rss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def histogram_bins(stats) -> int:
    """Histogram bins held by a RollingStats: what its memory grows with (bounded by bins x buckets x models)."""
    total = 0
    for model in stats._models.values():  # noqa: SLF001
        for figures in (model.window, *model.buckets.values()):
            total += len(figures.latency) + len(figures.ttft) + len(figures.errors_by_type)
    return total


def measure(phase: str, path: Path, anchor: float, use_tracemalloc: bool) -> dict:
    from claude_poe_tui.requestlog.feed import BATCH, RequestFeed
    from claude_poe_tui.requestlog.reader import read_history
    from claude_poe_tui.requestlog.stats import RollingStats

    clock = lambda: anchor  # noqa: E731 - the windows end when the log was written
    baseline = _rss_kib()
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
    out: dict = {"phase": phase}
    started = time.perf_counter()
    if phase == "read":
        count = 0
        for _record in read_history(path):
            count += 1
        out["records"] = count
    elif phase == "stats":
        windows = {"1h": RollingStats(3600, clock=clock), "24h": RollingStats(DAY, clock=clock)}
        count, feeding, batch = 0, 0.0, []
        counted = dict.fromkeys(windows, 0)

        def feed(records: list) -> float:
            t = time.perf_counter()
            for label, stats in windows.items():
                counted[label] += stats.feed(records)
            return time.perf_counter() - t

        for record in read_history(path):
            batch.append(record)
            if len(batch) >= BATCH:
                count += len(batch)
                feeding += feed(batch)
                batch = []
        count += len(batch)
        feeding += feed(batch)
        t = time.perf_counter()
        summaries = {label: stats.summary() for label, stats in windows.items()}
        out["summary_ms"] = round((time.perf_counter() - t) * 1000, 2)
        out["records"] = count
        out["feed_seconds"] = round(feeding, 3)
        out["counted"] = counted
        out["models"] = {label: len(s) for label, s in summaries.items()}
        out["requests_in_window"] = {label: sum(m["requests"] for m in s.values()) for label, s in summaries.items()}
        p95 = summaries["24h"].get("claude-sonnet-5", {}).get("p95_ms")
        out["sonnet_p95_ms_24h"] = p95
        out["histogram_bins"] = sum(histogram_bins(stats) for stats in windows.values())
    elif phase == "feed":
        feed = RequestFeed(path, clock=clock)
        recent = feed.load_history()
        t = time.perf_counter()
        figures = {label: feed.figures(label) for label in ("15m", "1h", "6h", "24h")}
        out["figures_ms"] = round((time.perf_counter() - t) * 1000, 2)
        out["records"] = feed._stats["24h"].fed  # noqa: SLF001 - records seen within 24h
        out["recent_kept"] = len(recent)
        out["requests_in_window"] = {label: f.requests for label, f in figures.items()}
        out["histogram_bins"] = sum(histogram_bins(stats) for stats in feed._stats.values())  # noqa: SLF001
        feed.close()
    else:
        raise SystemExit(f"unknown phase {phase}")
    out["seconds"] = round(time.perf_counter() - started, 3)
    if use_tracemalloc:
        import tracemalloc

        out["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
        tracemalloc.stop()
    peak = _rss_kib()
    out["baseline_rss_mib"] = round(baseline / 1024, 1)
    out["peak_rss_mib"] = round(peak / 1024, 1)
    out["peak_rss_over_baseline_mib"] = round((peak - baseline) / 1024, 1)
    return out


def run_child(phase: str, manifest: dict, use_tracemalloc: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", phase, "--log", manifest["path"],
               "--anchor", repr(manifest["anchor"])]
    if use_tracemalloc:
        command.append("--tracemalloc")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the report --


def table(rows: list[dict]) -> str:
    head = ("records", "phase", "wall s", "records/s", "RSS base MiB", "RSS peak MiB", "peak-base MiB",
            "tracemalloc MiB", "notes")
    lines = [head]
    for r in rows:
        notes = ""
        if r["phase"] == "stats":
            notes = (f"feed {r['feed_seconds']:.2f} s, summary {r['summary_ms']:.1f} ms, "
                     f"{r['histogram_bins']:,} bins")
        elif r["phase"] == "feed":
            notes = (f"kept {r['recent_kept']}, figures x4 {r['figures_ms']:.1f} ms, "
                     f"{r['histogram_bins']:,} bins")
        lines.append((
            f"{r['log_records']:,}", r["phase"], f"{r['seconds']:.2f}", f"{r['records_per_second']:,}",
            f"{r['baseline_rss_mib']:.1f}", f"{r['peak_rss_mib']:.1f}", f"{r['peak_rss_over_baseline_mib']:.1f}",
            "-" if r.get("tracemalloc_peak_mib") is None else f"{r['tracemalloc_peak_mib']:.1f}", notes,
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) if i < 8 else str(c) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, action="append", help="records in the log (repeatable); "
                        "default: 1000000 and 100000")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help=f"where the logs go (default {DEFAULT_DATA})")
    parser.add_argument("--max-mb", type=float, default=64.0, help="rotate at this size (MiB), default 64")
    parser.add_argument("--backups", type=int, default=8, help="rotated files kept, default 8 (room for 1M records)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="write the logs even if identical ones are there")
    parser.add_argument("--remove", action="store_true", help="delete the logs at the end")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the (slow) tracemalloc runs")
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/requestlog-<time>.json)")
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--anchor", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(args.child, args.log, args.anchor, args.tracemalloc)))
        return 0

    counts = args.records or [1_000_000, 100_000]
    rows, logs = [], []
    for count in counts:
        manifest = prepare_log(args.data_dir, count, max_mb=args.max_mb, backups=args.backups, seed=args.seed,
                               fresh=args.fresh)
        logs.append(manifest)
        how = "reused" if manifest["reused"] else f"written in {manifest['write_seconds']} s " \
              f"({manifest['write_records_per_second']:,} records/s through RequestLogWriter)"
        print(f"log of {count:,} records: {manifest['files']} files, {manifest['bytes'] / 2**20:.0f} MiB, {how}",
              flush=True)
        for phase in PHASES:
            row = run_child(phase, manifest, use_tracemalloc=False)
            if not args.no_tracemalloc:
                row["tracemalloc_peak_mib"] = run_child(phase, manifest, use_tracemalloc=True)["tracemalloc_peak_mib"]
            row["log_records"] = count
            row["records_per_second"] = round(count / row["seconds"]) if row["seconds"] else 0
            rows.append(row)
            print(f"  {phase}: {row['seconds']:.2f} s, peak RSS +{row['peak_rss_over_baseline_mib']} MiB", flush=True)
    print()
    print(table(rows))
    for phase in PHASES:
        by_count = {r["log_records"]: r["peak_rss_over_baseline_mib"] for r in rows if r["phase"] == phase}
        if len(by_count) > 1:
            print(f"{phase}: peak RSS over baseline by size: "
                  + ", ".join(f"{n:,} -> {m} MiB" for n, m in sorted(by_count.items())))
    result = {
        "benchmark": "requestlog",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "logs": logs,
        "rows": rows,
    }
    out = args.out or RESULTS / f"requestlog-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {out}")
    if args.remove:
        for manifest in logs:
            folder = Path(manifest["path"]).parent
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
