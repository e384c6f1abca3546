"""What verification reads from the hub: the :class:`Inputs` protocol and an in-memory source.

The programme monitor never reads tables of other capabilities. Everything it needs from the
hub comes through :class:`Inputs`: how many entities of a type match a filter in a city, how
many of them have reported recently (with some of their ids as evidence, and the areas they lie
in), and the values an indicator took over a time span. The adapter over the live hub is
written against the hub's public interface; :class:`MemoryInputs` answers from a list of
entities held in memory (tests, the demo, what-if checks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

#: How many entity ids a :class:`Delivery` carries as evidence (each of reporting and silent).
SAMPLE_SIZE = 10


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the hub shows for one data expectation at one moment."""

    #: entities of the type matching ``q`` in the city
    matching: int
    #: of those, entities that reported within the freshness window
    reporting: int
    #: ids of some reporting entities (evidence), in id order
    sample: tuple[str, ...] = ()
    #: ids of some matching entities that did not report (evidence), in id order
    silent_sample: tuple[str, ...] = ()
    #: the areas (districts) in which reporting entities lie
    areas: frozenset[str] = frozenset()


class Unavailable(Exception):
    """The source cannot answer this question at all (not: the answer is empty). The rules
    that need the answer report themselves as not evaluated, with :attr:`reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of an indicator."""

    at: datetime
    value: Decimal


class Inputs(Protocol):
    """The hub as verification sees it. Times are timezone-aware; values are ``Decimal``."""

    async def count(
        self,
        tenant: str,
        entity_type: str,
        q: str | None,
        fresh_within: timedelta,
        at: datetime,
    ) -> Delivery:
        """Entities of ``entity_type`` in ``tenant`` matching the NGSI-LD ``q`` (all when None),
        and how many of them reported in ``(at - fresh_within, at]``."""
        ...

    async def indicator_values(
        self, tenant: str, indicator: str, since: datetime, until: datetime
    ) -> Sequence[Reading]:
        """The values indicator ``indicator`` took in ``tenant`` in ``[since, until]``, oldest
        first; raises :class:`Unavailable` when the source has no indicator values at all."""
        ...


# -- an in-memory source ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemoryEntity:
    id: str
    type: str
    tenant: str
    #: when the entity last reported (an observedAt or a modification time); None: never
    last_reported: datetime | None
    attrs: dict[str, Any] = field(default_factory=dict)
    area: str | None = None


_TERM = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=)\s*(.+?)\s*$")


def _literal(text: str) -> Any:
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return Decimal(text)
    except ArithmeticError:
        return text


def _matches(entity: MemoryEntity, q: str | None) -> bool:
    """The subset of the NGSI-LD q-language the memory source understands: terms
    ``attr==value`` / ``attr!=value`` joined by ``;`` (and)."""
    if not q:
        return True
    for term in q.split(";"):
        match = _TERM.match(term)
        if match is None:
            raise ValueError(f"the in-memory source understands only attr==value terms: {term!r}")
        name, op, raw = match.groups()
        expected = _literal(raw)
        actual = entity.attrs.get(name)
        if isinstance(actual, (int, float)) and not isinstance(actual, bool):
            actual = Decimal(str(actual))
        if (actual == expected) != (op == "=="):
            return False
    return True


@dataclass(slots=True)
class MemoryInputs:
    """An :class:`Inputs` over entities and indicator readings held in memory."""

    entities: list[MemoryEntity] = field(default_factory=list)
    readings: dict[tuple[str, str], list[Reading]] = field(default_factory=dict)
    calls: int = 0

    def add(self, entities: Iterable[MemoryEntity]) -> None:
        self.entities.extend(entities)

    def add_readings(self, tenant: str, indicator: str, readings: Iterable[Reading]) -> None:
        self.readings.setdefault((tenant, indicator), []).extend(readings)

    async def count(
        self,
        tenant: str,
        entity_type: str,
        q: str | None,
        fresh_within: timedelta,
        at: datetime,
    ) -> Delivery:
        self.calls += 1
        matching = sorted(
            (
                e
                for e in self.entities
                if e.tenant == tenant and e.type == entity_type and _matches(e, q)
            ),
            key=lambda e: e.id,
        )
        since = at - fresh_within
        fresh = [
            e for e in matching if e.last_reported is not None and since < e.last_reported <= at
        ]
        fresh_ids = {e.id for e in fresh}
        silent = [e for e in matching if e.id not in fresh_ids]
        return Delivery(
            matching=len(matching),
            reporting=len(fresh),
            sample=tuple(e.id for e in fresh[:SAMPLE_SIZE]),
            silent_sample=tuple(e.id for e in silent[:SAMPLE_SIZE]),
            areas=frozenset(e.area for e in fresh if e.area is not None),
        )

    async def indicator_values(
        self, tenant: str, indicator: str, since: datetime, until: datetime
    ) -> Sequence[Reading]:
        return sorted(
            (r for r in self.readings.get((tenant, indicator), []) if since <= r.at <= until),
            key=lambda r: r.at,
        )
