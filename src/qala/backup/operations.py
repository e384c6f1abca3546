"""``backup`` and ``restore``: whole databases, online, in a format both backends read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import orjson
from alembic.config import Config
from alembic.script import ScriptDirectory

from qala import __version__
from qala.backup.databases import snapshot_of, target_of
from qala.backup.fileformat import (
    BackupError,
    BackupInfo,
    BackupReader,
    BackupWriter,
    Header,
    verify,
)
from qala.hub.model import now_us, us_to_iso
from qala.store import migrate
from qala.store.urls import DatabaseURL

#: Called after each table is written: (table, rows). The CLI prints progress with it.
Progress = Callable[[str, int], None]


@dataclass(slots=True)
class BackupSummary:
    path: Path
    source: str
    snapshot_at: str
    revisions: list[str]
    rows: dict[str, int]
    size_bytes: int
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass(slots=True)
class RestoreSummary:
    target: str
    source: str
    snapshot_at: str
    rows: dict[str, int]
    replaced: list[str]
    migrated_after: bool
    seconds: float
    extra_tables: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _url(database_url: str) -> DatabaseURL:
    try:
        return DatabaseURL(database_url)
    except ValueError as exc:
        raise BackupError(str(exc)) from None


async def backup(
    database_url: str, path: Path, *, progress: Progress | None = None
) -> BackupSummary:
    """Write a transaction-consistent backup of the database at ``database_url`` to ``path``
    while servers keep using it. The file appears only once it is complete."""
    url = _url(database_url)
    started = time.perf_counter()
    async with snapshot_of(url) as snap:
        header = Header(
            created_at=us_to_iso(now_us()),
            qala_version=__version__,
            source=snap.dialect,
            revisions=snap.revisions,
            tables=snap.tables,
            sequences=snap.sequences,
        )
        with BackupWriter(path, header) as writer:
            for table in snap.tables:
                writer.start_table(table.name)
                async for chunk in snap.rows(table):
                    writer.write_rows(chunk)
                if progress is not None:
                    progress(table.name, writer.rows[table.name])
        rows = dict(writer.rows)
    return BackupSummary(
        path=path,
        source=snap.dialect,
        snapshot_at=header.created_at,
        revisions=header.revisions,
        rows=rows,
        size_bytes=path.stat().st_size,
        seconds=time.perf_counter() - started,
    )


def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", "qala.store:migrations")
    return ScriptDirectory.from_config(cfg)


def _check_revisions(info: BackupInfo) -> list[str]:
    """The backup's schema revisions, which this Qala must know; returns its own heads."""
    scripts = _scripts()
    unknown = []
    for revision in info.header.revisions:
        try:
            if scripts.get_revision(revision) is None:
                unknown.append(revision)
        except Exception:  # alembic raises its own errors for unknown or ambiguous ids
            unknown.append(revision)
    if unknown:
        raise BackupError(
            f"the backup was made by a newer Qala (schema revisions {', '.join(unknown)} are "
            f"unknown to Qala {__version__}); restore it with that version or newer"
        )
    return sorted(scripts.get_heads())


async def restore(database_url: str, path: Path, *, force: bool = False) -> RestoreSummary:
    """Restore the backup at ``path`` into the database at ``database_url``.

    The file is read and checked in full before the target is touched. The target must hold
    no data unless ``force`` (then its contents are replaced, and the restored audit log says
    so). Rows are loaded in one transaction: a failure leaves the target as it was.
    """
    url = _url(database_url)
    started = time.perf_counter()
    info = await anyio.to_thread.run_sync(verify, path)
    heads = _check_revisions(info)
    wanted = sorted(info.header.revisions)
    target = target_of(url)
    state = await target.state()
    if state.filled and not force:
        shown = ", ".join(state.filled[:6]) + (", …" if len(state.filled) > 6 else "")
        raise BackupError(
            f"the target database {url} is not empty (rows in {shown}); restore into an empty "
            "database, or pass --force to replace its contents"
        )
    if state.revisions is None:
        if url.is_sqlite:
            Path(url.sqlite_path).resolve().parent.mkdir(parents=True, exist_ok=True)
        for revision in ["heads"] if wanted == heads else wanted:
            await anyio.to_thread.run_sync(migrate.upgrade, url, revision)
    elif state.revisions != wanted:
        raise BackupError(
            f"the target database is at schema revisions {', '.join(state.revisions)} but the "
            f"backup at {', '.join(wanted)}; restore into a new, empty database (Qala creates "
            "its schema at the backup's revisions, then upgrades it)"
        )
    audit_row = None
    if state.filled:
        detail = {
            "backup": str(path),
            "backup_created_at": info.header.created_at,
            "replaced_tables": state.filled,
        }
        audit_row = {
            "tenant": "",
            "at": now_us(),
            "actor": "system",
            "role": "admin",
            "via": "cli",
            "address": None,
            "operation": "db.restore",
            "entity_id": None,
            "change": None,
            "attributes": orjson.dumps(detail).decode(),
        }
    with BackupReader(path) as reader:
        result = await target.load(
            reader,
            clear=bool(state.filled),
            sequences=info.header.sequences,
            audit_row=audit_row,
        )
    migrated = wanted != heads
    if migrated:
        await anyio.to_thread.run_sync(migrate.upgrade, url, "heads")
    return RestoreSummary(
        target=str(url),
        source=info.header.source,
        snapshot_at=info.header.created_at,
        rows=result.rows,
        replaced=state.filled,
        migrated_after=migrated,
        seconds=time.perf_counter() - started,
        extra_tables=result.extra_tables,
    )
