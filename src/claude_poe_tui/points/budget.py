"""``[budget]``: refusing requests once a limit is reached, and the low-balance notice.

Budgets count the points **known** when a request arrives: what Poe's history has said, plus the
estimates of requests it has not covered yet. A request's own cost is only known once it has been
answered, so the request that crosses a limit is still served and the next one is refused: a
refusal may come one request late (and a little later than that when estimates ran low).

A refusal is an error Claude Code does not retry: HTTP 402 with Anthropic's ``billing_error``
(Claude Code retries 429 and 5xx). Its message names the budget, the figures, and how to raise it.

A team member (``[[clients]]``) may have budgets of their own (``daily_points``, ``session_points`` in
their entry): they count that member's requests only, beside the ``[budget]`` ones, which count
everyone's. The master key has no member budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

REFUSAL_STATUS = 402
REFUSAL_TYPE = "billing_error"
RUNS_OUT_HOURS = 24.0


class BudgetName(str, Enum):
    SESSION = "session_points"
    DAILY = "daily_points"
    MIN_BALANCE = "min_balance"
    MEMBER_SESSION = "member_session_points"
    MEMBER_DAILY = "member_daily_points"


def _limit(data: dict[str, Any], name: str) -> float | None:
    raw = data.get(name)
    return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 0 else None


@dataclass(frozen=True)
class MemberLimits:
    """One ``[[clients]]`` entry's own budgets (``None``: no limit of its own)."""

    session_points: float | None = None
    daily_points: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {"session_points": self.session_points, "daily_points": self.daily_points}

    @property
    def any(self) -> bool:
        return self.session_points is not None or self.daily_points is not None


@dataclass(frozen=True)
class BudgetLimits:
    """The ``[budget]`` table's figures (``None``: no limit), and the members' own (``[[clients]]``
    ``daily_points`` / ``session_points``, by member name); crosses to the proxy child as JSON."""

    session_points: float | None = None
    daily_points: float | None = None
    min_balance: float | None = None
    members: dict[str, MemberLimits] = field(default_factory=dict, hash=False)

    @classmethod
    def from_settings(cls, settings: Any, clients: Any = ()) -> BudgetLimits:
        """From :class:`~claude_poe_tui.config.model.BudgetSettings` and the config's ``clients``
        (:class:`~claude_poe_tui.config.model.ClientToken`; or anything with those attributes)."""
        members = {}
        for client in clients or ():
            limits = MemberLimits(getattr(client, "session_points", None), getattr(client, "daily_points", None))
            if limits.any:
                members[client.name] = limits
        return cls(getattr(settings, "session_points", None), getattr(settings, "daily_points", None),
                   getattr(settings, "min_balance", None), members)

    def to_json(self) -> dict[str, Any]:
        return {"session_points": self.session_points, "daily_points": self.daily_points,
                "min_balance": self.min_balance,
                "members": {name: limits.to_json() for name, limits in sorted(self.members.items())}}

    @classmethod
    def from_json(cls, data: Any) -> BudgetLimits:
        data = data if isinstance(data, dict) else {}
        members = {}
        raw_members = data.get("members")
        for name, raw in (raw_members.items() if isinstance(raw_members, dict) else ()):
            if isinstance(name, str) and isinstance(raw, dict):
                limits = MemberLimits(_limit(raw, "session_points"), _limit(raw, "daily_points"))
                if limits.any:
                    members[name] = limits
        return cls(_limit(data, "session_points"), _limit(data, "daily_points"), _limit(data, "min_balance"), members)

    def member(self, name: str | None) -> MemberLimits | None:
        """The member's own budgets; ``None`` for the master key and for members without any."""
        return self.members.get(name) if name else None

    @property
    def any(self) -> bool:
        return bool(self.members) or any(
            v is not None for v in (self.session_points, self.daily_points, self.min_balance))


def _pts(value: float) -> str:
    return f"{value:,.0f}"


@dataclass(frozen=True)
class BudgetRefusal:
    budget: BudgetName
    limit: float
    figure: float
    """The session's or the day's points, or the balance."""
    estimated: bool
    """Part of ``figure`` is an estimate (Poe's history has not covered every request yet)."""
    message: str
    status: int = REFUSAL_STATUS
    error_type: str = REFUSAL_TYPE
    member: str | None = None
    """For a member's own budget: the member (``[[clients]] name``)."""

    def anthropic_body(self) -> dict[str, Any]:
        """The error in Anthropic's shape, as Claude Code reads it."""
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}

    def to_json(self) -> dict[str, Any]:
        data = {"budget": self.budget.value, "limit": self.limit, "figure": round(self.figure, 1),
                "estimated": self.estimated, "message": self.message, "status": self.status}
        if self.member is not None:
            data["member"] = self.member
        return data


def check_budgets(
    limits: BudgetLimits,
    *,
    session_points: float | None = None,
    session_estimated: bool = False,
    day_points: float = 0.0,
    day_estimated: bool = False,
    balance: float | None = None,
    balance_estimated: bool = False,
    config_path: str = "",
    member: str | None = None,
    member_day_points: float = 0.0,
    member_day_estimated: bool = False,
) -> BudgetRefusal | None:
    """The first budget reached, or ``None``. ``session_points`` is ``None`` for a request without a session.

    ``member``: the team member whose token was sent (``None``: the master key); ``member_day_points``
    is what that member's requests spent today, ``session_points`` what the session spent."""
    where = config_path or "the config"
    about = "about " if session_estimated else ""
    if limits.session_points is not None and session_points is not None and session_points >= limits.session_points:
        return BudgetRefusal(
            BudgetName.SESSION, limits.session_points, session_points, session_estimated,
            f"claude-poe-tui budget: this Claude Code session has spent {about}{_pts(session_points)} Poe points, "
            f"its budget is [budget] session_points = {_pts(limits.session_points)}. Raise session_points in {where} "
            "(or remove it for no limit), or start a new Claude Code session.",
        )
    own = limits.member(member)
    if own is not None and own.session_points is not None and session_points is not None \
            and session_points >= own.session_points:
        return BudgetRefusal(
            BudgetName.MEMBER_SESSION, own.session_points, session_points, session_estimated,
            f"claude-poe-tui budget: this Claude Code session of member '{member}' has spent {about}"
            f"{_pts(session_points)} Poe points, the member's session budget is session_points = "
            f"{_pts(own.session_points)} in the [[clients]] entry named '{member}'. Raise session_points in that "
            f"entry of {where} (or remove it for no limit), or start a new Claude Code session.",
            member=member,
        )
    about = "about " if day_estimated else ""
    if limits.daily_points is not None and day_points >= limits.daily_points:
        return BudgetRefusal(
            BudgetName.DAILY, limits.daily_points, day_points, day_estimated,
            f"claude-poe-tui budget: today's requests have spent {about}{_pts(day_points)} Poe points, the daily budget "
            f"is [budget] daily_points = {_pts(limits.daily_points)} (it starts again at midnight, local time). "
            f"Raise daily_points in {where}, or remove it for no limit.",
        )
    about = "about " if member_day_estimated else ""
    if own is not None and own.daily_points is not None and member_day_points >= own.daily_points:
        return BudgetRefusal(
            BudgetName.MEMBER_DAILY, own.daily_points, member_day_points, member_day_estimated,
            f"claude-poe-tui budget: member '{member}' has spent {about}{_pts(member_day_points)} Poe points today, "
            f"the member's daily budget is daily_points = {_pts(own.daily_points)} in the [[clients]] entry named "
            f"'{member}' (it starts again at midnight, local time). Raise daily_points in that entry of {where}, "
            "or remove it for no limit.",
            member=member,
        )
    about = "about " if balance_estimated else ""
    if limits.min_balance is not None and balance is not None and balance < limits.min_balance:
        return BudgetRefusal(
            BudgetName.MIN_BALANCE, limits.min_balance, balance, balance_estimated,
            f"claude-poe-tui budget: the Poe points balance is {about}{_pts(balance)}, under [budget] min_balance = "
            f"{_pts(limits.min_balance)}. Add points at https://poe.com/settings, or lower min_balance in {where}.",
        )
    return None


class AlertKind(str, Enum):
    UNDER_MIN_BALANCE = "under_min_balance"
    RUNS_OUT_SOON = "runs_out_soon"


@dataclass(frozen=True)
class BalanceAlert:
    kind: AlertKind
    message: str
    hours_left: float | None = None


def hours_left(balance: float, points_per_hour: float) -> float | None:
    return balance / points_per_hour if points_per_hour > 0 else None


def balance_alerts(balance: float | None, points_per_hour: float, min_balance: float | None) -> list[BalanceAlert]:
    """Why the balance deserves a notice: under ``min_balance``, or gone within a day at this rate."""
    if balance is None:
        return []
    alerts: list[BalanceAlert] = []
    if min_balance is not None and balance < min_balance:
        alerts.append(BalanceAlert(
            AlertKind.UNDER_MIN_BALANCE,
            f"the Poe balance ({_pts(balance)} points) is under [budget] min_balance ({_pts(min_balance)}): "
            "requests are refused until points are added",
        ))
    left = hours_left(balance, points_per_hour)
    if left is not None and left < RUNS_OUT_HOURS:
        alerts.append(BalanceAlert(
            AlertKind.RUNS_OUT_SOON,
            f"at the last hour's rate ({_pts(points_per_hour)} points/h) the Poe balance ({_pts(balance)} points) "
            f"runs out in {format_hours(left)}",
            left,
        ))
    return alerts


def format_hours(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.0f} days"
