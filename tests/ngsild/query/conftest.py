"""Fixtures of the q-language tests: SQLite and PostgreSQL runners."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from ngsild_query_support import PostgresRunner, SQLiteRunner


@pytest.fixture(scope="session")
def sqlite_runner() -> Iterator[SQLiteRunner]:
    runner = SQLiteRunner()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def postgres_runner() -> Iterator[PostgresRunner]:
    """A PostgreSQL runner; skips when the server is unreachable, except on CI
    (CI=true), where an unreachable server is a failure."""
    try:
        runner = PostgresRunner.connect()
    except Exception as exc:
        reason = f"PostgreSQL at 127.0.0.1:5432 (database test) is unreachable: {exc!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " — required on CI", pytrace=False)
        pytest.skip(reason)
    yield runner
    runner.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def runner(request: pytest.FixtureRequest) -> SQLiteRunner | PostgresRunner:
    """Each test using it runs once per database."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_runner")
    return request.getfixturevalue("postgres_runner")
