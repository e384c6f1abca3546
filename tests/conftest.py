"""Shared fixtures: a Qala server on SQLite and on PostgreSQL, driven over HTTP.

Every test that takes ``client`` (or ``settings``) runs once per backend. PostgreSQL tests use
the server at ``QALA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``):
a fresh database is created for the session and emptied before each test. When the server is
unreachable they are skipped with the reason — except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from fastapi.testclient import TestClient

from qala.app import create_app
from qala.auth.keys import hash_key
from qala.config import Settings
from qala.store import migrate
from qala.store.urls import DatabaseURL
from testkit import ADMIN_KEY, IN_CI, PG_ADMIN_URL, require_service

__all__ = ["ADMIN_KEY", "IN_CI", "PG_ADMIN_URL", "require_service"]

BACKENDS = ("sqlite", "postgresql")


def _with_database(url: str, database: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{database}"


async def _pg(sql: str, url: str = PG_ADMIN_URL) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session."""
    name = f"qala_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        require_service(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    url = _with_database(PG_ADMIN_URL, name)
    migrate.upgrade(DatabaseURL(url))
    yield url
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_KEY_ROW = ("test-admin", "test admin", "admin", None, hash_key(ADMIN_KEY), 0)
_KEY_INSERT = "INSERT INTO api_keys(id, name, role, tenant, key_hash, created_at) VALUES "


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        tables = [
            r[0]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            await conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
        await conn.execute(_KEY_INSERT + "($1, $2, $3, $4, $5, $6)", *_KEY_ROW)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the admin key, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "qala.db"
    migrate.upgrade(DatabaseURL(f"sqlite:///{path}"))
    with sqlite3.connect(path) as conn:
        conn.execute(_KEY_INSERT + "(?, ?, ?, ?, ?, ?)", _KEY_ROW)
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "qala.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Device ingestion over MQTT is off unless a test turns it on (tests/iot): otherwise every
    # test server would subscribe to the shared broker and see every other test's messages.
    return Settings(database_url=database_url, allow_local_endpoints=True, mqtt_url="")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An HTTP client for a fresh Qala server (NGSI-LD API under /ngsi-ld/v1), acting as an
    admin (``Authorization: Bearer <ADMIN_KEY>`` on every request)."""
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as test_client:
        yield test_client


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if item.get_closest_marker("mqtt") is not None:
            # One broker serves every test, and an ingestor subscribes to every device topic:
            # tests that use it run one after the other on one worker (``--dist loadgroup``),
            # so no test's server sees another test's devices (it counts them as rejected).
            item.add_marker(pytest.mark.xdist_group("mqtt"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``--dist loadgroup`` a grouped test's id ends in ``@group`` (pytest-xdist renames it
    on the worker). If a pytest or pytest-xdist release stops doing so, the MQTT tests would run
    side by side on the shared broker again and fail now and then: fail at once instead."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid:
            raise pytest.UsageError(
                f"pytest-xdist did not group {item.nodeid}: this pytest and pytest-xdist do not "
                "work together for --dist loadgroup (see pyproject.toml)"
            )
