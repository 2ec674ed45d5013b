"""How long an answer may be reused (auto-TTL) and what it would have cost (pricing)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from hardpoint.errors import ConfigurationError

__all__ = ["Category", "Pricing", "TTLPolicy"]

Category = Literal["time_sensitive", "user_specific", "system", "generic"]

_TIME_WORDS: Final = (
    "today",
    "tonight",
    "now",
    "current",
    "currently",
    "latest",
    "recent",
    "recently",
    "yesterday",
    "tomorrow",
    "this week",
    "this month",
    "this year",
    "right now",
    "at the moment",
)
_USER_WORDS: Final = ("my", "mine", "i am", "i'm", "me", "help me", "for me")
_SYSTEM_WORDS: Final = ("you are", "system:", "role:", "your role", "act as")


def _pattern(words: Iterable[str]) -> re.Pattern[str]:
    # Whole words only: "now" must not match "know", "my" must not match "myth". Matched on
    # lower-cased text (IGNORECASE makes the scan several times slower on long prompts).
    alternatives = "|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])")


@dataclass(frozen=True)
class TTLPolicy:
    """Pick a TTL from the words of a prompt; the shortest matching category wins.

    Categories (matched on whole words, case-insensitively):

    - ``time_sensitive`` (today, now, current, latest...): *time_sensitive* seconds, 5 min.
    - ``user_specific`` (my, I am, help me...): *user_specific*, 30 min; such answers are
      never shared across the `GLOBAL` scope.
    - ``system`` (you are, system:, role:...): *system*, 7 days.
    - anything else: *generic*, 24 h.

    Args:
        time_sensitive: Seconds for time-sensitive prompts.
        user_specific: Seconds for user-specific prompts.
        system: Seconds for system-level prompts.
        generic: Seconds for everything else.
        time_words: Words that make a prompt time-sensitive.
        user_words: Words that make a prompt user-specific.
        system_words: Words that make a prompt system-level.

    Raises:
        ConfigurationError: A TTL is not positive.
    """

    time_sensitive: float = 300
    user_specific: float = 1800
    system: float = 604_800
    generic: float = 86_400
    time_words: tuple[str, ...] = _TIME_WORDS
    user_words: tuple[str, ...] = _USER_WORDS
    system_words: tuple[str, ...] = _SYSTEM_WORDS
    _patterns: tuple[tuple[Category, re.Pattern[str]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name in ("time_sensitive", "user_specific", "system", "generic"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds", field=name)
        object.__setattr__(
            self,
            "_patterns",
            (
                ("time_sensitive", _pattern(self.time_words)),
                ("user_specific", _pattern(self.user_words)),
                ("system", _pattern(self.system_words)),
            ),
        )

    def categories(self, text: str) -> set[Category]:
        """Return every category whose words occur in *text*."""
        lowered = text.lower()
        return {name for name, pattern in self._patterns if pattern.search(lowered)}

    def seconds(self, category: Category) -> float:
        """Return the TTL of *category*."""
        return float(getattr(self, category))

    def classify(self, text: str) -> tuple[Category, float]:
        """Return the category with the shortest TTL that matches *text*, and that TTL."""
        found = self.categories(text) or {"generic"}
        best = min(found, key=self.seconds)
        return best, self.seconds(best)


# List prices in USD per million tokens (input, output), last reviewed on PRICES_AS_OF. They
# are estimates for the savings figures only: pass your own (contract) prices to Pricing.
# Dated model ids ("gpt-4o-mini-2024-07-18") match their family by the longest prefix.
PRICES_AS_OF: Final = dt.date(2026, 11, 1)
_DEFAULT_PRICES: Final[dict[str, tuple[float, float]]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
}


_UNKNOWN: Final = object()


class Pricing:
    """Token prices used to estimate the dollars a cache hit saved.

    Args:
        prices: ``{model: (input_usd_per_million, output_usd_per_million)}``, merged over
            the built-in table (whose date is `as_of`). Keys match model ids by the longest
            prefix, so ``"gpt-4o-mini"`` prices ``"gpt-4o-mini-2024-07-18"``.
        as_of: The date the prices were read; defaults to the built-in table's date.
        replace: Use *prices* alone, without the built-in table.

    Raises:
        ConfigurationError: A negative price.
    """

    def __init__(
        self,
        prices: Mapping[str, tuple[float, float]] | None = None,
        *,
        as_of: dt.date | None = None,
        replace: bool = False,
    ) -> None:
        table = {} if replace else dict(_DEFAULT_PRICES)
        for model, (inp, outp) in (prices or {}).items():
            if inp < 0 or outp < 0:
                raise ConfigurationError(f"negative price for {model!r}", field="prices")
            table[model] = (float(inp), float(outp))
        self.prices = table
        self.as_of = as_of or PRICES_AS_OF
        # Longest prefix first, so "gpt-4o-mini" wins over "gpt-4o".
        self._by_length = sorted(table, key=len, reverse=True)
        # Every hit prices its model: remember the answer per model name (a service uses few).
        self._found: dict[str, tuple[float, float] | None] = {}

    def __repr__(self) -> str:
        return f"Pricing({len(self.prices)} models, as_of={self.as_of.isoformat()})"

    def price(self, model: str) -> tuple[float, float] | None:
        """Return (input, output) USD per million tokens for *model*, or None if unknown."""
        found = self._found.get(model, _UNKNOWN)
        if found is not _UNKNOWN:
            return found  # type: ignore[return-value]  # a price or None, as stored below
        found = None
        for prefix in self._by_length:
            if model == prefix or model.startswith(prefix + "-"):
                found = self.prices[prefix]
                break
        if len(self._found) >= 1024:  # model names come from requests: keep the memo bounded
            self._found.clear()
        self._found[model] = found
        return found

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """Return the USD cost of a call, 0.0 for a model with no price."""
        price = self.price(model)
        if price is None:
            return 0.0
        return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
