"""The five cities' published statistics (population, area…), shipped as package data.

``data/city-statistics.json`` keeps each figure with its source and date as published. A date
given as a year (``2019``) or a month (``2022-10``) means its first day for ordering; the
published text is kept in the statistic's note. Figures the sources do not give (Almaty's area,
households) are absent, never estimated. The demo seeds these into the hub as city statistics;
calculators read them through :meth:`Inputs.city_statistic`.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from qala.indicators.inputs import Statistic

#: when a statistic has no date of its own (area), the date its reference data was gathered
UNDATED = date(2026, 1, 1)


def parse_published_date(text: str | None) -> tuple[date, str]:
    """``2026-01-01`` → that day; ``2022-10`` → 1 October 2022; ``2019`` → 1 January 2019.
    The second item says how precise the published date was."""
    if text is None:
        return UNDATED, "undated in the source; reference data of 2026"
    parts = text.split("-")
    try:
        if len(parts) == 3:
            return date(int(parts[0]), int(parts[1]), int(parts[2])), ""
        if len(parts) == 2:
            return date(int(parts[0]), int(parts[1]), 1), f"published as {text} (month)"
        if len(parts) == 1:
            return date(int(parts[0]), 1, 1), f"published as {text} (year)"
    except ValueError:
        pass
    raise ValueError(f"not a published date: {text!r}")


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    text = resources.files("qala.indicators").joinpath("data/city-statistics.json").read_text(
        "utf-8"
    )
    return json.loads(text)


def city_statistics(tenant: str | None = None) -> list[Statistic]:
    """Every shipped statistic (of one city, if ``tenant`` is given)."""
    out = []
    for city in _document()["cities"]:
        if tenant is not None and city["tenant"] != tenant:
            continue
        for item in city["statistics"]:
            as_of, precision = parse_published_date(item.get("as_of"))
            note = "; ".join(x for x in (precision, item.get("note", "")) if x)
            out.append(
                Statistic(
                    tenant=city["tenant"],
                    name=item["name"],
                    value=float(item["value"]),
                    unit=item["unit"],
                    source=item["source"],
                    as_of=as_of,
                    note=note,
                )
            )
    return out


def missing_statistics(tenant: str) -> dict[str, str]:
    """Statistics the sources do not give for a city, with why."""
    for city in _document()["cities"]:
        if city["tenant"] == tenant:
            return dict(city.get("missing", {}))
    raise KeyError(f"no city {tenant!r}")


def tenants() -> list[str]:
    return [c["tenant"] for c in _document()["cities"]]
