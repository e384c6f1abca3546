"""The indicators' own tables (migration branch ``indicators``), read and written in SQL.

Over :class:`qala.hub.Tables` (the server's store): read-only queries, statements run in one
transaction, ``$1, $2, …`` placeholders on SQLite and PostgreSQL alike. Writes of computed
values are *statements* handed to the hub's transaction that publishes the values as
``KeyPerformanceIndicator`` entities (:meth:`qala.hub.Transaction.add_statements`), so a stored
value and its entity are committed together or not at all.

* ``indicator_values``: one row per (tenant, indicator, period, calculator, version). Saving a
  value of the same version replaces that row (a recomputation); a new version inserts its own.
* ``indicator_reported``: append-only; the newest row of an indicator and period is in force.
* ``indicator_targets``: one per (tenant, indicator).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from qala.hub import Statement, Tables
from qala.indicators.assessment import ReportedAnswer
from qala.indicators.compare import Target
from qala.indicators.period import Period
from qala.indicators.values import (
    DEFAULT_COVERAGE_THRESHOLD,
    MeasuredValue,
    NotComputable,
    Provenance,
    Quality,
    ReportedValue,
    Result,
)


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def from_us(value: int) -> datetime:
    seconds, micros = divmod(int(value), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class StoredValue:
    """One stored computation of one indicator: what the API and the CLI show."""

    tenant: str
    indicator: str
    period: str
    calculator: str
    version: str
    kind: str
    value: float | None
    unit: str
    flagged: bool
    reason: str | None
    provenance: dict[str, Any]
    quality: dict[str, Any] | None
    fingerprint: str
    computed_at: datetime
    computed_by: str

    def to_dict(self, zone: str = "Asia/Almaty") -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "indicator": self.indicator,
            "tenant": self.tenant,
            "period": Period.parse(self.period, zone).to_dict(),
            "calculator": {"name": self.calculator, "version": self.version},
            "value": self.value,
            "unit": self.unit,
            "flagged": self.flagged,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        out["provenance"] = self.provenance
        out["quality"] = self.quality
        out["inputsFingerprint"] = self.fingerprint
        out["computedAt"] = self.computed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out["computedBy"] = self.computed_by
        return out

    def as_result(self, zone: str = "Asia/Almaty") -> Result:
        """The value as the core's comparison, gaps and export take it."""
        period = Period.parse(self.period, zone)
        provenance = Provenance(
            query=self.provenance.get("query", ""),
            entities=tuple(self.provenance.get("entities", ())),
            observations=int(self.provenance.get("observations", 0)),
        )
        quality = None
        if self.quality is not None:
            quality = Quality(
                coverage=self.quality.get("coverage"),
                threshold=self.quality.get("coverageThreshold", DEFAULT_COVERAGE_THRESHOLD),
                notes=tuple(self.quality.get("notes", ())),
            )
        if self.kind == "measured" and self.value is not None:
            return MeasuredValue(
                indicator_ids=(self.indicator,),
                tenant=self.tenant,
                period=period,
                calculator=self.calculator,
                version=self.version,
                value=self.value,
                unit=self.unit,
                provenance=provenance,
                quality=quality or Quality(coverage=None),
                computed_at=self.computed_at,
            )
        return NotComputable(
            indicator_ids=(self.indicator,),
            tenant=self.tenant,
            period=period,
            calculator=self.calculator,
            version=self.version,
            reason=self.reason or "not computable",
            provenance=provenance,
            computed_at=self.computed_at,
            quality=quality,
        )


_VALUE_COLUMNS = (
    "tenant, indicator, period, calculator, version, kind, value, unit, flagged, reason, "
    "provenance, quality, fingerprint, computed_at, computed_by"
)


def _stored(row: tuple[Any, ...]) -> StoredValue:
    return StoredValue(
        tenant=row[0],
        indicator=row[1],
        period=row[2],
        calculator=row[3],
        version=row[4],
        kind=row[5],
        value=row[6],
        unit=row[7],
        flagged=bool(row[8]),
        reason=row[9],
        provenance=orjson.loads(row[10]),
        quality=orjson.loads(row[11]) if row[11] is not None else None,
        fingerprint=row[12],
        computed_at=from_us(row[13]),
        computed_by=row[14],
    )


def save_statements(result: Result, fingerprint: str, computed_by: str) -> list[Statement]:
    """Statements storing ``result`` under each indicator id it answers: the row of its
    (tenant, indicator, period, calculator, version) is replaced, other versions are kept."""
    data = result.to_dict()
    statements: list[Statement] = []
    for indicator in result.indicator_ids:
        key = (result.tenant, indicator, result.period.label, result.calculator, result.version)
        statements.append(
            (
                "DELETE FROM indicator_values WHERE tenant = $1 AND indicator = $2 "
                "AND period = $3 AND calculator = $4 AND version = $5",
                key,
            )
        )
        statements.append(
            (
                f"INSERT INTO indicator_values ({_VALUE_COLUMNS}) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                (
                    *key,
                    result.kind,
                    result.value,
                    data.get("unit", ""),
                    1 if data.get("flagged") else 0,
                    data.get("reason"),
                    _json(data["provenance"]),
                    _json(data["quality"]) if data.get("quality") is not None else None,
                    fingerprint,
                    to_us(result.computed_at),
                    computed_by,
                ),
            )
        )
    return statements


class IndicatorRepository:
    """Reads and writes of the indicators' tables."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    # -- computed values ------------------------------------------------------------------
    async def fingerprint(
        self, tenant: str, calculator: str, version: str, period: str
    ) -> str | None:
        """The inputs fingerprint of the stored value of this calculator version, if any."""
        rows = await self.tables.fetch(
            "SELECT fingerprint FROM indicator_values WHERE tenant = $1 AND calculator = $2 "
            "AND version = $3 AND period = $4 ORDER BY computed_at DESC LIMIT 1",
            tenant,
            calculator,
            version,
            period,
        )
        return rows[0][0] if rows else None

    async def values(
        self,
        tenant: str | None = None,
        indicator: str | None = None,
        period: str | None = None,
        *,
        latest_only: bool = False,
        limit: int = 10_000,
        offset: int = 0,
    ) -> list[StoredValue]:
        """Stored values, by tenant, indicator and period, newest computation first within each
        (all versions, or only the newest computation of each indicator and period)."""
        where, args = [], []
        for column, wanted in (("tenant", tenant), ("indicator", indicator), ("period", period)):
            if wanted is not None:
                args.append(wanted)
                where.append(f"{column} = ${len(args)}")
        sql = f"SELECT {_VALUE_COLUMNS} FROM indicator_values"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY tenant, indicator, period, computed_at DESC, version DESC"
        found = [_stored(r) for r in await self.tables.fetch(sql, *args)]
        if latest_only:
            seen: set[tuple[str, str, str]] = set()
            newest = []
            for value in found:
                key = (value.tenant, value.indicator, value.period)
                if key not in seen:
                    seen.add(key)
                    newest.append(value)
            found = newest
        return found[offset : offset + limit]

    async def tenants(self) -> list[str]:
        """The cities that have computed values."""
        rows = await self.tables.fetch("SELECT DISTINCT tenant FROM indicator_values")
        return sorted(r[0] for r in rows)

    # -- reported values ------------------------------------------------------------------
    async def add_reported(self, value: ReportedValue) -> None:
        await self.tables.execute(
            [
                (
                    "INSERT INTO indicator_reported (tenant, indicator, period, value, unit, "
                    "source, source_date, entered_by, entered_at, note) VALUES "
                    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    (
                        value.tenant,
                        value.indicator_id,
                        value.period.label,
                        value.value,
                        value.unit,
                        value.source,
                        value.source_date.isoformat(),
                        value.entered_by,
                        to_us(value.entered_at),
                        value.note,
                    ),
                )
            ]
        )

    async def reported(
        self,
        tenant: str | None = None,
        indicator: str | None = None,
        period: str | None = None,
        zone: str = "Asia/Almaty",
    ) -> list[ReportedValue]:
        """The reported values in force (the newest of each indicator and period)."""
        where, args = [], []
        for column, wanted in (("tenant", tenant), ("indicator", indicator), ("period", period)):
            if wanted is not None:
                args.append(wanted)
                where.append(f"{column} = ${len(args)}")
        sql = (
            "SELECT tenant, indicator, period, value, unit, source, source_date, entered_by, "
            "entered_at, note FROM indicator_reported"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY tenant, indicator, period, id DESC"
        out: list[ReportedValue] = []
        seen: set[tuple[str, str, str]] = set()
        for row in await self.tables.fetch(sql, *args):
            key = (row[0], row[1], row[2])
            if key in seen:
                continue
            seen.add(key)
            out.append(
                ReportedValue(
                    indicator_id=row[1],
                    tenant=row[0],
                    period=Period.parse(row[2], zone),
                    value=row[3],
                    unit=row[4],
                    source=row[5],
                    source_date=date.fromisoformat(row[6]),
                    entered_by=row[7],
                    entered_at=from_us(row[8]),
                    note=row[9],
                )
            )
        return out

    # -- assessment answers ---------------------------------------------------------------
    async def add_answer(self, tenant: str, methodology: str, answer: ReportedAnswer) -> None:
        await self.tables.execute(
            [
                (
                    "INSERT INTO indicator_assessment_answers (tenant, methodology, requirement, "
                    "met, source, source_date, entered_by, entered_at, note) VALUES "
                    "($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    (
                        tenant, methodology, answer.requirement_id, int(answer.met),
                        answer.source, answer.source_date.isoformat(), answer.entered_by,
                        to_us(answer.entered_at or datetime.now(UTC)), answer.note,
                    ),
                )
            ]
        )  # fmt: skip

    async def answers(
        self, tenant: str, methodology: str, as_of: date | None = None
    ) -> dict[str, ReportedAnswer]:
        """The answer in force per requirement: the newest entered whose source is dated on or
        before ``as_of`` (every answer when None)."""
        rows = await self.tables.fetch(
            "SELECT requirement, met, source, source_date, entered_by, entered_at, note "
            "FROM indicator_assessment_answers WHERE tenant = $1 AND methodology = $2 "
            "ORDER BY requirement, id DESC",
            tenant, methodology,
        )  # fmt: skip
        out: dict[str, ReportedAnswer] = {}
        for requirement, met, source, source_date, by, at, note in rows:
            day = date.fromisoformat(source_date)
            if requirement in out or (as_of is not None and day > as_of):
                continue
            out[requirement] = ReportedAnswer(
                requirement, bool(met), source, day, by, from_us(at), note
            )
        return out

    # -- targets --------------------------------------------------------------------------
    async def set_target(self, target: Target, set_by: str, at: datetime, note: str = "") -> None:
        await self.tables.execute(
            [
                (
                    "DELETE FROM indicator_targets WHERE tenant = $1 AND indicator = $2",
                    (target.tenant, target.indicator_id),
                ),
                (
                    "INSERT INTO indicator_targets (tenant, indicator, value, due, baseline, "
                    "note, set_by, set_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    (
                        target.tenant,
                        target.indicator_id,
                        target.value,
                        target.by.isoformat(),
                        target.baseline,
                        note,
                        set_by,
                        to_us(at),
                    ),
                ),
            ]
        )

    async def targets(self, tenant: str | None = None) -> list[tuple[Target, dict[str, Any]]]:
        """Targets (of one city), each with who set it, when and its note."""
        sql = (
            "SELECT tenant, indicator, value, due, baseline, note, set_by, set_at "
            "FROM indicator_targets"
        )
        args: list[Any] = []
        if tenant is not None:
            sql += " WHERE tenant = $1"
            args.append(tenant)
        sql += " ORDER BY tenant, indicator"
        out = []
        for row in await self.tables.fetch(sql, *args):
            target = Target(
                tenant=row[0],
                indicator_id=row[1],
                value=row[2],
                by=date.fromisoformat(row[3]),
                baseline=row[4],
            )
            meta = {
                "note": row[5],
                "setBy": row[6],
                "setAt": from_us(row[7]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            out.append((target, meta))
        return out
