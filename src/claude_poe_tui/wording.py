"""Small pieces of wording shared by the commands and the dashboard."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """``1 request``, ``2 requests``, ``0 errors``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
