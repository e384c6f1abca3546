"""How temporal evolutions are written out: the normalized representation (instances), the
simplified one (``temporalValues``) and the aggregated one (``aggregatedValues``), as ETSI GS
CIM 009 v1.8 4.5.8–4.5.9 and 4.5.19 give them (see docs/temporal.md). The query they answer
is built and run by :mod:`qala.temporal.evolution`.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from qala.hub import us_to_iso
from qala.jsonld.compiled import CompiledContext
from qala.temporal import schema
from qala.temporal.history import (
    Aggregate,
    Buckets,
    EntityInfo,
    Row,
    Series,
    Window,
    method_value,
)

if TYPE_CHECKING:
    from qala.temporal.evolution import TemporalQuery

_SIMPLIFIED_MEMBER = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "JsonProperty": "jsons",
    "VocabProperty": "vocabs",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
}
#: In temporalValues, the value of these kinds is wrapped in its member
#: (``[{"languageMap": {…}}, t]``), as ETSI's TPs 020_12_02, 020_15_02 and 020_16_02 read GS CIM
#: 009 4.5.9; other kinds' values are given bare (``[21.5, t]``, ``["urn:…", t]``).
_WRAPPED = {"LanguageProperty": "languageMap", "JsonProperty": "json", "VocabProperty": "vocab"}
def _entity_head(
    info: EntityInfo, ctx: CompiledContext, sys_attrs: bool, members: frozenset[str] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if members is None or "id" in members:
        out["id"] = info.id
    if members is None or "type" in members:
        types = [ctx.compact(t) for t in info.types]
        out["type"] = types[0] if len(types) == 1 else types
    if sys_attrs:
        out["createdAt"] = us_to_iso(info.created_at)
    if info.deleted_at is not None:
        out["deletedAt"] = us_to_iso(info.deleted_at)
    return out


def _compact_doc(doc: dict[str, Any], ctx: CompiledContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if ":" in key and isinstance(value, dict):
            out[ctx.compact(key)] = _compact_doc(value, ctx)
        elif key == "objectType" and isinstance(value, str):
            out[key] = ctx.compact(value)
        else:
            out[key] = value
    return out


def _value(row: Row, kind: str, ctx: CompiledContext) -> Any:
    if row.k & schema.DELETED:
        return schema.NULL
    value = schema.decode_value(row.k, row.num, row.val)
    if kind == "VocabProperty":
        if isinstance(value, list):
            return [ctx.compact(v) if isinstance(v, str) else v for v in value]
        if isinstance(value, str):
            return ctx.compact(value)
    return value


def instance_body(
    row: Row, series: Series, ctx: CompiledContext, sys_attrs: bool
) -> dict[str, Any]:
    import orjson

    kind = schema.kind_of(row.k)
    out: dict[str, Any] = {"type": kind, schema.VALUE_MEMBER[kind]: _value(row, kind, ctx)}
    if row.k & schema.DELETED:
        out["deletedAt"] = us_to_iso(row.ts)
    elif row.k & schema.OBSERVED:
        out["observedAt"] = us_to_iso(row.ts)
    if row.doc is not None and not row.k & schema.DELETED:
        out.update(_compact_doc(orjson.loads(row.doc), ctx))
    if series.dataset_id is not None:
        out["datasetId"] = series.dataset_id
    if row.hourly:
        out["instanceId"] = f"{schema.HOURLY_PREFIX}{row.sid & 0xFFFFFFFFFFFFFFFF:016x}:{row.ts}"
    else:
        out["instanceId"] = schema.instance_uri(row.iid)
    if sys_attrs:
        out["createdAt"] = us_to_iso(row.created_at)
        out["modifiedAt"] = us_to_iso(row.modified_at or row.created_at)
    return out


def _by_attr(series: list[Series]) -> dict[str, list[Series]]:
    """An entity's series by attribute (several for an attribute with datasetIds)."""
    by_attr: dict[str, list[Series]] = {}
    for s in series:
        by_attr.setdefault(s.attr, []).append(s)
    return by_attr


def render_instances(
    info: EntityInfo,
    series: list[Series],
    rows: dict[int, list[Row]],
    query: TemporalQuery,
    ctx: CompiledContext,
    cut: dict[int, str] | None = None,
) -> dict[str, Any]:
    """``cut``: series whose instances in the window a 206 page left out entirely; their
    attributes are given empty, so that the client sees they continue in the next page (the
    values: the series' kind)."""
    cut = cut or {}
    out = _entity_head(info, ctx, query.sys_attrs, query.members)
    names = ctx.for_types(info.types)
    for attr, attr_series in _by_attr(series).items():
        if query.representation == "temporalValues":
            parts = []
            for s in attr_series:
                series_rows = rows.get(s.sid, [])
                if not series_rows:
                    if s.sid in cut:
                        parts.append({"type": cut[s.sid], _SIMPLIFIED_MEMBER[cut[s.sid]]: []})
                    continue
                kind = schema.kind_of(series_rows[-1].k)
                pairs = []
                for r in series_rows:
                    row_kind = schema.kind_of(r.k)
                    value = _value(r, row_kind, ctx)
                    if row_kind in _WRAPPED and not r.k & schema.DELETED:
                        value = {_WRAPPED[row_kind]: value}
                    pairs.append([value, us_to_iso(r.time(query.prop))])
                part: dict[str, Any] = {"type": kind, _SIMPLIFIED_MEMBER[kind]: pairs}
                if s.dataset_id is not None:
                    part["datasetId"] = s.dataset_id
                parts.append(part)
            if parts:
                out[names.compact(attr)] = parts[0] if len(parts) == 1 else parts
            continue
        instances = [
            instance_body(r, s, ctx, query.sys_attrs)
            for s in attr_series
            for r in rows.get(s.sid, [])
        ]
        if instances or any(s.sid in cut for s in attr_series):
            out[names.compact(attr)] = instances
    return out




class Bounds:
    """Start and end (ISO) of each bucket, computed once per query."""

    def __init__(self, buckets: Buckets, window: Window, layout: dict[str, int]) -> None:
        self.buckets = buckets
        self.window = window
        self.layout = layout
        self.starts: dict[int, str] = {}
        self.ends: dict[int, str] = {}
        self.whole = buckets.period is None and buckets.bounds is None

    def columns(self, rows: list[Aggregate]) -> tuple[list[str], list[str]]:
        """The start and end (ISO) of each row's bucket."""
        if self.whole:
            window = self.window
            first, last = self.layout["first"], self.layout["last"]
            starts, ends = [], []
            for agg in rows:
                start = window.start if window.start is not None else agg[first] or 0
                end = window.end if window.end is not None else agg[last] or start
                starts.append(us_to_iso(start))
                ends.append(us_to_iso(end))
            return starts, ends
        keys = list(map(itemgetter(1), rows))
        for b in set(keys) - self.starts.keys():
            self.starts[b], self.ends[b] = self._span(b)
        return list(map(self.starts.__getitem__, keys)), list(map(self.ends.__getitem__, keys))

    def _span(self, b: int) -> tuple[str, str]:
        buckets = self.buckets
        if buckets.period is not None:
            start = buckets.origin + b * buckets.period
            end = start + buckets.period
        else:
            assert buckets.bounds is not None
            start = buckets.bounds[b]
            end = buckets.bounds[min(b + 1, len(buckets.bounds) - 1)]
        return us_to_iso(start), us_to_iso(end)


def render_aggregated(
    info: EntityInfo,
    series: list[Series],
    aggregates: dict[int, list[Aggregate]],
    bounds: Bounds,
    kinds: dict[int, int],
    query: TemporalQuery,
    ctx: CompiledContext,
) -> dict[str, Any]:
    values = {m: method_value(m, bounds.layout) for m in query.methods}
    out = _entity_head(info, ctx, query.sys_attrs, query.members)
    names = ctx.for_types(info.types)
    for attr, attr_series in _by_attr(series).items():
        parts = []
        for s in attr_series:
            rows = aggregates.get(s.sid)
            if not rows:
                continue
            starts, ends = bounds.columns(rows)
            part: dict[str, Any] = {"type": schema.kind_of(kinds.get(s.sid, 0))}
            for method, value in values.items():
                # [value, start, end] triples (tuples serialise as JSON arrays)
                part[method] = list(zip(map(value, rows), starts, ends, strict=True))
            if s.dataset_id is not None:
                part["datasetId"] = s.dataset_id
            parts.append(part)
        if parts:
            out[names.compact(attr)] = parts[0] if len(parts) == 1 else parts
    return out
