"""Rolling statistics per model over a time window, in bounded memory.

The window is cut into ``BUCKETS`` time buckets. Each bucket keeps, per model, counts and two
log-scale histograms (latency, time to first token) instead of the raw figures, so memory depends
on the number of models and buckets, never on the number of requests: a million requests cost what
a thousand do. A percentile read from a histogram is within ``BIN_GROWTH`` (2%) of the exact one.
The window's own totals are kept incrementally: a bucket that falls out of the window is
subtracted, so a summary costs a pass over the histogram bins, not over the requests.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui.requestlog.record import RequestRecord

BUCKETS = 60
BIN_GROWTH = 1.02
_LOG_GROWTH = math.log(BIN_GROWTH)
MAX_MODELS = 200  # names past this (a client inventing names) are counted under OTHER
OTHER = "(other)"
NO_MODEL = "-"  # the name of requests that had no model: model discovery (GET /v1/models), or refused before routing
NO_MODEL_LABEL = "(no model)"  # how a person is shown that name

WINDOWS: dict[str, float] = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` or plain seconds -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    try:
        if value and value[-1] in units:
            seconds = float(value[:-1]) * units[value[-1]]
        else:
            seconds = float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration: use e.g. 90s, 15m, 1h or 2d") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{text!r} is not a duration: it must be more than 0")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _bin(ms: float) -> int:
    return 0 if ms < 1.0 else int(math.log(ms) / _LOG_GROWTH) + 1


def _bin_value(index: int) -> float:
    """The middle of a bin (geometric), as the figure a percentile reports."""
    return 0.5 if index == 0 else BIN_GROWTH ** (index - 0.5)


def _percentile(histogram: Counter[int], count: int, q: float) -> float | None:
    """Nearest-rank percentile over a histogram holding ``count`` values."""
    if count <= 0:
        return None
    rank = max(1, math.ceil(q * count))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return _bin_value(index)
    return None


@dataclass(slots=True)
class Figures:
    """What a model did over a stretch of time: a bucket, or the whole window."""

    requests: int = 0
    errors: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    latency: Counter[int] = field(default_factory=Counter)
    ttft: Counter[int] = field(default_factory=Counter)
    ttft_count: int = 0
    output_tokens: int = 0
    generation_seconds: float = 0.0

    def add(self, record: RequestRecord) -> None:
        self.requests += 1
        if not record.ok:
            self.errors += 1
            self.errors_by_type[record.error_type or f"http_{record.status}"] += 1
        self.latency[_bin(record.latency_ms)] += 1
        if record.ttft_ms is not None:
            self.ttft[_bin(record.ttft_ms)] += 1
            self.ttft_count += 1
        if record.output_tokens and record.output_tokens_per_second is not None:
            self.output_tokens += record.output_tokens
            self.generation_seconds += record.output_tokens / record.output_tokens_per_second

    def subtract(self, other: Figures) -> None:
        self.requests -= other.requests
        self.errors -= other.errors
        self.ttft_count -= other.ttft_count
        self.output_tokens -= other.output_tokens
        self.generation_seconds -= other.generation_seconds
        for mine, theirs in ((self.errors_by_type, other.errors_by_type), (self.latency, other.latency),
                             (self.ttft, other.ttft)):
            for key, value in theirs.items():
                left = mine[key] - value
                if left > 0:
                    mine[key] = left
                else:
                    del mine[key]

    def p(self, q: float) -> float | None:
        return _percentile(self.latency, self.requests, q)

    def ttft_p(self, q: float) -> float | None:
        return _percentile(self.ttft, self.ttft_count, q)

    @property
    def tokens_per_second(self) -> float | None:
        if self.output_tokens <= 0 or self.generation_seconds <= 0:
            return None
        return self.output_tokens / self.generation_seconds


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(slots=True)
class _ModelStats:
    window: Figures = field(default_factory=Figures)
    buckets: dict[int, Figures] = field(default_factory=dict)
    poe_model: str | None = None
    route: str | None = None


class RollingStats:
    """Per-model figures over the last ``window`` seconds; feed it records in any order."""

    def __init__(self, window: float = 3600.0, *, clock: Callable[[], float] = time.time):
        self.window = float(window)
        self.bucket_seconds = self.window / BUCKETS
        self.clock = clock
        self._models: dict[str, _ModelStats] = {}
        self.fed = 0  # records taken in since the start (not only in the window)

    @property
    def window_label(self) -> str:
        return format_duration(self.window)

    def _bucket(self, ts: float) -> int:
        return int(ts // self.bucket_seconds)

    def _first_bucket(self, now: float) -> int:
        """The oldest bucket still in the window."""
        return self._bucket(now) - BUCKETS + 1

    def feed(self, records: Iterable[RequestRecord], now: float | None = None) -> int:
        """Take records in; those older than the window are skipped. Returns how many counted."""
        now = self.clock() if now is None else now
        first = self._first_bucket(now)
        counted = 0
        for record in records:
            self.fed += 1
            bucket = self._bucket(record.ts)
            if bucket < first:
                continue
            name = record.model or NO_MODEL
            stats = self._models.get(name)
            if stats is None:
                if len(self._models) >= MAX_MODELS:
                    name = OTHER
                stats = self._models.setdefault(name, _ModelStats())
            figures = stats.buckets.get(bucket)
            if figures is None:
                figures = stats.buckets[bucket] = Figures()
            figures.add(record)
            stats.window.add(record)
            stats.poe_model = record.poe_model or stats.poe_model
            stats.route = record.route or stats.route
            counted += 1
        self.expire(now)
        return counted

    def expire(self, now: float | None = None) -> None:
        """Drop the buckets that have left the window."""
        first = self._first_bucket(self.clock() if now is None else now)
        for name in list(self._models):
            stats = self._models[name]
            for bucket in [b for b in stats.buckets if b < first]:
                stats.window.subtract(stats.buckets.pop(bucket))
            if not stats.buckets:
                del self._models[name]

    # -- reading --

    def models(self) -> list[str]:
        return sorted(self._models)

    def summary(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        """Per model: the figures ``stats --json`` prints and the Latency pane shows."""
        self.expire(now)
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(self._models):
            stats = self._models[name]
            w = stats.window
            out[name] = {
                "poe_model": stats.poe_model,
                "route": stats.route,
                "requests": w.requests,
                "errors": w.errors,
                "error_rate": round(w.errors / w.requests, 4) if w.requests else 0.0,
                "errors_by_type": dict(w.errors_by_type.most_common()),
                "p50_ms": _round(w.p(0.50)),
                "p95_ms": _round(w.p(0.95)),
                "p99_ms": _round(w.p(0.99)),
                "ttft_p50_ms": _round(w.ttft_p(0.50)),
                "ttft_p95_ms": _round(w.ttft_p(0.95)),
                "ttft_p99_ms": _round(w.ttft_p(0.99)),
                "tokens_per_second": _round(w.tokens_per_second),
            }
        return out

    def series(self, now: float | None = None) -> dict[str, list[dict[str, Any]]]:
        """Per model, one entry per bucket of the window, oldest first (empty buckets included)."""
        now = self.clock() if now is None else now
        self.expire(now)
        first = self._first_bucket(now)
        out: dict[str, list[dict[str, Any]]] = {}
        for name, stats in sorted(self._models.items()):
            points = []
            for bucket in range(first, first + BUCKETS):
                figures = stats.buckets.get(bucket)
                points.append({
                    "start": bucket * self.bucket_seconds,
                    "requests": figures.requests if figures else 0,
                    "errors": figures.errors if figures else 0,
                    "p50_ms": _round(figures.p(0.5)) if figures else None,
                })
            out[name] = points
        return out

    def totals(self) -> tuple[int, int]:
        """Requests and errors in the window, all models together."""
        return (
            sum(s.window.requests for s in self._models.values()),
            sum(s.window.errors for s in self._models.values()),
        )

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        return self.summary(now)
