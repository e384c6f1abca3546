"""The store's interface: the hub's :class:`~qala.hub.storage.Storage` contract, plus the
JSON-LD context store, implemented by SQLite and PostgreSQL alike.

Writes go through :meth:`Store.write` only. The caller hands it the ids of the entities it will
touch and a *planner*: a pure function that receives their current state and returns a
:class:`WritePlan` (the new states, plus rows for other tables — history, outbox, audit). The
store runs the planner inside one transaction, with those entities locked, and persists the
plan atomically; a planner that raises leaves nothing behind. This is the one write path of the
hub: everything that must accompany a change is produced by the planner, in the same
transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from qala.hub.model import Entity
from qala.hub.query import AttributeInfo, EntityQuery, QueryResult, TypeInfo
from qala.hub.storage import (
    EntityWrite,
    GeoRow,
    Planner,
    RowBatch,
    Statement,
    Tenant,
    WritePlan,
)
from qala.jsonld.resolver import StoredContext

__all__ = [
    "EntityWrite",
    "GeoRow",
    "Planner",
    "RowBatch",
    "Statement",
    "Store",
    "Tenant",
    "WritePlan",
]

class Store(abc.ABC):
    """A hub store. Every method is safe to call concurrently from the event loop."""

    dialect: str

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def health(self) -> dict[str, Any]: ...

    # -- tenants ----------------------------------------------------------------------------

    @abc.abstractmethod
    async def tenant(self, name: str) -> Tenant | None:
        """The tenant called ``name``, or None."""

    @abc.abstractmethod
    async def tenants(self) -> list[Tenant]: ...

    @abc.abstractmethod
    async def ensure_tenant(self, name: str) -> Tenant: ...

    @abc.abstractmethod
    async def update_tenant_settings(self, name: str, settings: dict[str, Any]) -> Tenant: ...

    # -- entities ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def write(
        self, tenant: str, entity_ids: Sequence[str], planner: Planner, *, create_tenant: bool
    ) -> WritePlan:
        """Run ``planner`` on the current state of ``entity_ids`` and persist its plan."""

    @abc.abstractmethod
    async def get_entity(self, tenant_id: int, entity_id: str) -> Entity | None: ...

    @abc.abstractmethod
    async def query(self, tenant_id: int, query: EntityQuery) -> QueryResult: ...

    @abc.abstractmethod
    async def types(self, tenant_id: int) -> list[str]: ...

    @abc.abstractmethod
    async def type_details(self, tenant_id: int, types: list[str] | None) -> list[TypeInfo]: ...

    @abc.abstractmethod
    async def attribute_details(
        self, tenant_id: int, attrs: list[str] | None
    ) -> list[AttributeInfo]: ...

    # -- generic access for capabilities' own tables ----------------------------------------
    # SQL uses $1, $2, … placeholders on both backends (SQLite reads them as ?1, ?2, …).

    @abc.abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query."""

    @abc.abstractmethod
    async def execute(self, statements: Sequence[Statement]) -> list[int]:
        """Run statements in one transaction; the number of rows each affected."""

    @abc.abstractmethod
    async def insert_rows(self, batches: Sequence[RowBatch]) -> None:
        """Insert rows (one transaction), e.g. bulk history loads."""

    # -- JSON-LD context store --------------------------------------------------------------

    @abc.abstractmethod
    async def context_by_url(self, url: str) -> StoredContext | None: ...

    @abc.abstractmethod
    async def context_by_id(self, local_id: str) -> StoredContext | None: ...

    @abc.abstractmethod
    async def save_context(self, ctx: StoredContext) -> None: ...

    @abc.abstractmethod
    async def contexts(self, kind: str | None = None) -> list[StoredContext]: ...

    @abc.abstractmethod
    async def delete_context(self, local_id: str) -> bool: ...

    @abc.abstractmethod
    async def touch_context(self, local_id: str) -> None:
        """Count a use of a stored context (``numberOfHits``, ``lastUsage``)."""
