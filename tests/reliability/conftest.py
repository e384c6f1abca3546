"""Fixtures for reliability tests: server processes and databases to restore into."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import pytest
from reliability_support import ServerProcess, create_admin_key, fresh_postgres

from testkit import require_service


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``new_database(backend)``: the URL of a new database without any schema (a SQLite
    file that does not exist yet, or a new PostgreSQL database, dropped afterwards)."""
    with ExitStack() as stack:
        count = 0

        def make(backend: str) -> str:
            nonlocal count
            count += 1
            if backend == "sqlite":
                return f"sqlite:///{tmp_path / f'restored-{count}' / 'qala.db'}"
            try:
                return stack.enter_context(fresh_postgres())
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                require_service(f"PostgreSQL is not reachable: {exc}")
                raise

        yield make


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process on the test's database (not started), called with an admin key
    made by ``qala keys create``."""
    process = ServerProcess(database_url, tmp_path / "server.log", create_admin_key(database_url))
    yield process
    process.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Restores into PostgreSQL need it too (the root conftest marks source backends)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("target") == "postgresql":
            item.add_marker(pytest.mark.postgres)
