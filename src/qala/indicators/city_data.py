"""City statistics held in the hub as entities: how they are read, written and imported.

Per-capita and per-area indicators divide by city statistics. They live in the city's tenant
as NGSI-LD entities, entered through the NGSI-LD API (or imported from CSV with
``qala indicators statistics import``), each figure with its source and its date:

* the ``City`` entity (one per tenant, ``urn:ngsi-ld:City:<tenant>``, seeded by the demo):
  ``population`` (statistic ``population``, persons) and ``areaKm2`` (``area_km2``, km²),
  ``households`` (``households``). The date is the attribute's ``observedAt``, the source its
  ``source`` sub-property;
* ``CityStatistic`` entities for any figure and any date, so a series of years can be kept::

      {"id": "urn:ngsi-ld:CityStatistic:astana:population:2025-01-01",
       "type": "CityStatistic",
       "statistic": {"type": "Property", "value": "population"},
       "statisticValue": {"type": "Property", "value": 1560000,
                          "observedAt": "2025-01-01T00:00:00+05:00",
                          "unit": {"type": "Property", "value": "persons"},
                          "source": {"type": "Property", "value": "Bureau of National Statistics"}},
       "note": {"type": "Property", "value": "estimate at 1 January"}}

The date of a statistic is the city's calendar day of its ``observedAt``. A City attribute with
no ``observedAt`` is taken as of :data:`~qala.indicators.statistics.UNDATED` and its note says
so; one with no ``source`` names the entity as its source.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from qala.hub import BadRequestData, Entity, iso_to_us
from qala.indicators.inputs import Statistic
from qala.indicators.statistics import UNDATED
from qala.jsonld.compiled import CompiledContext

CITY = "City"
CITY_STATISTIC = "CityStatistic"
#: City entity attribute -> (statistic name, unit).
CITY_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "population": ("population", "persons"),
    "areaKm2": ("area_km2", "km²"),
    "households": ("households", "households"),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CSV_COLUMNS = ("statistic", "value", "unit", "as_of", "source", "note")


def _instance(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, dict) else None


def _sub(instance: dict[str, Any], ctx: CompiledContext, term: str) -> Any:
    member = instance.get(ctx.expand(term))
    if isinstance(member, dict):
        return member.get("value")
    return None


def _local_day(moment: str, zone: str) -> date:
    seconds = iso_to_us(moment) / 1_000_000
    return datetime.fromtimestamp(seconds, UTC).astimezone(ZoneInfo(zone)).date()


def statistics_of(entity: Entity, ctx: CompiledContext, tenant: str, zone: str) -> list[Statistic]:
    """The statistics a ``City`` or ``CityStatistic`` entity holds (non-numeric values and
    unreadable dates are skipped)."""
    names = ctx.for_types(entity.types)
    terms = {names.compact(iri): value for iri, value in entity.attrs.items()}
    found: list[tuple[str, str, dict[str, Any]]] = []
    if any(names.compact(t) == CITY_STATISTIC for t in entity.types):
        name_instance = _instance(terms.get("statistic"))
        value_instance = _instance(terms.get("statisticValue"))
        if name_instance and value_instance and isinstance(name_instance.get("value"), str):
            unit = _sub(value_instance, ctx, "unit") or ""
            found.append((name_instance["value"], str(unit), value_instance))
    else:
        for term, (name, unit) in CITY_ATTRIBUTES.items():
            instance = _instance(terms.get(term))
            if instance is not None:
                found.append((name, unit, instance))
    note_instance = _instance(terms.get("note"))
    entity_note = note_instance.get("value") if note_instance else None
    out = []
    for name, unit, instance in found:
        value = instance.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        notes = []
        observed = instance.get("observedAt")
        try:
            as_of = _local_day(observed, zone) if isinstance(observed, str) else None
        except (ValueError, TypeError):
            as_of = None
        if as_of is None:
            as_of = UNDATED
            notes.append(f"no observedAt on {entity.id}; taken as of {UNDATED.isoformat()}")
        source = _sub(instance, ctx, "source")
        if not isinstance(source, str) or not source.strip():
            source = f"hub entity {entity.id}"
        if isinstance(entity_note, str) and entity_note:
            notes.append(entity_note)
        out.append(
            Statistic(
                tenant=tenant,
                name=name,
                value=float(value),
                unit=unit,
                source=source,
                as_of=as_of,
                note="; ".join(notes),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class StatisticRow:
    """One row of a statistics CSV file."""

    statistic: str
    value: float
    unit: str
    as_of: date
    source: str
    note: str = ""


def statistic_entity(tenant: str, row: StatisticRow, zone: str = "Asia/Almaty") -> dict[str, Any]:
    """The ``CityStatistic`` entity (normalized NGSI-LD, Smart Data Models context terms)."""
    observed = datetime.combine(row.as_of, time.min, ZoneInfo(zone)).isoformat()
    value: dict[str, Any] = {
        "type": "Property",
        "value": row.value,
        "observedAt": observed,
        "unit": {"type": "Property", "value": row.unit},
        "source": {"type": "Property", "value": row.source},
    }
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:CityStatistic:{tenant}:{row.statistic}:{row.as_of.isoformat()}",
        "type": CITY_STATISTIC,
        "statistic": {"type": "Property", "value": row.statistic},
        "statisticValue": value,
        "refCity": {"type": "Relationship", "object": f"urn:ngsi-ld:City:{tenant}"},
    }
    if row.note:
        entity["note"] = {"type": "Property", "value": row.note}
    return entity


def parse_statistics_csv(text: str) -> list[StatisticRow]:
    """Rows of a CSV file with the header ``statistic,value,unit,as_of,source,note`` (``note``
    optional); a bad row raises :class:`~qala.hub.BadRequestData` naming its line."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    missing = [c for c in CSV_COLUMNS[:5] if c not in header]
    if missing:
        raise BadRequestData(
            f"the CSV header lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        )
    rows = []
    for line, record in enumerate(reader, start=2):
        rows.append(_row(record, line))
    if not rows:
        raise BadRequestData("the CSV file has no statistics")
    return rows


def _row(record: dict[str, Any], line: int) -> StatisticRow:
    def fail(message: str) -> BadRequestData:
        return BadRequestData(f"line {line}: {message}")

    name = (record.get("statistic") or "").strip()
    if not _NAME.match(name):
        raise fail(f"statistic {name!r} must be a lower-case name such as population")
    try:
        value = float((record.get("value") or "").strip())
    except ValueError:
        raise fail(f"value {record.get('value')!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise fail("value must be a finite number")
    try:
        as_of = date.fromisoformat((record.get("as_of") or "").strip())
    except ValueError:
        raise fail(f"as_of {record.get('as_of')!r} is not a date (YYYY-MM-DD)") from None
    source = (record.get("source") or "").strip()
    if not source:
        raise fail("every statistic needs its source")
    unit = (record.get("unit") or "").strip()
    if not unit:
        raise fail("every statistic needs its unit")
    return StatisticRow(name, value, unit, as_of, source, (record.get("note") or "").strip())


def rows_of(statistics: Iterable[Statistic]) -> list[StatisticRow]:
    return [StatisticRow(s.name, s.value, s.unit, s.as_of, s.source, s.note) for s in statistics]
