"""Reading a consistent snapshot of a Qala database, and loading a backup into one.

Tables are discovered from the database's catalogue, never listed here: every table of every
capability is in a backup. Left out are Alembic's ``alembic_version`` (the header records the
revisions instead), SQLite's own tables and virtual tables with their shadow tables (the R*Tree
geometry index, which triggers rebuild from ``entity_geo`` as its rows are restored), and
generated columns.

* SQLite: one read transaction on its own connection. In WAL mode it sees the database as of
  its first read while the server keeps writing (and committing) beside it.
* PostgreSQL: one ``REPEATABLE READ, READ ONLY`` transaction: one snapshot for every table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import anyio
import asyncpg

from qala.backup.fileformat import BackupError, BackupReader, TableRows, TableSpec
from qala.store.urls import DatabaseURL

CHUNK = 5000
_SKIP = "alembic_version"


def _chunks(rows: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(slots=True)
class Snapshot:
    """What a backup reads: the schema, then each table's rows, all from one snapshot."""

    dialect: str
    revisions: list[str]
    tables: list[TableSpec]
    sequences: dict[str, dict[str, Any]]
    _reader: Any

    def rows(self, table: TableSpec) -> AsyncIterator[list[Sequence[Any]]]:
        result: AsyncIterator[list[Sequence[Any]]] = self._reader(table)
        return result


@dataclass(slots=True)
class TargetState:
    #: Alembic revisions of the target; None: no Qala schema there yet.
    revisions: list[str] | None
    #: table -> column -> declared type
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    #: tables holding rows
    filled: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LoadResult:
    rows: dict[str, int]
    #: tables of the target that the backup does not have (left empty)
    extra_tables: list[str]


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackupError(f"{path} is not a usable SQLite database ({exc})") from None
    return conn


def _sqlite_tables(conn: sqlite3.Connection) -> list[TableSpec]:
    rows = conn.execute("PRAGMA main.table_list").fetchall()
    names = sorted(
        r[1] for r in rows if r[2] == "table" and not r[1].startswith("sqlite_") and r[1] != _SKIP
    )
    specs = []
    for name in names:
        columns = [
            (c[1], c[2] or "")
            for c in conn.execute(f"PRAGMA main.table_xinfo({_quote(name)})")
            if c[6] == 0  # hidden 0: an ordinary column (not generated, not virtual-hidden)
        ]
        specs.append(TableSpec(name, columns))
    return specs


def _sqlite_rowid_column(conn: sqlite3.Connection, table: str) -> str | None:
    """The INTEGER PRIMARY KEY column (the rowid alias) of ``table``, if it has one."""
    pk = [c for c in conn.execute(f"PRAGMA main.table_xinfo({_quote(table)})") if c[5] > 0]
    if len(pk) == 1 and (pk[0][2] or "").upper() == "INTEGER":
        return str(pk[0][1])
    return None


def _sqlite_has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _sqlite_revisions(conn: sqlite3.Connection) -> list[str] | None:
    if not _sqlite_has_table(conn, _SKIP):
        return None
    return sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))


def _sqlite_sequences(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    if not _sqlite_has_table(conn, "sqlite_sequence"):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, seq in conn.execute("SELECT name, seq FROM sqlite_sequence"):
        column = _sqlite_rowid_column(conn, name)
        if column is not None:
            out[name] = {"column": column, "value": int(seq)}
    return out


@asynccontextmanager
async def sqlite_snapshot(url: DatabaseURL) -> AsyncIterator[Snapshot]:
    path = Path(url.sqlite_path)
    if not path.is_file():
        raise BackupError(f"there is no SQLite database at {path}")
    conn = _sqlite_connect(str(path))
    try:
        conn.execute("PRAGMA query_only=1")
        # The read transaction starts at the first SELECT; every later read sees that state.
        conn.execute("BEGIN")
        revisions = _sqlite_revisions(conn)
        if revisions is None:
            raise BackupError(f"{path} is not a Qala database (it has no schema revisions)")
        tables = _sqlite_tables(conn)
        sequences = _sqlite_sequences(conn)

        async def reader(table: TableSpec) -> AsyncIterator[list[Sequence[Any]]]:
            cols = ", ".join(_quote(c) for c in table.names)
            cursor = conn.execute(f"SELECT {cols} FROM {_quote(table.name)}")
            while True:
                chunk = await anyio.to_thread.run_sync(cursor.fetchmany, CHUNK)
                if not chunk:
                    return
                yield chunk

        yield Snapshot("sqlite", revisions, tables, sequences, reader)
        conn.execute("COMMIT")
    finally:
        conn.close()


class SQLiteTarget:
    dialect = "sqlite"

    def __init__(self, url: DatabaseURL) -> None:
        self.path = Path(url.sqlite_path)

    async def state(self) -> TargetState:
        if not self.path.exists():
            return TargetState(None)
        conn = _sqlite_connect(str(self.path))
        try:
            revisions = _sqlite_revisions(conn)
            tables = {t.name: dict(t.columns) for t in _sqlite_tables(conn)}
            filled = [
                name
                for name in tables
                if conn.execute(f"SELECT 1 FROM {_quote(name)} LIMIT 1").fetchone() is not None
            ]
        finally:
            conn.close()
        return TargetState(revisions, tables, filled)

    async def load(
        self,
        reader: BackupReader,
        *,
        clear: bool,
        sequences: dict[str, dict[str, Any]],
        audit_row: dict[str, Any] | None,
    ) -> LoadResult:
        conn = _sqlite_connect(str(self.path))
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._load(conn, reader, clear, sequences, audit_row)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return result

    def _load(
        self,
        conn: sqlite3.Connection,
        reader: BackupReader,
        clear: bool,
        sequences: dict[str, dict[str, Any]],
        audit_row: dict[str, Any] | None,
    ) -> LoadResult:
        present = {t.name: t for t in _sqlite_tables(conn)}
        if clear:
            self._clear(conn, list(present))
        rows: dict[str, int] = {}
        for table in reader.tables():
            rows[table.spec.name] = self._insert(conn, table, present)
        for name in present:
            self._bump_sequence(conn, name, int(sequences.get(name, {}).get("value") or 0))
        if audit_row is not None and "audit_log" in present:
            cols = list(audit_row)
            conn.execute(
                f"INSERT INTO audit_log({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [audit_row[c] for c in cols],
            )
        return LoadResult(rows, sorted(set(present) - set(rows)))

    @staticmethod
    def _clear(conn: sqlite3.Connection, tables: list[str]) -> None:
        """Empty every table in the open transaction. Triggers (the audit log's append-only
        guards, the R*Tree upkeep) are set aside and re-created, unchanged, before the
        restored rows go in; virtual tables are emptied with their base tables."""
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL"
        ).fetchall()
        for name, _sql in triggers:
            conn.execute(f"DROP TRIGGER {_quote(name)}")
        for name in tables:
            conn.execute(f"DELETE FROM {_quote(name)}")
        for row in conn.execute("PRAGMA main.table_list").fetchall():
            if row[2] == "virtual":
                conn.execute(f"DELETE FROM {_quote(row[1])}")
        if _sqlite_has_table(conn, "sqlite_sequence"):
            conn.execute("DELETE FROM sqlite_sequence")
        for _name, sql in triggers:
            conn.execute(sql)

    @staticmethod
    def _insert(conn: sqlite3.Connection, table: TableRows, present: dict[str, TableSpec]) -> int:
        spec = table.spec
        target = present.get(spec.name)
        if target is None:
            raise BackupError(f"the target database has no table {spec.name!r}")
        missing = [c for c in spec.names if c not in target.names]
        if missing:
            raise BackupError(f"table {spec.name} of the target has no column(s) {missing}")
        cols = ", ".join(_quote(c) for c in spec.names)
        marks = ", ".join("?" * len(spec.names))
        sql = f"INSERT INTO {_quote(spec.name)}({cols}) VALUES ({marks})"
        count = 0
        for chunk in _chunks(table.rows):
            try:
                conn.executemany(sql, chunk)
            except sqlite3.Error as exc:
                raise BackupError(f"cannot restore table {spec.name}: {exc}") from None
            count += len(chunk)
        return count

    @staticmethod
    def _bump_sequence(conn: sqlite3.Connection, table: str, value: int) -> None:
        """Ids of AUTOINCREMENT tables are never reused: carry the source's high-water mark."""
        row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if row is None or "AUTOINCREMENT" not in (row[0] or "").upper():
            return
        column = _sqlite_rowid_column(conn, table)
        if column is None:
            return
        high = conn.execute(f"SELECT max({_quote(column)}) FROM {_quote(table)}").fetchone()[0]
        value = max(value, high or 0)
        if value <= 0:
            return
        updated = conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (value, table)
        ).rowcount
        if not updated:
            conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", (table, value))


# -- PostgreSQL -------------------------------------------------------------------------------

_PG_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND c.relname <> 'alembic_version' ORDER BY c.relname"
)
_PG_COLUMNS = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
    "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped "
    "AND a.attgenerated = '' ORDER BY a.attnum"
)
_PG_SERIALS = (
    "SELECT c.relname, a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
    "AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL"
)


async def _pg_connect(url: DatabaseURL) -> asyncpg.Connection:
    try:
        conn: asyncpg.Connection = await asyncpg.connect(url.asyncpg_dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise BackupError(f"cannot connect to {url}: {exc}") from None
    return conn


async def _pg_tables(conn: asyncpg.Connection) -> list[TableSpec]:
    specs = []
    for row in await conn.fetch(_PG_TABLES):
        name = row[0]
        columns = [(c[0], c[1]) for c in await conn.fetch(_PG_COLUMNS, _quote(name))]
        specs.append(TableSpec(name, columns))
    return specs


async def _pg_revisions(conn: asyncpg.Connection) -> list[str] | None:
    if await conn.fetchval("SELECT to_regclass('alembic_version')") is None:
        return None
    return sorted(r[0] for r in await conn.fetch("SELECT version_num FROM alembic_version"))


@asynccontextmanager
async def postgres_snapshot(url: DatabaseURL) -> AsyncIterator[Snapshot]:
    conn = await _pg_connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            revisions = await _pg_revisions(conn)
            if revisions is None:
                raise BackupError(f"{url} is not a Qala database (it has no schema revisions)")
            tables = await _pg_tables(conn)
            sequences: dict[str, dict[str, Any]] = {}
            for table, column, seq in await conn.fetch(_PG_SERIALS):
                # Sequences are outside transactions: this may run ahead of the snapshot, which
                # only means that a few ids are skipped after a restore, never reused.
                value = await conn.fetchval("SELECT pg_sequence_last_value($1::regclass)", seq)
                if value is not None:
                    sequences[table] = {"column": column, "value": int(value)}

            async def reader(table: TableSpec) -> AsyncIterator[list[Sequence[Any]]]:
                cols = ", ".join(_quote(c) for c in table.names)
                cursor = await conn.cursor(f"SELECT {cols} FROM {_quote(table.name)}")
                while True:
                    chunk = await cursor.fetch(CHUNK)
                    if not chunk:
                        return
                    yield chunk

            yield Snapshot("postgresql", revisions, tables, sequences, reader)
    finally:
        await conn.close()


class PostgresTarget:
    dialect = "postgresql"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url

    async def state(self) -> TargetState:
        conn = await _pg_connect(self.url)
        try:
            revisions = await _pg_revisions(conn)
            specs = await _pg_tables(conn)
            filled = [
                s.name
                for s in specs
                if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quote(s.name)})")
            ]
        finally:
            await conn.close()
        return TargetState(revisions, {s.name: dict(s.columns) for s in specs}, filled)

    async def load(
        self,
        reader: BackupReader,
        *,
        clear: bool,
        sequences: dict[str, dict[str, Any]],
        audit_row: dict[str, Any] | None,
    ) -> LoadResult:
        conn = await _pg_connect(self.url)
        try:
            async with conn.transaction():
                present = {t.name: t for t in await _pg_tables(conn)}
                if clear and present:
                    # TRUNCATE, not DELETE: the audit log's append-only trigger guards its rows
                    # against the application, row by row; a forced restore replaces the whole
                    # database and says so in the restored audit log (``audit_row``).
                    await conn.execute(
                        "TRUNCATE " + ", ".join(_quote(t) for t in present) + " RESTART IDENTITY"
                    )
                rows: dict[str, int] = {}
                for table in reader.tables():
                    rows[table.spec.name] = await self._copy(conn, table, present)
                await self._sequences(conn, sequences)
                if audit_row is not None and "audit_log" in present:
                    cols = list(audit_row)
                    marks = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
                    await conn.execute(
                        f"INSERT INTO audit_log({', '.join(cols)}) VALUES ({marks})",
                        *[audit_row[c] for c in cols],
                    )
        finally:
            await conn.close()
        return LoadResult(rows, sorted(set(present) - set(rows)))

    @staticmethod
    async def _copy(
        conn: asyncpg.Connection, table: TableRows, present: dict[str, TableSpec]
    ) -> int:
        spec = table.spec
        target = present.get(spec.name)
        if target is None:
            raise BackupError(f"the target database has no table {spec.name!r}")
        missing = [c for c in spec.names if c not in target.names]
        if missing:
            raise BackupError(f"table {spec.name} of the target has no column(s) {missing}")
        count = 0
        for chunk in _chunks(table.rows):
            try:
                await conn.copy_records_to_table(spec.name, records=chunk, columns=spec.names)
            except (asyncpg.PostgresError, asyncpg.exceptions.DataError, TypeError) as exc:
                raise BackupError(f"cannot restore table {spec.name}: {exc}") from None
            count += len(chunk)
        return count

    @staticmethod
    async def _sequences(conn: asyncpg.Connection, sequences: dict[str, dict[str, Any]]) -> None:
        """Set every serial sequence past the restored ids and the source's high-water mark."""
        for table, column, seq in await conn.fetch(_PG_SERIALS):
            high = await conn.fetchval(f"SELECT max({_quote(column)}) FROM {_quote(table)}")
            known = sequences.get(table)
            mark = int(known["value"]) if known and known.get("column") == column else 0
            value = max(int(high or 0), mark)
            if value > 0:
                await conn.execute("SELECT setval($1::regclass, $2, true)", seq, value)
            else:
                await conn.execute("SELECT setval($1::regclass, 1, false)", seq)


def snapshot_of(url: DatabaseURL) -> Any:
    return sqlite_snapshot(url) if url.is_sqlite else postgres_snapshot(url)


def target_of(url: DatabaseURL) -> SQLiteTarget | PostgresTarget:
    return SQLiteTarget(url) if url.is_sqlite else PostgresTarget(url)
