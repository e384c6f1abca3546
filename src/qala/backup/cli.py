"""``qala backup FILE`` and ``qala restore FILE``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from qala.backup.fileformat import BackupError
from qala.config import load_settings

console = Console(stderr=True, soft_wrap=True)  # messages stay whole lines, for logs

FileArgument = Annotated[Path, typer.Argument(help="The backup file (gzip-compressed JSON lines)")]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///qala.db (default) or postgresql://user@host/db. "
        "Also QALA_DATABASE_URL.",
        show_default=False,
    ),
]


def _database(db: str | None) -> str:
    return db or load_settings().database_url


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def backup_command(file: FileArgument, db: DbOption = None) -> None:
    """Back up the whole database to FILE, online (servers may keep running).

    One transaction-consistent snapshot of every table of every capability, with a checksum;
    it restores into SQLite or PostgreSQL, whichever it came from.
    """
    from qala.backup.operations import backup

    database = _database(db)

    def progress(table: str, rows: int) -> None:
        console.print(f"  {table}: {rows:,} rows")

    try:
        summary = asyncio.run(backup(database, file, progress=progress))
    except BackupError as exc:
        console.print(f"[red]backup failed: {exc}[/]")
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"[red]backup failed: cannot write {file}: {exc.strerror or exc}[/]")
        raise typer.Exit(2) from None
    console.print(
        f"backed up {database} ({summary.source}, snapshot at {summary.snapshot_at}) to {file}: "
        f"{len(summary.rows)} tables, {summary.total_rows:,} rows, {_size(summary.size_bytes)} "
        f"in {summary.seconds:.1f} s"
    )


def restore_command(
    file: FileArgument,
    db: DbOption = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the contents of a database that holds data"),
    ] = False,
) -> None:
    """Restore a backup made by qala backup (stop the servers using the database first).

    The file is checked in full before anything is written; the target database must hold no
    data unless --force, and the rows go in one transaction.
    """
    from qala.backup.operations import restore

    database = _database(db)
    try:
        summary = asyncio.run(restore(database, file, force=force))
    except BackupError as exc:
        console.print(f"[red]restore refused: {exc}[/]")
        raise typer.Exit(2) from None
    if summary.replaced:
        console.print(f"replaced the previous contents of {', '.join(summary.replaced)}")
    if summary.migrated_after:
        console.print("upgraded the restored schema to this version of Qala")
    console.print(
        f"restored {file} ({summary.source} backup, snapshot at {summary.snapshot_at}) into "
        f"{database}: {len(summary.rows)} tables, {summary.total_rows:,} rows "
        f"in {summary.seconds:.1f} s"
    )
