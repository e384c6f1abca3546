"""Field-by-field parsing of revision data: JSON-native values in, typed values out.

A revision carries the fields it sets as JSON-native values with OC4IDS/OCDS names (``dueDate``,
``budgetBreakdown``, money as strings). Each kind of object has a table of :class:`Field` s that
parse those values (with a clear error naming the field) and write them back in canonical form,
so that the stored revision and the field-by-field history show ``"1500000.00"`` and
``"2021-12-31"`` however the value was first written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from qala.hub.errors import BadRequestData
from qala.hub.model import valid_tenant_name
from qala.programme import model as m
from qala.programme.money import InvalidMoney, money_text, parse_money

#: Dates are calendar days in Kazakhstan (UTC+5); date-times given with another offset are
#: read in this zone.
LOCAL = ZoneInfo("Asia/Almaty")


class InvalidField(BadRequestData):
    """A field of a revision has a value that cannot be accepted."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}", field=field)
        self.field = field
        self.reason = detail


def _fail(field: str, detail: str) -> InvalidField:
    return InvalidField(field, detail)


# -- scalar parsers: (value, field name) -> typed ------------------------------------------


def text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, "must be a non-empty text")
    return value.strip()


def free_text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(name, "must be a text")
    return value.strip()


def money(value: Any, name: str) -> Decimal:
    try:
        return parse_money(value, what=name)
    except InvalidMoney as exc:
        raise _fail(name, exc.detail.removeprefix(f"{name} ")) from None


def positive_money(value: Any, name: str) -> Decimal:
    amount = money(value, name)
    if amount < 0:
        raise _fail(name, f"must not be negative, got {money_text(amount)}")
    return amount


def parse_date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(LOCAL).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        raw = value.strip()
        try:
            if len(raw) == 10:
                return date.fromisoformat(raw)
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise _fail(name, f"{value!r} is not a date (write YYYY-MM-DD)") from None
        if moment.tzinfo is None:
            return moment.date()
        return moment.astimezone(LOCAL).date()
    raise _fail(name, f"{value!r} is not a date (write YYYY-MM-DD)")


def enum(values: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, name: str) -> str:
        if value not in values:
            raise _fail(name, f"{value!r} is not one of {', '.join(values)}")
        return str(value)

    return parse


def tenant(value: Any, name: str) -> str:
    if not isinstance(value, str) or not valid_tenant_name(value):
        raise _fail(name, f"{value!r} is not a city (tenant) name")
    return value


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _fail(name, "must be a whole number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise _fail(name, f"must be a whole number above zero, got {value!r}")
    return value


def share(value: Any, name: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise _fail(name, 'must be written as text (e.g. "0.8"), not a floating-point number')
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(name, f"{value!r} is not a number between 0 and 1") from None
    if not number.is_finite() or not 0 < number <= 1:
        raise _fail(name, f"must be above 0 and at most 1, got {value!r}")
    return number


def number(value: Any, name: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise _fail(name, "must be written as text or an integer, not a floating-point number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(name, f"{value!r} is not a number") from None
    if not result.is_finite():
        raise _fail(name, f"{value!r} is not a finite number")
    return result


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def duration(value: Any, name: str) -> timedelta:
    """An ISO 8601 duration in days, hours and minutes (``PT24H``, ``P7D``, ``P1DT12H``)."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise _fail(name, f"{value!r} is not a duration such as PT24H or P7D")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    result = timedelta(days=days, hours=hours, minutes=minutes)
    if result <= timedelta(0):
        raise _fail(name, "must be longer than zero")
    return result


def dump_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    if hours or minutes:
        out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return out


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(name, "must be an object")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(name, "must be a list")
    return value


def _opt(parse: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def parse_optional(value: Any, name: str) -> Any:
        if value is None or value == "":
            return None
        return parse(value, name)

    return parse_optional


def period(value: Any, name: str) -> m.Period:
    raw = _object(value, name)
    start = _opt(parse_date)(raw.get("startDate"), f"{name}.startDate")
    end = _opt(parse_date)(raw.get("endDate"), f"{name}.endDate")
    if start is not None and end is not None and end < start:
        raise _fail(name, f"ends ({end}) before it starts ({start})")
    return m.Period(start, end)


def dump_period(value: m.Period) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value.start is not None:
        out["startDate"] = value.start.isoformat()
    if value.end is not None:
        out["endDate"] = value.end.isoformat()
    return out


def organization(value: Any, name: str) -> m.Organization:
    if isinstance(value, str):
        return m.Organization(text(value, name))
    raw = _object(value, name)
    ident = raw.get("id")
    return m.Organization(
        text(raw.get("name"), f"{name}.name"), None if ident in (None, "") else str(ident)
    )


def dump_organization(value: m.Organization) -> dict[str, Any]:
    return {"name": value.name} | ({"id": value.id} if value.id else {})


def text_list(value: Any, name: str) -> tuple[str, ...]:
    items = [text(v, f"{name}[{i}]") for i, v in enumerate(_list(value, name))]
    if len(set(items)) != len(items):
        raise _fail(name, "lists the same value twice")
    return tuple(items)


def budget_lines(value: Any, name: str) -> tuple[m.BudgetLine, ...]:
    lines = []
    for i, item in enumerate(_list(value, name)):
        where = f"{name}[{i}]"
        raw = _object(item, where)
        year = positive_int(raw.get("year"), f"{where}.year")
        lines.append(
            m.BudgetLine(
                id=text(raw.get("id", f"{year}-{i + 1}"), f"{where}.id"),
                year=year,
                source=text(raw.get("source"), f"{where}.source"),
                amount=positive_money(raw.get("amount"), f"{where}.amount"),
            )
        )
    if len({line.id for line in lines}) != len(lines):
        raise _fail(name, "has two lines with the same id")
    return tuple(lines)


def dump_budget_lines(lines: tuple[m.BudgetLine, ...]) -> list[dict[str, Any]]:
    return [
        {"id": b.id, "year": b.year, "source": b.source, "amount": money_text(b.amount)}
        for b in lines
    ]


def indicators(value: Any, name: str) -> tuple[m.Indicator, ...]:
    found = []
    for i, item in enumerate(_list(value, name)):
        where = f"{name}[{i}]"
        raw = _object(item, where)
        ident = raw.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        found.append(
            m.Indicator(
                id=text(ident, f"{where}.id"),
                name=text(raw.get("name"), f"{where}.name"),
                baseline=number(raw.get("baseline"), f"{where}.baseline"),
                target=number(raw.get("target"), f"{where}.target"),
                unit=_opt(text)(raw.get("unit"), f"{where}.unit"),
                baseline_date=_opt(parse_date)(raw.get("baselineDate"), f"{where}.baselineDate"),
                target_date=_opt(parse_date)(raw.get("targetDate"), f"{where}.targetDate"),
            )
        )
    if len({ind.id for ind in found}) != len(found):
        raise _fail(name, "names the same indicator twice")
    return tuple(found)


def dump_indicators(items: tuple[m.Indicator, ...]) -> list[dict[str, Any]]:
    out = []
    for ind in items:
        row: dict[str, Any] = {
            "id": ind.id,
            "name": ind.name,
            "baseline": str(ind.baseline),
            "target": str(ind.target),
        }
        if ind.unit:
            row["unit"] = ind.unit
        if ind.baseline_date:
            row["baselineDate"] = ind.baseline_date.isoformat()
        if ind.target_date:
            row["targetDate"] = ind.target_date.isoformat()
        out.append(row)
    return out


def completion(value: Any, name: str) -> m.Completion:
    raw = _object(value, name)
    return m.Completion(
        end_date=_opt(parse_date)(raw.get("endDate"), f"{name}.endDate"),
        end_date_details=_opt(text)(raw.get("endDateDetails"), f"{name}.endDateDetails"),
        final_value=_opt(positive_money)(raw.get("finalValue"), f"{name}.finalValue"),
        final_value_details=_opt(text)(raw.get("finalValueDetails"), f"{name}.finalValueDetails"),
    )


def dump_completion(value: m.Completion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value.end_date:
        out["endDate"] = value.end_date.isoformat()
    if value.end_date_details:
        out["endDateDetails"] = value.end_date_details
    if value.final_value is not None:
        out["finalValue"] = money_text(value.final_value)
    if value.final_value_details:
        out["finalValueDetails"] = value.final_value_details
    return out


def coverage(value: Any, name: str) -> m.Coverage:
    raw = _object(value, name)
    areas = text_list(raw.get("areas"), f"{name}.areas")
    if not areas:
        raise _fail(f"{name}.areas", "must name at least one area")
    return m.Coverage(areas=areas, min_share=share(raw.get("minShare"), f"{name}.minShare"))


def dump_coverage(value: m.Coverage) -> dict[str, Any]:
    return {"areas": list(value.areas), "minShare": str(value.min_share)}


def _same(value: Any) -> Any:
    return value


def _iso(value: date) -> str:
    return value.isoformat()


def _tuple_list(value: tuple[str, ...]) -> list[str]:
    return list(value)


@dataclass(frozen=True, slots=True)
class Field:
    attr: str  # the dataclass attribute
    parse: Callable[[Any, str], Any]
    dump: Callable[[Any], Any] = _same
    required: bool = False
    #: set at creation and never changed (the object's place in the programme)
    fixed: bool = False


def _f(attr: str, parse: Callable[[Any, str], Any], dump: Callable[[Any], Any] = _same, **kw: Any):
    return Field(attr, parse, dump, **kw)


_period = _f("period", period, dump_period)

FIELDS: dict[str, dict[str, Field]] = {
    "programme": {
        "title": _f("title", text),
        "description": _f("description", free_text),
        "period": _period,
        "budget": _f("budget", positive_money, money_text),
        "note": _f("note", free_text),
    },
    "project": {
        "tenant": _f("tenant", tenant, required=True, fixed=True),
        "title": _f("title", text, required=True),
        "description": _f("description", free_text),
        "sector": _f("sector", text_list, _tuple_list),
        "status": _f("status", enum(m.PROJECT_STATUSES)),
        "period": _period,
        "budget": _f("budget", positive_money, money_text),
        "budgetBreakdown": _f("budget_breakdown", budget_lines, dump_budget_lines),
        "indicators": _f("indicators", indicators, dump_indicators),
        "relatedProjects": _f("related_projects", text_list, _tuple_list),
        "completion": _f("completion", completion, dump_completion),
    },
    "contract": {
        "project": _f("project", text, required=True, fixed=True),
        "title": _f("title", text, required=True),
        "contractor": _f("contractor", organization, dump_organization, required=True),
        "value": _f("value", positive_money, money_text, required=True),
        "period": _f("period", period, dump_period, required=True),
        "scope": _f("scope", free_text),
        "status": _f("status", enum(m.CONTRACT_STATUSES)),
        "finalValue": _f("final_value", positive_money, money_text),
        "finalValueDetails": _f("final_value_details", text),
    },
    "payment": {
        "project": _f("project", text, fixed=True),
        "contract": _f("contract", text, fixed=True),
        "date": _f("date", parse_date, _iso, required=True),
        "amount": _f("amount", positive_money, money_text, required=True),
        "payer": _f("payer", organization, dump_organization),
        "payee": _f("payee", organization, dump_organization),
        "document": _f("document", text),
        "milestone": _f("milestone", text),
    },
    "milestone": {
        "contract": _f("contract", text, required=True, fixed=True),
        "title": _f("title", text, required=True),
        "dueDate": _f("due_date", parse_date, _iso),
        "status": _f("status", enum(m.MILESTONE_STATUSES)),
        "dateMet": _f("date_met", parse_date, _iso),
        "deliverables": _f("deliverables", text_list, _tuple_list),
    },
    "deliverable": {
        "project": _f("project", text, required=True, fixed=True),
        "title": _f("title", text, required=True),
        "type": _f("entity_type", text, required=True),
        "count": _f("count", positive_int, required=True),
        "freshWithin": _f("fresh_within", duration, dump_duration, required=True),
        "q": _f("q", text),
        "coverage": _f("coverage", coverage, dump_coverage),
    },
}

#: Contract fields that change only through a modification (old and new kept, with a reason).
MODIFIED_ONLY = {"value": "value", "period": "duration", "scope": "scope"}
#: Project fields that form the baseline, frozen once implementation starts.
BASELINE = ("period", "budget", "budgetBreakdown")


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("revision times must be timezone-aware")
    return moment.astimezone(UTC)
