"""The history participant: every change of an attribute instance becomes a history row.

It runs inside the write transaction (``Participant.rows_for``), so history is committed
atomically with the change and no write can bypass it: entity create/replace/merge/delete,
attribute append/update/patch/delete, batch operations and ingestion all go through
``Hub.write``.

What is recorded:

* every attribute instance the write stamped (its ``modifiedAt`` is this write's time): one row,
  at its ``observedAt`` or, without one, at the write time;
* every attribute instance the write removed: a deletion row (``deletedAt`` = the write time);
* entity creation, a change of types and entity deletion: an event in ``temporal_entities``;
* the first appearance of an attribute instance: its series in ``temporal_series``.

The work per instance is a dict lookup, one small ``orjson.dumps`` for non-numeric values and
a tuple; no JSON is parsed and nothing is read from the database.
"""

from __future__ import annotations

from typing import Any

import orjson

from qala.hub import Change, RowBatch, Tenant, WriteContext
from qala.hub.model import Entity, iso_to_us, us_to_iso
from qala.temporal import schema
from qala.temporal.schema import DELETED, HOUR_US, OBSERVED

_SID_CACHE = 200_000


class HistoryRecorder:
    """The ``Participant`` that writes the temporal history."""

    def __init__(self) -> None:
        #: Series ids of recently written attributes (hashing is the costliest step per row).
        self._sids: dict[tuple[int, str, str, str | None], int] = {}
        self._prefixes: dict[tuple[int, str], int] = {}

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        if not changes:
            return []
        now_iso = us_to_iso(ctx.now_us)
        now = schema.millis(ctx.now_us)
        tid = tenant.id
        rows: list[tuple[Any, ...]] = []
        series: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        times: dict[str, int] = {}
        sid_of = schema.series_id
        sids = self._sids
        prefixes = self._prefixes
        encode = schema.encode
        new_iid = schema.new_iid
        for change in changes:
            before = change.before
            after = change.after
            eid = change.entity_id
            if change.kind == "delete" or after is None:
                events.append((tid, eid, now, None, 1))
                if before is not None:
                    self._deletions(tid, eid, before, set(before.attrs), None, now, rows)
                continue
            if before is None or after.types != before.types:
                events.append((tid, eid, now, orjson.dumps(after.types).decode(), 0))
            attrs_before = before.attrs if before is not None else None
            prefix = prefixes.get((tid, eid))
            if prefix is None:
                if len(prefixes) >= _SID_CACHE:
                    prefixes.clear()
                prefix = prefixes[(tid, eid)] = schema.entity_key(tid, eid)
            for iri in change.updated:
                value = after.attrs.get(iri)
                if value is None:
                    continue
                for inst in value if value.__class__ is list else (value,):
                    if inst.get("modifiedAt") != now_iso:
                        continue  # an instance of this attribute the write did not touch
                    dataset = inst.get("datasetId")
                    key = (tid, eid, iri, dataset)
                    sid = sids.get(key)
                    if sid is None:
                        if len(sids) >= _SID_CACHE:
                            sids.clear()
                        sid = sids[key] = sid_of(tid, eid, iri, dataset, prefix)
                    observed = inst.get("observedAt")
                    if observed is None:
                        ts = now
                        k, num, val, doc = encode(inst)
                    else:
                        ts = times.get(observed)  # type: ignore[assignment]
                        if ts is None:
                            ts = times[observed] = iso_to_us(observed)
                        k, num, val, doc = encode(inst)
                        k |= OBSERVED
                    rows.append((sid, ts // HOUR_US, ts, new_iid(), k, num, val, doc, now, None))
                    if attrs_before is None or not _has(attrs_before.get(iri), dataset):
                        series.append((sid, tid, eid, iri, dataset, ctx.now_us))
            if change.deleted and before is not None:
                self._deletions(tid, eid, before, change.deleted, after, now, rows)
        batches = []
        if rows:
            batches.append(RowBatch(schema.INSTANCES, schema.INSTANCE_COLUMNS, rows))
        if series:
            batches.append(RowBatch(schema.SERIES, schema.SERIES_COLUMNS, series))
        if events:
            batches.append(RowBatch(schema.ENTITIES, schema.ENTITY_COLUMNS, events))
        return batches

    @staticmethod
    def _deletions(
        tid: int,
        eid: str,
        before: Entity,
        attrs: set[str],
        after: Entity | None,
        now: int,
        rows: list[tuple[Any, ...]],
    ) -> None:
        for iri in attrs:
            value = before.attrs.get(iri)
            if value is None:
                continue
            remaining = after.attrs.get(iri) if after is not None else None
            for inst in value if value.__class__ is list else (value,):
                dataset = inst.get("datasetId")
                if remaining is not None and _has(remaining, dataset):
                    continue
                code = schema.KIND_CODE.get(inst.get("type", "Property"), 0)
                sid = schema.series_id(tid, eid, iri, dataset)
                rows.append(
                    (
                        sid,
                        now // HOUR_US,
                        now,
                        schema.new_iid(),
                        code | DELETED,
                        None,
                        None,
                        None,
                        now,
                        None,
                    )
                )

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        return None


def _has(value: Any, dataset: str | None) -> bool:
    if value is None:
        return False
    if value.__class__ is dict:
        return value.get("datasetId") == dataset
    return any(i.get("datasetId") == dataset for i in value)
