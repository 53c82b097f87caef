"""Filtering request records with a small query language, as the Logs pane's ``/`` does.

``model:sonnet status:5xx timeout`` keeps records whose model (asked name, the name that answered,
or Poe bot) contains "sonnet", whose status is 500-599, and whose readable line contains
"timeout". Words are case-insensitive and all must match. Status accepts ``200``, ``4xx``,
``5xx``, ``ok`` and ``err``. Other fields:

- ``bot:<part>``: the Poe bot that answered, or one that failed before it;
- ``route:chat``, ``error:<type or message part>``;
- ``session:<id part>``: Claude Code's session;
- ``agent:<id part>``: the subagent that asked, or the agent that started it;
- ``member:<name part>``: the team member whose token was sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from claude_poe_tui.requestlog.record import RequestRecord

Predicate = Callable[[RequestRecord], bool]


def _status_predicate(value: str) -> Predicate:
    value = value.lower()
    if value in ("ok", "success"):
        return lambda r: r.status < 400
    if value in ("err", "error", "errors", "fail", "failed"):
        return lambda r: r.status >= 400
    if len(value) == 3 and value[0].isdigit() and value[1:] == "xx":
        hundred = int(value[0])
        return lambda r: r.status // 100 == hundred
    if value.isdigit():
        wanted = int(value)
        return lambda r: r.status == wanted
    return lambda r: str(r.status).startswith(value)


def _any_contains(getter: Callable[[RequestRecord], Iterable[str | None]], value: str) -> Predicate:
    value = value.lower()
    return lambda r: any(value in (text or "").lower() for text in getter(r))


def _failed(record: RequestRecord, key: str) -> list[str | None]:
    failed = record.failed or []
    return [entry.get(key) if isinstance(entry, dict) else None for entry in failed]


FIELDS: dict[str, Callable[[str], Predicate]] = {
    "model": lambda v: _any_contains(lambda r: (r.model, r.answered_model, r.poe_model), v),
    "bot": lambda v: _any_contains(lambda r: (r.poe_model, *_failed(r, "poe_model")), v),
    "status": _status_predicate,
    "route": lambda v: _any_contains(lambda r: (r.route,), v),
    "session": lambda v: _any_contains(lambda r: (r.session,), v),
    "agent": lambda v: _any_contains(lambda r: (r.agent_id, r.parent_agent_id), v),
    "member": lambda v: _any_contains(lambda r: (r.member,), v),
    "error": lambda v: _any_contains(lambda r: (f"{r.error_type or ''} {r.error_message or ''}",), v),
}


@dataclass(frozen=True)
class RecordQuery:
    text: str
    predicates: tuple[Predicate, ...]

    def matches(self, record: RequestRecord) -> bool:
        return all(predicate(record) for predicate in self.predicates)

    @property
    def empty(self) -> bool:
        return not self.predicates


def parse_query(text: str) -> RecordQuery:
    from claude_poe_tui.requestlog.describe import describe

    predicates: list[Predicate] = []
    for word in text.split():
        field, sep, value = word.partition(":")
        if sep and field.lower() in FIELDS and value:
            predicates.append(FIELDS[field.lower()](value))
        else:
            predicates.append(_any_contains(lambda r: (describe(r),), word))
    return RecordQuery(text, tuple(predicates))
