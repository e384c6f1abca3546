"""Reading the history: entities, series, instances and aggregates, in SQL on both backends."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, Literal

import orjson

from qala.hub import Tables
from qala.temporal import schema
from qala.temporal.schema import DELETED, HOUR_US

TimeProperty = Literal["observedAt", "createdAt", "modifiedAt"]
_CHUNK = 400

#: The SQL time column for each ``timeproperty``.
TIME_COLUMN: dict[str, str] = {
    "observedAt": "ts",
    "createdAt": "created_at",
    "modifiedAt": "COALESCE(modified_at, created_at)",
}


@dataclass(slots=True)
class EntityInfo:
    """What the history knows of an entity: its latest types, creation and deletion."""

    id: str
    types: list[str]
    created_at: int
    deleted_at: int | None = None


@dataclass(slots=True)
class Series:
    sid: int
    entity_id: str
    attr: str
    dataset_id: str | None


@dataclass(slots=True)
class Row:
    """One instance as stored (or synthesised from an hourly aggregate)."""

    sid: int
    ts: int
    iid: int
    k: int
    num: float | None
    val: str | None
    doc: str | None
    created_at: int
    modified_at: int | None
    hourly: bool = False

    def time(self, prop: str) -> int:
        if prop == "createdAt":
            return self.created_at
        if prop == "modifiedAt":
            return self.modified_at or self.created_at
        return self.ts


@dataclass(slots=True)
class Window:
    """A time window on a time property: ``start <= t < end`` (either side open when None).

    ``after``: ``t > start`` rather than ``>=`` (``timerel=after``).
    """

    start: int | None = None
    end: int | None = None
    start_exclusive: bool = False

    def sql(self, column: str, args: list[Any]) -> str:
        parts = []
        if self.start is not None:
            args.append(self.start)
            parts.append(f"{column} {'>' if self.start_exclusive else '>='} ${len(args)}")
            if column == "ts":  # the hour leads the index: bound it too
                parts.append(f"h >= {self.start // HOUR_US}")
        if self.end is not None:
            args.append(self.end)
            parts.append(f"{column} < ${len(args)}")
            if column == "ts":
                parts.append(f"h <= {(self.end - 1) // HOUR_US}")
        return " AND ".join(parts) if parts else "1 = 1"


@dataclass(slots=True)
class Buckets:
    """How instances are grouped for aggregation.

    ``period`` (µs) with ``origin``: fixed-length buckets ``origin + i × period``;
    ``bounds``: explicit ascending boundaries (calendar periods); neither: one bucket.
    """

    origin: int = 0
    period: int | None = None
    bounds: list[int] | None = None

    def sql(self, column: str, args: list[Any]) -> str:
        if self.period is not None:
            args.append(self.origin)
            args.append(self.period)
            return f"(({column} - ${len(args) - 1}) / ${len(args)})"
        if self.bounds is not None:
            cases = []
            for index, bound in enumerate(self.bounds[1:]):
                args.append(bound)
                cases.append(f"WHEN {column} < ${len(args)} THEN {index}")
            return f"(CASE {' '.join(cases)} ELSE {len(self.bounds) - 1} END)"
        return "0"

    def of(self, t: int) -> int:
        if self.period is not None:
            return (t - self.origin) // self.period
        if self.bounds is not None:
            for index, bound in enumerate(self.bounds[1:]):
                if t < bound:
                    return index
            return len(self.bounds) - 1
        return 0


#: One bucket of one series: ``(sid, bucket, *parts)``, the parts in a query's layout. The full
#: layout is (n, nnum, sum, sumsq, min, max, distinct, first, last, avg, partial): ``n`` counts
#: instances, ``nnum`` numeric ones; ``first``/``last`` are the times of the first and last
#: instance; ``avg`` comes from SQL when nothing needs merging; ``partial``: part of it comes
#: from hourly rollups (so the distinct count is unknown). Plain tuples: a year of hourly
#: buckets of a hundred sensors is close to a million of them.
Aggregate = tuple[Any, ...]
N, NNUM, SUM, SUMSQ, MIN, MAX, DISTINCT, FIRST, LAST, AVG, PARTIAL = range(11)
FULL_LAYOUT = (
    "n",
    "nnum",
    "sum",
    "sumsq",
    "min",
    "max",
    "distinct",
    "first",
    "last",
    "avg",
    "partial",
)
_SQL_PARTS = FULL_LAYOUT[:10]


def merge(a: Aggregate, b: Aggregate) -> Aggregate:
    """Two full-layout bucket tuples ``(sid, b, *parts)`` of the same bucket, added up."""
    o = 2
    return (
        a[0],
        a[1],
        (a[o + N] or 0) + (b[o + N] or 0),
        (a[o + NNUM] or 0) + (b[o + NNUM] or 0),
        _add(a[o + SUM], b[o + SUM]),
        _add(a[o + SUMSQ], b[o + SUMSQ]),
        _lo(a[o + MIN], b[o + MIN]),
        _hi(a[o + MAX], b[o + MAX]),
        None,
        _lo(a[o + FIRST], b[o + FIRST]),
        _hi(a[o + LAST], b[o + LAST]),
        None,
        True,
    )


def _add(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _lo(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _hi(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _marks(values: Sequence[Any], args: list[Any]) -> str:
    out = []
    for value in values:
        args.append(value)
        out.append(f"${len(args)}")
    return ", ".join(out)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_SQL_OF = {
    "n": "count(*)",
    "nnum": "count(num)",
    "sum": "sum(num)",
    "sumsq": "sum(num * num)",
    "min": "min(num)",
    "max": "max(num)",
    "distinct": "count(DISTINCT num) + count(DISTINCT val)",
    "first": "min({t})",
    "last": "max({t})",
    "avg": "avg(num)",
}
#: Per hour (inner) and per period from the hours (outer), for periods of several hours.
_HOUR_INNER = {
    "n": "count(*) AS n_",
    "nnum": "count(num) AS nn_",
    "sum": "sum(num) AS s_",
    "sumsq": "sum(num * num) AS sq_",
    "min": "min(num) AS mn_",
    "max": "max(num) AS mx_",
    "first": "min({t}) AS f_",
    "last": "max({t}) AS l_",
}
_HOUR_OUTER = {
    "n": "CAST(sum(n_) AS BIGINT)",
    "nnum": "CAST(sum(nn_) AS BIGINT)",
    "sum": "sum(s_)",
    "sumsq": "sum(sq_)",
    "min": "min(mn_)",
    "max": "max(mx_)",
    "first": "min(f_)",
    "last": "max(l_)",
    "avg": "sum(s_) / CAST(NULLIF(sum(nn_), 0) AS DOUBLE PRECISION)",
}


def _hour_parts(parts: list[str | None], column: str) -> tuple[list[str], list[str]]:
    """Inner (per hour) and outer (per period) columns for ``parts`` (no distinct count)."""
    wanted = {p for p in parts if p is not None}
    if "avg" in wanted:
        wanted |= {"sum", "nnum"}
    inner = [_HOUR_INNER[p].replace("{t}", column) for p in _HOUR_INNER if p in wanted]
    outer = [_HOUR_OUTER[p] if p is not None else "NULL" for p in parts]
    return inner, outer


@dataclass(slots=True)
class History:
    store: Tables

    # -- catalogue ---------------------------------------------------------------------------

    async def entities(self, tenant_id: int, ids: Sequence[str] | None = None) -> list[EntityInfo]:
        """Entities with a history in the tenant (all, or those of ``ids``), by id."""
        found: dict[str, EntityInfo] = {}
        batches: Iterable[Sequence[str] | None] = _chunks(list(ids)) if ids is not None else [None]
        for chunk in batches:
            args: list[Any] = [tenant_id]
            cond = ""
            if chunk is not None:
                cond = f" AND entity_id IN ({_marks(chunk, args)})"
            rows = await self.store.fetch(
                "SELECT entity_id, at, types, deleted FROM temporal_entities "
                f"WHERE tenant_id = $1{cond} ORDER BY entity_id, at",
                *args,
            )
            for entity_id, at, types, deleted in rows:
                info = found.get(entity_id)
                if info is None:
                    info = found[entity_id] = EntityInfo(entity_id, [], at)
                if deleted:
                    info.deleted_at = at
                else:
                    if info.deleted_at is not None:  # re-created after a deletion
                        info.deleted_at = None
                    if types is not None:
                        info.types = orjson.loads(types)
        return sorted(found.values(), key=lambda e: e.id)

    async def entity(self, tenant_id: int, entity_id: str) -> EntityInfo | None:
        found = await self.entities(tenant_id, [entity_id])
        return found[0] if found else None

    async def series(
        self, tenant_id: int, entity_ids: Sequence[str], attrs: Sequence[str] | None = None
    ) -> list[Series]:
        out: dict[int, Series] = {}
        for chunk in _chunks(list(entity_ids)):
            args: list[Any] = [tenant_id]
            cond = f"entity_id IN ({_marks(chunk, args)})"
            if attrs is not None:
                cond += f" AND attr IN ({_marks(attrs, args)})"
            rows = await self.store.fetch(
                "SELECT DISTINCT sid, entity_id, attr, dataset_id FROM temporal_series "
                f"WHERE tenant_id = $1 AND {cond}",
                *args,
            )
            for sid, entity_id, attr, dataset_id in rows:
                out[sid] = Series(sid, entity_id, attr, dataset_id)
        return sorted(
            out.values(),
            key=lambda s: (s.entity_id, s.attr, s.dataset_id is not None, s.dataset_id or ""),
        )

    async def entities_with_attrs(self, tenant_id: int, attrs: Sequence[str]) -> set[str]:
        args: list[Any] = [tenant_id]
        rows = await self.store.fetch(
            "SELECT DISTINCT entity_id FROM temporal_series "
            f"WHERE tenant_id = $1 AND attr IN ({_marks(attrs, args)})",
            *args,
        )
        return {r[0] for r in rows}

    # -- instances ---------------------------------------------------------------------------

    async def instances(
        self,
        sids: Sequence[int],
        window: Window,
        prop: str,
        limit: int,
        *,
        newest: bool = False,
        hourly: bool = True,
    ) -> dict[int, list[Row]]:
        """Up to ``limit`` instances of each series in ``window``, oldest first (or the newest
        ``limit`` ones with ``newest``), returned in chronological order."""
        column = TIME_COLUMN[prop]
        order = "DESC" if newest else "ASC"
        keys = ["h", "ts", "iid"] if column == "ts" else [column, "iid"]  # the index's order
        sort = ", ".join(f"{key} {order}" for key in keys)
        out: dict[int, list[Row]] = {sid: [] for sid in sids}
        for chunk in _chunks(list(sids), 200):
            args: list[Any] = []
            parts = []
            for index, sid in enumerate(chunk):
                args.append(sid)
                mark = f"${len(args)}"
                cond = window.sql(column, args)
                args.append(limit)
                parts.append(
                    "SELECT * FROM (SELECT sid, ts, iid, k, num, val, doc, created_at, "
                    f"modified_at FROM temporal_instances WHERE sid = {mark} AND {cond} "
                    f"ORDER BY {sort} LIMIT ${len(args)}) AS q{index}"
                )
            for r in await self.store.fetch(" UNION ALL ".join(parts), *args):
                out[r[0]].append(Row(*r))
        if hourly and prop == "observedAt":
            for sid, rows in (await self._hourly_instances(sids, window, limit, newest)).items():
                if rows:
                    out[sid].extend(rows)
        for rows in out.values():
            rows.sort(key=lambda row: (row.time(prop), row.iid), reverse=newest)
            del rows[limit:]
            if newest:
                rows.reverse()
        return out

    async def _hourly_instances(
        self, sids: Sequence[int], window: Window, limit: int, newest: bool
    ) -> dict[int, list[Row]]:
        out: dict[int, list[Row]] = {}
        order = "DESC" if newest else "ASC"
        for chunk in _chunks(list(sids), 200):
            args: list[Any] = []
            parts = []
            for index, sid in enumerate(chunk):
                args.append(sid)
                mark = f"${len(args)}"
                cond = window.sql("hour", args)
                args.append(limit)
                parts.append(
                    "SELECT * FROM (SELECT sid, hour, sum, nnum FROM temporal_hourly "
                    f"WHERE sid = {mark} AND nnum > 0 AND {cond} ORDER BY hour {order} "
                    f"LIMIT ${len(args)}) AS h{index}"
                )
            for sid, hour, total, nnum in await self.store.fetch(" UNION ALL ".join(parts), *args):
                out.setdefault(sid, []).append(
                    Row(
                        sid, hour, hour, schema.OBSERVED, total / nnum, None, None, hour, None, True
                    )
                )
        return out

    async def find_instance(self, sids: Sequence[int], iid: int) -> Row | None:
        if not sids:
            return None
        args: list[Any] = []
        marks = _marks(sids, args)
        args.append(iid)
        rows = await self.store.fetch(
            "SELECT sid, ts, iid, k, num, val, doc, created_at, modified_at "
            f"FROM temporal_instances WHERE sid IN ({marks}) AND iid = ${len(args)}",
            *args,
        )
        return Row(*rows[0]) if rows else None

    async def has_instances(self, sids: Sequence[int]) -> bool:
        if not sids:
            return False
        args: list[Any] = []
        marks = _marks(sids, args)
        rows = await self.store.fetch(
            f"SELECT 1 FROM temporal_instances WHERE sid IN ({marks}) LIMIT 1", *args
        )
        return bool(rows)

    # -- aggregation -------------------------------------------------------------------------

    async def aggregate(
        self,
        sids: Sequence[int],
        window: Window,
        prop: str,
        buckets: Buckets,
        *,
        needs: frozenset[str],
        hourly: bool = True,
    ) -> tuple[dict[int, list[Aggregate]], dict[str, int]]:
        """Per series and bucket: counts, sums, sums of squares, extremes, means — in SQL.

        ``needs``: the parts to compute (n, nnum, sum, sumsq, min, max, distinct, first, last,
        avg). Without hourly rollups in the window only those are selected (the driver decodes
        nothing more) and the layout maps each to its position in the tuples; with rollups
        every tuple has the full layout (:data:`FULL_LAYOUT`) and they are merged.
        """
        column = TIME_COLUMN[prop]
        rolled: list[tuple[Any, ...]] = []
        if hourly and prop == "observedAt":
            for chunk in _chunks(list(sids)):
                args: list[Any] = []
                marks = _marks(chunk, args)
                cond = window.sql("hour", args)
                bucket = buckets.sql("hour", args)
                rolled.extend(
                    await self.store.fetch(
                        f"SELECT sid, {bucket} AS b, sum(n), sum(nnum), sum(sum), sum(sumsq), "
                        f"min(min), max(max), min(hour), max(hour) FROM temporal_hourly "
                        f"WHERE sid IN ({marks}) AND {cond} GROUP BY sid, b",
                        *args,
                    )
                )
        if rolled:
            # Merging needs the mergeable parts, in the full layout.
            if "avg" in needs:
                needs = needs | {"nnum", "sum"}
            parts: list[str | None] = [
                part if part in needs and part != "avg" else None for part in FULL_LAYOUT[:9]
            ]
            layout = {name: index + 2 for index, name in enumerate(FULL_LAYOUT)}
        else:
            parts = [part for part in _SQL_PARTS if part in needs]
            layout = {name: index + 2 for index, name in enumerate(parts)}
        hourly_groups = (
            prop == "observedAt"
            and buckets.period is not None
            and buckets.period % HOUR_US == 0
            and buckets.origin % HOUR_US == 0
            and "distinct" not in needs
        )
        raw = [_SQL_OF[p].replace("{t}", column) if p is not None else "NULL" for p in parts]
        inner: list[str] = []
        if hourly_groups and buckets.period != HOUR_US:
            inner, raw = _hour_parts(parts, column)
        if rolled:
            raw += ["NULL", "0"]  # avg (from the merged sums), partial
        columns = "".join(f", {c}" for c in raw)
        out: dict[int, list[Aggregate]] = {}
        # One GROUP BY per series (a UNION ALL of them per statement): SQLite sorts many small
        # groupings much faster than one big one, and PostgreSQL scans each series in order.
        # Periods of whole hours from a whole hour group by the stored hour, in index order
        # (no sort), then add the hours up per period.
        for chunk in _chunks(list(sids), 100):
            args = []
            cond = window.sql(column, args)
            bucket = "" if hourly_groups else buckets.sql(column, args)
            selects = []
            for index, sid in enumerate(chunk):
                args.append(sid)
                where = f"WHERE sid = ${len(args)} AND {cond} AND (k & {DELETED}) = 0"
                if not hourly_groups:
                    body = (
                        f"SELECT sid, {bucket} AS b{columns} FROM temporal_instances {where} "
                        "GROUP BY sid, b ORDER BY b"
                    )
                elif buckets.period == HOUR_US:
                    body = (
                        f"SELECT sid, h - {buckets.origin // HOUR_US} AS b{columns} "
                        f"FROM temporal_instances {where} GROUP BY sid, h ORDER BY h"
                    )
                else:
                    hours = buckets.period // HOUR_US  # type: ignore[operator]
                    body = (
                        f"SELECT sid, (h - {buckets.origin // HOUR_US}) / {hours} AS b{columns} "
                        f"FROM (SELECT sid, h{''.join(f', {c}' for c in inner)} "
                        f"FROM temporal_instances {where} GROUP BY sid, h) AS i "
                        "GROUP BY sid, b ORDER BY b"
                    )
                selects.append(f"SELECT * FROM ({body}) AS g{index}")
            rows = await self.store.fetch(" UNION ALL ".join(selects), *args)
            # PostgreSQL may run the branches in parallel and interleave them.
            for sid, group in groupby(rows, key=itemgetter(0)):
                found = out.get(sid)
                if found is None:
                    out[sid] = list(group)
                else:
                    found.extend(group)
                    found.sort(key=itemgetter(1))
        if rolled:
            by_bucket: dict[int, dict[int, Aggregate]] = {
                sid: {row[1]: row for row in rows} for sid, rows in out.items()
            }
            for sid, b, n, nnum, total, sumsq, lo, hi, first, last in rolled:
                rollup = (
                    sid,
                    b,
                    int(n),
                    int(nnum),
                    total,
                    sumsq,
                    lo,
                    hi,
                    None,
                    first,
                    last + HOUR_US - 1,
                    None,
                    True,
                )
                found = by_bucket.setdefault(sid, {})
                current = found.get(b)
                found[b] = rollup if current is None else merge(current, rollup)
            out = {sid: [found[b] for b in sorted(found)] for sid, found in by_bucket.items()}
        return out, layout

    async def daily(
        self, sids: Sequence[int], window: Window, days: Buckets
    ) -> dict[int, list[tuple[int, float, int, int, int]]]:
        """Per series and day (``days``: the calendar days of a zone), the mean of the day's
        hourly means, in SQL: ``(day index, mean, hours with a mean, instances in those
        hours, the last such hour as epoch hours)``, days in order. An hour's mean is that of
        its numeric instances, raw ones and those of an hourly rollup together, as
        :meth:`aggregate` merges them; hours without a numeric value do not count."""
        out: dict[int, list[tuple[int, float, int, int, int]]] = {}
        for chunk in _chunks(list(sids)):
            args: list[Any] = []
            raw = _marks(chunk, args)
            raw_cond = window.sql("ts", args)
            rolled = _marks(chunk, args)
            rolled_cond = window.sql("hour", args)
            day = days.sql(f"(h * {HOUR_US})", args)
            rows = await self.store.fetch(
                "SELECT sid, b, avg(m), count(*), sum(n), max(h) FROM ("
                f"SELECT sid, h, {day} AS b, sum(s) / sum(c) AS m, sum(n) AS n FROM ("
                "SELECT sid, h, sum(num) AS s, count(num) AS c, count(*) AS n "
                f"FROM temporal_instances WHERE sid IN ({raw}) AND {raw_cond} "
                f"AND (k & {DELETED}) = 0 GROUP BY sid, h "
                f"UNION ALL SELECT sid, hour / {HOUR_US} AS h, sum, nnum, n FROM temporal_hourly "
                f"WHERE sid IN ({rolled}) AND {rolled_cond}"
                ") AS u GROUP BY sid, h HAVING sum(c) > 0"
                ") AS d GROUP BY sid, b ORDER BY sid, b",
                *args,
            )
            for sid, group in groupby(rows, key=itemgetter(0)):
                out[sid] = [
                    (int(b), float(mean), int(hours), int(n), int(last))
                    for _, b, mean, hours, n, last in group
                ]
        return out

    async def counts(self, sids: Sequence[int], window: Window) -> dict[int, int]:
        """Per series, the number of instances observed in ``window`` (numeric or not): the
        raw instances and the hourly rollups kept beyond retention, as :meth:`aggregate`
        counts them with ``needs={"n"}`` over one bucket — without a bucket per row."""
        found: dict[int, int] = {}
        for chunk in _chunks(list(sids)):
            args: list[Any] = []
            marks = _marks(chunk, args)
            cond = window.sql("ts", args)
            for sid, n in await self.store.fetch(
                f"SELECT sid, count(*) FROM temporal_instances WHERE sid IN ({marks}) "
                f"AND {cond} AND (k & {DELETED}) = 0 GROUP BY sid",
                *args,
            ):
                found[sid] = int(n)
            args = []
            marks = _marks(chunk, args)
            cond = window.sql("hour", args)
            for sid, n in await self.store.fetch(
                f"SELECT sid, sum(n) FROM temporal_hourly WHERE sid IN ({marks}) AND {cond} "
                "GROUP BY sid",
                *args,
            ):
                found[sid] = found.get(sid, 0) + int(n)
        return found

    async def first_time(self, sids: Sequence[int], window: Window, prop: str) -> int | None:
        """The time (on ``prop``) of the earliest instance of any of ``sids`` in ``window``,
        deletions left out; None when there is none."""
        column = TIME_COLUMN[prop]
        found: list[int] = []
        for chunk in _chunks(list(sids)):
            args: list[Any] = []
            marks = _marks(chunk, args)
            cond = window.sql(column, args)
            rows = await self.store.fetch(
                f"SELECT min({column}) FROM temporal_instances WHERE sid IN ({marks}) "
                f"AND {cond} AND (k & {DELETED}) = 0",
                *args,
            )
            found.extend(int(r[0]) for r in rows if r[0] is not None)
            if prop == "observedAt":
                args = []
                marks = _marks(chunk, args)
                cond = window.sql("hour", args)
                rows = await self.store.fetch(
                    f"SELECT min(hour) FROM temporal_hourly WHERE sid IN ({marks}) AND {cond}",
                    *args,
                )
                found.extend(int(r[0]) for r in rows if r[0] is not None)
        return min(found) if found else None

    async def kinds(self, sids: Sequence[int]) -> dict[int, int]:
        """The attribute type code of each series (from one of its instances)."""
        found: dict[int, int] = {}
        for chunk in _chunks(list(sids), 200):
            args: list[Any] = []
            parts = []
            for index, sid in enumerate(chunk):
                args.append(sid)
                parts.append(
                    f"SELECT * FROM (SELECT sid, k FROM temporal_instances "
                    f"WHERE sid = ${len(args)} LIMIT 1) AS k{index}"
                )
            for sid, k in await self.store.fetch(" UNION ALL ".join(parts), *args):
                found[sid] = k & schema.KIND_MASK
        return found


# -- reading aggregates ------------------------------------------------------------------------


def _stddev(nnum: int | None, total: float | None, sumsq: float | None) -> float | None:
    if not nnum:
        return None
    if nnum < 2:
        return 0.0
    mean = (total or 0.0) / nnum
    variance = ((sumsq or 0.0) - nnum * mean * mean) / (nnum - 1)
    return math.sqrt(max(0.0, variance))


def method_value(method: str, layout: dict[str, int]) -> Callable[[Aggregate], Any]:
    """How to read ``method``'s value from a bucket's tuple in ``layout``."""
    index = layout.get
    if method == "totalCount":
        return itemgetter(layout["n"])
    if method == "distinctCount":
        d, partial = layout["distinct"], index("partial")
        if partial is None:
            return itemgetter(d)
        return lambda a: None if a[partial] else a[d]
    if method == "avg":
        avg = layout["avg"]
        if "partial" not in layout:
            return itemgetter(avg)
        nnum, total = layout["nnum"], layout["sum"]
        return lambda a: a[avg] if a[avg] is not None else a[total] / a[nnum] if a[nnum] else None
    if method == "stddev":
        nnum, total, sumsq = layout["nnum"], layout["sum"], layout["sumsq"]
        return lambda a: _stddev(a[nnum], a[total], a[sumsq])
    return itemgetter(layout[method])  # sum, min, max, sumsq: NULL without numeric values
