"""Filtering request records with a small query language, as the Logs pane's ``/`` does.

``model:sonnet status:5xx timeout`` keeps records whose model (asked name or Poe bot) contains
"sonnet", whose status is 500-599, and whose readable line contains "timeout". Words are
case-insensitive and all must match. Status accepts ``200``, ``4xx``, ``5xx``, ``ok`` and ``err``.
Other fields: ``route:chat``, ``session:<id part>``, ``error:<type part>``.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _contains(getter: Callable[[RequestRecord], str | None], value: str) -> Predicate:
    value = value.lower()
    return lambda r: value in (getter(r) or "").lower()


FIELDS: dict[str, Callable[[str], Predicate]] = {
    "model": lambda v: lambda r: _contains(lambda x: x.model, v)(r) or _contains(lambda x: x.poe_model, v)(r),
    "bot": lambda v: _contains(lambda r: r.poe_model, v),
    "status": _status_predicate,
    "route": lambda v: _contains(lambda r: r.route, v),
    "session": lambda v: _contains(lambda r: r.session, v),
    "error": lambda v: _contains(lambda r: f"{r.error_type or ''} {r.error_message or ''}", v),
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
    predicates: list[Predicate] = []
    for word in text.split():
        field, sep, value = word.partition(":")
        if sep and field.lower() in FIELDS and value:
            predicates.append(FIELDS[field.lower()](value))
        else:
            predicates.append(_contains(RequestRecord.describe, word))
    return RecordQuery(text, tuple(predicates))
