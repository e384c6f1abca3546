"""``qala temporal``: retention of the temporal history."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console

from qala.config import load_settings
from qala.hub.model import us_to_iso

temporal_app = typer.Typer(help="Temporal history: retention and compaction.")
console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: QALA_DATABASE_URL or sqlite:///qala.db)",
        show_default=False,
    ),
]


def _db(db: str | None) -> None:
    if db:
        os.environ["QALA_DATABASE_URL"] = db


@temporal_app.command("compact")
def compact_command(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: all)")] = None,
    db: DbOption = None,
) -> None:
    """Compact raw history older than each tenant's retention into hourly aggregates."""
    from qala.services import open_storage
    from qala.temporal.retention import compact

    _db(db)
    settings = load_settings()

    async def run() -> None:
        store = await open_storage(settings)
        try:
            results = await compact(store, settings, tenant)
        finally:
            await store.close()
        if not results:
            console.print("nothing to compact (no tenant with a retention period)")
        for r in results:
            typer.echo(
                f"{r.tenant or '(default)'}: {r.instances} instances before "
                f"{us_to_iso(r.horizon)} compacted into {r.hours} hourly aggregates"
            )

    asyncio.run(run())


@temporal_app.command("retention")
def retention_command(
    tenant: Annotated[str, typer.Argument(help="The tenant, e.g. astana")],
    days: Annotated[
        int | None,
        typer.Option(help="Days of raw history to keep (0: all); omit to show the setting"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Show or set a tenant's retention of raw history (tenant setting temporalRetentionDays)."""
    from qala.services import open_storage
    from qala.temporal.retention import SETTING, retention_days

    _db(db)
    settings = load_settings()
    if days is not None and days < 0:
        console.print("[red]--days must be 0 (keep everything) or more[/]")
        raise typer.Exit(2)

    async def run() -> None:
        store = await open_storage(settings)
        try:
            current = await store.tenant(tenant)
            if days is not None:
                merged = {**(current.settings if current else {}), SETTING: days}
                current = await store.update_tenant_settings(tenant, merged)
        finally:
            await store.close()
        if current is None:
            console.print(f"[red]tenant {tenant!r} does not exist[/]")
            raise typer.Exit(1)
        typer.echo(f"{tenant}: raw history kept {retention_days(current, settings)} days")

    asyncio.run(run())
