"""Reading history from a capability: raw series and calendar aggregates, access-checked.

City indicators, the programme monitor and any other capability read the history of an
attribute through :class:`HistoryReader`, never through SQL or the temporal tables::

    reader = HistoryReader(svc.hub, svc.store)
    means = await reader.aggregate(
        "astana", actor, types=[AIR_QUALITY], attr=PM25,
        start=datetime(2026, 1, 1, tzinfo=ALMATY), end=datetime(2026, 2, 1, tzinfo=ALMATY),
        per="day", method="avg",
    )
    for entity_id, days in means.items():
        for day in days:  # Bucket(start, end, value, count), local midnight to local midnight
            ...

Both read the raw instances *and* the hourly aggregates retention keeps beyond the raw
horizon (docs/temporal.md, "Retention"), so a year-long indicator does not lose its old
months. The aggregation runs in SQL, on the same engine as the temporal API's
``aggregatedValues`` (:meth:`qala.temporal.history.History.aggregate`).

Access is the temporal API's: the tenant comes from :meth:`qala.hub.Hub.reader` (an actor bound
to another tenant gets :class:`~qala.hub.Forbidden`), and an entity the actor may not read is
left out as if it had no history (a partner sees the entity types the city shares with
partners and the entities it owns; the public sees open-data types).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qala.hub import (
    Actor,
    BadRequestData,
    EntityQuery,
    Hub,
    ReadScope,
    Selector,
    Tables,
    TooManyResults,
)
from qala.temporal import schema
from qala.temporal.history import Buckets, EntityInfo, History, Series, Window, method_value
from qala.temporal.schema import HOUR_US

Per = Literal["hour", "day", "month", "year"]
Method = Literal["avg", "min", "max", "sum", "count"]
#: The city's time zone: calendar days, months and years start at its midnight.
CITY_ZONE = "Asia/Almaty"
#: Most instances :meth:`HistoryReader.series` returns per entity (ask for a shorter period).
MAX_POINTS = 100_000
#: Most calendar buckets one aggregation may produce.
MAX_BUCKETS = 100_000

#: The temporal API's method each of ours reads, and the parts of a bucket it needs.
_METHODS: dict[str, tuple[str, str]] = {
    "avg": ("avg", "avg"),
    "min": ("min", "min"),
    "max": ("max", "max"),
    "sum": ("sum", "sum"),
    "count": ("totalCount", "n"),
}
_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Point:
    """One instance of an attribute's history."""

    #: Its observedAt (or, without one, when it was written), timezone-aware UTC.
    time: datetime
    #: Its value as written (numbers, strings, objects…).
    value: Any
    #: True: the mean of an hour beyond the raw retention horizon, not one instance.
    hourly: bool = False


@dataclass(frozen=True, slots=True)
class Bucket:
    """One period of an aggregate: ``start <= t < end``, in the time zone asked for.

    ``start`` and ``end`` carry that zone; Python subtracts two datetimes of the same zone by
    the wall clock, so take a period's length in UTC (``end.astimezone(UTC) - …``): the day
    Kazakhstan moved from UTC+6 to UTC+5 (29 February 2024) had 25 hours.
    """

    start: datetime
    end: datetime
    #: The method's value (None for avg/min/max/sum of a period without numeric values).
    value: float | int | None
    #: How many instances the period has (hourly aggregates count every instance they hold).
    count: int


#: One UTC hour of a series from :meth:`HistoryReader.hourly`: ``(hour_us, mean, count,
#: minimum, maximum)`` — the hour's start in epoch microseconds, the mean of its numeric values,
#: how many instances it holds (numeric or not), its extremes (None unless asked for). A plain
#: tuple: a year of a city's series is hundreds of thousands of them.
HourRow = tuple[int, float, int, float | None, float | None]


async def visible_entities(
    hub: Hub,
    tenant: str | None,
    actor: Actor | None,
    scope: ReadScope | None,
    infos: list[EntityInfo],
) -> list[EntityInfo]:
    """Of ``infos``, the entities whose history the actor may read: those of the types shared
    with it, and those it may read now (its own). ``scope``: from :meth:`Hub.reader`."""
    if scope is None or not infos:
        return infos
    readable: set[str] = set()
    if scope.owner is not None:
        ids = [i.id for i in infos]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found = await hub.query(
                tenant, EntityQuery(selectors=[Selector(ids=chunk)], limit=len(chunk)), actor
            )
            readable.update(e.id for e in found.entities)
    return [i for i in infos if i.id in readable or any(t in scope.types for t in i.types)]


class HistoryReader:
    """The history of attributes over a period, raw or aggregated, as an actor may read it.

    ``hub``: the city data hub (access checks, current state); ``store``: the tables of the
    temporal capability (the server's store: ``Services.store``). Entity types and attribute
    names are expanded IRIs; times are timezone-aware datetimes.
    """

    def __init__(self, hub: Hub, store: Tables) -> None:
        self.hub = hub
        self.history = History(store)

    async def series(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        attr: str,
        start: datetime,
        end: datetime,
        entity_ids: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        dataset_id: str | None = None,
    ) -> dict[str, list[Point]]:
        """The instances of ``attr`` with ``start <= time < end``, per entity, oldest first.

        Entities: those of ``entity_ids``, or those of any of ``types`` (exactly one of the
        two); each one the actor may read and whose history has ``attr`` is a key (with an
        empty list when nothing falls in the period). ``dataset_id``: which instance of a
        multi-attribute (None: the default one). Deletion markers are left out; beyond the
        retention horizon there is one point per hour, the hour's mean (``hourly``). More than
        :data:`MAX_POINTS` instances for one entity raise :class:`~qala.hub.TooManyResults`.
        """
        window = _window(start, end)
        chosen = await self._series(tenant, actor, entity_ids, types, attr, dataset_id)
        rows = await self.history.instances(
            [s.sid for s in chosen], window, "observedAt", MAX_POINTS + 1
        )
        out: dict[str, list[Point]] = {}
        for s in chosen:
            found = [r for r in rows.get(s.sid, []) if not r.k & schema.DELETED]
            if len(found) > MAX_POINTS:
                raise TooManyResults(
                    f"{s.entity_id!r} has more than {MAX_POINTS} instances of {attr!r} in the "
                    "period; read a shorter one or aggregate it"
                )
            out[s.entity_id] = [
                Point(
                    _datetime(r.ts, UTC), schema.decode_value(r.k, r.num, r.val), r.hourly
                )
                for r in found
            ]
        return out

    async def aggregate(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        attr: str,
        start: datetime,
        end: datetime,
        per: Per,
        method: Method,
        entity_ids: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        dataset_id: str | None = None,
        zone: str = CITY_ZONE,
    ) -> dict[str, list[Bucket]]:
        """``method`` (avg, min, max, sum or count) of ``attr`` per calendar ``per`` (hour,
        day, month or year) in time zone ``zone``, per entity: the periods with at least one
        instance, in order.

        Periods are whole calendar periods of ``zone`` (a day runs from local midnight to local
        midnight; in Asia/Almaty, 19:00 UTC to 19:00 UTC); only instances with
        ``start <= time < end`` count, so the first and last period may be partial. Entities
        are chosen as for :meth:`series`. ``count`` counts instances (numeric or not); the
        other methods use numeric values only. Raw instances and the hourly aggregates kept
        beyond retention are combined.
        """
        if method not in _METHODS:
            raise BadRequestData(f"unknown method {method!r}; use " + ", ".join(_METHODS))
        if per not in get_args(Per):
            raise BadRequestData(f"unknown period {per!r}; use " + ", ".join(get_args(Per)))
        tz = _zone(zone)
        window = _window(start, end)
        buckets = _calendar(window, per, tz)
        chosen = await self._series(tenant, actor, entity_ids, types, attr, dataset_id)
        api_method, part = _METHODS[method]
        aggregates, layout = await self.history.aggregate(
            [s.sid for s in chosen],
            window,
            "observedAt",
            buckets,
            needs=frozenset({part, "n"}),
        )
        value_of = method_value(api_method, layout)
        count_of = layout["n"]
        out: dict[str, list[Bucket]] = {}
        for s in chosen:
            periods = []
            for row in aggregates.get(s.sid, []):
                first, last = _span(buckets, row[1])
                periods.append(
                    Bucket(_datetime(first, tz), _datetime(last, tz), value_of(row), row[count_of])
                )
            out[s.entity_id] = periods
        return out

    async def hourly(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        attr: str,
        start: datetime,
        end: datetime,
        entity_ids: Sequence[str],
        extremes: bool = False,
        hours: dict[int, datetime] | None = None,
        row: type[tuple[Any, ...]] = tuple,
    ) -> dict[str, list[Any]]:
        """The hourly means of ``attr`` per entity, for bulk readers (the indicators): one
        :class:`HourRow` per UTC hour with at least one numeric instance, in order, the hour as
        epoch microseconds — no datetime per bucket. The same hours, means and counts as
        ``aggregate(per="hour", method="avg", zone="UTC")``, in one pass for the minimum and
        maximum too (``extremes``); raw instances and hourly rollups combined.

        A year of a city is millions of rows, so they are built without a Python call each:
        ``row`` is the tuple type of each (a NamedTuple of the same five fields, say), and with
        ``hours`` — a cache of epoch microseconds to UTC datetimes the caller keeps across
        calls — the hour is that one shared ``datetime`` instead of the number. The cyclic
        garbage collector is paused while they are built (they hold no cycle, and nothing else
        runs: there is no ``await`` in between); otherwise it walks the filling lists again and
        again, which took longer than building them."""
        window = _window(start, end)
        buckets = _calendar(window, "hour", UTC)
        chosen = await self._series(tenant, actor, entity_ids, None, attr, None)
        needs = {"n", "avg"} | ({"min", "max"} if extremes else set())  # rollups add sums
        aggregates, layout = await self.history.aggregate(
            [s.sid for s in chosen], window, "observedAt", buckets, needs=frozenset(needs)
        )
        mean_of = method_value("avg", layout)
        n = layout["n"]
        lo, hi = (layout["min"], layout["max"]) if extremes else (0, 0)
        origin, period = buckets.origin, HOUR_US
        new = tuple.__new__
        out: dict[str, list[Any]] = {}
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            for s in chosen:
                found = aggregates.get(s.sid)
                if not found:
                    continue
                stamp: dict[int, Any] = {}
                for b in {r[1] for r in found}:
                    moment = origin + b * period
                    if hours is None:
                        stamp[b] = moment
                    else:
                        when = hours.get(moment)
                        if when is None:
                            when = hours[moment] = _datetime(moment, UTC)
                        stamp[b] = when
                if extremes:
                    rows = [
                        new(row, (stamp[r[1]], float(m), r[n],
                                  None if r[lo] is None else float(r[lo]),
                                  None if r[hi] is None else float(r[hi])))
                        for r in found
                        if (m := mean_of(r)) is not None
                    ]  # fmt: skip
                else:
                    rows = [
                        new(row, (stamp[r[1]], float(m), r[n], None, None))
                        for r in found
                        if (m := mean_of(r)) is not None
                    ]
                if rows:
                    out[s.entity_id] = rows
        finally:
            if paused:
                gc.enable()
        return out

    async def daily(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        attr: str,
        start: datetime,
        end: datetime,
        entity_ids: Sequence[str],
        zone: str = CITY_ZONE,
        row: type[tuple[Any, ...]] = tuple,
    ) -> dict[str, list[Any]]:
        """The daily means of the hourly means of ``attr`` per entity (ISO 37120 8.6's rule
        for air quality), folded in SQL, for bulk readers: one row per local day of ``zone``
        with at least one hourly mean, in order — ``(day, mean, hours, count, newest)``: the
        calendar day (a ``date``), the mean of its hourly means (the hours of ``hourly``),
        how many hours have one, the instances in those hours, and the start of the last of
        them (UTC). Only instances with ``start <= time < end`` count. ``row`` is the tuple
        type of each row (a NamedTuple of those five fields, say)."""
        tz = _zone(zone)
        window = _window(start, end)
        days = _calendar(window, "day", tz)
        chosen = await self._series(tenant, actor, entity_ids, None, attr, None)
        folded = await self.history.daily([s.sid for s in chosen], window, days)
        first = _datetime(window.start, tz).date().toordinal()  # type: ignore[arg-type]
        new = tuple.__new__
        out: dict[str, list[Any]] = {}
        for s in chosen:
            found = folded.get(s.sid)
            if found:
                out[s.entity_id] = [
                    new(row, (date.fromordinal(first + b), mean, hours, n,
                              _datetime(last * HOUR_US, UTC)))
                    for b, mean, hours, n, last in found
                ]  # fmt: skip
        return out

    async def counts(
        self,
        tenant: str | None,
        actor: Actor,
        *,
        attr: str,
        start: datetime,
        end: datetime,
        entity_ids: Sequence[str],
    ) -> dict[str, int]:
        """How many instances of ``attr`` each entity has with ``start <= observedAt < end``
        (numeric or not; hourly rollups included), for bulk readers: the total that
        ``aggregate(method="count")`` spreads over its periods, counted in one statement per
        chunk of series. Entities without an instance in the window are left out."""
        window = _window(start, end)
        chosen = await self._series(tenant, actor, entity_ids, None, attr, None)
        counted = await self.history.counts([s.sid for s in chosen], window)
        out: dict[str, int] = {}
        for s in chosen:
            if counted.get(s.sid):
                out[s.entity_id] = out.get(s.entity_id, 0) + counted[s.sid]
        return out

    async def created(
        self, tenant: str | None, actor: Actor, *, entity_ids: Sequence[str]
    ) -> dict[str, datetime]:
        """When each entity came into being by its history: its first record there, in UTC. A
        device loaded together with its past (the demo's, an import) is recorded at its first
        observation, earlier than its creation in the hub. Entities without a history, or that
        the actor may not read, are left out."""
        ten, scope = await self.hub.reader(tenant, actor)
        infos = await self.history.entities(ten.id, list(entity_ids))
        infos = await visible_entities(self.hub, tenant, actor, scope, infos)
        return {i.id: _datetime(i.created_at, UTC) for i in infos}

    async def _series(
        self,
        tenant: str | None,
        actor: Actor,
        entity_ids: Sequence[str] | None,
        types: Sequence[str] | None,
        attr: str,
        dataset_id: str | None,
    ) -> list[Series]:
        """The series of ``attr`` (``dataset_id``) of the chosen entities the actor may read."""
        if (entity_ids is None) == (types is None):
            raise BadRequestData("name the entities by entity_ids or by types (one of the two)")
        ten, scope = await self.hub.reader(tenant, actor)
        if entity_ids is not None:
            infos = await self.history.entities(ten.id, list(entity_ids))
        else:
            wanted = set(types or ())
            infos = [
                i for i in await self.history.entities(ten.id) if wanted.intersection(i.types)
            ]
        infos = await visible_entities(self.hub, tenant, actor, scope, infos)
        if not infos:
            return []
        series = await self.history.series(ten.id, [i.id for i in infos], [attr])
        return [s for s in series if s.dataset_id == dataset_id]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise BadRequestData(f"unknown time zone {name!r} (e.g. {CITY_ZONE})") from None


def _us(moment: datetime, name: str) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise BadRequestData(f"{name} must be a timezone-aware datetime")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _datetime(us: int, tz: Any) -> datetime:
    return datetime.fromtimestamp(us // _US, tz).replace(microsecond=us % _US)


def _window(start: datetime, end: datetime) -> Window:
    first, last = _us(start, "start"), _us(end, "end")
    if last <= first:
        raise BadRequestData("end must be later than start")
    return Window(start=first, end=last)


def _local_midnight(day: date, tz: ZoneInfo) -> int:
    return _us(datetime.combine(day, time(0), tz), "start")


def _calendar(window: Window, per: str, tz: ZoneInfo) -> Buckets:
    """The calendar periods of ``tz`` that cover ``window``: fixed-length buckets when they
    all have the same length (hours; days without a change of offset), else explicit bounds."""
    assert window.start is not None and window.end is not None
    local = _datetime(window.start, tz)
    if per == "hour":
        hour = local.replace(minute=0, second=0, microsecond=0)
        return Buckets(origin=_us(hour, "start"), period=HOUR_US)
    if per == "day":
        day = local.date()
        step = _next_day
    elif per == "month":
        day = local.date().replace(day=1)
        step = _next_month
    else:
        day = local.date().replace(month=1, day=1)
        step = _next_year
    bounds = [_local_midnight(day, tz)]
    while bounds[-1] < window.end:
        day = step(day)
        bounds.append(_local_midnight(day, tz))
        if len(bounds) > MAX_BUCKETS:
            raise BadRequestData(f"the period makes more than {MAX_BUCKETS} {per}s")
    lengths = {b - a for a, b in pairwise(bounds)}
    if len(lengths) == 1 and per == "day":  # no change of offset: one GROUP BY on the hours
        return Buckets(origin=bounds[0], period=lengths.pop())
    return Buckets(bounds=bounds)


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def _next_month(day: date) -> date:
    return day.replace(year=day.year + 1, month=1) if day.month == 12 else day.replace(
        month=day.month + 1
    )


def _next_year(day: date) -> date:
    return day.replace(year=day.year + 1)


def _span(buckets: Buckets, b: int) -> tuple[int, int]:
    if buckets.period is not None:
        start = buckets.origin + b * buckets.period
        return start, start + buckets.period
    assert buckets.bounds is not None
    return buckets.bounds[b], buckets.bounds[min(b + 1, len(buckets.bounds) - 1)]
