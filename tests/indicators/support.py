"""Shared fixtures for the indicator tests: a city, a period, inputs, a way to run calculators."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from qala.indicators.calculators import Calculator, Context
from qala.indicators.inputs import EntitySnapshot, MemoryInputs, Statistic
from qala.indicators.period import Period
from qala.indicators.values import MeasuredValue, NotComputable

TENANT = "testcity"
JANUARY = Period.parse("2026-01")  # Asia/Almaty, UTC+5: 2025-12-31T19:00Z .. 2026-01-31T19:00Z
AFTER_JANUARY = datetime(2026, 3, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def entity(
    entity_id: str, entity_type: str, created_at: datetime | None = None, **attrs: Any
) -> EntitySnapshot:
    return EntitySnapshot(id=entity_id, type=entity_type, attrs=attrs, created_at=created_at)


def population(inputs: MemoryInputs, value: float, as_of: date = date(2025, 1, 1)) -> None:
    inputs.add_statistic(
        Statistic(TENANT, "population", value, "persons", "statistics bureau", as_of)
    )


def run(
    calculator: Calculator,
    inputs: MemoryInputs,
    period: Period = JANUARY,
    now: datetime = AFTER_JANUARY,
) -> MeasuredValue | NotComputable:
    return asyncio.run(calculator.compute(Context(TENANT, period, inputs, now)))


def measured(result: MeasuredValue | NotComputable) -> MeasuredValue:
    assert isinstance(result, MeasuredValue), getattr(result, "reason", result)
    return result


def not_computable(result: MeasuredValue | NotComputable) -> NotComputable:
    assert isinstance(result, NotComputable), result
    return result
