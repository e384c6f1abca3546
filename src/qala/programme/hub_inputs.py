"""The :class:`~qala.programme.inputs.Inputs` of verification over the running hub.

Everything is read through the hub's public face (``Hub.find`` with the NGSI-LD ``q`` compiled
by :func:`qala.ngsild.filters.q_filter`), as an auditor: verification sees every entity of the
city and changes nothing.

The rules, per entity of the deliverable's type matching its ``q`` in the project's city:

* **reporting** — the entity's newest ``observedAt`` over its attributes (every instance,
  ``datasetId`` included; sub-attributes are not looked at) lies in ``(at - freshWithin, at]``;
  an entity none of whose attributes carries an ``observedAt`` counts its ``modifiedAt``
  instead (the last time anything wrote to it);
* **area** (for geographic coverage) — the ``district`` member of the entity's ``address``
  value (the Smart Data Models ``Address``), else the text of its ``areaServed``; an entity
  with neither lies in no area. The demo's generated entities carry only ``addressLocality``
  (the city) and ``addressCountry``, so they lie in no district.

Names in ``q`` and the type are expanded with the Smart Data Models context
(``https://smartdatamodels.org/context.jsonld``, built in) after the core context, so
``Streetlight`` and ``controllingMethod=="individual"`` mean what they mean in the demo.

Indicator values are those the indicators capability publishes in the hub: its
``KeyPerformanceIndicator`` entities (one per city, indicator and period; docs/indicators.md),
read through ``Hub.find`` with ``q`` ``indicator=="<catalogue id>"`` like any other client.
A reading is a measured value (``kpiValue``) of a period that began on or after the day the
values are wanted from, dated at the period's end (or ``until``, for a period still running);
of readings dated alike, the shorter period (the more recent state) comes last. When the
indicators capability does not run on the server, :meth:`HubInputs.indicator_values` raises
:class:`~qala.programme.inputs.Unavailable`, so the rule that needs the values
(``indicators-flat-after-completion``) reports itself as not evaluated rather than flagging
every completed project.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from qala.hub import Actor, Entity, Hub, NotFound, UnknownTenant, iso_to_us
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.filters import q_filter
from qala.programme.inputs import SAMPLE_SIZE, Delivery, Reading, Unavailable
from qala.sdm.contexts import SDM_CONTEXT_URL

if TYPE_CHECKING:
    from qala.services import Services

#: The identity verification reads the hub with (an auditor: reads everything, writes nothing).
READER = Actor(id="qala-programme-monitor", role="auditor")
#: Why indicator values are not available (shown with the rule that is not evaluated).
NO_INDICATOR_READER = (
    "indicator values cannot be read: the indicators capability does not run on this server"
)
#: The Smart Data Models type the indicators capability publishes its values as.
KPI_TYPE = "KeyPerformanceIndicator"


def _us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def last_reported(entity: Entity) -> int:
    """The newest ``observedAt`` of the entity's attributes (µs), else its ``modifiedAt``."""
    newest: int | None = None
    for iri in entity.attrs:
        for instance in entity.instances(iri):
            observed = instance.get("observedAt")
            if isinstance(observed, str):
                try:
                    us = iso_to_us(observed)
                except ValueError:
                    continue
                if newest is None or us > newest:
                    newest = us
    return entity.modified_at if newest is None else newest


def _value(entity: Entity, iri: str) -> Any:
    instances = entity.instances(iri)
    return instances[0].get("value") if instances else None


class HubInputs:
    """Verification's view of the live hub."""

    def __init__(
        self,
        hub: Hub,
        ctx: CompiledContext,
        *,
        max_terms: int = 64,
        actor: Actor = READER,
        indicators: bool = True,
    ) -> None:
        self.hub = hub
        self.ctx = ctx
        self.max_terms = max_terms
        self.actor = actor
        #: Whether indicator values have a source (the indicators capability runs).
        self.indicators = indicators
        self._address = ctx.expand("address")
        self._area_served = ctx.expand("areaServed")
        self._district = ctx.expand("district")

    @classmethod
    async def open(
        cls, hub: Hub, contexts: Any, *, max_terms: int = 64, indicators: bool = True
    ) -> HubInputs:
        """Inputs over ``hub``, with names expanded by the Smart Data Models context."""
        ctx = await contexts.compile([SDM_CONTEXT_URL])
        return cls(hub, ctx, max_terms=max_terms, indicators=indicators)

    @classmethod
    async def of(cls, svc: Services) -> HubInputs:
        """Inputs over the running server's hub; indicator values come from its indicators
        capability when that runs."""
        return await cls.open(
            svc.hub, svc.contexts, max_terms=svc.settings.max_query_terms,
            indicators=any(cap.name == "indicators" for cap in svc.capabilities),
        )  # fmt: skip

    def area(self, entity: Entity) -> str | None:
        """The district an entity lies in (see the module's rule), or None."""
        address = _value(entity, self._address)
        if isinstance(address, dict):
            district = address.get("district", address.get(self._district))
            if isinstance(district, str) and district.strip():
                return district.strip()
        served = _value(entity, self._area_served)
        if isinstance(served, str) and served.strip():
            return served.strip()
        return None

    async def count(
        self,
        tenant: str,
        entity_type: str,
        q: str | None,
        fresh_within: timedelta,
        at: datetime,
    ) -> Delivery:
        where = [q_filter(q, self.ctx, self.max_terms)] if q else []
        until = _us(at)
        since = _us(at - fresh_within)
        matching = 0
        fresh: list[str] = []
        silent: list[str] = []
        areas: set[str] = set()
        try:
            async for entity in self.hub.find(
                tenant, self.actor, types=[self.ctx.expand(entity_type)], where=where
            ):
                matching += 1
                if since < last_reported(entity) <= until:
                    fresh.append(entity.id)
                    area = self.area(entity)
                    if area is not None:
                        areas.add(area)
                else:
                    silent.append(entity.id)
        except (NotFound, UnknownTenant):  # the city has no data on the hub at all
            return Delivery(0, 0)
        return Delivery(
            matching=matching,
            reporting=len(fresh),
            sample=tuple(sorted(fresh)[:SAMPLE_SIZE]),
            silent_sample=tuple(sorted(silent)[:SAMPLE_SIZE]),
            areas=frozenset(areas),
        )

    async def indicator_values(
        self, tenant: str, indicator: str, since: datetime, until: datetime
    ) -> Sequence[Reading]:
        if not self.indicators:
            raise Unavailable(NO_INDICATOR_READER)
        where = [q_filter(f"indicator=={json.dumps(indicator)}", self.ctx, self.max_terms)]
        value_iri = self.ctx.expand("kpiValue")
        period_iri = self.ctx.expand("calculationPeriod")
        found: list[tuple[datetime, int, Reading]] = []
        try:
            async for entity in self.hub.find(
                tenant, self.actor, types=[self.ctx.expand(KPI_TYPE)], where=where
            ):
                value = _value(entity, value_iri)
                period = _value(entity, period_iri)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue  # not computable for that period: no value
                first, last = _period_days(period)
                if first is None or last is None or first < since.date() or first > until.date():
                    continue
                end = min(_day_start(last + timedelta(days=1)), until)
                found.append((end, -(last - first).days, Reading(end, Decimal(str(value)))))
        except (NotFound, UnknownTenant):
            return []
        found.sort(key=lambda item: (item[0], item[1]))
        return [reading for _, _, reading in found]


def _period_days(period: Any) -> tuple[date | None, date | None]:
    """The first and last day of a ``calculationPeriod`` value ``{from, to}``."""
    if not isinstance(period, dict):
        return None, None
    days = []
    for key in ("from", "to"):
        text = period.get(key)
        try:
            days.append(date.fromisoformat(text) if isinstance(text, str) else None)
        except ValueError:
            days.append(None)
    return days[0], days[1]


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
