"""The Open311 capability's running core: filing, changing and mirroring service requests.

:class:`Office` is what the routes, the device-fault rule, the escalation check and the demo
share: the catalogue, the back-office repository, the cities' working calendars, the API-key
check and the rate limiters. Every change of a request is one hub transaction
(:meth:`Office._write`): the request's NGSI-LD entity (``mirror``) and the rows of the back
office (``writes``) commit together. Updates a client posts (``servicerequestupdates``) are
the exception: the repository stores them idempotently in its own transaction (a repeated
``update_id`` changes nothing), then :meth:`Office.sync` copies the request's state onto its
entity — a write that can be repeated without harm.

``api_key``: Open311 clients send it as a form parameter, not as ``Authorization``, so the
authentication middleware lets ``/open311/`` through and this module checks the key against
Qala's API keys (``qala.auth.keys``): any active key of the city (or of no city) files
requests and posts updates, except an auditor's (it changes nothing). The hub writes of the
Open311 edge are made on the city's behalf: a ``city-operator`` actor bound to the city, whose
id names the key that asked (``key:<id>``) and ``via`` is ``open311``.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from qala.auth.keys import ApiKey, KeyCache
from qala.auth.middleware import RateLimiter
from qala.hub import Actor, AlreadyExists, Hub, Statement, Storage, Transaction, access
from qala.open311 import mirror, writes
from qala.open311.catalogue import Catalogue, City
from qala.open311.duplicates import Suggestion, suggest
from qala.open311.forms import NewRequest
from qala.open311.model import EXTENDED_STATUSES, GeoReportError
from qala.open311.repository import Draft, Repository, StoredRequest
from qala.open311.sla import WorkingCalendar, expected_datetime

log = logging.getLogger("qala.open311")

_ATTEMPTS = 20


@dataclasses.dataclass(slots=True)
class Limits:
    """Requests per second and burst, per ``api_key`` and per client address."""

    read_rate: float = 20.0
    read_burst: int = 200
    write_rate_per_key: float = 5.0
    write_burst_per_key: int = 300
    write_rate_per_address: float = 0.5
    write_burst_per_address: int = 30


def stored_from_draft(tenant: str, num: int, token: str, draft: Draft) -> StoredRequest:
    """The request's row as ``writes.insert_request`` writes it."""
    return StoredRequest(
        tenant=tenant, num=num, token=token, service_code=draft.service_code, status="open",
        extended_status="OPEN", status_notes=None, description=draft.description,
        agency=draft.agency, assigned_to=None, service_notice=draft.service_notice,
        lang=draft.lang, requested_at=draft.requested_at, updated_at=draft.requested_at,
        expected_at=draft.expected_at, closed_at=None, address=draft.address,
        address_id=draft.address_id, zipcode=draft.zipcode, lat=draft.lat, long=draft.long,
        pinpointed=draft.pinpointed, media_urls=list(draft.media_urls),
        attributes=dict(draft.attributes), extra=dict(draft.extra), personal=draft.personal,
        external_id=draft.external_id, client=draft.client, duplicate_of=None,
        entity_id=draft.entity_id, supporters=0,
    )  # fmt: skip


class Office:
    def __init__(
        self,
        hub: Hub,
        tables: Storage,
        catalogue: Catalogue,
        keys: KeyCache,
        *,
        check_keys: bool = True,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.hub = hub
        self.tables = tables
        self.repo = Repository(tables)  # type: ignore[arg-type]
        self.catalogue = catalogue
        self.keys = keys
        self.check_keys = check_keys
        self.clock = clock
        self.calendars = {c.tenant: WorkingCalendar(c.zone) for c in catalogue.cities}
        self.set_limits(limits or Limits())

    def set_limits(self, limits: Limits) -> None:
        self.limits = limits
        self.read_limiter = RateLimiter(limits.read_rate, limits.read_burst)
        self.key_limiter = RateLimiter(limits.write_rate_per_key, limits.write_burst_per_key)
        self.address_limiter = RateLimiter(
            limits.write_rate_per_address, limits.write_burst_per_address
        )

    def city_of_tenant(self, tenant: str) -> City:
        city = self.catalogue.by_tenant(tenant)
        if city is None:
            raise GeoReportError.one(404, f"{tenant!r} has no Open311 service")
        return city

    # -- the api_key ------------------------------------------------------------------------

    async def client_actor(self, api_key: str | None, city: City, address: str | None) -> Actor:
        """The actor writing for the client of ``api_key``; 403 when the key is missing,
        unknown, revoked, of another city or an auditor's."""
        if not api_key:
            raise GeoReportError.one(403, "api_key is required")
        key: ApiKey | None = None
        if self.check_keys:
            key = await self.keys.lookup(api_key)
            if key is None or not key.active:
                raise GeoReportError.one(403, "api_key is not valid (unknown or revoked)")
            if key.tenant is not None and key.tenant != city.tenant:
                raise GeoReportError.one(
                    403, f"api_key is not a key of jurisdiction {city.jurisdiction_id!r}"
                )
            if key.role == access.AUDITOR:
                raise GeoReportError.one(403, "an auditor's api_key may not change requests")
        who = f"key:{key.id}" if key is not None else "key:unchecked"
        return Actor(id=who, role=access.OPERATOR, address=address, tenant=city.tenant,
                     via="open311")  # fmt: skip

    # -- filing -----------------------------------------------------------------------------

    def draft(self, new: NewRequest, now: datetime, client: str | None) -> Draft:
        calendar = self.calendars[new.city.tenant]
        expected = expected_datetime(new.service.sla, now, calendar)
        draft = Draft.from_form(new, now, expected, client)
        target = draft.extra.pop("qala_entity", None)
        if target and ":" in target and " " not in target:
            draft.entity_id = target
        return draft

    async def _candidate_number(self, tenant: str) -> int:
        rows = await self.tables.fetch(
            "SELECT COALESCE(MAX(num), 0), (SELECT MAX(next) FROM open311_counters "
            "WHERE tenant = $1) FROM open311_requests WHERE tenant = $1",
            tenant,
        )
        highest, counter = rows[0]
        return max(int(highest or 0), int(counter or 0)) + 1

    async def file(
        self, city: City, draft: Draft, actor: Actor, *, token: str | None = None,
        filed_by: str = "resident",
    ) -> StoredRequest:  # fmt: skip
        """File ``draft`` in ``city``: its row, history and entity in one write."""
        token = token or uuid.uuid4().hex
        for _ in range(_ATTEMPTS):
            num = await self._candidate_number(city.tenant)
            stored = stored_from_draft(city.tenant, num, token, draft)
            eid = mirror.entity_id(city.tenant, num)

            def body(tx: Transaction, stored: StoredRequest = stored, num: int = num) -> None:
                tx.create(mirror.entity(stored, city))
                tx.add_statements(writes.insert_request(city.tenant, num, token, draft,
                                                        filed_by))  # fmt: skip

            try:
                await self.hub.transact(
                    city.tenant, actor, operation="open311.file", entity_ids=[eid], body=body
                )
            except AlreadyExists:
                continue  # the number was taken meanwhile: take the next
            return stored
        raise GeoReportError.one(400, "the request could not be numbered; send it again")

    # -- changes ----------------------------------------------------------------------------

    async def get(self, city: City, num: int | str) -> StoredRequest:
        stored = await self.repo.get(city.tenant, str(num))
        if stored is None:
            raise GeoReportError.one(404, f"service_request_id {str(num)!r} was not found")
        return stored

    async def _write(
        self,
        city: City,
        after: StoredRequest,
        statements: Sequence[Statement],
        actor: Actor,
        operation: str,
    ) -> None:
        eid = mirror.entity_id(city.tenant, after.num)

        def body(tx: Transaction) -> None:
            current = tx.get(eid)
            if current is None:
                tx.create(mirror.entity(after, city))
            else:
                attrs = mirror.attributes(after, city)
                gone = [i for i in current.attrs if i not in attrs and i != mirror.ESCALATED]
                tx.update(eid, attrs=attrs, delete=gone)
            tx.add_statements(statements)

        await self.hub.transact(
            city.tenant, actor, operation=operation, entity_ids=[eid], body=body
        )

    async def change_status(
        self, city: City, num: int, extended: str, actor: Actor, notes: str | None = None,
        *, kind: str = "status",
    ) -> StoredRequest:  # fmt: skip
        if extended not in EXTENDED_STATUSES:
            raise GeoReportError.one(400, f"status {extended!r} is not an extended status")
        before = await self.get(city, num)
        now = self.clock()
        status = EXTENDED_STATUSES[extended]
        after = dataclasses.replace(
            before, status=status, extended_status=extended, status_notes=notes,
            updated_at=max(now, before.updated_at),
            closed_at=(before.closed_at or now) if status == "closed" else None,
        )  # fmt: skip
        _, statements = writes.status_change(
            self.repo, city.tenant, num, extended, now, actor.id, notes, kind=kind
        )
        await self._write(city, after, statements, actor, f"open311.{kind}")
        return after

    async def assign(
        self, city: City, num: int, actor: Actor, *, agency: str | None,
        assignee: str | None, note: str | None = None,
    ) -> StoredRequest:  # fmt: skip
        before = await self.get(city, num)
        now = self.clock()
        after = dataclasses.replace(
            before, agency=agency or before.agency, assigned_to=assignee or before.assigned_to,
            updated_at=max(now, before.updated_at),
        )  # fmt: skip
        detail = {"agency": agency, "assignee": assignee}
        statements = [
            writes.assignment(city.tenant, num, agency, assignee, now),
            writes.event(city.tenant, num, now, actor.id, "assigned", note, public=False,
                         detail=detail),
        ]  # fmt: skip
        await self._write(city, after, statements, actor, "open311.assign")
        return after

    async def add_note(
        self, city: City, num: int, actor: Actor, text: str, *, public: bool
    ) -> StoredRequest:
        stored = await self.get(city, num)
        await self.repo.add_note(city.tenant, num, self.clock(), actor.id, text, public=public)
        return stored

    async def merge(
        self, city: City, duplicate: int, original: int, actor: Actor
    ) -> StoredRequest:
        if duplicate == original:
            raise GeoReportError.one(400, "a request cannot be a duplicate of itself")
        before = await self.get(city, duplicate)
        await self.get(city, original)
        now = self.clock()
        note = f"duplicate of {original}"
        after = dataclasses.replace(
            before, status="closed", extended_status="DUPLICATE", status_notes=note,
            updated_at=max(now, before.updated_at), closed_at=before.closed_at or now,
            duplicate_of=original,
        )  # fmt: skip
        _, statements = writes.status_change(
            self.repo, city.tenant, duplicate, "DUPLICATE", now, actor.id, note, kind="merged"
        )
        statements += [
            writes.duplicate_of(city.tenant, duplicate, original),
            writes.event(city.tenant, original, now, actor.id, "merged",
                         f"request {duplicate} merged into this one", public=True),
        ]  # fmt: skip
        await self._write(city, after, statements, actor, "open311.merge")
        return after

    async def sync(self, city: City, num: int, actor: Actor) -> None:
        """Copy the request's stored state onto its entity (after an update a client sent)."""
        await self._write(city, await self.get(city, num), [], actor, "open311.update")

    async def suggestions(self, city: City, stored: StoredRequest) -> list[Suggestion]:
        """Open requests of the same service near this one (duplicate candidates)."""
        if stored.lat is None or stored.long is None:
            return []
        service = city.service(stored.service_code)
        window = timedelta(hours=service.duplicate_window_h)
        found = await self.repo.nearby(
            city.tenant, stored.service_code, stored.lat, stored.long,
            service.duplicate_radius_m, stored.requested_at - window,
            stored.requested_at + window,
        )  # fmt: skip
        others = [c for c in found if c.service_request_id != stored.service_request_id]
        return suggest(service, stored.lat, stored.long, stored.requested_at, others)

    # -- escalation -------------------------------------------------------------------------

    async def escalate_overdue(self, city: City, actor: Actor | None = None) -> list[str]:
        """Escalate every open request past its expected time not escalated yet: a history
        event (kind ``escalated``) and ``escalated`` on its entity. Returns their ids."""
        actor = actor or Actor(id="open311:escalation", role=access.OPERATOR,
                               tenant=city.tenant, via="system")  # fmt: skip
        now = self.clock()
        rows = await self.tables.fetch(
            "SELECT r.num FROM open311_requests r WHERE r.tenant = $1 AND r.status = 'open' "
            "AND r.expected_at IS NOT NULL AND r.expected_at < $2 AND NOT EXISTS (SELECT 1 "
            "FROM open311_events e WHERE e.tenant = r.tenant AND e.request_num = r.num "
            "AND e.kind = 'escalated') ORDER BY r.num LIMIT 500",
            city.tenant, int(now.timestamp() * 1_000_000),
        )  # fmt: skip
        done = []
        for (num,) in rows:
            stored = await self.get(city, int(num))
            statement = writes.event(
                city.tenant, stored.num, now, actor.id, "escalated",
                f"overdue since {stored.expected_at.isoformat() if stored.expected_at else '?'}",
                public=False, detail={"agency": stored.agency},
            )  # fmt: skip
            eid = mirror.entity_id(city.tenant, stored.num)

            def body(
                tx: Transaction, stored: StoredRequest = stored, st: Any = statement,
                eid: str = eid,
            ) -> None:  # fmt: skip
                if tx.get(eid) is None:
                    tx.create(mirror.entity(stored, city))
                tx.update(eid, attrs={mirror.ESCALATED: {"type": "Property", "value": True}})
                tx.add_statements([st])

            await self.hub.transact(city.tenant, actor, operation="open311.escalate",
                                    entity_ids=[eid], body=body)  # fmt: skip
            done.append(stored.service_request_id)
        return done
