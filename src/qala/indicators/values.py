"""Indicator values: measured (with provenance and data quality), reported, or not computable.

Three kinds, never mixed:

- :class:`MeasuredValue` — computed by a calculator from the hub's data. It records the
  period, the calculator's name and version, the query it ran (as text), the entities and the
  number of observations it used, and its data quality (coverage per device, timeliness, silent
  devices). Below the coverage threshold it is ``flagged``, still a value but one to read with
  care.
- :class:`NotComputable` — a calculator ran but could not give a value: no data, a zero
  denominator, a missing city statistic, an input source that does not exist yet. It says why.
  There is no fake 0.
- :class:`ReportedValue` — entered by a person (value, source, date, who entered it) for what
  the hub cannot measure (unemployment, enrolment…).

:class:`ValueLog` keeps every value computed per indicator and period: a new calculator version
adds values beside the old ones, it never rewrites them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from qala.indicators.period import Period

ValueKind = Literal["measured", "reported", "not-computable"]

#: default share of expected observations below which a measured value is flagged
DEFAULT_COVERAGE_THRESHOLD = 0.75


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class StatisticUsed:
    """A city statistic a value was computed with (population, area…)."""

    name: str
    value: float
    unit: str
    source: str
    as_of: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "asOf": self.as_of,
        }


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a value came from."""

    query: str
    entities: tuple[str, ...] = ()
    observations: int = 0
    statistics: tuple[StatisticUsed, ...] = ()
    parameters: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "entities": list(self.entities),
            "entityCount": len(self.entities),
            "observations": self.observations,
            "statistics": [s.to_dict() for s in self.statistics],
            "parameters": dict(self.parameters),
        }


@dataclass(frozen=True, slots=True)
class Quality:
    """Data quality of a measured value.

    ``coverage`` is the share of expected observations present over all devices (``None`` for
    values computed from the current state of entities, which have no expected series);
    ``coverage_by_device`` the same per device. ``newest_observation`` and ``age_seconds``
    (measured from the end of the period, or from ``computed_at`` when the period is still
    running) give timeliness. ``silent`` lists devices expected to report that sent nothing in
    the period.
    """

    coverage: float | None
    coverage_by_device: tuple[tuple[str, float], ...] = ()
    newest_observation: datetime | None = None
    age_seconds: float | None = None
    silent: tuple[str, ...] = ()
    threshold: float = DEFAULT_COVERAGE_THRESHOLD
    notes: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.coverage is not None and self.coverage < self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage": self.coverage,
            "coverageByDevice": dict(self.coverage_by_device),
            "newestObservation": _iso(self.newest_observation),
            "ageSeconds": self.age_seconds,
            "silentDevices": list(self.silent),
            "coverageThreshold": self.threshold,
            "flagged": self.flagged,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class MeasuredValue:
    indicator_ids: tuple[str, ...]
    tenant: str
    period: Period
    calculator: str
    version: str
    value: float
    unit: str
    provenance: Provenance
    quality: Quality
    computed_at: datetime
    kind: Literal["measured"] = "measured"

    @property
    def flagged(self) -> bool:
        return self.quality.flagged

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "indicators": list(self.indicator_ids),
            "tenant": self.tenant,
            "period": self.period.to_dict(),
            "calculator": {"name": self.calculator, "version": self.version},
            "value": self.value,
            "unit": self.unit,
            "flagged": self.flagged,
            "provenance": self.provenance.to_dict(),
            "quality": self.quality.to_dict(),
            "computedAt": _iso(self.computed_at),
        }


@dataclass(frozen=True, slots=True)
class NotComputable:
    indicator_ids: tuple[str, ...]
    tenant: str
    period: Period
    calculator: str
    version: str
    reason: str
    provenance: Provenance
    computed_at: datetime
    quality: Quality | None = None
    kind: Literal["not-computable"] = "not-computable"

    @property
    def value(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "indicators": list(self.indicator_ids),
            "tenant": self.tenant,
            "period": self.period.to_dict(),
            "calculator": {"name": self.calculator, "version": self.version},
            "value": None,
            "reason": self.reason,
            "provenance": self.provenance.to_dict(),
            "quality": self.quality.to_dict() if self.quality else None,
            "computedAt": _iso(self.computed_at),
        }


@dataclass(frozen=True, slots=True)
class ReportedValue:
    """A value a person entered: never computed, never mixed with measured values."""

    indicator_id: str
    tenant: str
    period: Period
    value: float
    unit: str
    source: str
    source_date: date
    entered_by: str
    entered_at: datetime
    note: str = ""
    kind: Literal["reported"] = "reported"

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ValueError("a reported value needs its source")
        if not self.entered_by.strip():
            raise ValueError("a reported value needs the name of who entered it")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "indicators": [self.indicator_id],
            "tenant": self.tenant,
            "period": self.period.to_dict(),
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "sourceDate": self.source_date.isoformat(),
            "enteredBy": self.entered_by,
            "enteredAt": _iso(self.entered_at),
            "note": self.note,
        }


Result = MeasuredValue | NotComputable
AnyValue = MeasuredValue | NotComputable | ReportedValue


@dataclass
class ValueLog:
    """Every computed value, per (tenant, indicator, period), each under its calculator version.

    Recording a value computed with the same calculator version replaces the previous one
    (a recomputation); a value of another version is kept beside the others, so changing a
    method never rewrites what was computed before.
    """

    _values: dict[tuple[str, str, str], dict[tuple[str, str], Result]] = field(
        default_factory=dict
    )

    def record(self, result: Result) -> None:
        for indicator_id in result.indicator_ids:
            key = (result.tenant, indicator_id, result.period.label)
            self._values.setdefault(key, {})[(result.calculator, result.version)] = result

    def versions(self, tenant: str, indicator_id: str, period: Period) -> list[Result]:
        """All values of an indicator and period, oldest computation first."""
        found = self._values.get((tenant, indicator_id, period.label), {})
        return sorted(found.values(), key=lambda r: r.computed_at)

    def latest(self, tenant: str, indicator_id: str, period: Period) -> Result | None:
        found = self.versions(tenant, indicator_id, period)
        return found[-1] if found else None
