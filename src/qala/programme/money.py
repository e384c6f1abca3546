"""Money: ``Decimal`` amounts in tenge (KZT), exact to the tiyn, never floats.

Amounts come in as strings (``"1500000.50"``, ``"29 890 000 000"``), integers or ``Decimal``;
a float is refused at the edge, because a binary fraction cannot say how many tiyn it meant.
Every amount is kept quantized to two places (1 tenge = 100 tiyn).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from qala.hub.errors import BadRequestData

CURRENCY = "KZT"
TIYN = Decimal("0.01")
ZERO = Decimal("0.00")
_SEPARATORS = re.compile(r"[\s_\u00a0\u202f]")
_PLAIN = re.compile(r"^-?\d+(?:\.\d{1,2})?$")


class InvalidMoney(BadRequestData):
    """An amount that is not an exact number of tenge and tiyn."""


def parse_money(value: Any, *, what: str = "amount") -> Decimal:
    """An exact KZT amount from a string, an integer or a Decimal; floats are refused."""
    if isinstance(value, bool) or value is None:
        raise InvalidMoney(f"{what} must be a number of tenge, got {value!r}")
    if isinstance(value, float):
        raise InvalidMoney(
            f'{what} must be written as text or an integer (e.g. "1500000.50"), not as a '
            f"floating-point number ({value!r}): a float cannot say exactly how many tiyn it means"
        )
    if isinstance(value, int):
        return Decimal(value).quantize(TIYN)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidMoney(f"{what} must be a finite number, got {value}")
        if value != value.quantize(TIYN, rounding=ROUND_HALF_EVEN):
            raise InvalidMoney(f"{what} has more than two decimal places (tiyn): {value}")
        return value.quantize(TIYN)
    if isinstance(value, str):
        text = _SEPARATORS.sub("", value.strip()).replace(",", ".")
        if not _PLAIN.match(text):
            raise InvalidMoney(
                f"{what} {value!r} is not an amount of tenge: write digits with at most two "
                "decimal places, e.g. 1500000.50"
            )
        try:
            return Decimal(text).quantize(TIYN)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            raise InvalidMoney(f"{what} {value!r} is not a number") from None
    raise InvalidMoney(f"{what} must be a number of tenge, got {type(value).__name__}")


def parse_value(value: Any, *, what: str = "value") -> Decimal:
    """An OCDS/OC4IDS ``Value`` object (``{"amount": …, "currency": "KZT"}``) or a bare amount."""
    if isinstance(value, dict):
        currency = value.get("currency", CURRENCY)
        if currency != CURRENCY:
            raise InvalidMoney(
                f"{what} is in {currency!r}: the programme monitor keeps amounts in {CURRENCY}"
            )
        if "amount" not in value:
            raise InvalidMoney(f"{what} has no amount")
        return parse_money(value["amount"], what=what)
    return parse_money(value, what=what)


def money_text(amount: Decimal) -> str:
    """The canonical text of an amount (``"1500000.50"``), as revisions store it."""
    return str(amount.quantize(TIYN))


def share(part: Decimal, whole: Decimal, places: int = 4) -> Decimal | None:
    """``part / whole`` rounded to ``places`` decimals; None when ``whole`` is zero."""
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(1).scaleb(-places))


def grouped(amount: Decimal) -> str:
    """An amount for people: ``29 890 000 000.00 KZT``."""
    sign = "-" if amount < 0 else ""
    whole, _, frac = money_text(abs(amount)).partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{' '.join(groups)}.{frac} {CURRENCY}"
