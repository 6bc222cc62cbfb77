"""Revenue metrics in Plausible's shape: money objects in a revenue goal's currency.

Plausible's Stats API v2 answers ``total_revenue`` and ``average_revenue`` as objects,
``{"value": 1659.5, "currency": "USD", "short": "$1.7K", "long": "$1,659.50"}``, in the
currency of the revenue goals the query is about (Plausible's ``Goal.Revenue.preload``):

- the goals every top-level ``event:goal`` filter chooses, or all of the site's goals for an
  ``event:goal`` breakdown with no such filter;
- one currency among them (goals without one are ignored) and no goal breakdown: every
  row's revenue is money in it;
- a goal breakdown: each goal's row is money in its goal's currency, null for a goal that
  has none;
- several currencies and no goal breakdown: null, with ``meta.metric_warnings`` saying
  why (Plausible's code and words), since sums across currencies mean nothing.

- no currency among them (a query about no goal, or about goals without one): null, with
  Plausible's ``no_revenue_goals_matching`` warning.

Footfall also keeps revenue that no currency labels (sites whose goals predate revenue
goals): ``"include": {"plain_revenue": true}``, a Footfall extension its own dashboard
sends, answers the plain sum wherever Plausible would answer null for want of a currency
(not for mixed currencies). Amounts are summed as sent: Footfall keeps no exchange rates,
so an event's amount counts in its goal's currency whatever currency the tracker named.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from footfall.meta.prefs import GoalInfo
from footfall.query.goals import GOAL, goal_chosen
from footfall.query.model import Condition, Query

METRICS = ("total_revenue", "average_revenue")
# The English (CLDR "en") symbols of common currencies; others are shown by their code.
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$",
           "NZD": "NZ$", "HKD": "HK$", "MXN": "MX$", "BRL": "R$", "INR": "₹", "CNY": "CN¥",
           "KRW": "₩", "ILS": "₪", "VND": "₫", "TWD": "NT$", "PHP": "₱",
           "XAF": "FCFA", "XOF": "F\u202fCFA"}  # fmt: skip
# ISO 4217 currencies without minor units: their long form has no decimals.
WHOLE = {"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF", "BIF", "DJF", "GNF",
         "KMF", "RWF", "VUV", "XPF"}  # fmt: skip
WARNINGS = {
    "no_single_revenue_currency": "Revenue metrics are null as there are multiple currencies "
    "for the selected event:goals.",
    "no_revenue_goals_matching": "Revenue metrics are null as there are no matching revenue goals.",
}
STEPS = ((Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"),
         (Decimal(10) ** 3, "K"))  # fmt: skip


def _symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency + "\u00a0")


def long_form(amount: Decimal, currency: str) -> str:
    """``$1,659.50``: grouped, with the currency's minor digits (CLDR's default, half-even)."""
    digits = 0 if currency in WHOLE else 2
    shown = abs(amount).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    return f"{'-' if amount < 0 else ''}{_symbol(currency)}{shown:,.{digits}f}"


def short_form(amount: Decimal, currency: str) -> str:
    """``$1.7K``, ``$96.3M``, ``$500.0``: one decimal, compacted from a thousand up."""
    a, suffix = abs(amount), ""
    for i, (step, name) in enumerate(STEPS):
        if a >= step:
            scaled = (a / step).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
            if scaled >= 1000 and i > 0:  # 999,960 is $1.0M, not $1000.0K
                step, name = STEPS[i - 1]
                scaled = (a / step).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
            a, suffix = scaled, name
            break
    else:
        a = a.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return f"{'-' if amount < 0 else ''}{_symbol(currency)}{a}{suffix}"


def money(value: Any, currency: str) -> dict[str, Any]:
    """A revenue figure as Plausible's money object (0 when nothing was summed)."""
    amount = Decimal(str(value or 0))
    return {"short": short_form(amount, currency), "long": long_form(amount, currency),
            "value": float(amount), "currency": currency}  # fmt: skip


def goal_currencies(q: Query, goals: Iterable[GoalInfo]) -> dict[str, str]:
    """Goal name -> currency, for the revenue goals ``q`` is about (see the module doc)."""
    top = [f for f in q.filters if isinstance(f, Condition) and f.dim == GOAL]
    if not top and GOAL not in q.dimensions:
        return {}
    return {g.name: g.currency for g in goals
            if g.currency and all(goal_chosen(g.name, c) for c in top)}  # fmt: skip


def _recast(metrics: list[Any], at: list[int], currency: str | None, plain: bool) -> list[Any]:
    out = list(metrics)
    for i in at:
        # A plain figure is Footfall's own, to the cent; a money object's value is
        # Plausible's (metrics.MONEY_VALUE: an average to three decimals).
        out[i] = money(out[i], currency) if currency else (_cents(out[i]) if plain else None)
    return out


def _cents(value: Any) -> Any:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def shape(answer: dict[str, Any], q: Query, goals: Iterable[GoalInfo]) -> dict[str, Any]:
    """``answer`` (the API's JSON) with its revenue metrics as Plausible shapes them."""
    at = [i for i, m in enumerate(q.metrics) if m in METRICS]
    if not at:
        return answer
    currencies = goal_currencies(q, goals)
    single = set(currencies.values())
    by_goal = GOAL in q.dimensions and bool(currencies)
    plain = bool(q.include.get("plain_revenue"))
    code = "no_revenue_goals_matching" if not single else "no_single_revenue_currency"
    if not by_goal and len(single) != 1 and not (plain and not single):
        answer["meta"]["metric_warnings"] = {
            q.metrics[i]: {"code": code, "warning": WARNINGS[code]} for i in at
        }
    for row in answer["results"]:
        for part in (row, row.get("comparison")):
            if not part:
                continue
            if by_goal:
                currency = currencies.get(part["dimensions"][q.dimensions.index(GOAL)])
            else:
                currency = next(iter(single)) if len(single) == 1 else None
            keep = plain and (by_goal or not single)  # no currency at all, not mixed ones
            part["metrics"] = _recast(part["metrics"], at, currency, keep)
    return answer
