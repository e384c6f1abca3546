"""The history reader capabilities use: raw series, calendar and bulk hourly aggregates,
access-checked.

Driven directly on the hub and the store (SQLite and PostgreSQL), as a capability would: the
entities are written through ``Hub.transact`` (the history recorder takes part) and their
history loaded in bulk. The city is Astana: UTC+5 (Asia/Almaty; UTC+6 before March 2024).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from qala.config import Settings
from qala.hub import Actor, BadRequestData, Entity, Forbidden, Hub, Storage, iso_to_us
from qala.store import open_store
from qala.temporal import Bucket, HistoryReader, HistoryRecorder, Point, load_history
from qala.temporal.retention import compact_tenant

TENANT = "astana"
AIR = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
WEATHER = "https://smartdatamodels.org/dataModel.Weather/WeatherObserved"
PM25 = "https://smartdatamodels.org/dataModel.Environment/pm25"
SENSOR = "urn:ngsi-ld:AirQualityObserved:astana:1"
STATION = "urn:ngsi-ld:WeatherObserved:astana:1"
PARTNERS = "urn:ngsi-ld:AirQualityObserved:astana:partner"
CITY = Actor(id="akimat", role="city-operator", tenant=TENANT)
PARTNER = Actor(id="partner-1", role="partner", tenant=TENANT)
LOCAL = timezone(timedelta(hours=5))  # Astana since March 2024

#: pm25 of the sensor (UTC): three values late on 1 March local time, three on 2 March (the
#: first two just after local midnight, 19:00 UTC), one just after local midnight on 1 April.
MARCH = [
    ("2026-03-01T17:00:00Z", 10.0),  # 22:00 local, 1 March
    ("2026-03-01T17:30:00Z", 20.0),  # 22:30
    ("2026-03-01T18:00:00Z", 30.0),  # 23:00
    ("2026-03-01T19:00:00Z", 40.0),  # 00:00 local, 2 March
    ("2026-03-01T19:45:00Z", 50.0),  # 00:45
    ("2026-03-02T10:00:00Z", 60.0),  # 15:00
    ("2026-03-31T19:30:00Z", 100.0),  # 00:30 local, 1 April
]
SPRING = (datetime(2026, 3, 1, tzinfo=LOCAL), datetime(2026, 5, 1, tzinfo=LOCAL))


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=LOCAL)


def spans(buckets: list[Bucket]) -> list[tuple[datetime, datetime, Any, int]]:
    return [(b.start, b.end, b.value, b.count) for b in buckets]


async def _in_city(settings: Settings, scenario: Callable[[Hub, Storage], Awaitable[None]]) -> None:
    store = open_store(settings)
    await store.open()
    try:
        hub = Hub(store)
        hub.add_participant(HistoryRecorder())
        await scenario(hub, store)
    finally:
        await store.close()


def run(settings: Settings, scenario: Callable[[Hub, Storage], Awaitable[None]]) -> None:
    asyncio.run(_in_city(settings, scenario))


async def create(
    hub: Hub, entity_id: str, type_iri: str, first: tuple[str, float], owner: str | None = None
) -> None:
    """The entity, created through the hub with its first pm25 observation."""
    observed, value = first
    entity = Entity(
        id=entity_id,
        types=[type_iri],
        attrs={PM25: {"type": "Property", "value": value, "observedAt": observed}},
    )
    await hub.transact(
        TENANT,
        CITY,
        operation="test.create",
        entity_ids=[entity_id],
        body=lambda tx: tx.create(entity, owner=owner),
    )


async def observe(
    hub: Hub,
    store: Storage,
    entity_id: str,
    points: list[tuple[str, float]],
    type_iri: str = AIR,
    owner: str | None = None,
) -> None:
    await create(hub, entity_id, type_iri, points[0], owner)
    tenant = await hub.tenant(TENANT)
    rest = [(entity_id, PM25, iso_to_us(t), v) for t, v in points[1:]]
    await load_history(store, tenant.id, rest)


def test_hourly_daily_and_monthly_means_follow_the_citys_midnight(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        await observe(hub, store, SENSOR, MARCH)
        reader = HistoryReader(hub, store)
        start, end = SPRING

        async def mean(per: Any) -> list[tuple[datetime, datetime, Any, int]]:
            got = await reader.aggregate(
                TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=start, end=end, per=per,
                method="avg",
            )
            return spans(got[SENSOR])

        assert await mean("hour") == [
            (local(2026, 3, 1, 22), local(2026, 3, 1, 23), 15.0, 2),
            (local(2026, 3, 1, 23), local(2026, 3, 2, 0), 30.0, 1),
            (local(2026, 3, 2, 0), local(2026, 3, 2, 1), 45.0, 2),
            (local(2026, 3, 2, 15), local(2026, 3, 2, 16), 60.0, 1),
            (local(2026, 4, 1, 0), local(2026, 4, 1, 1), 100.0, 1),
        ]
        assert await mean("day") == [
            (local(2026, 3, 1), local(2026, 3, 2), 20.0, 3),  # not 30.0, the UTC day's mean
            (local(2026, 3, 2), local(2026, 3, 3), 50.0, 3),
            (local(2026, 4, 1), local(2026, 4, 2), 100.0, 1),
        ]
        assert await mean("month") == [
            (local(2026, 3, 1), local(2026, 4, 1), 35.0, 6),
            (local(2026, 4, 1), local(2026, 5, 1), 100.0, 1),
        ]
        assert await mean("year") == [
            (local(2026, 1, 1), local(2027, 1, 1), pytest.approx(310 / 7), 7)
        ]

    run(settings, scenario)


def test_other_methods_and_a_window_that_cuts_a_day(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        await observe(hub, store, SENSOR, MARCH)
        reader = HistoryReader(hub, store)

        async def daily(method: Any, start: datetime) -> list[Any]:
            got = await reader.aggregate(
                TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=start,
                end=local(2026, 3, 3), per="day", method=method,
            )
            return [(b.start, b.value, b.count) for b in got[SENSOR]]

        march_1, march_2 = local(2026, 3, 1), local(2026, 3, 2)
        assert await daily("min", march_1) == [(march_1, 10.0, 3), (march_2, 40.0, 3)]
        assert await daily("max", march_1) == [(march_1, 30.0, 3), (march_2, 60.0, 3)]
        assert await daily("sum", march_1) == [(march_1, 60.0, 3), (march_2, 150.0, 3)]
        assert await daily("count", march_1) == [(march_1, 3, 3), (march_2, 3, 3)]
        # From 23:00 local: the day is still the calendar day, with only what falls after.
        assert await daily("avg", local(2026, 3, 1, 23)) == [(march_1, 30.0, 1), (march_2, 50.0, 3)]

    run(settings, scenario)


def test_the_day_kazakhstan_changed_its_offset_had_25_hours(settings: Settings) -> None:
    # At local midnight of 1 March 2024 Astana went from UTC+6 to UTC+5: 29 February ran from
    # 18:00 UTC on the 28th to 19:00 UTC on the 29th.
    leap = [
        ("2024-02-29T12:00:00Z", 10.0),  # 18:00 local (UTC+6)
        ("2024-02-29T18:30:00Z", 20.0),  # 23:30 local (UTC+5), still 29 February
        ("2024-02-29T19:30:00Z", 30.0),  # 00:30 local, 1 March
    ]

    async def scenario(hub: Hub, store: Storage) -> None:
        await observe(hub, store, SENSOR, leap)
        got = await HistoryReader(hub, store).aggregate(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=local(2024, 2, 29),
            end=local(2024, 3, 2), per="day", method="avg",
        )
        before = timezone(timedelta(hours=6))
        assert spans(got[SENSOR]) == [
            (datetime(2024, 2, 29, tzinfo=before), local(2024, 3, 1), 15.0, 2),
            (local(2024, 3, 1), local(2024, 3, 2), 30.0, 1),
        ]
        first = got[SENSOR][0]
        assert first.end.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=25)

    run(settings, scenario)


def test_the_raw_series_is_every_instance_in_the_period_oldest_first(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        await observe(hub, store, SENSOR, MARCH)
        reader = HistoryReader(hub, store)
        got = await reader.series(
            TENANT, CITY, types=[AIR], attr=PM25, start=local(2026, 3, 2), end=local(2026, 4, 1)
        )
        assert got == {
            SENSOR: [
                Point(datetime(2026, 3, 1, 19, tzinfo=UTC), 40.0),
                Point(datetime(2026, 3, 1, 19, 45, tzinfo=UTC), 50.0),
                Point(datetime(2026, 3, 2, 10, tzinfo=UTC), 60.0),
            ]
        }
        assert got[SENSOR][0].time == local(2026, 3, 2)
        empty = await reader.series(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=local(2025, 1, 1),
            end=local(2025, 2, 1),
        )
        assert empty == {SENSOR: []}

    run(settings, scenario)


def test_a_partner_reads_only_its_own_and_the_shared_entities(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        await store.ensure_tenant(TENANT)
        await store.update_tenant_settings(TENANT, {"partnerTypes": [WEATHER]})
        await observe(hub, store, SENSOR, MARCH)  # the city's, of a type it does not share
        await observe(hub, store, STATION, MARCH[:2], type_iri=WEATHER)
        await observe(hub, store, PARTNERS, MARCH[:3], owner=PARTNER.id)
        reader = HistoryReader(hub, store)
        start, end = SPRING
        everything = [SENSOR, STATION, PARTNERS]

        raw = await reader.series(
            TENANT, PARTNER, entity_ids=everything, attr=PM25, start=start, end=end
        )
        assert sorted(raw) == [PARTNERS, STATION]
        by_type = await reader.aggregate(
            TENANT, PARTNER, types=[AIR, WEATHER], attr=PM25, start=start, end=end,
            per="month", method="count",
        )
        assert {entity: [b.value for b in months] for entity, months in by_type.items()} == {
            PARTNERS: [3],
            STATION: [2],
        }
        city = await reader.aggregate(
            TENANT, CITY, types=[AIR, WEATHER], attr=PM25, start=start, end=end, per="month",
            method="count",
        )
        assert sorted(city) == sorted(everything)

    run(settings, scenario)


def test_a_public_actor_is_refused_a_tenant_it_is_not_bound_to(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        await observe(hub, store, SENSOR, MARCH)
        reader = HistoryReader(hub, store)
        almaty_site = Actor(id="almaty-open-data", role="public", tenant="almaty")
        start, end = SPRING
        with pytest.raises(Forbidden):
            await reader.series(
                TENANT, almaty_site, entity_ids=[SENSOR], attr=PM25, start=start, end=end
            )
        with pytest.raises(Forbidden):
            await reader.aggregate(
                TENANT, almaty_site, entity_ids=[SENSOR], attr=PM25, start=start, end=end,
                per="day", method="avg",
            )

    run(settings, scenario)


def test_history_beyond_retention_is_read_from_the_hourly_aggregates(settings: Settings) -> None:
    # 2020 in Astana was UTC+6: local midnight of 2 January was 18:00 UTC on 1 January.
    old = [
        ("2020-01-01T10:00:00Z", 1.0),
        ("2020-01-01T10:15:00Z", 2.0),
        ("2020-01-01T10:30:00Z", 3.0),
        ("2020-01-01T11:00:00Z", 4.0),
        ("2020-01-01T20:00:00Z", 5.0),  # 02:00 local, 2 January
    ]

    async def scenario(hub: Hub, store: Storage) -> None:
        await observe(hub, store, SENSOR, old + MARCH)
        tenant = await hub.tenant(TENANT)
        compacted = await compact_tenant(
            store, tenant, days=365, now=iso_to_us("2026-01-01T00:00:00Z")
        )
        assert compacted is not None and compacted.instances == 5
        reader = HistoryReader(hub, store)
        almaty = timezone(timedelta(hours=6))

        days = await reader.aggregate(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=datetime(2020, 1, 1, tzinfo=UTC),
            end=datetime(2020, 2, 1, tzinfo=UTC), per="day", method="avg",
        )
        assert spans(days[SENSOR]) == [
            (datetime(2020, 1, 1, tzinfo=almaty), datetime(2020, 1, 2, tzinfo=almaty), 2.5, 4),
            (datetime(2020, 1, 2, tzinfo=almaty), datetime(2020, 1, 3, tzinfo=almaty), 5.0, 1),
        ]
        # Hourly aggregates and raw instances together, in one aggregation.
        years = await reader.aggregate(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=local(2020, 1, 1),
            end=local(2027, 1, 1), per="year", method="max",
        )
        assert [(b.start.year, b.value, b.count) for b in years[SENSOR]] == [
            (2020, 5.0, 5),
            (2026, 100.0, 7),
        ]
        means = await reader.series(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=local(2020, 1, 1),
            end=local(2021, 1, 1),
        )
        assert means[SENSOR] == [
            Point(datetime(2020, 1, 1, 10, tzinfo=UTC), 2.0, hourly=True),
            Point(datetime(2020, 1, 1, 11, tzinfo=UTC), 4.0, hourly=True),
            Point(datetime(2020, 1, 1, 20, tzinfo=UTC), 5.0, hourly=True),
        ]

    run(settings, scenario)


#: Two instances of one hour in 2020, beyond retention once compacted: an hourly rollup.
ROLLED = [("2020-01-01T10:00:00Z", 1.0), ("2020-01-01T10:15:00Z", 3.0)]


async def with_a_rolled_up_hour(hub: Hub, store: Storage) -> HistoryReader:
    """The sensor with ``ROLLED`` (compacted to its hourly rollup) and ``MARCH`` (raw)."""
    await observe(hub, store, SENSOR, ROLLED + MARCH)
    tenant = await hub.tenant(TENANT)
    await compact_tenant(store, tenant, days=365, now=iso_to_us("2026-01-01T00:00:00Z"))
    return HistoryReader(hub, store)


def test_bulk_hourly_means_are_the_hourly_aggregates_in_epoch_hours(settings: Settings) -> None:
    """``hourly`` (the indicators' reader): the same hours, means and counts as
    ``aggregate(per="hour")``, with the hour's extremes, rollups beyond retention included."""
    async def scenario(hub: Hub, store: Storage) -> None:
        reader = await with_a_rolled_up_hour(hub, store)
        start, end = datetime(2020, 1, 1, tzinfo=UTC), SPRING[1]
        rows = await reader.hourly(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR], extremes=True
        )
        hour = 3_600_000_000
        assert rows[SENSOR] == [
            (iso_to_us("2020-01-01T10:00:00Z"), 2.0, 2, 1.0, 3.0),  # from the hourly rollup
            (iso_to_us("2026-03-01T17:00:00Z"), 15.0, 2, 10.0, 20.0),
            (iso_to_us("2026-03-01T18:00:00Z"), 30.0, 1, 30.0, 30.0),
            (iso_to_us("2026-03-01T19:00:00Z"), 45.0, 2, 40.0, 50.0),
            (iso_to_us("2026-03-02T10:00:00Z"), 60.0, 1, 60.0, 60.0),
            (iso_to_us("2026-03-31T19:00:00Z"), 100.0, 1, 100.0, 100.0),
        ]
        means = await reader.aggregate(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=start, end=end, per="hour",
            method="avg", zone="UTC",
        )
        assert [(hour_us, mean, count) for hour_us, mean, count, _, _ in rows[SENSOR]] == [
            (iso_to_us(b.start.isoformat()), b.value, b.count) for b in means[SENSOR]
        ]
        assert all(row[0] % hour == 0 for row in rows[SENSOR])
        without = await reader.hourly(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR]
        )
        assert [row[3:] for row in without[SENSOR]] == [(None, None)] * 6
        with pytest.raises(Forbidden):
            await reader.hourly(
                TENANT, Actor(id="op", role="city-operator", tenant="almaty"), attr=PM25,
                start=start, end=end, entity_ids=[SENSOR],
            )

    run(settings, scenario)


def test_bulk_counts_and_rows_of_the_callers_type(settings: Settings) -> None:
    """``counts``: per entity, the total that ``aggregate(method="count")`` spreads over its
    periods, rollups included; ``hourly(hours=, row=)``: the same rows as the caller's tuple
    type, each hour one datetime shared through the caller's cache."""
    from typing import NamedTuple

    class Hour(NamedTuple):
        hour: datetime
        mean: float
        count: int
        minimum: float | None
        maximum: float | None

    async def scenario(hub: Hub, store: Storage) -> None:
        reader = await with_a_rolled_up_hour(hub, store)
        start, end = datetime(2020, 1, 1, tzinfo=UTC), SPRING[1]
        counted = await reader.counts(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR, "urn:x:none"]
        )
        per_year = await reader.aggregate(
            TENANT, CITY, entity_ids=[SENSOR], attr=PM25, start=start, end=end, per="year",
            method="count", zone="UTC",
        )  # fmt: skip
        total = len(ROLLED) + len(MARCH)
        assert counted == {SENSOR: sum(b.count for b in per_year[SENSOR])} == {SENSOR: total}
        later = await reader.counts(
            TENANT, CITY, attr=PM25, start=datetime(2026, 3, 2, tzinfo=UTC), end=end,
            entity_ids=[SENSOR],
        )  # fmt: skip
        assert later == {SENSOR: sum(1 for at, _ in MARCH if at >= "2026-03-02")}
        plain = await reader.hourly(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR], extremes=True
        )
        cache: dict[int, datetime] = {}
        typed = await reader.hourly(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR], extremes=True,
            hours=cache, row=Hour,
        )  # fmt: skip
        assert all(isinstance(r, Hour) for r in typed[SENSOR])
        assert [(iso_to_us(r.hour.isoformat()), *r[1:]) for r in typed[SENSOR]] == plain[SENSOR]
        again = await reader.hourly(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR], hours=cache,
            row=Hour,
        )  # fmt: skip
        assert all(a.hour is b.hour for a, b in zip(again[SENSOR], typed[SENSOR], strict=True))
        with pytest.raises(Forbidden):
            await reader.counts(
                TENANT, Actor(id="op", role="city-operator", tenant="almaty"), attr=PM25,
                start=start, end=end, entity_ids=[SENSOR],
            )

    run(settings, scenario)


def test_bulk_daily_means_are_the_means_of_each_local_days_hourly_means(
    settings: Settings,
) -> None:
    """``daily`` (ISO 37120 8.6's rule, folded in SQL): per local day of the zone, the mean of
    the hourly means — not of the instances — with the hours, the instances and the last hour;
    the hourly rollups beyond retention count like raw hours."""
    from datetime import date

    async def scenario(hub: Hub, store: Storage) -> None:
        reader = await with_a_rolled_up_hour(hub, store)
        start, end = datetime(2020, 1, 1, tzinfo=UTC), SPRING[1]
        days = await reader.daily(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR], zone="Asia/Almaty"
        )

        def hour(text: str) -> datetime:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))

        assert days[SENSOR] == [
            (date(2020, 1, 1), 2.0, 1, 2, hour("2020-01-01T10:00:00Z")),  # the rollup's hour
            (date(2026, 3, 1), (15.0 + 30.0) / 2, 2, 3, hour("2026-03-01T18:00:00Z")),
            (date(2026, 3, 2), (45.0 + 60.0) / 2, 2, 3, hour("2026-03-02T10:00:00Z")),
            (date(2026, 4, 1), 100.0, 1, 1, hour("2026-03-31T19:00:00Z")),
        ]
        utc = await reader.daily(
            TENANT, CITY, attr=PM25, start=start, end=end, entity_ids=[SENSOR], zone="UTC"
        )
        in_utc = [(d[0], d[2]) for d in utc[SENSOR]][1:3]  # 17:00, 18:00, 19:00; 10:00
        assert in_utc == [(date(2026, 3, 1), 3), (date(2026, 3, 2), 1)]
        with pytest.raises(Forbidden):
            await reader.daily(
                TENANT, Actor(id="op", role="city-operator", tenant="almaty"), attr=PM25,
                start=start, end=end, entity_ids=[SENSOR],
            )

    run(settings, scenario)


def test_unclear_requests_are_refused_with_the_reason(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        reader = HistoryReader(hub, store)
        start, end = SPRING
        cases: list[tuple[dict[str, Any], str]] = [
            ({"entity_ids": [SENSOR], "types": [AIR]}, "entity_ids or by types"),
            ({}, "entity_ids or by types"),
            ({"entity_ids": [SENSOR], "start": end, "end": start}, "end must be later"),
            ({"entity_ids": [SENSOR], "start": datetime(2026, 3, 1)}, "timezone-aware"),
            ({"entity_ids": [SENSOR], "per": "week"}, "unknown period 'week'"),
            ({"entity_ids": [SENSOR], "method": "median"}, "unknown method 'median'"),
            ({"entity_ids": [SENSOR], "zone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ]
        for extra, says in cases:
            request: dict[str, Any] = {
                "attr": PM25, "start": start, "end": end, "per": "day", "method": "avg", **extra
            }
            with pytest.raises(BadRequestData) as refused:
                await reader.aggregate(TENANT, CITY, **request)
            assert says in refused.value.detail, (extra, refused.value.detail)

    run(settings, scenario)
