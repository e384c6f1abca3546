"""What the hub needs from a store, declared by the hub: the contract SQLite and PostgreSQL meet.

The hub never imports a store. It declares here the records a write is made of and the
:class:`Storage` protocol; ``qala.store`` implements it (``qala.store.base.Store``), and the
server hands the hub a store at start. Capabilities receive the same object, typed by this
protocol, for their own tables (:class:`Tables`): SQL with ``$1, $2, …`` placeholders on both
backends, never another capability's tables.

Writes go through :meth:`Storage.write` only. The caller hands it the ids of the entities it
will touch and a *planner*: a pure function that receives their current state and returns a
:class:`WritePlan` (the new states, plus rows for other tables — history, outbox, audit). The
store runs the planner inside one transaction, with those entities locked, and persists the
plan atomically; a planner that raises leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from qala.hub.model import Entity
from qala.hub.query import AttributeInfo, EntityQuery, QueryResult, TypeInfo

GeoRow = tuple[str, float, float, float, float]  # attribute IRI, minx, miny, maxx, maxy


@dataclass(slots=True)
class Tenant:
    """A city served by the hub, with its settings (see ``qala.admin``)."""

    id: int
    name: str
    settings: dict[str, Any]


@dataclass(slots=True)
class EntityWrite:
    kind: Literal["insert", "update", "delete"]
    entity: Entity
    types_changed: bool = True
    #: Bounding boxes of the entity's GeoProperties; None on update means "unchanged".
    geo: list[GeoRow] | None = None


@dataclass(slots=True)
class RowBatch:
    """Rows for another table, written in the same transaction (history, outbox, audit…)."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    #: Columns holding JSON documents (cast to jsonb on PostgreSQL).
    json_columns: tuple[str, ...] = ()


Statement = tuple[str, Sequence[Any]]
"""SQL with ``$1, $2, …`` placeholders (both backends) and its arguments."""


@dataclass(slots=True)
class WritePlan:
    writes: list[EntityWrite] = field(default_factory=list)
    batches: list[RowBatch] = field(default_factory=list)
    #: Further statements (UPDATE/DELETE on a capability's tables), run after the rows.
    statements: list[Statement] = field(default_factory=list)
    #: Whatever the caller wants back (per-entity outcomes, the changes…).
    result: Any = None


Planner = Callable[[Tenant, dict[str, Entity]], WritePlan]


class Tables(Protocol):
    """Access to a capability's own tables: SQL with ``$1, $2, …`` placeholders.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``, for the rare statement that differs.
    """

    dialect: str

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query."""
        ...

    async def execute(self, statements: Sequence[Statement]) -> list[int]:
        """Run statements in one transaction; the number of rows each affected."""
        ...

    async def insert_rows(self, batches: Sequence[RowBatch]) -> None:
        """Insert rows (one transaction), e.g. bulk history loads."""
        ...


class Storage(Tables, Protocol):
    """Everything the hub asks of a store: tenants, entities, the one write path."""

    async def health(self) -> dict[str, Any]: ...

    async def tenant(self, name: str) -> Tenant | None:
        """The tenant called ``name``, or None."""
        ...

    async def tenants(self) -> list[Tenant]: ...

    async def ensure_tenant(self, name: str) -> Tenant: ...

    async def update_tenant_settings(self, name: str, settings: dict[str, Any]) -> Tenant: ...

    async def write(
        self, tenant: str, entity_ids: Sequence[str], planner: Planner, *, create_tenant: bool
    ) -> WritePlan:
        """Run ``planner`` on the current state of ``entity_ids`` and persist its plan."""
        ...

    async def get_entity(self, tenant_id: int, entity_id: str) -> Entity | None: ...

    async def query(self, tenant_id: int, query: EntityQuery) -> QueryResult: ...

    async def types(self, tenant_id: int) -> list[str]: ...

    async def type_details(self, tenant_id: int, types: list[str] | None) -> list[TypeInfo]: ...

    async def attribute_details(
        self, tenant_id: int, attrs: list[str] | None
    ) -> list[AttributeInfo]: ...
