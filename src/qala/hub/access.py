"""Who is asking and what they may read and change: the hub's access rule, in one place.

The hub applies it on every read and write (:class:`~qala.hub.Hub`), so every API — NGSI-LD,
temporal, subscriptions, ingestion and the capabilities built on the hub — applies the same
rules. Roles:

* ``admin`` — every tenant (or the one it is bound to); reads and changes everything,
  including the platform's settings and keys.
* ``city-operator`` — its tenant; reads and changes everything in it.
* ``partner`` (a private operator) — its tenant; reads the entities it owns and the entity
  types the city shares with partners; creates entities (it becomes their owner) and changes
  only the entities it owns.
* ``auditor`` — every tenant; reads everything, with full history and the audit log; changes
  nothing.
* ``public`` — every tenant (or the one it is bound to); reads the entity types a city marks
  as open data; changes nothing (files citizen requests).

A city shares entity types through its tenant settings ``partnerTypes`` and ``openDataTypes``
(lists of expanded type IRIs). Entities a role may not see are answered as not found, so their
existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qala.hub.errors import Forbidden
from qala.hub.model import DEFAULT_TENANT, Entity
from qala.hub.query import Param
from qala.hub.storage import Tenant

ADMIN = "admin"
OPERATOR = "city-operator"
PARTNER = "partner"
AUDITOR = "auditor"
PUBLIC = "public"
ROLES = (ADMIN, OPERATOR, PARTNER, AUDITOR, PUBLIC)

WRITERS = frozenset({ADMIN, OPERATOR, PARTNER})
#: Roles that must be bound to one tenant.
TENANT_BOUND = frozenset({OPERATOR, PARTNER})

PARTNER_TYPES = "partnerTypes"
OPEN_DATA_TYPES = "openDataTypes"


@dataclass(slots=True, frozen=True)
class Actor:
    """Who is asking: recorded as owner on create and in the audit log; the access policy
    (this module) decides from ``role`` and ``tenant`` what it may read and write."""

    id: str = "anonymous"
    role: str = "admin"
    address: str | None = None
    #: The one tenant this actor is bound to; None: not bound (admin, auditor).
    tenant: str | None = None
    #: How it authenticated: "key:<id>", "jwt", "anonymous", "disabled", "system".
    via: str = "system"

    @classmethod
    def system(cls) -> Actor:
        return cls(id="system", role="admin")


def tenant_label(name: str | None) -> str:
    return name or "(default)"


def check_tenant(actor: Actor, tenant: str | None) -> None:
    """The actor may act in ``tenant`` at all."""
    if actor.tenant is not None and actor.tenant != (tenant or DEFAULT_TENANT):
        raise Forbidden(
            f"{actor.role} {actor.id!r} works in tenant {tenant_label(actor.tenant)!r}, "
            f"not {tenant_label(tenant)!r}"
        )


def check_write(actor: Actor, tenant: str | None, what: str = "city data") -> None:
    """The actor may change ``what`` in ``tenant``."""
    check_tenant(actor, tenant)
    if actor.role not in WRITERS:
        raise Forbidden(f"the {actor.role} role may read but not change {what}")


def check_admin(actor: Actor, what: str) -> None:
    if actor.role != ADMIN:
        raise Forbidden(f"only an admin may {what}")


def check_reader_of_everything(actor: Actor, what: str) -> None:
    """Admins and auditors only (audit log, other tenants' history…)."""
    if actor.role not in (ADMIN, AUDITOR):
        raise Forbidden(f"only an admin or an auditor may {what}")


def check_entity_write(actor: Actor, before: Entity | None) -> None:
    """A partner changes only the entities it owns (it may create new ones)."""
    if actor.role == PARTNER and before is not None and before.owner != actor.id:
        raise Forbidden(
            f"entity {before.id!r} belongs to another party; a partner may change only "
            "the entities it created"
        )


@dataclass(slots=True)
class ReadScope:
    """The entities a partner or the public may see in one tenant: an entity filter."""

    owner: str | None
    types: frozenset[str]

    def matches(self, entity: Entity) -> bool:
        if self.owner is not None and entity.owner == self.owner:
            return True
        return any(t in self.types for t in entity.types)

    def sql(self, dialect: str, param: Param) -> tuple[str, bool] | None:
        parts = []
        if self.owner is not None:
            parts.append(f"e.owner = {param(self.owner)}")
        if self.types:
            marks = ", ".join(param(t) for t in sorted(self.types))
            parts.append(
                "EXISTS (SELECT 1 FROM entity_types ts WHERE ts.entity_pk = e.pk "
                f"AND ts.type IN ({marks}))"
            )
        return ("(" + " OR ".join(parts) + ")" if parts else "1 = 0"), True


def read_scope(actor: Actor, tenant: Tenant) -> ReadScope | None:
    """None when the actor reads everything in ``tenant``; else the part it may see."""
    if actor.role in (ADMIN, OPERATOR, AUDITOR):
        return None
    settings: dict[str, Any] = tenant.settings
    if actor.role == PARTNER:
        return ReadScope(actor.id, frozenset(settings.get(PARTNER_TYPES, ())))
    return ReadScope(None, frozenset(settings.get(OPEN_DATA_TYPES, ())))
