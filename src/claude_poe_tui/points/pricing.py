"""Estimating a request's points before Poe's history says what it cost.

Poe's catalog (``GET /v1/models``) prices each bot in **US dollars per token**
(``pricing.prompt`` and ``pricing.completion``, decimal strings, e.g. ``"0.0000026"`` for
Claude-Sonnet-4.5's input), while the account is charged in **points**. Poe documents no
conversion between the two. The assumption, until the history teaches better:

* **1,000,000 points = 30 US dollars** (:data:`DEFAULT_POINTS_PER_USD`, ~33,333 points per
  dollar): the price at which Poe sells add-on points. It agrees in size with Poe's own examples
  (a Claude-Sonnet-4.5 query of 6,554 points is ~0.20 USD, a large Claude Code turn).
* Every history entry matched **exactly** to a recorded request teaches the real ratio for that
  bot: points charged / dollars the catalog price gives for the recorded tokens. Once a bot has
  :data:`LEARN_MIN_SAMPLES` of them its own ratio is used, else the ratio over every bot, else the
  default. The ratio is a decaying average, so a price change is followed within ~20 requests.
  This also absorbs what the recorded tokens leave out (prompt-cache reads and writes are not in
  the request log's ``input_tokens``), so estimates converge on what Poe charges for this workload.

An estimate is only ever shown or counted as such (``kind: estimated``); the history replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_POINTS_PER_USD = 1_000_000 / 30
LEARN_MIN_SAMPLES = 3
LEARN_DECAY = 0.95  # each new sample weighs 5%: ~20 requests to follow a change
ALL_BOTS = "*"


@dataclass(frozen=True, slots=True)
class BotPrice:
    prompt: float
    """US dollars per input token."""
    completion: float
    """US dollars per output token."""

    def usd(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return (input_tokens or 0) * self.prompt + (output_tokens or 0) * self.completion


@dataclass(slots=True)
class _Ratio:
    points: float = 0.0
    usd: float = 0.0
    samples: int = 0

    def add(self, points: float, usd: float) -> None:
        self.points = self.points * LEARN_DECAY + points
        self.usd = self.usd * LEARN_DECAY + usd
        self.samples += 1

    @property
    def value(self) -> float | None:
        if self.samples < LEARN_MIN_SAMPLES or self.usd <= 0 or self.points <= 0:
            return None
        return self.points / self.usd


class PriceTable:
    """Catalog prices per bot (compared without case, as Poe does) and the learned points rate."""

    def __init__(self, prices: Mapping[str, BotPrice] | None = None):
        self._prices = {bot.lower(): price for bot, price in (prices or {}).items()}
        self._ratios: dict[str, _Ratio] = {}

    # -- building and keeping --

    @classmethod
    def from_catalog(cls, catalog: Any) -> PriceTable:
        """From a :class:`~claude_poe_tui.poe.catalog.Catalog`; bots without both prices are left out."""
        prices = {}
        for bot in getattr(catalog, "bots", ()):
            if bot.prompt_price is not None and bot.completion_price is not None:
                prices[bot.id] = BotPrice(bot.prompt_price, bot.completion_price)
        return cls(prices)

    def prices_json(self) -> dict[str, list[float]]:
        return {bot: [price.prompt, price.completion] for bot, price in sorted(self._prices.items())}

    @classmethod
    def from_prices_json(cls, data: Any) -> PriceTable:
        prices = {}
        if isinstance(data, Mapping):
            for bot, pair in data.items():
                if (isinstance(bot, str) and isinstance(pair, (list, tuple)) and len(pair) == 2
                        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in pair)):
                    prices[bot] = BotPrice(float(pair[0]), float(pair[1]))
        return cls(prices)

    def rates_json(self) -> dict[str, list[float]]:
        """The learned ratios, to survive a restart (kept in the summary file)."""
        return {bot: [r.points, r.usd, r.samples] for bot, r in sorted(self._ratios.items())}

    def load_rates(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            return
        for bot, values in data.items():
            try:
                points, usd, samples = (float(values[0]), float(values[1]), int(values[2]))
            except (TypeError, ValueError, IndexError, KeyError):
                continue
            if points >= 0 and usd >= 0 and samples >= 0:
                self._ratios[str(bot)] = _Ratio(points, usd, samples)

    # -- reading --

    def price(self, bot: str | None) -> BotPrice | None:
        return self._prices.get(bot.lower()) if bot else None

    def points_per_usd(self, bot: str | None) -> tuple[float, str]:
        """The ratio used for ``bot`` and where it comes from: ``bot``, ``all bots`` or ``default``."""
        own = self._ratios.get(bot.lower()) if bot else None
        if own is not None and own.value is not None:
            return own.value, "bot"
        overall = self._ratios.get(ALL_BOTS)
        if overall is not None and overall.value is not None:
            return overall.value, "all bots"
        return DEFAULT_POINTS_PER_USD, "default"

    def estimate(self, bot: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """Points for a request's tokens on ``bot``; ``None`` when the catalog has no price for it."""
        price = self.price(bot)
        if price is None:
            return None
        rate, _ = self.points_per_usd(bot)
        return round(price.usd(input_tokens, output_tokens) * rate, 1)

    # -- learning --

    def learn(self, bot: str | None, points: float, input_tokens: int | None, output_tokens: int | None) -> bool:
        """Take one exactly matched request into the ratio; ``False`` when it teaches nothing."""
        price = self.price(bot)
        if price is None or bot is None or points <= 0:
            return False
        usd = price.usd(input_tokens, output_tokens)
        if usd <= 0:
            return False
        self._ratios.setdefault(bot.lower(), _Ratio()).add(points, usd)
        self._ratios.setdefault(ALL_BOTS, _Ratio()).add(points, usd)
        return True
