"""Changing the history: the rows and statements of the temporal write operations.

The temporal write endpoints add, correct or remove *history* (not the entity's current state).
Each edit here is pure: it returns the :class:`~qala.hub.RowBatch` and
:class:`~qala.hub.Statement` lists a route hands to ``tx.add_rows`` / ``tx.add_statements``
inside ``hub.transact(...)``, so the edit commits with the write, is serialised with the
entity's other writes and is seen by the hub's participants (audit). Reading the history is
:mod:`qala.temporal.history`; the tables are described in :mod:`qala.temporal.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from qala.hub import Entity, Instance, RowBatch, Statement, iso_to_us, us_to_iso
from qala.temporal import schema
from qala.temporal.history import Row


def _marks(values: Sequence[Any], args: list[Any]) -> str:
    out = []
    for value in values:
        args.append(value)
        out.append(f"${len(args)}")
    return ", ".join(out)


def stored_instance(row: Row) -> dict[str, Any]:
    """An instance as the history keeps it, as an NGSI-LD attribute (without system members):
    what a correction of some of its members starts from."""
    kind = schema.kind_of(row.k)
    current: dict[str, Any] = {"type": kind}
    current[schema.VALUE_MEMBER[kind]] = schema.decode_value(row.k, row.num, row.val)
    if row.doc is not None:
        current.update(orjson.loads(row.doc))
    if row.k & schema.OBSERVED:
        current["observedAt"] = us_to_iso(row.ts)
    return current


@dataclass(slots=True, frozen=True)
class HistoryEdits:
    """The edits of one tenant's history (``tenant_id``: the tenant's row id)."""

    tenant_id: int

    # -- adding ------------------------------------------------------------------------------

    def new_entity(self, entity_id: str, types: list[str], now: int) -> RowBatch:
        """The catalogue row of an entity the history did not know (``now`` in µs)."""
        return RowBatch(
            schema.ENTITIES,
            schema.ENTITY_COLUMNS,
            [(self.tenant_id, entity_id, now, orjson.dumps(types).decode(), 0)],
        )

    def add_instances(
        self,
        entity_id: str,
        attrs: dict[str, list[Instance]],
        known: set[int],
        now: int,
        *,
        replaced: list[Statement] | None = None,
    ) -> list[RowBatch]:
        """Rows for the given instances of each attribute (expanded IRI → instances), and the
        catalogue rows of the series not in ``known`` (series ids; updated in place).

        ``replaced``: a list to which the statements are added that remove the instances these
        replace — those of the same attribute and datasetId observed at the same instant (an
        update of a temporal entity, ETSI GS CIM 009 5.6.11). They run after the rows and
        spare the new ones; within the body the last instance of an instant wins."""
        tid = self.tenant_id
        rows = []
        series = []
        observed_at: dict[tuple[int, int], int] = {}  # (sid, ts) -> index of its row
        at = schema.millis(now)  # history times are milliseconds; the catalogue keeps µs
        for iri, instances in attrs.items():
            for inst in instances:
                dataset = inst.get("datasetId")
                sid = schema.series_id(tid, entity_id, iri, dataset)
                if sid not in known:
                    known.add(sid)
                    series.append((sid, tid, entity_id, iri, dataset, now))
                k, num, val, doc = schema.encode(inst)
                observed = inst.get("observedAt")
                if observed is not None:
                    ts = iso_to_us(observed)
                    k |= schema.OBSERVED
                else:
                    ts = at
                row = (sid, ts // schema.HOUR_US, ts, schema.new_iid(), k, num, val, doc, at, None)
                if replaced is not None and observed is not None:
                    index = observed_at.get((sid, ts))
                    if index is not None:  # the same instant twice in one body
                        rows[index] = row
                        continue
                    observed_at[(sid, ts)] = len(rows)
                rows.append(row)
        if replaced is not None:
            replaced.extend(self._replaced([rows[i] for i in observed_at.values()]))
        batches = [RowBatch(schema.INSTANCES, schema.INSTANCE_COLUMNS, rows)]
        if series:
            batches.append(RowBatch(schema.SERIES, schema.SERIES_COLUMNS, series))
        return batches

    @staticmethod
    def _replaced(rows: list[tuple[Any, ...]]) -> list[Statement]:
        """Delete the observed instances at the instants of ``rows`` in their series, except
        ``rows`` themselves."""
        by_series: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_series.setdefault(row[0], []).append(row)
        statements: list[Statement] = []
        for sid, group in by_series.items():
            for start in range(0, len(group), 400):
                chunk = group[start : start + 400]
                args: list[Any] = [sid]
                times = _marks(sorted({r[2] for r in chunk}), args)
                hours = _marks(sorted({r[1] for r in chunk}), args)
                spared = _marks([r[3] for r in chunk], args)
                statements.append(
                    (
                        f"DELETE FROM temporal_instances WHERE sid = $1 AND h IN ({hours}) "
                        f"AND ts IN ({times}) AND (k & {schema.OBSERVED}) != 0 "
                        f"AND iid NOT IN ({spared})",
                        args,
                    )
                )
        return statements

    # -- correcting --------------------------------------------------------------------------

    def correct_instance(self, row: Row, instance: Instance, now: int) -> list[Statement]:
        """``row``'s instance replaced by ``instance`` (same instanceId and series); it keeps
        its place on the time axis unless ``instance`` has an observedAt."""
        k, num, val, doc = schema.encode(instance)
        ts = row.ts
        if instance.get("observedAt") is not None:
            ts = iso_to_us(instance["observedAt"])
            k |= schema.OBSERVED
        return [
            (
                "UPDATE temporal_instances SET ts = $1, h = $9, k = $2, num = $3, val = $4, "
                "doc = $5, modified_at = $6 WHERE sid = $7 AND iid = $8",
                [ts, k, num, val, doc, schema.millis(now), row.sid, row.iid, ts // schema.HOUR_US],
            )
        ]

    # -- removing ----------------------------------------------------------------------------

    def delete_instance(self, row: Row) -> list[Statement]:
        """One instance removed from its series."""
        return [("DELETE FROM temporal_instances WHERE sid = $1 AND iid = $2", [row.sid, row.iid])]

    def delete_entity(self, entity_id: str, sids: Sequence[int]) -> list[Statement]:
        """The whole history of an entity (``sids``: its series), catalogue included."""
        statements = self._forget(sids) if sids else []
        statements.append(
            (
                "DELETE FROM temporal_series WHERE tenant_id = $1 AND entity_id = $2",
                [self.tenant_id, entity_id],
            )
        )
        statements.append(
            (
                "DELETE FROM temporal_entities WHERE tenant_id = $1 AND entity_id = $2",
                [self.tenant_id, entity_id],
            )
        )
        return statements

    def delete_series(self, sids: Sequence[int]) -> list[Statement]:
        """The history of some series of one attribute (instances, hourly aggregates and
        catalogue rows)."""
        statements = self._forget(sids)
        args: list[Any] = [self.tenant_id]
        marks = _marks(sids, args)
        statements.append(
            (f"DELETE FROM temporal_series WHERE tenant_id = $1 AND sid IN ({marks})", args)
        )
        return statements

    def re_register(
        self, current: Entity | None, now: int, attr: str | None = None
    ) -> list[Statement]:
        """The catalogue rows of what the entity still has now (all of it, or attribute
        ``attr``), so that its future changes keep being recorded and found after its history
        was deleted. ``current``: the entity's current state (None: it no longer exists)."""
        if current is None:
            return []
        tid, entity_id = self.tenant_id, current.id
        statements: list[Statement] = []
        if attr is None:
            statements.append(
                (
                    "INSERT INTO temporal_entities(tenant_id, entity_id, at, types, deleted) "
                    "VALUES ($1, $2, $3, $4, 0)",
                    [tid, entity_id, now, orjson.dumps(current.types).decode()],
                )
            )
        for iri, value in current.attrs.items():
            if attr is not None and iri != attr:
                continue
            for inst in value if isinstance(value, list) else [value]:
                dataset = inst.get("datasetId")
                statements.append(
                    (
                        "INSERT INTO temporal_series(sid, tenant_id, entity_id, attr, "
                        "dataset_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        [
                            schema.series_id(tid, entity_id, iri, dataset),
                            tid,
                            entity_id,
                            iri,
                            dataset,
                            now,
                        ],
                    )
                )
        return statements

    @staticmethod
    def _forget(sids: Sequence[int]) -> list[Statement]:
        args: list[Any] = []
        marks = _marks(sids, args)
        return [
            (f"DELETE FROM temporal_instances WHERE sid IN ({marks})", list(args)),
            (f"DELETE FROM temporal_hourly WHERE sid IN ({marks})", list(args)),
        ]
