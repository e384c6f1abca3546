"""The Open311 back office's tables (migration branch ``open311``), read and written in SQL.

The repository needs three things of a store, declared by :class:`Tables`: read-only queries,
statements run in one transaction, and bulk inserts — SQL with ``$1, $2, …`` placeholders on
SQLite and PostgreSQL alike. Every change that must go together is one :meth:`Tables.execute`
call (one transaction):

* filing a request bumps the city's counter and inserts the request numbered from it, then
  its first history event, all found again by the request's unique token;
* an update received from a client (mySociety's ``POST servicerequestupdates``) is inserted
  with ``ON CONFLICT DO NOTHING`` under a fresh ``uid``; the status change and the history
  event that follow are written only ``WHERE EXISTS`` that ``uid`` — so a repeated
  ``update_id`` changes nothing, and is reported as such;
* a status change made here writes the request, a history event and a published update.

Parameters in ``INSERT … SELECT`` statements are cast (``CAST($n AS BIGINT)``): PostgreSQL
infers no type for a bare parameter in a select list.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson

from qala.open311.duplicates import Candidate, bounding_box
from qala.open311.forms import AttributeInput, NewRequest, NewUpdate
from qala.open311.model import EXTENDED_STATUSES, OPEN, Personal, RequestUpdate


class Tables(Protocol):
    """What the repository needs of a store (``qala.store.base.Store`` offers it)."""

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...

    async def execute(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]: ...

    async def insert_rows(self, batches: Sequence[Any]) -> None: ...


@dataclass(slots=True)
class Rows:
    """Rows for :meth:`Tables.insert_rows` (the shape of ``qala.store.base.RowBatch``)."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    json_columns: tuple[str, ...] = ()


def to_us(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def from_us(value: int | None) -> datetime | None:
    if value is None:
        return None
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _json(value: Any) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, datetime):
            return obj.isoformat()
        raise TypeError(type(obj))

    return orjson.dumps(value, default=default).decode()


# -- records ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Draft:
    """A request to file: what a form gave, with its SLA already computed."""

    service_code: str
    agency: str | None
    requested_at: datetime
    expected_at: datetime | None
    lang: str
    service_notice: str | None = None
    description: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    pinpointed: bool = True
    media_urls: list[str] = field(default_factory=list)
    attributes: dict[str, AttributeInput] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    personal: Personal = field(default_factory=Personal)
    external_id: str | None = None
    client: str | None = None
    entity_id: str | None = None

    @classmethod
    def from_form(
        cls,
        new: NewRequest,
        requested_at: datetime,
        expected_at: datetime | None,
        client: str | None,
    ) -> Draft:
        return cls(
            service_code=new.service.code,
            agency=new.service.agency.id,
            requested_at=requested_at,
            expected_at=expected_at,
            lang=new.lang,
            service_notice=new.service.notice.get(new.lang),
            description=new.description,
            address=new.address_string,
            address_id=new.address_id,
            lat=new.lat,
            long=new.long,
            pinpointed=new.pinpointed,
            media_urls=new.media_urls,
            attributes=new.attributes,
            extra=new.extra,
            personal=new.personal,
            external_id=new.external_id,
            client=client,
        )


@dataclass(slots=True)
class StoredRequest:
    """A request as the back office holds it (personal data included)."""

    tenant: str
    num: int
    token: str
    service_code: str
    status: str
    extended_status: str
    status_notes: str | None
    description: str | None
    agency: str | None
    assigned_to: str | None
    service_notice: str | None
    lang: str
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    closed_at: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    pinpointed: bool
    media_urls: list[str]
    attributes: dict[str, Any]
    extra: dict[str, str]
    personal: Personal
    external_id: str | None
    client: str | None
    duplicate_of: int | None
    entity_id: str | None
    supporters: int

    @property
    def service_request_id(self) -> str:
        return str(self.num)


_COLUMNS = (
    "tenant, num, token, service_code, status, extended_status, status_notes, description, "
    "agency, assigned_to, service_notice, lang, requested_at, updated_at, expected_at, "
    "closed_at, address, address_id, zipcode, lat, long, pinpointed, media_urls, attributes, "
    "extra, personal, external_id, client, duplicate_of, entity_id"
)
_SELECT = (
    "SELECT "
    + ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
    + ", (SELECT COUNT(*) FROM open311_supporters s WHERE s.tenant = r.tenant "
    "AND s.request_num = r.num) FROM open311_requests r"
)


def _request(row: tuple[Any, ...]) -> StoredRequest:
    (tenant, num, token, code, status, ext, notes, desc, agency, assigned, notice, lang,
     requested, updated, expected, closed, address, address_id, zipcode, lat, long,
     pinpointed, media, attributes, extra, personal, external, client, dup, entity,
     supporters) = row  # fmt: skip
    return StoredRequest(
        tenant=tenant,
        num=int(num),
        token=token,
        service_code=code,
        status=status,
        extended_status=ext,
        status_notes=notes,
        description=desc,
        agency=agency,
        assigned_to=assigned,
        service_notice=notice,
        lang=lang,
        requested_at=from_us(requested),  # type: ignore[arg-type]
        updated_at=from_us(updated),  # type: ignore[arg-type]
        expected_at=from_us(expected),
        closed_at=from_us(closed),
        address=address,
        address_id=address_id,
        zipcode=zipcode,
        lat=lat,
        long=long,
        pinpointed=bool(pinpointed),
        media_urls=orjson.loads(media),
        attributes=orjson.loads(attributes),
        extra=orjson.loads(extra),
        personal=Personal(**orjson.loads(personal)),
        external_id=external,
        client=client,
        duplicate_of=dup,
        entity_id=entity,
        supporters=int(supporters),
    )


@dataclass(slots=True, frozen=True)
class Event:
    """An entry of a request's history."""

    request_num: int
    at: datetime
    actor: str
    kind: str
    status: str | None
    extended_status: str | None
    text: str | None
    public: bool


@dataclass(slots=True)
class Selection:
    """What ``GET requests`` selects (see ``forms.RequestsQuery``)."""

    service_codes: Sequence[str] = ()
    statuses: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    limit: int = 1000
    offset: int = 0


UpdateOutcome = Literal["stored", "repeated", "not_found"]


def _num(service_request_id: str) -> int | None:
    text = service_request_id.strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


class Repository:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    # -- filing ---------------------------------------------------------------------------

    async def create(self, tenant: str, draft: Draft, actor: str = "resident") -> StoredRequest:
        """File a request: numbered from the city's counter, with its first history event."""
        token = uuid.uuid4().hex
        at = to_us(draft.requested_at)
        values = (
            tenant,  # $1
            token,
            draft.service_code,
            draft.description,
            draft.agency,  # $5
            draft.service_notice,
            draft.lang,
            at,
            to_us(draft.expected_at) if draft.expected_at else None,
            draft.address,  # $10
            draft.address_id,
            draft.zipcode,
            draft.lat,
            draft.long,
            int(draft.pinpointed),  # $15
            _json(draft.media_urls),
            _json(draft.attributes),
            _json(draft.extra),
            _json(draft.personal.as_dict()),
            draft.external_id,  # $20
            draft.client,
            draft.entity_id,
        )
        await self.tables.execute(
            [
                (
                    "INSERT INTO open311_counters(tenant, next) VALUES ($1, 1) "
                    "ON CONFLICT (tenant) DO UPDATE SET next = open311_counters.next + 1",
                    (tenant,),
                ),
                (
                    "INSERT INTO open311_requests(tenant, num, token, service_code, status, "
                    "extended_status, description, agency, service_notice, lang, requested_at, "
                    "updated_at, expected_at, address, address_id, zipcode, lat, long, "
                    "pinpointed, media_urls, attributes, extra, personal, external_id, client, "
                    "entity_id) "
                    "SELECT c.tenant, c.next, CAST($2 AS TEXT), CAST($3 AS TEXT), 'open', "
                    "'OPEN', CAST($4 AS TEXT), CAST($5 AS TEXT), CAST($6 AS TEXT), "
                    "CAST($7 AS TEXT), CAST($8 AS BIGINT), CAST($8 AS BIGINT), "
                    "CAST($9 AS BIGINT), CAST($10 AS TEXT), CAST($11 AS TEXT), "
                    "CAST($12 AS TEXT), CAST($13 AS DOUBLE PRECISION), "
                    "CAST($14 AS DOUBLE PRECISION), CAST($15 AS INTEGER), CAST($16 AS TEXT), "
                    "CAST($17 AS TEXT), CAST($18 AS TEXT), CAST($19 AS TEXT), "
                    "CAST($20 AS TEXT), CAST($21 AS TEXT), CAST($22 AS TEXT) "
                    "FROM open311_counters c WHERE c.tenant = $1",
                    values,
                ),
                (
                    "INSERT INTO open311_events(tenant, request_num, at, actor, kind, status, "
                    "extended_status, text, public) "
                    "SELECT tenant, num, requested_at, CAST($3 AS TEXT), 'opened', 'open', "
                    "'OPEN', NULL, 1 FROM open311_requests WHERE tenant = $1 AND token = $2",
                    (tenant, token, actor),
                ),
            ]
        )
        rows = await self.tables.fetch(f"{_SELECT} WHERE r.tenant = $1 AND r.token = $2",
                                       tenant, token)
        return _request(rows[0])

    async def import_requests(
        self, tenant: str, records: Sequence[tuple[int, Draft, str, str]], events: list[Event]
    ) -> None:
        """Bulk load (the demo's year of requests): ``(num, draft, status, extended_status)``
        with their history; the city's counter moves past the highest number."""
        rows = []
        for num, d, status, ext in records:
            closed = [e.at for e in events if e.request_num == num and e.status == "closed"]
            updated = max([e.at for e in events if e.request_num == num] + [d.requested_at])
            rows.append((
                tenant, num, uuid.uuid4().hex, d.service_code, status, ext, d.description,
                d.agency, d.service_notice, d.lang, to_us(d.requested_at), to_us(updated),
                to_us(d.expected_at) if d.expected_at else None,
                to_us(closed[-1]) if closed and status == "closed" else None,
                d.address, d.address_id, d.zipcode, d.lat, d.long, int(d.pinpointed),
                _json(d.media_urls), _json(d.attributes), _json(d.extra),
                _json(d.personal.as_dict()), d.external_id, d.client, d.entity_id,
            ))  # fmt: skip
        columns = (
            "tenant", "num", "token", "service_code", "status", "extended_status",
            "description", "agency", "service_notice", "lang", "requested_at", "updated_at",
            "expected_at", "closed_at", "address", "address_id", "zipcode", "lat", "long",
            "pinpointed", "media_urls", "attributes", "extra", "personal", "external_id",
            "client", "entity_id",
        )  # fmt: skip
        event_rows = [
            (tenant, e.request_num, to_us(e.at), e.actor, e.kind, e.status, e.extended_status,
             e.text, int(e.public))
            for e in events
        ]  # fmt: skip
        await self.tables.insert_rows(
            [
                Rows("open311_requests", columns, rows),
                Rows(
                    "open311_events",
                    ("tenant", "request_num", "at", "actor", "kind", "status",
                     "extended_status", "text", "public"),
                    event_rows,
                ),
            ]
        )  # fmt: skip
        top = max((num for num, *_ in records), default=0)
        await self.tables.execute(
            [
                (
                    "INSERT INTO open311_counters(tenant, next) VALUES ($1, $2) "
                    "ON CONFLICT (tenant) DO UPDATE SET next = CASE WHEN "
                    "open311_counters.next > $2 THEN open311_counters.next ELSE $2 END",
                    (tenant, top),
                )
            ]
        )

    # -- reading --------------------------------------------------------------------------

    async def get(self, tenant: str, service_request_id: str) -> StoredRequest | None:
        num = _num(service_request_id)
        if num is None:
            return None
        rows = await self.tables.fetch(f"{_SELECT} WHERE r.tenant = $1 AND r.num = $2",
                                       tenant, num)
        return _request(rows[0]) if rows else None

    async def get_many(self, tenant: str, ids: Sequence[str]) -> list[StoredRequest]:
        """The requests with these ids, in the order asked; unknown ids are left out."""
        nums = [n for n in (_num(i) for i in ids) if n is not None]
        if not nums:
            return []
        marks = ", ".join(f"${i + 2}" for i in range(len(nums)))
        rows = await self.tables.fetch(
            f"{_SELECT} WHERE r.tenant = $1 AND r.num IN ({marks})", tenant, *nums
        )
        found = {r.num: r for r in map(_request, rows)}
        return [found[n] for n in dict.fromkeys(nums) if n in found]

    async def by_token(self, tenant: str, token: str) -> tuple[str, str | None] | None:
        rows = await self.tables.fetch(
            "SELECT num FROM open311_requests WHERE tenant = $1 AND token = $2", tenant, token
        )
        return (token, str(rows[0][0])) if rows else None

    async def select(self, tenant: str, sel: Selection) -> list[StoredRequest]:
        """Requests by service, status and time windows, oldest first (requested time)."""
        where, args = ["r.tenant = $1"], [tenant]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if sel.service_codes:
            where.append(f"r.service_code IN ({', '.join(arg(c) for c in sel.service_codes)})")
        if sel.statuses:
            where.append(f"r.status IN ({', '.join(arg(s) for s in sel.statuses)})")
        for column, op, value in (
            ("requested_at", ">=", sel.start),
            ("requested_at", "<=", sel.end),
            ("updated_at", ">=", sel.updated_after),
            ("updated_at", "<=", sel.updated_before),
        ):
            if value is not None:
                where.append(f"r.{column} {op} {arg(to_us(value))}")
        sql = (
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY r.requested_at, r.num "
            f"LIMIT {int(sel.limit)} OFFSET {int(sel.offset)}"
        )
        return [_request(r) for r in await self.tables.fetch(sql, *args)]

    async def history(
        self, tenant: str, num: int, *, public_only: bool = False
    ) -> list[Event]:
        sql = (
            "SELECT request_num, at, actor, kind, status, extended_status, text, public "
            "FROM open311_events WHERE tenant = $1 AND request_num = $2"
            + (" AND public = 1" if public_only else "")
            + " ORDER BY at, id"
        )
        return [
            Event(int(n), from_us(at), actor, kind, st, ext, text, bool(pub))  # type: ignore[arg-type]
            for n, at, actor, kind, st, ext, text, pub in await self.tables.fetch(sql, tenant, num)
        ]

    async def nearby(
        self,
        tenant: str,
        service_code: str,
        lat: float,
        long: float,
        radius_m: float,
        since: datetime,
        until: datetime,
    ) -> list[Candidate]:
        """Open requests of a service in the box around a point, filed between two times:
        the candidates of duplicate suggestion (``duplicates.suggest`` decides)."""
        lo_lat, lo_long, hi_lat, hi_long = bounding_box(lat, long, radius_m)
        rows = await self.tables.fetch(
            "SELECT num, service_code, status, requested_at, lat, long FROM open311_requests "
            "WHERE tenant = $1 AND service_code = $2 AND status = 'open' "
            "AND lat BETWEEN $3 AND $4 AND long BETWEEN $5 AND $6 "
            "AND requested_at BETWEEN $7 AND $8",
            tenant, service_code, lo_lat, hi_lat, lo_long, hi_long, to_us(since), to_us(until),
        )  # fmt: skip
        return [
            Candidate(str(n), code, st, from_us(at), la, lo)  # type: ignore[arg-type]
            for n, code, st, at, la, lo in rows
        ]

    # -- changes --------------------------------------------------------------------------

    def _status_statements(
        self,
        tenant: str,
        num: int,
        extended: str,
        at: int,
        actor: str,
        text: str | None,
        *,
        kind: str = "status",
        public: bool = True,
        guard: str | None = None,
    ) -> list[tuple[str, Sequence[Any]]]:
        status = EXTENDED_STATUSES[extended]
        closed_at = (
            "CASE WHEN CAST($3 AS TEXT) = 'closed' THEN COALESCE(closed_at, CAST($5 AS BIGINT)) "
            "ELSE NULL END"
        )
        condition = " AND EXISTS (SELECT 1 FROM open311_updates WHERE uid = $7)" if guard else ""
        update_args: list[Any] = [tenant, num, status, extended, at, text]
        if guard:
            update_args.append(guard)
        # An update dated before the request's last change is history, not its state.
        update = (
            "UPDATE open311_requests SET "
            f"status = CASE WHEN updated_at <= $5 THEN $3 ELSE status END, "
            f"extended_status = CASE WHEN updated_at <= $5 THEN $4 ELSE extended_status END, "
            f"status_notes = CASE WHEN updated_at <= $5 THEN $6 ELSE status_notes END, "
            f"closed_at = CASE WHEN updated_at <= $5 THEN {closed_at} ELSE closed_at END, "
            "updated_at = CASE WHEN updated_at <= $5 THEN $5 ELSE updated_at END "
            f"WHERE tenant = $1 AND num = $2{condition}"
        )
        event = (
            "INSERT INTO open311_events(tenant, request_num, at, actor, kind, status, "
            "extended_status, text, public) SELECT tenant, num, CAST($3 AS BIGINT), "
            "CAST($4 AS TEXT), CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT), "
            "CAST($8 AS TEXT), CAST($9 AS INTEGER) FROM open311_requests "
            "WHERE tenant = $1 AND num = $2"
            + (" AND EXISTS (SELECT 1 FROM open311_updates WHERE uid = $10)" if guard else "")
        )
        event_args: list[Any] = [tenant, num, at, actor, kind, status, extended, text,
                                 int(public)]  # fmt: skip
        if guard:
            event_args.append(guard)
        return [(update, update_args), (event, event_args)]

    async def change_status(
        self,
        tenant: str,
        service_request_id: str,
        extended_status: str,
        at: datetime,
        actor: str,
        notes: str | None = None,
    ) -> RequestUpdate | None:
        """Set a request's status (staff, a rule): history event plus a published update
        (``qala-…`` update id). None when there is no such request."""
        num = _num(service_request_id)
        if num is None or extended_status not in EXTENDED_STATUSES:
            return None
        update_id = f"qala-{uuid.uuid4().hex[:16]}"
        when = to_us(at)
        statements = self._status_statements(tenant, num, extended_status, when, actor, notes)
        statements.append(
            (
                "INSERT INTO open311_updates(uid, tenant, update_id, request_num, status, at, "
                "received_at, description, media_url, source) SELECT CAST($1 AS TEXT), "
                "tenant, CAST($1 AS TEXT), num, CAST($3 AS TEXT), CAST($4 AS BIGINT), "
                "CAST($4 AS BIGINT), CAST($5 AS TEXT), NULL, 'qala' FROM open311_requests "
                "WHERE tenant = $2 AND num = $6",
                (update_id, tenant, extended_status, when, notes or "", num),
            )
        )
        counts = await self.tables.execute(statements)
        if counts[0] == 0:
            return None
        return RequestUpdate(update_id, str(num), extended_status, at, notes or "")

    async def add_note(
        self, tenant: str, num: int, at: datetime, actor: str, text: str, *, public: bool
    ) -> None:
        await self.tables.execute(
            [
                (
                    "INSERT INTO open311_events(tenant, request_num, at, actor, kind, text, "
                    "public) VALUES ($1, $2, $3, $4, 'note', $5, $6)",
                    (tenant, num, to_us(at), actor, text, int(public)),
                )
            ]
        )

    async def record_update(
        self, tenant: str, update: NewUpdate, source: str, received_at: datetime
    ) -> UpdateOutcome:
        """Store an update a client sent and apply its status. A repeated ``update_id``
        changes nothing (``"repeated"``); so does an unknown request (``"not_found"``)."""
        num = _num(update.service_request_id)
        if num is None:
            return "not_found"
        uid = uuid.uuid4().hex
        at = to_us(update.updated_datetime)
        insert = (
            "INSERT INTO open311_updates(uid, tenant, update_id, request_num, status, at, "
            "received_at, description, media_url, source, personal) "
            "SELECT CAST($1 AS TEXT), tenant, CAST($3 AS TEXT), num, CAST($4 AS TEXT), "
            "CAST($5 AS BIGINT), CAST($6 AS BIGINT), CAST($7 AS TEXT), CAST($8 AS TEXT), "
            "CAST($9 AS TEXT), CAST($10 AS TEXT) FROM open311_requests "
            "WHERE tenant = $2 AND num = $11 ON CONFLICT (tenant, update_id) DO NOTHING"
        )
        insert_args = (
            uid, tenant, update.update_id, update.status, at, to_us(received_at),
            update.description or "", update.media_urls[0] if update.media_urls else None,
            source, _json(update.personal.as_dict()), num,
        )  # fmt: skip
        statements = [(insert, insert_args)]
        statements += self._status_statements(
            tenant, num, update.status, at, source, update.description, kind="update", guard=uid
        )
        counts = await self.tables.execute(statements)
        if counts[0] == 1:
            return "stored"
        seen = await self.tables.fetch(
            "SELECT 1 FROM open311_updates WHERE tenant = $1 AND update_id = $2",
            tenant, update.update_id,
        )  # fmt: skip
        return "repeated" if seen else "not_found"

    async def updates(
        self, tenant: str, start: datetime, end: datetime, limit: int = 1000
    ) -> list[RequestUpdate]:
        """Updates dated between two times, oldest first (``GET servicerequestupdates``)."""
        rows = await self.tables.fetch(
            "SELECT update_id, request_num, status, at, description, media_url "
            "FROM open311_updates WHERE tenant = $1 AND at BETWEEN $2 AND $3 "
            f"ORDER BY at, update_id LIMIT {int(limit)}",
            tenant, to_us(start), to_us(end),
        )  # fmt: skip
        return [
            RequestUpdate(uid, str(n), st, from_us(at), desc or "", media)  # type: ignore[arg-type]
            for uid, n, st, at, desc, media in rows
        ]

    async def support(self, tenant: str, num: int, supporter: str, at: datetime) -> bool:
        """A resident's "+1": True the first time this supporter backs this open request."""
        counts = await self.tables.execute(
            [
                (
                    "INSERT INTO open311_supporters(tenant, request_num, supporter, at) "
                    "SELECT tenant, num, CAST($3 AS TEXT), CAST($4 AS BIGINT) "
                    "FROM open311_requests WHERE tenant = $1 AND num = $2 AND status = $5 "
                    "ON CONFLICT (tenant, request_num, supporter) DO NOTHING",
                    (tenant, num, supporter, to_us(at), OPEN),
                )
            ]
        )
        return counts[0] == 1

    async def merge(
        self, tenant: str, duplicate: int, original: int, at: datetime, actor: str
    ) -> bool:
        """Close ``duplicate`` as DUPLICATE of ``original`` (both must exist, and differ)."""
        if duplicate == original:
            return False
        rows = await self.tables.fetch(
            "SELECT num FROM open311_requests WHERE tenant = $1 AND num IN ($2, $3)",
            tenant, duplicate, original,
        )  # fmt: skip
        if len(rows) != 2:
            return False
        when = to_us(at)
        note = f"duplicate of {original}"
        statements = self._status_statements(tenant, duplicate, "DUPLICATE", when, actor, note,
                                             kind="merged")  # fmt: skip
        statements.append(
            (
                "UPDATE open311_requests SET duplicate_of = $3 WHERE tenant = $1 AND num = $2",
                (tenant, duplicate, original),
            )
        )
        statements.append(
            (
                "INSERT INTO open311_events(tenant, request_num, at, actor, kind, text, public) "
                "VALUES ($1, $2, $3, $4, 'merged', $5, 1)",
                (tenant, original, when, actor, f"request {duplicate} merged into this one"),
            )
        )
        await self.tables.execute(statements)
        return True
