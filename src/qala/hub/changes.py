"""Changes and the participants that react to them inside the write transaction.

Every write produces :class:`Change` records. *Participants* (temporal history, the
notification outbox, the audit log, …) turn them into rows that the store writes in the same
transaction as the entities, so none of them can be bypassed or lost; after the commit they may
act (wake a notification worker) through :meth:`Participant.after_commit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from qala.hub.access import Actor
from qala.hub.model import Entity, us_to_iso
from qala.hub.storage import RowBatch, Tenant

ChangeKind = Literal["create", "update", "replace", "delete"]


@dataclass(slots=True)
class Change:
    """What one operation did to one entity."""

    kind: ChangeKind
    entity_id: str
    before: Entity | None
    after: Entity | None
    #: Attributes (expanded IRIs) created or modified, and those deleted, by this change.
    updated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)


@dataclass(slots=True)
class WriteContext:
    """The circumstances of a write, shared by all its changes."""

    operation: str  # e.g. "entity.create", "batch.upsert", "attrs.append"
    actor: Actor
    now_us: int
    #: Request details for the audit log and notifications (e.g. the @context used).
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``now_us`` as an NGSI-LD DateTime (createdAt/modifiedAt of what this write touches).
    now_iso: str = ""

    def __post_init__(self) -> None:
        if not self.now_iso:
            self.now_iso = us_to_iso(self.now_us)


class Participant(Protocol):
    """Something that must happen with every committed change."""

    def rows_for(
        self, tenant: Tenant, changes: list[Change], ctx: WriteContext
    ) -> list[RowBatch]: ...

    async def after_commit(
        self, tenant: Tenant, changes: list[Change], ctx: WriteContext
    ) -> None: ...
