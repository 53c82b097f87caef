"""The request log's reader and rolling statistics, without a proxy."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import pytest

from claude_poe_tui.requestlog.reader import LogFollower, log_files, read_history
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.stats import BIN_GROWTH, BUCKETS, RollingStats, parse_duration
from claude_poe_tui.requestlog.writer import RequestLogWriter, rotated_path

NOW = 1_800_000_000.0


def record(n: int, *, ts: float = NOW, model: str = "claude-sonnet-5", status: int = 200, latency: float = 500.0,
           ttft: float | None = 100.0, output_tokens: int | None = 50, error_type: str | None = None) -> RequestRecord:
    return RequestRecord(
        ts=ts, id=f"req-{n}", session=None, method="POST", path="/v1/messages", model=model,
        poe_model="Claude-Sonnet-5", route="messages", stream=ttft is not None, status=status,
        error_type=error_type, error_message=None, latency_ms=latency, ttft_ms=ttft, input_tokens=10,
        output_tokens=output_tokens,
    )


def append(path: Path, *records: RequestRecord, raw: bytes = b"") -> None:
    with open(path, "ab") as f:
        f.write(b"".join(r.to_json().encode() + b"\n" for r in records) + raw)


# -- the follower --


def test_follower_returns_only_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    follower = LogFollower(log)
    assert follower.read() == []  # no file yet is not an error
    append(log, record(1), record(2))
    assert [r.id for r in follower.read()] == ["req-1", "req-2"]
    assert follower.read() == []
    append(log, record(3))
    assert [r.id for r in follower.read()] == ["req-3"]


def test_follower_keeps_a_half_written_line_until_it_is_complete(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    line = record(1).to_json().encode()
    append(log, raw=line[:40])
    follower = LogFollower(log)
    assert follower.read() == []
    append(log, raw=line[40:] + b"\n")
    assert [r.id for r in follower.read()] == ["req-1"]
    assert follower.skipped == 0


def test_follower_from_end_skips_history(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    append(log, record(1), record(2))
    follower = LogFollower(log, from_end=True)
    assert follower.read() == []
    append(log, record(3))
    assert [r.id for r in follower.read()] == ["req-3"]


def test_follower_starts_over_after_truncation(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    append(log, record(1), record(2), record(3))
    follower = LogFollower(log)
    assert len(follower.read()) == 3
    os.truncate(log, 0)
    append(log, record(4))
    assert [r.id for r in follower.read()] == ["req-4"]


def test_follower_skips_corrupt_lines(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    append(log, record(1), raw=b"not json\n{\"unrelated\": 1}\n")
    append(log, record(2))
    follower = LogFollower(log)
    assert [r.id for r in follower.read()] == ["req-1", "req-2"]
    assert follower.skipped == 2


@pytest.mark.parametrize("poll_every", [3, 7, 37], ids=["often", "each-rotation", "after-several-rotations"])
def test_follower_follows_the_writers_rotation_without_loss_or_repeat(tmp_path: Path, poll_every: int) -> None:
    """The real writer rotating every 7 records or so while the follower reads in between."""
    log = tmp_path / "requests.jsonl"
    writer = RequestLogWriter(log, max_bytes=2048, backups=50).start()
    follower = LogFollower(log)
    seen: list[str] = []
    for n in range(400):
        writer.submit(record(n))
        if n % poll_every == 0:
            writer_flush(writer)
            seen += [r.id for r in follower.read()]
    writer.close()
    seen += [r.id for r in follower.read()]
    assert seen == [f"req-{n}" for n in range(400)]
    assert rotated_path(log, 2).exists(), "the writer should have rotated several times"


def writer_flush(writer: RequestLogWriter) -> None:
    """Wait until the writer thread has written what was submitted."""
    import time

    deadline = time.monotonic() + 5
    while not writer._queue.empty() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.005)


def test_follower_reads_a_big_backlog_in_bounded_batches(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    append(log, *(record(n) for n in range(10_000)))
    follower = LogFollower(log)
    first = follower.read(limit=1000)
    assert len(first) == 1000
    rest = list(follower)
    assert len(rest) == 9000 and rest[-1].id == "req-9999"


def test_writer_bounds_disk_use(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    writer = RequestLogWriter(log, max_bytes=4096, backups=2).start()
    for n in range(2000):
        writer.submit(record(n))
        if n % 5 == 0:
            writer_flush(writer)
    writer.close()
    files = log_files(log)
    assert len(files) == 3  # requests.jsonl, .1, .2
    assert not rotated_path(log, 3).exists()
    line = len(record(0).to_json()) + 1
    assert sum(f.stat().st_size for f in files) <= 3 * (4096 + line * 2)
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    # Oldest first and without gaps across the files that are left.
    ids = [int(r.id.split("-")[1]) for r in read_history(log)]
    assert ids == list(range(ids[0], 2000))


def test_read_history_since(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    rotated_path(log, 1).write_text(record(1, ts=NOW - 100).to_json() + "\n")
    append(log, record(2, ts=NOW - 10), record(3, ts=NOW))
    assert [r.id for r in read_history(log)] == ["req-1", "req-2", "req-3"]
    assert [r.id for r in read_history(log, since=NOW - 50)] == ["req-2", "req-3"]


# -- statistics --


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_percentiles_are_within_the_bin_width_of_the_exact_ones() -> None:
    rng = random.Random(7)
    latencies = [rng.lognormvariate(6.5, 0.8) for _ in range(5000)]
    ttfts = [rng.lognormvariate(5.0, 0.5) for _ in range(5000)]
    stats = RollingStats(3600, clock=lambda: NOW)
    stats.feed([record(n, ts=NOW - rng.uniform(0, 3000), latency=lat, ttft=t)
                for n, (lat, t) in enumerate(zip(latencies, ttfts))])
    figures = stats.summary()["claude-sonnet-5"]
    assert figures["requests"] == 5000 and figures["errors"] == 0
    for key, values, q in (("p50_ms", latencies, 0.5), ("p95_ms", latencies, 0.95), ("p99_ms", latencies, 0.99),
                           ("ttft_p50_ms", ttfts, 0.5), ("ttft_p95_ms", ttfts, 0.95)):
        exact = exact_percentile(values, q)
        assert abs(figures[key] - exact) <= exact * (BIN_GROWTH - 1) + 0.1, (key, figures[key], exact)


def test_errors_by_type_and_rate() -> None:
    stats = RollingStats(3600, clock=lambda: NOW)
    stats.feed([record(1), record(2, status=429, error_type="rate_limit_error", ttft=None, output_tokens=None),
                record(3, status=429, error_type="rate_limit_error"), record(4, status=502, error_type=None)])
    figures = stats.summary()["claude-sonnet-5"]
    assert figures["requests"] == 4 and figures["errors"] == 3
    assert figures["error_rate"] == 0.75
    assert figures["errors_by_type"] == {"rate_limit_error": 2, "http_502": 1}
    assert stats.totals() == (4, 3)


def test_tokens_per_second_counts_generation_time_only() -> None:
    stats = RollingStats(3600, clock=lambda: NOW)
    # 100 tokens in (1100 - 100) ms and 300 tokens in (2100 - 100) ms: 400 tokens in 3 s.
    stats.feed([record(1, latency=1100, ttft=100, output_tokens=100), record(2, latency=2100, ttft=100, output_tokens=300)])
    assert stats.summary()["claude-sonnet-5"]["tokens_per_second"] == pytest.approx(133.3, abs=0.1)


def test_the_window_forgets_old_requests() -> None:
    clock = [NOW]
    stats = RollingStats(900, clock=lambda: clock[0])
    stats.feed([record(1, ts=NOW - 1000)])  # already out of the window
    stats.feed([record(2, ts=NOW - 800, latency=100), record(3, ts=NOW - 10, latency=900)])
    assert stats.summary()["claude-sonnet-5"]["requests"] == 2
    clock[0] = NOW + 200  # the first is now more than 15 minutes old
    figures = stats.summary()["claude-sonnet-5"]
    assert figures["requests"] == 1
    assert figures["p50_ms"] == pytest.approx(900, rel=0.02)
    clock[0] = NOW + 2000
    assert stats.summary() == {} and stats.totals() == (0, 0)


def test_series_has_one_point_per_bucket() -> None:
    stats = RollingStats(3600, clock=lambda: NOW + 10)
    stats.feed([record(1, ts=NOW + 5), record(2, ts=NOW + 5, status=500, error_type="api_error"),
                record(3, ts=NOW - 3000)])
    points = stats.series()["claude-sonnet-5"]
    assert len(points) == BUCKETS
    assert points[-1]["requests"] == 2 and points[-1]["errors"] == 1
    assert sum(p["requests"] for p in points) == 3
    assert [p["start"] for p in points] == sorted(p["start"] for p in points)


def test_memory_stays_bounded_however_many_requests() -> None:
    """State depends on models and buckets, not on how many requests were fed."""
    rng = random.Random(1)
    clock = [NOW]
    stats = RollingStats(900, clock=lambda: clock[0])
    for step in range(40):  # 40 x 5000 requests spread over 2.5 hours of clock
        clock[0] = NOW + step * 225
        stats.feed([record(n, ts=clock[0] - rng.uniform(0, 225), model=f"m{n % 3}",
                           latency=rng.lognormvariate(6, 1)) for n in range(5000)])
        for model in stats._models.values():
            assert len(model.buckets) <= BUCKETS
            assert len(model.window.latency) < 1000
    assert stats.fed == 200_000
    assert stats.totals()[0] < 200_000 / 2


def test_model_names_past_the_cap_are_folded() -> None:
    from claude_poe_tui.requestlog.stats import MAX_MODELS, OTHER

    stats = RollingStats(3600, clock=lambda: NOW)
    stats.feed([record(n, model=f"invented-{n}") for n in range(MAX_MODELS + 50)])
    summary = stats.summary()
    assert len(summary) == MAX_MODELS + 1
    assert summary[OTHER]["requests"] == 50


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), ("30", 30)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-1h", "0"])
def test_parse_duration_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_records_never_hold_text_fields_beyond_the_schema() -> None:
    """A record written from a dict with extra keys keeps only the schema's fields."""
    data = json.loads(record(1).to_json())
    data["prompt"] = "secret prompt"
    parsed = RequestRecord.from_dict(data)
    assert "secret prompt" not in parsed.to_json()


# -- the dashboard's feed --


def test_feed_reads_history_across_rotation_then_follows(tmp_path: Path) -> None:
    from claude_poe_tui.requestlog.feed import RequestFeed

    log = tmp_path / "requests.jsonl"
    append(rotated_path(log, 1), record(1, ts=NOW - 7200), record(2, ts=NOW - 60, status=429,
                                                                   error_type="rate_limit_error"))
    append(log, record(3, ts=NOW - 30), record(4, ts=NOW - 10, model="gpt"))
    feed = RequestFeed(log, clock=lambda: NOW, recent=3)
    recent = feed.load_history()
    assert [r.id for r in recent] == ["req-2", "req-3", "req-4"]  # the newest, oldest first
    hour = feed.figures("1h")
    assert (hour.requests, hour.errors) == (3, 1)  # req-1 is two hours old
    assert hour.summary["claude-sonnet-5"]["errors_by_type"] == {"rate_limit_error": 1}
    assert feed.figures("6h").requests == 4
    assert feed.poll() == []
    append(log, record(5, ts=NOW - 1, model="gpt"))
    assert [r.id for r in feed.poll()] == ["req-5"]
    assert feed.figures("15m").summary["gpt"]["requests"] == 2
    feed.close()


# -- a log that cannot write says so, and never leaves half a line --


def test_a_failed_write_never_leaves_half_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full mid-write: the partial write is cut off, the records are counted lost, and once
    space returns the log goes on with whole lines."""
    import errno

    from claude_poe_tui.requestlog import writer as writer_module

    log = tmp_path / "requests.jsonl"
    writer = RequestLogWriter(log, max_bytes=10**9, backups=1).start()
    writer.submit(record(0))
    writer_flush(writer)
    real_write = os.write
    full = {"on": True}

    def write_until_full(fd: int, data) -> int:
        if full["on"]:
            real_write(fd, bytes(data[: len(data) // 2]))  # half goes in, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(writer_module.os, "write", write_until_full)
    writer.submit(record(1))
    writer.submit(record(2))
    writer_flush(writer)
    assert writer.failing is not None and "No space left on device" in writer.failing
    assert writer.dropped >= 1
    assert log.read_bytes().endswith(b"\n")
    assert [r.id for r in read_history(log)] == ["req-0"]

    full["on"] = False  # space returns
    writer.submit(record(3))
    writer.close()
    assert writer.failing is None
    lines = log.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["req-0", "req-3"]


def test_when_the_cut_fails_the_next_record_starts_on_its_own_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from claude_poe_tui.requestlog import writer as writer_module

    log = tmp_path / "requests.jsonl"
    writer = RequestLogWriter(log, max_bytes=10**9, backups=1).start()
    real_write, real_truncate = os.write, os.ftruncate
    state = {"broken": True}

    def half_then_fail(fd: int, data) -> int:
        if state["broken"]:
            real_write(fd, bytes(data[:10]))
            raise OSError(errno.EIO, "Input/output error")
        return real_write(fd, data)

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(writer_module.os, "write", half_then_fail)
    monkeypatch.setattr(writer_module.os, "ftruncate", no_truncate)
    writer.submit(record(1))
    writer_flush(writer)
    state["broken"] = False
    monkeypatch.setattr(writer_module.os, "ftruncate", real_truncate)
    writer.submit(record(2))
    writer.close()
    # The fragment stays alone on its line (the reader skips it); the next record is whole.
    assert [r.id for r in read_history(log)] == ["req-2"]
    assert log.read_text().splitlines()[-1] == record(2).to_json()
