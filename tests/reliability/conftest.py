"""Fixtures for reliability tests: server processes and databases to restore into."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import pytest
from reliability_support import ServerProcess, create_admin_key, fresh_postgres


def _require_service(config: pytest.Config) -> Callable[[str | None], None]:
    """``require_service`` of the suite's root conftest (this folder's conftest shadows the
    module name ``conftest``, so it is found through pytest's plugin registry)."""
    root = str(Path(__file__).resolve().parent.parent / "conftest.py")
    plugin = config.pluginmanager.get_plugin(root)
    assert plugin is not None, f"{root} is not loaded"
    helper: Callable[[str | None], None] = plugin.require_service
    return helper


@pytest.fixture
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
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
                _require_service(request.config)(f"PostgreSQL is not reachable: {exc}")
                raise

        yield make


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process on the test's database (not started), called with an admin key
    made by ``qala keys create``."""
    process = ServerProcess(database_url, tmp_path / "server.log", create_admin_key(database_url))
    yield process
    process.stop()
