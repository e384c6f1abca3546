"""The running server's services, wired once at start and shared by every API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from qala.config import Settings
from qala.hub import Hub
from qala.jsonld.resolver import ContextResolver
from qala.store import open_store
from qala.store.base import Store


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    hub: Hub
    contexts: ContextResolver
    #: Background tasks and workers other modules start (notifications, ingestion…).
    extras: dict[str, Any] = field(default_factory=dict)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def open_storage(settings: Settings) -> Store:
    """The store of ``settings.database_url``, opened (close it with ``await store.close()``):
    how a command outside the server reaches the database."""
    store = open_store(settings)
    await store.open()
    return store
