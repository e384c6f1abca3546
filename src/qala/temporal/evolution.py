"""The temporal evolution the NGSI-LD API asks for and returns: parameters -> entity selection ->
instances or aggregates -> representation.

Semantics (ETSI GS CIM 009 v1.8, clause 4.11 and 5.7.3/5.7.4; see docs/temporal.md):

* ``timerel=before``: t < timeAt; ``after``: t > timeAt; ``between``: timeAt <= t < endTimeAt;
  no ``timerel``: the whole history. ``timeproperty`` picks t: observedAt (default; an instance
  without observedAt sits at the time it was written), createdAt or modifiedAt.
* ``type``/``id``/``idPattern`` select among the entities the history knows (also deleted
  ones). ``q`` and geo-queries are evaluated on the history in the window (5.7.4.4): an entity
  matches if they held at some instant of it; ``scopeQ`` on the current scope.
* ``attrs`` limits the attributes (and the entities to those having one of them).
* ``lastN``: the last N instances of each attribute (of each datasetId) in the window.
* Entities are paged with ``limit``/``offset`` (Link headers, ``NGSILD-Results-Count`` with
  ``count=true``); instances per attribute are capped at ``temporal_max_instances``: a cut
  response is ``206 Partial Content`` with ``Content-Range: date-time <from>-<to>/<size>``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from qala.hub import (
    BadRequestData,
    Entity,
    EntityQuery,
    InvalidRequest,
    NotFound,
    Selector,
    TooManyResults,
    iso_to_us,
)
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.params import (
    check_id_pattern,
    expand_attrs,
    flat_projection,
    names_context,
    paging,
    parse_type_expression,
    split_list,
)
from qala.ngsild.parse import check_entity_id
from qala.services import Services
from qala.temporal import schema
from qala.temporal.duration import Duration, InvalidDuration, add, parse_duration
from qala.temporal.history import (
    Buckets,
    EntityInfo,
    History,
    Row,
    Series,
    Window,
)
from qala.temporal.representation import Bounds, render_aggregated, render_instances

AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt")
TEMPORAL_OPTIONS = frozenset(
    {"temporalValues", "aggregatedValues", "sysAttrs", "normalized", "keyValues", "concise"}
)
#: Most buckets one aggregated query may produce per attribute (calendar periods).
MAX_BUCKETS = 100_000
_ALL = 10_000_000


@dataclass(slots=True)
class TemporalParams:
    """The raw parameters of a temporal query (GET query string or POST body)."""

    type: str | None = None
    id: str | None = None
    id_pattern: str | None = None
    attrs: str | None = None
    q: str | None = None
    scope_q: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None
    geo_json: Any = None
    timerel: str | None = None
    time_at: str | None = None
    end_time_at: str | None = None
    timeproperty: str | None = None
    last_n: Any = None
    aggr_methods: str | list[str] | None = None
    aggr_period: str | None = None
    options: set[str] = field(default_factory=set)
    format: str | None = None
    limit: int | None = None
    offset: int | None = None
    count: bool = False
    #: ``local=true``: every local entity may match (no other restriction needed).
    local: bool = False
    pick: str | None = None
    omit: str | None = None


@dataclass(slots=True)
class TemporalQuery:
    window: Window
    prop: str
    last_n: int | None
    attrs: list[str] | None
    representation: str  # normalized | temporalValues | aggregatedValues
    sys_attrs: bool
    methods: list[str]
    duration: Duration | None
    entity_query: EntityQuery
    limit: int
    offset: int
    count: bool
    #: ``omit``: attributes (expanded) left out; ``members``: the entity members kept (id,
    #: type, scope; None: all); ``no_attrs``: ``pick`` named entity members only.
    omit: frozenset[str] | None = None
    members: frozenset[str] | None = None
    no_attrs: bool = False


def _time(raw: str, name: str) -> int:
    try:
        return iso_to_us(raw)
    except ValueError as exc:
        raise BadRequestData(f"{name} {exc}") from None


def parse_window(timerel: str | None, time_at: str | None, end_time_at: str | None) -> Window:
    if timerel is None:
        if time_at is not None or end_time_at is not None:
            raise BadRequestData("timeAt and endTimeAt need timerel (before, after or between)")
        return Window()
    if timerel not in ("before", "after", "between"):
        raise BadRequestData(f"timerel {timerel!r} is not one of before, after, between")
    if time_at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    start = _time(time_at, "timeAt")
    if timerel == "before":
        if end_time_at is not None:
            raise BadRequestData("endTimeAt goes only with timerel=between")
        return Window(end=start)
    if timerel == "after":
        if end_time_at is not None:
            raise BadRequestData("endTimeAt goes only with timerel=between")
        return Window(start=start, start_exclusive=True)
    if end_time_at is None:
        raise BadRequestData("timerel=between needs endTimeAt")
    end = _time(end_time_at, "endTimeAt")
    if end <= start:
        raise BadRequestData("endTimeAt must be later than timeAt")
    return Window(start=start, end=end)


def _last_n(raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequestData(f"lastN must be a positive integer, not {raw!r}") from None
    if isinstance(raw, bool) or value < 1 or (isinstance(raw, float) and raw != value):
        raise BadRequestData(f"lastN must be a positive integer, not {raw!r}")
    return value


def _methods(raw: str | list[str] | None) -> list[str]:
    if raw is None:
        raise BadRequestData(
            "aggregatedValues needs aggrMethods (any of " + ", ".join(AGGR_METHODS) + ")"
        )
    names = raw if isinstance(raw, list) else raw.split(",")
    methods = []
    for name in names:
        if not isinstance(name, str):
            raise BadRequestData("aggrMethods must be a list of method names")
        clean = name.strip()
        if clean not in AGGR_METHODS:
            raise BadRequestData(
                f"unknown aggregation method {clean!r}; use " + ", ".join(AGGR_METHODS)
            )
        if clean not in methods:
            methods.append(clean)
    if not methods:
        raise BadRequestData("aggrMethods must name at least one method")
    return methods


def _entity_query(params: TemporalParams, ctx: CompiledContext, svc: Services) -> EntityQuery:
    """Which entities: type/id/idPattern selectors, q and geo filters, the page."""
    from qala.ngsild.filters import geo_filter, geo_filter_json, q_filter, scope_filter

    settings = svc.settings
    limit, offset = paging(params.limit, params.offset, settings.default_limit, settings.max_limit)
    query = EntityQuery(limit=limit, offset=offset, count=params.count)
    selector = Selector()
    if params.type is not None:
        if not params.type.strip():
            raise BadRequestData("type must not be empty")
        if params.type.strip() != "*":
            selector.type_groups = parse_type_expression(params.type, ctx)
    if params.id is not None:
        ids = split_list(params.id)
        if not ids:
            raise BadRequestData("id must list at least one entity id")
        selector.ids = [check_entity_id(i) for i in ids]
    if params.id_pattern is not None:
        selector.id_pattern = check_id_pattern(params.id_pattern)
    if selector.type_groups or selector.ids or selector.id_pattern:
        query.selectors.append(selector)
    names = names_context(params.type, ctx)
    if params.q is not None:
        query.filters.append(q_filter(params.q, names, settings.max_query_terms))
    if params.scope_q is not None:
        query.filters.append(scope_filter(params.scope_q))
    if params.georel is not None or params.geometry is not None or params.coordinates is not None:
        query.geo = geo_filter(
            params.georel, params.geometry, params.coordinates, params.geoproperty, names
        )
    if params.geo_json is not None:
        query.geo = geo_filter_json(params.geo_json, names)
    return query


def build_query(
    params: TemporalParams, ctx: CompiledContext, svc: Services, *, selection: bool = True
) -> TemporalQuery:
    """``selection``: the query selects entities (GET /temporal/entities, POST query), so it
    needs at least one of type, attrs, q, scopeQ, a geo-query or local=true — as ``GET
    /entities``, ``id`` and ``idPattern`` only narrow a selection (ETSI 021_24, 019_03_05)."""
    if selection and not (
        params.local
        or params.type
        or params.attrs
        or params.q
        or params.scope_q
        or params.georel
        or params.geometry
        or params.coordinates
        or params.geo_json
    ):
        raise BadRequestData(
            "a temporal query needs at least one of type, attrs, q, scopeQ or a geo-query; "
            "id and idPattern only narrow it (type=* or local=true selects every entity)"
        )
    window = parse_window(params.timerel, params.time_at, params.end_time_at)
    prop = params.timeproperty or "observedAt"
    if prop not in TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty {prop!r} is not one of " + ", ".join(TIME_PROPERTIES))
    asked = [o for o in ("temporalValues", "aggregatedValues") if o in params.options]
    chosen = asked
    if params.format is not None:
        if params.format not in ("temporalValues", "aggregatedValues", "normalized"):
            raise InvalidRequest(  # as an unknown format of GET /entities
                f"unknown temporal format {params.format!r}; use normalized, temporalValues "
                "or aggregatedValues"
            )
        # format takes precedence over the representation options ask for (GS CIM 009 6.3.12)
        chosen = [params.format] if params.format != "normalized" else []
    if len(set(chosen)) > 1:
        raise BadRequestData("temporalValues and aggregatedValues cannot be combined")
    if {"keyValues", "concise"} & params.options:
        raise BadRequestData(
            "the temporal API has no keyValues/concise form; use options=temporalValues"
        )
    representation = chosen[0] if chosen else "normalized"
    methods: list[str] = []
    duration: Duration | None = None
    if representation == "aggregatedValues":
        methods = _methods(params.aggr_methods)
        if params.aggr_period is not None:
            try:
                duration = parse_duration(params.aggr_period)
            except InvalidDuration as exc:
                raise BadRequestData(f"aggrPeriodDuration: {exc}") from None
    elif (
        params.aggr_methods is not None or params.aggr_period is not None
    ) and "aggregatedValues" not in asked:  # not just overridden by format
        raise BadRequestData("aggrMethods and aggrPeriodDuration need options=aggregatedValues")
    last_n = _last_n(params.last_n)
    entity_query = _entity_query(params, ctx, svc)
    names = names_context(params.type, ctx)
    attrs = expand_attrs(params.attrs, names)
    omitted = members = None
    no_attrs = False
    if params.pick is not None or params.omit is not None:
        if params.attrs is not None:
            raise BadRequestData("attrs cannot be combined with pick or omit (pick replaces attrs)")
        picked, omitted, members = flat_projection(names, params.pick, params.omit)
        if picked is not None:
            attrs = sorted(picked) or None
            no_attrs = not picked
    return TemporalQuery(
        window=window,
        prop=prop,
        last_n=last_n,
        attrs=attrs,
        representation=representation,
        sys_attrs="sysAttrs" in params.options,
        methods=methods,
        duration=duration,
        entity_query=entity_query,
        limit=entity_query.limit,
        offset=entity_query.offset,
        count=entity_query.count,
        omit=omitted,
        members=members,
        no_attrs=no_attrs,
    )


# -- running a query -----------------------------------------------------------------------


@dataclass(slots=True)
class TemporalResult:
    bodies: list[dict[str, Any]]
    count: int | None
    returned: int
    #: Set when instances were cut: (from, to, size) for Content-Range.
    content_range: tuple[int, int, str] | None = None


def _selected(info: EntityInfo, selectors: list[Selector]) -> bool:
    if not selectors:
        return True
    probe = Entity(id=info.id, types=info.types)
    return any(s.matches(probe) for s in selectors)


async def select_entities(
    svc: Services, tenant_id: int, tenant: str | None, query: TemporalQuery
) -> list[EntityInfo]:
    from qala.ngsild.filters import QFilter

    history = History(svc.store)
    eq = query.entity_query
    on_history = [f for f in eq.filters if isinstance(f, QFilter)]
    on_current = [f for f in eq.filters if not isinstance(f, QFilter)]  # scopeQ
    if on_current:
        current = await svc.hub.query(
            tenant, EntityQuery(selectors=eq.selectors, filters=on_current, limit=_ALL)
        )
        infos = await history.entities(tenant_id, [e.id for e in current.entities])
    else:
        ids: list[str] | None = None
        if len(eq.selectors) == 1 and eq.selectors[0].ids is not None:
            ids = eq.selectors[0].ids
        infos = [i for i in await history.entities(tenant_id, ids) if _selected(i, eq.selectors)]
    if query.attrs is not None:
        having = await history.entities_with_attrs(tenant_id, query.attrs)
        infos = [i for i in infos if i.id in having]
    if infos and (on_history or eq.geo is not None):
        infos = await _matching_history(
            history, tenant_id, infos, on_history, eq.geo, query, svc.settings.temporal_max_q_rows
        )
    window = query.window
    if infos and (window.start is not None or window.end is not None):
        # Entities without an instance in the time window are left out (ETSI 021_13).
        series = await history.series(tenant_id, [i.id for i in infos], query.attrs)
        # one instance per series is enough to know it has any (the index probe of paging)
        found = await history.instances([s.sid for s in series], window, query.prop, 1)
        kept = {s.entity_id for s in series if found[s.sid]}
        infos = [i for i in infos if i.id in kept]
    return infos


async def _matching_history(
    history: History,
    tenant_id: int,
    infos: list[EntityInfo],
    filters: list[Any],
    geo: Any,
    query: TemporalQuery,
    max_rows: int,
) -> list[EntityInfo]:
    """The entities whose history in the window matches ``q`` and the geo-query at some
    instant (GS CIM 009 5.7.4.4): their attributes are replayed in time order, from the
    instances in the window, and the filters tested on the state after each instant."""
    from qala.temporal.history_edits import stored_instance

    attrs: set[str] = set()
    for f in filters:
        attrs |= f.attributes()
    if geo is not None:
        attrs.add(geo.attr)
    series = await history.series(tenant_id, [i.id for i in infos], sorted(attrs))
    rows = await history.instances(
        [s.sid for s in series], query.window, query.prop, max_rows + 1
    )
    if sum(map(len, rows.values())) > max_rows:
        raise TooManyResults(
            f"q and geo-queries test the history in the window, which holds more than "
            f"{max_rows} instances of {', '.join(sorted(attrs))} here: narrow the window, "
            "the type or the ids (QALA_TEMPORAL_MAX_Q_ROWS)"
        )
    by_entity: dict[str, list[Series]] = {}
    for s in series:
        by_entity.setdefault(s.entity_id, []).append(s)
    prop = query.prop
    kept = []
    for info in infos:
        events = sorted(
            (r.time(prop), r.iid, s.attr, s.dataset_id, r)
            for s in by_entity.get(info.id, [])
            for r in rows.get(s.sid, [])
        )
        state: dict[str, dict[str | None, dict[str, Any]]] = {}
        probe = Entity(id=info.id, types=info.types)
        for index, (t, _iid, attr, dataset, row) in enumerate(events):
            instances = state.setdefault(attr, {})
            if row.k & schema.DELETED:
                instances.pop(dataset, None)
            else:
                instances[dataset] = stored_instance(row)
            if index + 1 < len(events) and events[index + 1][0] == t:
                continue  # the state after every instance of this instant
            probe.attrs = {
                a: (list(d.values()) if len(d) > 1 else next(iter(d.values())))
                for a, d in state.items()
                if d
            }
            if all(f.matches(probe) for f in filters) and (geo is None or geo.matches(probe)):
                kept.append(info)
                break
    return kept


async def run_query(
    svc: Services,
    tenant_id: int,
    infos: list[EntityInfo],
    query: TemporalQuery,
    ctx: CompiledContext,
) -> tuple[list[dict[str, Any]], tuple[int, int, str] | None]:
    """The bodies of ``infos``' temporal evolutions and the Content-Range of a cut answer (in
    which an attribute whose instances in the window all fall after the range is ``[]``)."""
    history = History(svc.store)
    if not infos:
        return [], None
    series = await history.series(tenant_id, [i.id for i in infos], query.attrs)
    if query.no_attrs:
        series = []
    elif query.omit:
        series = [s for s in series if s.attr not in query.omit]
    sids = [s.sid for s in series]
    by_entity: dict[str, list[Series]] = {}
    for s in series:
        by_entity.setdefault(s.entity_id, []).append(s)
    content_range = None
    if query.representation == "aggregatedValues":
        origin = query.window.start
        if origin is None and query.duration is not None and query.duration.is_fixed:
            # Without timeAt the periods start at the first instance (ETSI 020_11)
            origin = await history.first_time(sids, query.window, query.prop)
        buckets = _buckets(query, origin)
        needs = frozenset(part for m in query.methods for part in _NEEDS[m])
        if buckets.period is None and buckets.bounds is None:
            needs |= {"first", "last"}
        aggregates, layout = await history.aggregate(
            sids, query.window, query.prop, buckets, needs=needs
        )
        bounds = Bounds(buckets, query.window, layout)
        kinds = await history.kinds([sid for sid in sids if aggregates.get(sid)])
        with _no_gc():  # up to a million small lists: collections would only slow it down
            bodies = [
                render_aggregated(
                    info, by_entity.get(info.id, []), aggregates, bounds, kinds, query, ctx
                )
                for info in infos
            ]
        return bodies, None
    cap = svc.settings.temporal_max_instances
    wanted = query.last_n if query.last_n is not None else cap
    fetch = min(wanted, cap) + 1
    rows = await history.instances(
        sids, query.window, query.prop, fetch, newest=query.last_n is not None
    )
    had = {sid: schema.kind_of(r[-1].k) for sid, r in rows.items() if r}
    content_range = _paginate(rows, query, wanted, cap)
    if content_range is None:
        had = {}
    bodies = [
        render_instances(info, by_entity.get(info.id, []), rows, query, ctx, had)
        for info in infos
    ]
    return bodies, content_range


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic response bodies."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _paginate(
    rows: dict[int, list[Row]], query: TemporalQuery, wanted: int, cap: int
) -> tuple[int, int, str] | None:
    """Cut every series at one instant so that the page is complete up to it (or, with lastN,
    from it on); return (from, to, size) for Content-Range when something was cut."""
    prop = query.prop
    newest = query.last_n is not None
    limit = min(wanted, cap)
    if newest and wanted <= cap:
        # lastN within the cap: the extra row was fetched only to detect a cut
        for series_rows in rows.values():
            del series_rows[: max(0, len(series_rows) - limit)]
        return None
    over = [r for r in rows.values() if len(r) > limit]
    if not over:
        return None
    if not newest:
        cuts = []
        for series_rows in over:
            boundary = series_rows[limit].time(prop)  # the first instance left out
            kept = [r for r in series_rows[:limit] if r.time(prop) < boundary]
            cuts.append(kept[-1].time(prop) if kept else boundary)
        edge = min(cuts)
        for series_rows in rows.values():
            series_rows[:] = [r for r in series_rows if r.time(prop) <= edge][:limit]
        first = query.window.start
        if first is None:
            times = [s[0].time(prop) for s in rows.values() if s]
            first = min(times) if times else edge
        return first, edge, "*"
    cuts = []
    for series_rows in over:
        boundary = series_rows[-limit - 1].time(prop)  # the newest instance left out
        kept = [r for r in series_rows[-limit:] if r.time(prop) > boundary]
        cuts.append(kept[0].time(prop) if kept else boundary)
    edge = max(cuts)
    for series_rows in rows.values():
        series_rows[:] = [r for r in series_rows if r.time(prop) >= edge][-limit:]
    last = query.window.end
    if last is None:
        times = [s[-1].time(prop) for s in rows.values() if s]
        last = max(times) if times else edge
    return last, edge, str(wanted)


def _buckets(query: TemporalQuery, origin: int | None) -> Buckets:
    """The periods of an aggregated query; fixed ones start at ``origin`` (timeAt, or the
    first instance), calendar ones (months, years) need a whole window."""
    duration = query.duration
    window = query.window
    if duration is None or duration.is_zero:
        return Buckets()
    if duration.is_fixed:
        return Buckets(origin=origin or 0, period=duration.micros)
    if window.start is None or window.end is None:
        raise BadRequestData(
            "calendar periods (aggrPeriodDuration with years or months) need "
            "timerel=between with timeAt and endTimeAt"
        )
    bounds = [window.start]
    while bounds[-1] < window.end:
        try:
            bounds.append(add(window.start, duration, len(bounds)))
        except InvalidDuration as exc:
            raise BadRequestData(f"aggrPeriodDuration: {exc}") from None
        if len(bounds) > MAX_BUCKETS:
            raise BadRequestData("aggrPeriodDuration makes too many periods for this window")
    return Buckets(bounds=bounds)


_NEEDS: dict[str, tuple[str, ...]] = {
    "totalCount": ("n",),
    "distinctCount": ("distinct",),
    "sum": ("sum",),
    "avg": ("avg",),
    "min": ("min",),
    "max": ("max",),
    "stddev": ("nnum", "sum", "sumsq"),
    "sumsq": ("sumsq",),
}


def not_found(entity_id: str) -> NotFound:
    return NotFound(f"entity {entity_id!r} has no temporal evolution here")
