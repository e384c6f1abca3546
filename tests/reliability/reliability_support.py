"""Support for reliability tests: real server processes, direct table reads, fresh databases."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from typer.testing import CliRunner

from qala.cli import app as cli_app
from qala.store.urls import DatabaseURL
from testkit import PG_ADMIN_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_admin_key(database_url: str) -> str:
    """``qala keys create --role admin``: the key a server process is called with."""
    result = CliRunner().invoke(
        cli_app,
        ["keys", "create", "--role", "admin", "--name", "reliability", "--db", database_url],
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("qala_"), result.stdout
    return secret


class ServerProcess:
    """A Qala server in its own process (uvicorn), which a test may SIGKILL and restart."""

    def __init__(
        self, database_url: str, log_path: Path, key: str, *, cli: bool = False, **settings: str
    ) -> None:
        self.cli = cli  # run `qala serve` (the CLI's uvicorn options) instead of bare uvicorn
        self.port = free_port()
        self.database_url = database_url
        self.log_path = log_path
        self.key = key
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def start(self, timeout: float = 60.0) -> None:
        env = {
            **os.environ,
            "QALA_DATABASE_URL": self.database_url,
            "QALA_MQTT_URL": "",  # no device ingestion: these tests are about the write path
            "QALA_RATE_LIMIT": "0",  # one key makes every request
            "QALA_TEMPORAL_COMPACT_INTERVAL": "0",
            "QALA_ALLOW_LOCAL_ENDPOINTS": "true",
            **{f"QALA_{k.upper()}": v for k, v in self.settings.items()},
        }
        command = (
            [sys.executable, "-c", "from qala.cli import main; main()", "serve", "--port",
             str(self.port)]
            if self.cli
            else [sys.executable, "-m", "uvicorn", "--factory", "qala.app:create_app", "--host",
                  "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                  "--no-access-log"]
        )  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not start within {timeout} s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing; only what was committed may survive."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# -- direct table access ----------------------------------------------------------------------


def fetch(database_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``$1`` placeholders) read straight from the database."""
    url = DatabaseURL(database_url)
    if url.is_sqlite:
        conn = sqlite3.connect(url.sqlite_path, isolation_level=None)  # autocommit
        try:
            text = sql
            for n in range(len(args), 0, -1):
                text = text.replace(f"${n}", f"?{n}")
            return conn.execute(text, args).fetchall()
        finally:
            conn.close()

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url.asyncpg_dsn)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def table_names(database_url: str) -> list[str]:
    """Every table a backup must hold (what the catalogue lists; not Alembic's, not SQLite's
    internal or virtual tables)."""
    if DatabaseURL(database_url).is_sqlite:
        rows = fetch(database_url, "PRAGMA table_list")
        names = [r[1] for r in rows if r[0] == "main" and r[2] == "table"]
        return sorted(n for n in names if not n.startswith("sqlite_") and n != "alembic_version")
    rows = fetch(
        database_url,
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename <> 'alembic_version'",
    )
    return sorted(r[0] for r in rows)


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value == 0.0:
        return 0.0  # PostgreSQL's jsonb keeps numbers as numeric, which has no -0
    return value


def normal(value: Any) -> Any:
    """A value compared across backends: JSON text as its parsed value (PostgreSQL keeps JSON
    columns as jsonb, which reorders keys and respaces)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return ("json", orjson.dumps(_canonical(parsed), option=orjson.OPT_SORT_KEYS))
    return value


def table_rows(database_url: str, table: str, columns: list[str] | None = None) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    rows = fetch(database_url, f'SELECT {cols} FROM "{table}"')
    return sorted((tuple(normal(v) for v in row) for row in rows), key=repr)


def columns_of(database_url: str, table: str) -> list[str]:
    if DatabaseURL(database_url).is_sqlite:
        return [r[1] for r in fetch(database_url, f'PRAGMA table_xinfo("{table}")')]
    rows = fetch(
        database_url,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    return [r[0] for r in rows]


def dump(database_url: str) -> dict[str, list[tuple]]:
    """Every table's rows (normalized, sorted), columns in a fixed order."""
    return {
        name: table_rows(database_url, name, sorted(columns_of(database_url, name)))
        for name in table_names(database_url)
    }


# -- fresh databases --------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (no schema), dropped afterwards."""
    name = f"qala_rel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    head, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
