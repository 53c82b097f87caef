"""Realistic request records for the benchmarks: the traffic Claude Code sends through the proxy.

Several model names (Claude bots on the untranslated ``messages`` route, others on the translated
``chat`` route), streamed and not, token counts and latencies drawn from log-normal distributions,
about 4% errors of the kinds Poe and the proxy produce, a few dozen Claude Code sessions. Seeded, so
two runs write the same records.
"""

from __future__ import annotations

import math
import random
import uuid
from pathlib import Path

from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.writer import RequestLogWriter

# name Claude Code asks for, Poe bot, route, share of traffic, share streamed, median latency ms
MODELS = [
    ("claude-sonnet-5", "Claude-Sonnet-5", "messages", 0.45, 0.90, 9000.0),
    ("claude-opus-4-8", "Claude-Opus-4.8", "messages", 0.15, 0.90, 16000.0),
    ("claude-haiku-4-5-20251001", "Claude-Haiku-4.5", "messages", 0.25, 0.30, 1800.0),
    ("gpt-5", "GPT-5", "chat", 0.10, 0.80, 12000.0),
    ("gemini-2.5-pro", "Gemini-2.5-Pro", "chat", 0.05, 0.80, 11000.0),
]
# status, error type, message (``{bot}`` filled in), share of errors
ERRORS = [
    (429, "rate_limit_error", "Poe (bot {bot}): rate limit reached, retry in a few seconds", 0.45),
    (500, "api_error", "Poe (bot {bot}): internal error", 0.15),
    (502, "api_error", "Poe (bot {bot}): bad gateway", 0.10),
    (504, "timeout", "Poe (bot {bot}) did not answer within 600 s", 0.10),
    (400, "invalid_request_error", "Poe (bot {bot}): prompt is too long: 212345 tokens > 200000 maximum", 0.15),
    (401, "authentication_error", "Poe rejected the API key", 0.05),
]
ERROR_RATE = 0.04


class RecordMaker:
    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.sessions = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(40)]
        self._model_weights = [m[3] for m in MODELS]
        self._error_weights = [e[3] for e in ERRORS]

    def make(self, ts: float) -> RequestRecord:
        rng = self.rng
        name, bot, route, _share, streamed, median = rng.choices(MODELS, self._model_weights)[0]
        counting = rng.random() < 0.05  # Claude Code's token counting calls: quick, never streamed
        path = "/v1/messages/count_tokens" if counting else ("/v1/messages" if route == "messages" or rng.random() < 0.9
                                                              else "/v1/chat/completions")
        stream = False if counting else rng.random() < streamed
        input_tokens = int(rng.lognormvariate(math.log(18000), 1.0))
        if counting:
            latency = rng.lognormvariate(math.log(250), 0.4)
            ttft, output_tokens = None, None
        else:
            latency = rng.lognormvariate(math.log(median), 0.6)
            output_tokens = max(1, int(rng.lognormvariate(math.log(450), 0.9)))
            ttft = min(latency * 0.9, rng.lognormvariate(math.log(median / 6), 0.5)) if stream else None
        status, error_type, error_message = 200, None, None
        if rng.random() < ERROR_RATE:
            status, error_type, message, _ = rng.choices(ERRORS, self._error_weights)[0]
            error_message = message.format(bot=bot)
            latency = latency / 20 if status != 504 else 600000.0
            ttft, output_tokens, input_tokens = None, None, None
        return RequestRecord(
            ts=round(ts, 6),
            id=f"chatcmpl-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            session=rng.choice(self.sessions),
            method="POST",
            path=path,
            model=name,
            poe_model=bot,
            route=route,
            stream=stream,
            status=status,
            error_type=error_type,
            error_message=error_message,
            latency_ms=round(latency, 1),
            ttft_ms=None if ttft is None else round(ttft, 1),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )


def write_log(path: Path, count: int, *, start: float, end: float, max_bytes: int, backups: int,
              seed: int = 1, chunk: int = 500) -> RequestLogWriter:
    """``count`` records, evenly spread (with jitter) from ``start`` to ``end``, oldest first, written
    through the proxy's own :class:`RequestLogWriter` (its rotation included).

    Records are submitted ``chunk`` at a time and the writer is let to drain between chunks, as a
    busy proxy would: the writer takes whatever is queued in one write, so an unthrottled producer
    would hand it everything in one enormous batch and the rotation would never happen in between.
    """
    maker = RecordMaker(seed)
    step = (end - start) / max(count, 1)
    writer = RequestLogWriter(path, max_bytes=max_bytes, backups=backups).start()
    queue = writer._queue  # noqa: SLF001 - only to wait for the writer between chunks
    import time

    for first in range(0, count, chunk):
        for index in range(first, min(first + chunk, count)):
            writer.submit(maker.make(start + index * step + maker.rng.random() * step))
        while not queue.empty():
            time.sleep(0.0005)
    writer.close(timeout=60)
    return writer
