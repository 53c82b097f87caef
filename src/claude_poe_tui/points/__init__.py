"""Points: what each request, session and bot costs on Poe, budgets, and the low-balance notice.

Plain Python, no Textual, no LiteLLM, and nothing imported here at package import (the status line
command imports :mod:`claude_poe_tui.points.summary` alone and must start in milliseconds).

* :mod:`.pricing`: an estimate from Poe's catalog prices (US dollars per token) and the recorded
  tokens, turned into points at a rate learned from Poe's own history.
* :mod:`.history`: Poe's ``GET /usage/points_history``, paged only as far back as not yet seen
  (a sans-IO state machine, driven with httpx synchronously or asynchronously).
* :mod:`.matching`: history entries to request-log records, by bot and time: exact or ambiguous.
* :mod:`.ledger`: the points store beside the request log (``<log>.points.jsonl``, appended, one
  line per change, keyed by request id) and the running totals per session, day, model and hour.
* :mod:`.budget`: ``[budget]`` checks (a refusal the gateway turns into an error) and balance alerts.
* :mod:`.summary`: the small JSON snapshot the status line, ``doctor`` and the dashboard read.
* :mod:`.service`: :class:`~claude_poe_tui.points.service.PointsService`, which ties them together
  and runs the poller as an asyncio task (in the proxy child) or in a thread.
"""
