"""The demo's service requests: a year of them in each city, ending today, loaded in bulk.

For every catalogue city, about ``per_city`` requests spread over the last 365 days (more in
winter for snow and heating, more in summer for potholes and dumping), each with a realistic
history: opened; then, for most, INVESTIGATING, IN_PROGRESS or ACTION_SCHEDULED, and FIXED
(or NOT_COUNCILS_RESPONSIBILITY / NO_FURTHER_ACTION) — mostly within the SLA, some late;
recent ones still open, some of them overdue; a few are duplicates merged into an earlier
request nearby; a few were opened by the device-fault rule for a demo streetlight
(``urn:ngsi-ld:Streetlight:<city>:NNNNNN``). Some filers left a name, email or phone (fake).

Rows go in with the repository's bulk import and the entities with the hub's batch upsert, so
a city's year loads in seconds. A city that already has requests is left as it is.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

from qala.hub import Actor, Hub, HubError, Storage
from qala.open311 import mirror
from qala.open311.catalogue import City, load
from qala.open311.faults import RULE_CLIENT, fault_key
from qala.open311.model import EXTENDED_STATUSES, Personal
from qala.open311.office import stored_from_draft
from qala.open311.repository import Draft, Event, Repository
from qala.open311.sla import WorkingCalendar, expected_datetime

SEEDER = Actor(id="qala-demo", role="admin")
CENTRES = {
    "astana": (51.1282, 71.4306),
    "almaty": (43.2389, 76.8897),
    "shymkent": (42.3417, 69.5901),
    "aktobe": (50.2839, 57.1670),
    "karaganda": (49.8047, 73.1094),
}
DESCRIPTIONS = {
    "POTHOLE": ["Глубокая яма на проезжей части", "Яма у пешеходного перехода",
                "Разбит асфальт во дворе"],
    "STREETLIGHT": ["Не горит фонарь у подъезда", "Мигает фонарь на остановке",
                    "Темно на всей улице"],
    "BIN": ["Контейнеры переполнены", "Мусор не вывозят третий день"],
    "LIFT": ["Лифт не работает", "Лифт останавливается между этажами"],
    "WATERLEAK": ["Течёт вода из люка", "Прорыв трубы во дворе"],
    "HEATING": ["Холодные батареи в квартире", "Нет отопления во всём доме"],
    "SNOW": ["Не убран снег на тротуаре", "Сугробы во дворе, не проехать"],
    "DUMPING": ["Строительный мусор на пустыре", "Свалка у гаражей"],
}  # fmt: skip
NAMES = [("Айгерим", "Сапарова"), ("Нурлан", "Ахметов"), ("Дана", "Ким"), ("Ерлан", "Омаров")]
WINTER = {"SNOW": 4.0, "HEATING": 3.0}
SUMMER = {"POTHOLE": 2.5, "DUMPING": 2.0, "BIN": 1.5}


def _weight(code: str, month: int) -> float:
    if month in (11, 12, 1, 2, 3):
        return WINTER.get(code, 1.0) if code != "POTHOLE" else 0.6
    if month in (5, 6, 7, 8, 9):
        return SUMMER.get(code, 1.0) if code not in WINTER else 0.05
    return 1.0


def _attributes(rng: random.Random, city: City, code: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for attr in city.service(code).attributes:
        if not attr.variable or not (attr.required or rng.random() < 0.3):
            continue
        if attr.datatype == "singlevaluelist":
            values[attr.code] = rng.choice(attr.values).key
        elif attr.datatype == "multivaluelist":
            values[attr.code] = [rng.choice(attr.values).key]
        elif attr.datatype == "number":
            lo, hi = attr.minimum or 0, attr.maximum or 100
            values[attr.code] = round(rng.uniform(lo, min(hi, lo + 30)), 1)
        elif attr.datatype == "datetime":
            values[attr.code] = "2026-01-01T08:00:00+05:00"
        else:
            values[attr.code] = f"{rng.randint(1, 12)}"
    return values


def build_city(
    city: City, today: datetime, rng: random.Random, per_city: int
) -> tuple[list[tuple[int, Draft, str, str]], list[Event], dict[int, int]]:
    """A year of ``city``'s requests: ``(num, draft, status, extended_status)``, their
    events, and the duplicates (``num -> original``)."""
    calendar = WorkingCalendar(city.zone)
    lat0, long0 = CENTRES.get(city.tenant, (51.1282, 71.4306))
    start = today - timedelta(days=365)
    moments = sorted(start + timedelta(seconds=rng.uniform(0, 365 * 86400))
                     for _ in range(per_city))  # fmt: skip
    records: list[tuple[int, Draft, str, str]] = []
    events: list[Event] = []
    duplicates: dict[int, int] = {}
    recent: list[tuple[int, str, float, float, datetime]] = []
    for num, at in enumerate(moments, start=1):
        codes = [s.code for s in city.services]
        code = rng.choices(codes, [_weight(c, at.month) for c in codes])[0]
        service = city.service(code)
        lat, long = lat0 + rng.gauss(0, 0.03), long0 + rng.gauss(0, 0.045)
        fault = code == "STREETLIGHT" and rng.random() < 0.3
        original = next((n for n, c, la, lo, t in reversed(recent[-40:])
                         if c == code and at - t < timedelta(hours=service.duplicate_window_h)
                         and rng.random() < 0.02), None)  # fmt: skip
        if original is not None:
            lat, long = next((la + 0.0001, lo + 0.0001) for n, c, la, lo, t in recent
                             if n == original)  # fmt: skip
        first, last = rng.choice(NAMES)
        personal = Personal()
        if not fault and rng.random() < 0.6:
            personal = Personal(first_name=first, last_name=last,
                                email=f"resident{num}@example.kz" if rng.random() < 0.5 else None,
                                phone=f"+7701{rng.randint(1000000, 9999999)}")  # fmt: skip
        light = f"urn:ngsi-ld:Streetlight:{city.tenant}:{rng.randint(0, 1999):06d}"
        expected = expected_datetime(service.sla, at, calendar)
        draft = Draft(
            service_code=code, agency=service.agency.id, requested_at=at, expected_at=expected,
            lang=city.default_language, service_notice=service.notice[city.default_language],
            description=("Reported by the streetlight itself: status 'broken'" if fault
                         else rng.choice(DESCRIPTIONS.get(code, ["Проблема"]))),
            lat=round(lat, 6), long=round(long, 6),
            attributes=_attributes(rng, city, code), personal=personal,
            external_id=fault_key(light, at.isoformat()) if fault else None,
            client=RULE_CLIENT if fault else "demo", entity_id=light if fault else None,
        )  # fmt: skip
        events.append(Event(num, at, RULE_CLIENT if fault else "resident", "opened", "open",
                            "OPEN", None, True))  # fmt: skip
        status, ext = "open", "OPEN"
        if original is not None:
            when = at + timedelta(hours=rng.uniform(1, 30))
            if when < today:
                duplicates[num] = original
                events.append(Event(num, when, "operator", "merged", "closed", "DUPLICATE",
                                    f"duplicate of {original}", True))  # fmt: skip
                status, ext = "closed", "DUPLICATE"
        else:
            sla_span = max((expected - at).total_seconds(), 3600)
            # Closed after a share of the SLA: most on time, some late; recent ones open.
            share = rng.choice([0.2, 0.4, 0.6, 0.8, 0.9, 1.3, 2.0])
            middle = at + timedelta(seconds=sla_span * share * 0.4)
            closed = at + timedelta(seconds=sla_span * share)
            if middle < today and rng.random() < 0.95:
                step = rng.choice(["INVESTIGATING", "IN_PROGRESS", "ACTION_SCHEDULED"])
                events.append(Event(num, middle, "operator", "status", "open", step,
                                    "Передано бригаде", True))  # fmt: skip
                status, ext = "open", step
            if closed < today and rng.random() < 0.93:
                final = rng.choices(["FIXED", "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION"],
                                    [0.9, 0.05, 0.05])[0]  # fmt: skip
                events.append(Event(num, closed, "operator", "status", "closed", final,
                                    "Проблема устранена" if final == "FIXED" else None, True))
                status, ext = EXTENDED_STATUSES[final], final
        records.append((num, draft, status, ext))
        recent.append((num, code, lat, long, at))
    return records, events, duplicates


async def seed_requests(
    hub: Hub, tables: Storage, *, seed: int = 42, today: datetime | None = None,
    per_city: int = 1200,
) -> dict[str, int]:  # fmt: skip
    """Load the demo year of requests into every catalogue city; requests loaded per city."""
    today = today or datetime.now(UTC)
    repo = Repository(tables)  # type: ignore[arg-type]
    loaded: dict[str, int] = {}
    for index, city in enumerate(load().cities):
        rows = await tables.fetch("SELECT COUNT(*) FROM open311_requests WHERE tenant = $1",
                                  city.tenant)  # fmt: skip
        if rows[0][0]:
            continue
        rng = random.Random(seed * 1000 + index)
        records, events, duplicates = build_city(city, today, rng, per_city)
        await repo.import_requests(city.tenant, records, events)
        if duplicates:
            await tables.execute([
                ("UPDATE open311_requests SET duplicate_of = $3 WHERE tenant = $1 AND num = $2",
                 (city.tenant, num, original))
                for num, original in duplicates.items()
            ])  # fmt: skip
        entities = []
        for num, draft, status, ext in records:
            stored = stored_from_draft(city.tenant, num, "", draft)
            mine = [e for e in events if e.request_num == num]
            closed = [e.at for e in mine if e.status == "closed"]
            stored = dataclasses.replace(
                stored, status=status, extended_status=ext, updated_at=mine[-1].at,
                closed_at=closed[-1] if closed and status == "closed" else None,
                duplicate_of=duplicates.get(num),
            )  # fmt: skip
            entities.append(mirror.entity(stored, city))
        for chunk in range(0, len(entities), 1000):
            outcome = await hub.batch_upsert(city.tenant, entities[chunk:chunk + 1000], SEEDER,
                                             mode="replace")  # fmt: skip
            if outcome.errors:
                entity_id, error = outcome.errors[0]
                raise HubError(f"seeding Open311 requests of {city.tenant}: {entity_id}: "
                               f"{error.detail}")  # fmt: skip
        loaded[city.tenant] = len(records)
    return loaded
