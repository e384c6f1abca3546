"""Applying the Alembic migrations: on server start, and by ``qala db upgrade``."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from qala.store.urls import DatabaseURL

# Serialises concurrent upgrades (several server processes starting at once) on PostgreSQL.
_PG_LOCK = 7_140_001


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "qala.store:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    command.upgrade(_config(connection), revision)


def upgrade(url: DatabaseURL, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision``. Blocking: call it from a worker thread."""
    if url.is_sqlite:
        # Python's sqlite3 runs DDL outside any transaction: a crash in the middle of a
        # migration would leave half a schema, and processes starting together on a new file
        # would each create the tables. One BEGIN IMMEDIATE transaction makes the upgrade
        # atomic and lets concurrent upgraders wait for each other (then find nothing to do).
        engine = create_engine(url.sqlalchemy, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        try:
            with engine.begin() as connection:
                _upgrade(connection, revision)
        finally:
            engine.dispose()
        return

    async def run() -> None:
        engine = create_async_engine(url.sqlalchemy)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade, revision)
        finally:
            await engine.dispose()

    asyncio.run(run())
