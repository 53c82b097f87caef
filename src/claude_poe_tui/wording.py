"""Small pieces of wording shared by the commands and the dashboard."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 request``, ``2 requests``, ``0 errors``; ``plural`` for nouns that do not just take an s
    (``counted(1, "query", "queries")``)."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {plural or noun + 's'}"
