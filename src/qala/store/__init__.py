"""Storage of the hub: SQLite (embedded default) and PostgreSQL behind one interface."""

from __future__ import annotations

from qala.config import Settings
from qala.store.base import Store
from qala.store.urls import DatabaseURL


def open_store(settings: Settings) -> Store:
    """The store for ``settings.database_url`` (not yet opened: ``await store.open()``)."""
    url = DatabaseURL(settings.database_url)
    if url.is_sqlite:
        from qala.store.sqlite import SQLiteStore

        return SQLiteStore(url, synchronous=settings.sqlite_synchronous)
    from qala.store.postgres import PostgresStore

    return PostgresStore(url)
