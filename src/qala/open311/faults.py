"""The device-fault rule: a request opens by itself when a device reports a fault.

A hub participant (registered by the capability's start): after every committed write it
looks at the changed entities of the kinds it knows — a ``Streetlight`` whose ``status`` turns
``broken``, ``error``, ``fault`` or ``defective`` — and files a request of the matching service
(``STREETLIGHT``) in that city, referencing the device entity (``refEntity``) at its location.

Never twice for the same fault: the idempotency key is the entity id and the time the fault
began (the ``status`` instance's ``observedAt``, else the write's time). The request's token
is derived from that key (``open311_requests.token`` is unique), so even two servers seeing
the same change file it once; a status that stays faulty over later writes is the same fault,
and a device repaired and broken again is a new one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qala.hub import Actor, Change, RowBatch, Tenant, WriteContext, access, parse_datetime
from qala.open311 import mirror
from qala.open311.office import Office
from qala.open311.repository import Draft
from qala.open311.sla import expected_datetime

log = logging.getLogger("qala.open311")

STREETLIGHT = "https://uri.etsi.org/ngsi-ld/default-context/Streetlight"
FAULTY = frozenset({"broken", "error", "fault", "defective"})
RULE_CLIENT = "qala-fault-rule"


@dataclass(slots=True, frozen=True)
class Rule:
    """Entities of ``entity_type`` whose ``attribute`` takes a value in ``faulty`` open a
    request of ``service_code``."""

    entity_type: str
    attribute: str
    faulty: frozenset[str]
    service_code: str
    description: str
    #: The service's attribute values the rule fills in (required ones included).
    attributes: tuple[tuple[str, str], ...] = ()


RULES = (
    Rule(STREETLIGHT, mirror.STATUS, FAULTY, "STREETLIGHT",
         "Reported by the streetlight itself: status {value!r}", (("problem", "dark"),)),
)  # fmt: skip


def _value(instance: Any) -> Any:
    if isinstance(instance, list):
        instance = instance[0] if instance else None
    return instance.get("value") if isinstance(instance, dict) else None


def fault_key(entity_id: str, start: str) -> str:
    return f"fault:{entity_id}@{start}"


def token_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class FaultRule:
    """The participant: writes no rows of its own, files requests after the commit."""

    def __init__(self, office: Office) -> None:
        self.office = office

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        return []

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        city = self.office.catalogue.by_tenant(tenant.name)
        if city is None or ctx.operation.startswith("open311."):
            return
        for change in changes:
            after = change.after
            if after is None:
                continue
            for rule in RULES:
                if rule.entity_type not in after.types or rule.attribute not in change.updated:
                    continue
                now = _value(after.attrs.get(rule.attribute))
                was = _value(change.before.attrs.get(rule.attribute)) if change.before else None
                if not isinstance(now, str) or now.lower() not in rule.faulty:
                    continue
                if isinstance(was, str) and was.lower() in rule.faulty:
                    continue  # the same fault, still on
                instance = after.attrs[rule.attribute]
                if isinstance(instance, list):
                    instance = instance[0]
                start = instance.get("observedAt") or ctx.now_iso
                try:
                    await self.open(city.tenant, after, rule, now, start)
                except Exception:
                    log.exception("the fault rule could not file a request for %s", after.id)

    async def open(self, tenant: str, entity: Any, rule: Rule, value: str, start: str) -> bool:
        """File the fault's request unless it was filed already; True when filed now."""
        office = self.office
        city = office.city_of_tenant(tenant)
        key = fault_key(entity.id, start)
        token = token_of(key)
        if await office.repo.by_token(tenant, token) is not None:
            return False
        service = city.service(rule.service_code)
        try:
            began = parse_datetime(start)
        except Exception:
            began = datetime.now(UTC)
        lat = long = None
        location = _value(entity.attrs.get(mirror.LOCATION))
        if isinstance(location, dict) and location.get("type") == "Point":
            long, lat = location["coordinates"][:2]
        draft = Draft(
            service_code=service.code,
            agency=service.agency.id,
            requested_at=began,
            expected_at=expected_datetime(service.sla, began, office.calendars[tenant]),
            lang=city.default_language,
            service_notice=service.notice.get(city.default_language),
            description=rule.description.format(value=value),
            lat=lat,
            long=long,
            address_id=None if lat is not None else entity.id,
            attributes=dict(rule.attributes),
            external_id=key,
            client=RULE_CLIENT,
            entity_id=entity.id,
        )
        actor = Actor(id="open311:fault-rule", role=access.OPERATOR, tenant=tenant,
                      via="system")  # fmt: skip
        try:
            await office.file(city, draft, actor, token=token, filed_by=RULE_CLIENT)
        except Exception:
            if await office.repo.by_token(tenant, token) is not None:
                return False  # filed by another server meanwhile
            raise
        return True
