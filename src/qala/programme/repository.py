"""The programme monitor's tables: revisions, evaluations and explanations, append-only.

The repository talks to the store through :class:`Tables`, the small part of the store's
interface it needs (``fetch``, ``execute``, ``insert_rows``; SQL with ``$1, $2, …``
placeholders on SQLite and PostgreSQL alike). Nothing is ever updated or deleted — the tables'
triggers refuse it — so the current state is always compiled from the revisions.

Appending checks the new revisions against the state compiled from the stored ones and numbers
them after the last; the ``(programme, seq)`` unique constraint makes a concurrent append of the
same numbers fail, which is reported as a conflict to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import orjson

from qala.hub.errors import BadRequestData, Conflict
from qala.programme import model as m
from qala.programme.audit import RULES, Explanation, Flag
from qala.programme.revisions import FieldChange, Revision, check, compiler_for
from qala.programme.verify import Evaluation


@dataclass(slots=True)
class Rows:
    """Rows for one table (the shape of the store's ``RowBatch``)."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    json_columns: tuple[str, ...] = ()


class Tables(Protocol):
    """What the repository needs of a store."""

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...

    async def execute(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]: ...

    async def insert_rows(self, batches: Sequence[Any]) -> None: ...


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS).decode()


_REVISION_COLUMNS = "seq, at, actor, reason, document, op, kind, target, data"
_INSERT_REVISION = (
    "INSERT INTO programme_revisions(programme, seq, tenant, at, actor, reason, document, op, "
    "kind, target, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
)


class Repository:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    # -- revisions --------------------------------------------------------------------------

    async def revisions(self, programme: str) -> list[Revision]:
        rows = await self.tables.fetch(
            f"SELECT {_REVISION_COLUMNS} FROM programme_revisions WHERE programme = $1 "
            "ORDER BY seq",
            programme,
        )
        return [
            Revision(
                op=op,
                kind=kind,
                target=target,
                data=orjson.loads(data),
                actor=actor,
                reason=reason,
                at=_moment(at),
                document=document,
                seq=seq,
            )
            for seq, at, actor, reason, document, op, kind, target, data in rows
        ]

    async def append(self, programme: str, revisions: Sequence[Revision]) -> list[Revision]:
        """Check and store ``revisions`` (all or none); they come back numbered."""
        existing = await self.revisions(programme)
        compiler, numbered = check(programme, existing, revisions)
        statements = []
        for rev in numbered:
            tenant = _tenant_of(compiler.state, rev)
            statements.append(
                (
                    _INSERT_REVISION,
                    (
                        programme,
                        rev.seq,
                        tenant,
                        _us(rev.at),
                        rev.actor,
                        rev.reason,
                        rev.document,
                        rev.op,
                        rev.kind,
                        rev.target,
                        _json(dict(rev.data)),
                    ),
                )
            )
        try:
            await self.tables.execute(statements)
        except Exception:
            last = await self.tables.fetch(
                "SELECT MAX(seq) FROM programme_revisions WHERE programme = $1", programme
            )
            if (last[0][0] or 0) != (existing[-1].seq if existing else 0):
                raise Conflict(
                    f"programme {programme!r} changed while these revisions were checked; "
                    "read it again and retry"
                ) from None
            raise
        return numbered

    async def state(self, programme: str) -> m.Programme:
        return compiler_for(programme, await self.revisions(programme)).state

    async def history(
        self,
        programme: str,
        *,
        kind: str | None = None,
        target: str | None = None,
        field_name: str | None = None,
    ) -> list[FieldChange]:
        compiler = compiler_for(programme, await self.revisions(programme))
        return [
            c
            for c in compiler.changes
            if (kind is None or c.kind == kind)
            and (target is None or c.target == target)
            and (field_name is None or c.field == field_name)
        ]

    # -- evaluations ------------------------------------------------------------------------

    async def record_evaluations(self, programme: str, evaluations: Sequence[Evaluation]) -> None:
        rows = [
            (
                programme,
                ev.deliverable,
                ev.project,
                ev.tenant,
                _us(ev.at),
                ev.target,
                ev.matching,
                ev.reporting,
                str(ev.delivered_share),
                None if ev.coverage_share is None else str(ev.coverage_share),
                1 if ev.met else 0,
                _json(
                    {
                        "sample": list(ev.sample),
                        "silentSample": list(ev.silent_sample),
                        "areas": list(ev.areas),
                    }
                ),
            )
            for ev in evaluations
        ]
        if rows:
            await self.tables.insert_rows(
                [
                    Rows(
                        "programme_evaluations",
                        (
                            "programme",
                            "deliverable",
                            "project",
                            "tenant",
                            "at",
                            "target",
                            "matching",
                            "reporting",
                            "delivered_share",
                            "coverage_share",
                            "met",
                            "evidence",
                        ),
                        rows,
                    )
                ]
            )

    async def evaluations(self, programme: str, deliverable: str | None = None) -> list[Evaluation]:
        sql = (
            "SELECT deliverable, project, tenant, at, target, matching, reporting, "
            "delivered_share, coverage_share, met, evidence FROM programme_evaluations "
            "WHERE programme = $1"
        )
        args: list[Any] = [programme]
        if deliverable is not None:
            sql += " AND deliverable = $2"
            args.append(deliverable)
        rows = await self.tables.fetch(sql + " ORDER BY at, id", *args)
        out = []
        for d, p, t, at, target, matching, reporting, share, cov, met, evidence in rows:
            extra = orjson.loads(evidence)
            out.append(
                Evaluation(
                    deliverable=d,
                    project=p,
                    tenant=t,
                    at=_moment(at),
                    target=target,
                    matching=matching,
                    reporting=reporting,
                    delivered_share=Decimal(share),
                    coverage_share=None if cov is None else Decimal(cov),
                    met=bool(met),
                    sample=tuple(extra["sample"]),
                    silent_sample=tuple(extra["silentSample"]),
                    areas=tuple(extra["areas"]),
                )
            )
        return out

    # -- explanations -----------------------------------------------------------------------

    async def explain(
        self,
        programme: str,
        flag: Flag | str,
        *,
        actor: str,
        reason: str,
        at: datetime,
        document: str | None = None,
    ) -> Explanation:
        """Record that a flag is explained; earlier explanations stay."""
        key = flag.key if isinstance(flag, Flag) else flag
        rule_id = key.split(":", 1)[0]
        rule = RULES.get(rule_id)
        if rule is None:
            raise BadRequestData(f"{key!r} is not the key of a flag (unknown rule {rule_id!r})")
        if not actor.strip() or not reason.strip():
            raise BadRequestData("an explanation needs who gives it and the reason")
        await self.tables.execute(
            [
                (
                    "INSERT INTO programme_explanations(programme, flag, rule, version, at, "
                    "actor, reason, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    (programme, key, rule.id, rule.version, _us(at), actor, reason, document),
                )
            ]
        )
        return Explanation(key, rule.id, rule.version, actor, reason, at, document)

    async def explanations(self, programme: str) -> list[Explanation]:
        rows = await self.tables.fetch(
            "SELECT id, flag, rule, version, at, actor, reason, document "
            "FROM programme_explanations WHERE programme = $1 ORDER BY at, id",
            programme,
        )
        return [
            Explanation(flag, rule, version, actor, reason, _moment(at), document, seq)
            for seq, flag, rule, version, at, actor, reason, document in rows
        ]


def _tenant_of(state: m.Programme, rev: Revision) -> str | None:
    if rev.kind == "project":
        return state.projects[rev.target].tenant
    if rev.kind == "contract":
        return state.projects[state.contracts[rev.target].project].tenant
    if rev.kind == "payment":
        return state.projects[state.payments[rev.target].project].tenant
    if rev.kind == "milestone":
        return state.project_of_milestone(state.milestones[rev.target]).tenant
    if rev.kind == "deliverable":
        return state.projects[state.deliverables[rev.target].project].tenant
    return None
