"""The :class:`~qala.indicators.inputs.Inputs` calculators read, over the hub's public face.

* ``entities``: :meth:`qala.hub.Hub.find` with the type expanded by the Smart Data Models
  context (``https://smartdatamodels.org/context.jsonld``, built in), each entity simplified to
  short terms and plain values the way keyValues gives them, with each attribute's observedAt.
* ``hourly_series``: :meth:`qala.temporal.HistoryReader.aggregate` with ``per="hour"`` and
  ``method="avg"`` (and ``max``/``min`` for the attributes in ``extremes``: the filling level,
  whose emptyings are read from the hour's highest value).
* ``city_statistic``: the city statistics held in the hub as entities (see
  :mod:`qala.indicators.city_data`): the ``City`` entity's ``population`` and ``areaKm2``, and
  ``CityStatistic`` entities for any other figure, each with its source and date.
* ``reported``: the capability's own table of reported values.
* ``service_requests``: :func:`service_requests_from_open311`, the requests the Open311
  capability publishes in the hub (``Open311_ServiceRequest`` entities); None when that
  capability does not run.

Every read runs with the caller's :class:`~qala.hub.Actor`: an actor bound to another city is
refused, a partner sees only what the city shares with it. Reads are cached for the life of
the object (one computation run), so calculators reading the same type read it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson

from qala.hub import Actor, Entity, Hub, Tables, iso_to_us
from qala.indicators import city_data
from qala.indicators.calculators import Calculator
from qala.indicators.inputs import (
    DailyPoint,
    EntitySnapshot,
    HourlyPoint,
    ServiceRequestRecord,
    Statistic,
)
from qala.indicators.period import Period
from qala.indicators.repository import IndicatorRepository, from_us
from qala.indicators.values import ReportedValue
from qala.jsonld.compiled import CompiledContext
from qala.temporal import HistoryReader

#: The context calculators' short terms are Smart Data Models terms of.
SDM_CONTEXT = "https://smartdatamodels.org/context.jsonld"


#: Attributes whose hourly maximum and minimum are read besides the mean.
EXTREMES = ("fillingLevel",)


#: Citizen requests as the Open311 capability publishes them in the hub: one entity per
#: request, of type ``Open311_ServiceRequest`` (docs/open311.md), its terms
#: those of the NGSI-LD core @context and its default vocabulary. Indicators read them like any
#: other client of the hub, through :meth:`Hub.find`, never the capability's own tables.
REQUEST_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
REQUEST_TYPE = REQUEST_VOCAB + "Open311_ServiceRequest"


def _moment(value: Any) -> datetime | None:
    if isinstance(value, list):
        value = value[0] if value else None
    inner = value.get("value") if isinstance(value, dict) else None
    if isinstance(inner, dict):
        inner = inner.get("@value")
    if not isinstance(inner, str):
        return None
    try:
        return from_us(iso_to_us(inner))
    except (ValueError, TypeError):
        return None


def request_record(entity: Entity) -> ServiceRequestRecord | None:
    """A mirrored request entity as a record; None when it has no opening time."""
    attrs = entity.attrs
    opened = _moment(attrs.get(REQUEST_VOCAB + "requested_datetime"))
    if opened is None:
        return None
    code = attrs.get(REQUEST_VOCAB + "service_code")
    if isinstance(code, list):
        code = code[0] if code else None
    return ServiceRequestRecord(
        id=entity.id,
        service_code=str(code.get("value")) if isinstance(code, dict) else "",
        opened_at=opened,
        closed_at=_moment(attrs.get(REQUEST_VOCAB + "closed_datetime")),
        due_at=_moment(attrs.get(REQUEST_VOCAB + "expected_datetime")),
    )


async def service_requests_from_open311(
    hub: Hub, tenant: str, actor: Actor, start: datetime, end: datetime
) -> list[ServiceRequestRecord]:
    """Citizen requests opened in ``[start, end)``: the ``Open311_ServiceRequest`` entities of
    ``tenant`` that ``actor`` may read, in id order."""
    out = []
    async for entity in hub.find(tenant, actor, types=[REQUEST_TYPE]):
        record = request_record(entity)
        if record is not None and start <= record.opened_at < end:
            out.append(record)
    return out


def simplified(value: Any, ctx: CompiledContext) -> Any:
    """An attribute's value as keyValues gives it (its default instance when there are many)."""
    if isinstance(value, list):
        chosen = next((i for i in value if "datasetId" not in i), value[0] if value else None)
        if chosen is None:
            return None
        value = chosen
    kind = value.get("type")
    if kind == "Relationship":
        return value.get("object")
    if kind == "LanguageProperty":
        return value.get("languageMap")
    if kind == "JsonProperty":
        return value.get("json")
    if kind == "VocabProperty":
        vocab = value.get("vocab")
        return ctx.compact(vocab) if isinstance(vocab, str) else vocab
    return value.get("value")


def _observed(value: Any) -> datetime | None:
    instance = value[0] if isinstance(value, list) and value else value
    moment = instance.get("observedAt") if isinstance(instance, dict) else None
    if not isinstance(moment, str):
        return None
    try:
        return from_us(iso_to_us(moment))
    except (ValueError, TypeError):
        return None


class HubInputs:
    """Calculator inputs read from the hub as ``actor`` may read them."""

    def __init__(
        self,
        hub: Hub,
        tables: Tables,
        actor: Actor,
        context: CompiledContext,
        *,
        zone: str = "Asia/Almaty",
        extremes: Sequence[str] = EXTREMES,
        requests: bool = True,
    ) -> None:
        self.hub = hub
        self.actor = actor
        self.ctx = context
        self.zone = zone
        self.extremes = frozenset(extremes)
        #: Whether citizen requests have a source (the Open311 capability runs).
        self.requests = requests
        self._requests: dict[str, list[ServiceRequestRecord]] = {}
        self.reader = HistoryReader(hub, tables)
        self.repository = IndicatorRepository(tables)
        self._entities: dict[tuple[str, str], list[Entity]] = {}
        self._type_of: dict[str, str] = {}
        self._statistics: dict[str, dict[str, list[Statistic]]] = {}
        self._reported: dict[str, dict[tuple[str, str], ReportedValue]] = {}
        self._series: dict[tuple[Any, ...], dict[str, list[HourlyPoint]]] = {}
        self._days: dict[tuple[Any, ...], dict[str, list[DailyPoint]]] = {}
        self._hours: dict[int, datetime] = {}
        self._counts: dict[tuple[Any, ...], int] = {}
        self._history_created: dict[str, datetime] = {}
        self.queries: list[str] = []

    def expand_type(self, type: str) -> str:
        return self.ctx.expand(type)

    def expand_attr(self, attr: str, type_iri: str | None = None) -> str:
        ctx = self.ctx.for_types([type_iri]) if type_iri else self.ctx
        return ctx.expand(attr)

    async def _find(self, tenant: str, type: str) -> list[Entity]:
        key = (tenant, type)
        if key not in self._entities:
            iri = self.expand_type(type)
            self.queries.append(f"find {tenant} type={type}")
            found = [e async for e in self.hub.find(tenant, self.actor, types=[iri])]
            found.sort(key=lambda e: e.id)
            self._entities[key] = found
            for entity in found:
                self._type_of[entity.id] = iri
            if found:
                self._history_created.update(
                    await self.reader.created(tenant, self.actor, entity_ids=[e.id for e in found])
                )
        return self._entities[key]

    def _created(self, entity: Entity) -> datetime | None:
        """When the device came into service: the earliest of its creation in this hub, its
        first record in the history (a device loaded with its past history — the demo's, an
        import — is recorded there at its first observation) and its ``dateCreated`` (Smart
        Data Models: the entity's creation in its source system)."""
        here = from_us(entity.created_at) if entity.created_at else None
        recorded = self._history_created.get(entity.id)
        if recorded is not None and (here is None or recorded < here):
            here = recorded
        declared = entity.attrs.get(self.ctx.expand("dateCreated"))
        moment = simplified(declared, self.ctx) if declared is not None else None
        if isinstance(moment, dict):
            moment = moment.get("@value")
        if isinstance(moment, str):
            try:
                since = from_us(iso_to_us(moment))
            except (ValueError, TypeError):
                return here
            return since if here is None or since < here else here
        return here

    # -- Inputs ---------------------------------------------------------------------------
    async def entities(
        self, tenant: str, type: str, attrs: Sequence[str] | None = None
    ) -> list[EntitySnapshot]:
        found = await self._find(tenant, type)
        out = []
        for entity in found:
            names = self.ctx.for_types(entity.types)
            values: dict[str, Any] = {}
            observed: dict[str, datetime] = {}
            for iri, value in entity.attrs.items():
                term = names.compact(iri)
                if attrs is not None and term not in attrs:
                    continue
                values[term] = simplified(value, self.ctx)
                moment = _observed(value)
                if moment is not None:
                    observed[term] = moment
            out.append(
                EntitySnapshot(
                    id=entity.id,
                    type=type,
                    attrs=values,
                    observed_at=observed,
                    created_at=self._created(entity),
                )
            )
        return out

    async def hourly_series(
        self,
        tenant: str,
        entity_ids: Sequence[str],
        attr: str,
        start: datetime,
        end: datetime,
    ) -> dict[str, list[HourlyPoint]]:
        if not entity_ids or end <= start:
            return {}
        key = (tenant, attr, start, end, tuple(entity_ids))
        if key not in self._series:  # several calculators read the same series
            type_iri = self._type_of.get(entity_ids[0])
            self.queries.append(f"hourly avg {tenant} {attr} of {len(entity_ids)} entities")
            self._series[key] = await self.reader.hourly(
                tenant, self.actor, attr=self.expand_attr(attr, type_iri), start=start,
                end=end, entity_ids=list(entity_ids), extremes=attr in self.extremes,
                hours=self._hours, row=HourlyPoint,
            )  # fmt: skip
        return self._series[key]

    async def daily_series(
        self,
        tenant: str,
        entity_ids: Sequence[str],
        attr: str,
        start: datetime,
        end: datetime,
        zone: str,
    ) -> dict[str, list[DailyPoint]]:
        if not entity_ids or end <= start:
            return {}
        key = (tenant, attr, start, end, zone, tuple(entity_ids))
        if key not in self._days:  # several calculators read the same days
            type_iri = self._type_of.get(entity_ids[0])
            self.queries.append(f"daily means {tenant} {attr} of {len(entity_ids)} entities")
            self._days[key] = await self.reader.daily(
                tenant, self.actor, attr=self.expand_attr(attr, type_iri), start=start,
                end=end, entity_ids=list(entity_ids), zone=zone, row=DailyPoint,
            )  # fmt: skip
        return self._days[key]

    async def city_statistic(self, tenant: str, name: str, as_of: date) -> Statistic | None:
        if tenant not in self._statistics:
            self._statistics[tenant] = await self._load_statistics(tenant)
        candidates = [s for s in self._statistics[tenant].get(name, []) if s.as_of <= as_of]
        return max(candidates, key=lambda s: s.as_of) if candidates else None

    async def reported(
        self, tenant: str, indicator_id: str, period: Period
    ) -> ReportedValue | None:
        if tenant not in self._reported:
            await self.hub.reader(tenant, self.actor)  # the access check of every read
            values = await self.repository.reported(tenant, zone=self.zone)
            self._reported[tenant] = {(v.indicator_id, v.period.label): v for v in values}
        return self._reported[tenant].get((indicator_id, period.label))

    async def service_requests(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[ServiceRequestRecord] | None:
        if not self.requests:
            return None
        if tenant not in self._requests:  # both request calculators read the same requests
            self.queries.append(f"find {tenant} type=Open311_ServiceRequest")
            self._requests[tenant] = await service_requests_from_open311(
                self.hub, tenant, self.actor, datetime.min.replace(tzinfo=UTC),
                datetime.max.replace(tzinfo=UTC),
            )  # fmt: skip
        return [r for r in self._requests[tenant] if start <= r.opened_at < end]

    # -- statistics -----------------------------------------------------------------------
    async def _load_statistics(self, tenant: str) -> dict[str, list[Statistic]]:
        out: dict[str, list[Statistic]] = {}
        for entity_type in (city_data.CITY, city_data.CITY_STATISTIC):
            for entity in await self._find(tenant, entity_type):
                for statistic in city_data.statistics_of(entity, self.ctx, tenant, self.zone):
                    out.setdefault(statistic.name, []).append(statistic)
        return out

    # -- fingerprints ---------------------------------------------------------------------
    async def fingerprint(
        self, tenant: str, calculator: Calculator, period: Period, now: datetime
    ) -> str:
        """A digest of what ``calculator`` would read for ``period``: per entity type the
        number of entities that existed in the period, their newest change and newest
        observedAt; per history attribute the number of observations in the period; the
        statistics it reads; its parameters; and, while the period is still running, the hour
        it is observed up to. Equal fingerprints: the value would not change."""
        window_end = min(period.end, now.astimezone(UTC))
        parts: dict[str, Any] = {
            "calculator": [calculator.name, calculator.version],
            "parameters": sorted((k, repr(v)) for k, v in calculator.params.items()),
            "period": period.label,
        }
        if window_end < period.end:
            parts["observedUpTo"] = window_end.strftime("%Y-%m-%dT%H")
        for type, attrs in calculator.reads():
            entities = [
                e
                for e in await self._find(tenant, type)
                if (c := self._created(e)) is None or c < period.end
            ]
            newest_observed = max(
                (m for e in entities for v in e.attrs.values() if (m := _observed(v))),
                default=None,
            )
            part: dict[str, Any] = {
                "entities": len(entities),
                "modified": max((e.modified_at for e in entities), default=0),
                "newestObservation": newest_observed.isoformat() if newest_observed else None,
            }
            ids = [e.id for e in entities]
            for attr in attrs:
                observations = 0
                if ids and window_end > period.start:
                    iri = self.expand_attr(attr, self.expand_type(type))
                    key = (tenant, iri, period.start, window_end, tuple(ids))
                    if key not in self._counts:  # several calculators read the same series
                        counted = await self.reader.counts(
                            tenant, self.actor, attr=iri, start=period.start, end=window_end,
                            entity_ids=ids,
                        )  # fmt: skip
                        self._counts[key] = sum(counted.values())
                    observations = self._counts[key]
                part[f"observations:{attr}"] = observations
            parts[f"type:{type}"] = part
        for name in calculator.statistics_read:
            found = await self.city_statistic(tenant, name, date.max)
            parts[f"statistic:{name}"] = (
                [found.value, found.as_of.isoformat(), found.source] if found else None
            )
        if calculator.reads_requests:
            requests = await self.service_requests(tenant, period.start, window_end)
            parts["requests"] = (
                None
                if requests is None
                else [
                    (r.id, r.closed_at.isoformat() if r.closed_at else None,
                     r.due.isoformat() if r.due else None)
                    for r in requests
                ]
            )  # fmt: skip
            if requests and any(r.closed_at is None for r in requests):
                # an open request turns overdue as time passes: the value moves with the hour
                parts["requestsAsOf"] = now.astimezone(UTC).strftime("%Y-%m-%dT%H")
        digest = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return digest[:32]
